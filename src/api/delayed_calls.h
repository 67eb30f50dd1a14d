// One thread that runs callbacks at deadlines: the timeouts of sync executions and sync webhooks,
// which must not hold a handler thread while they wait.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace trellis::api {

class DelayedCalls {
 public:
  DelayedCalls();
  ~DelayedCalls();  // runs nothing further; pending calls are dropped
  DelayedCalls(const DelayedCalls&) = delete;
  DelayedCalls& operator=(const DelayedCalls&) = delete;

  void At(std::chrono::steady_clock::time_point when, std::function<void()> fn);
  void After(std::chrono::milliseconds delay, std::function<void()> fn) {
    At(std::chrono::steady_clock::now() + delay, std::move(fn));
  }
  size_t pending();  // calls not yet run

 private:
  void Loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> calls_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace trellis::api
