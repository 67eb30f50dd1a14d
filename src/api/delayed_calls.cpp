#include "api/delayed_calls.h"

namespace trellis::api {

DelayedCalls::DelayedCalls() : thread_([this] { Loop(); }) {}

DelayedCalls::~DelayedCalls() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void DelayedCalls::At(std::chrono::steady_clock::time_point when, std::function<void()> fn) {
  bool earliest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.emplace(when, std::move(fn));  // before begin() is read
    earliest = it == calls_.begin();
  }
  // The thread sleeps until the earliest deadline; a later one needs no wake-up (a sync execute
  // adds one per request, and waking the thread for each cost a context switch).
  if (earliest) cv_.notify_all();
}

size_t DelayedCalls::pending() {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_.size();
}

void DelayedCalls::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (calls_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto next = calls_.begin()->first;
    if (std::chrono::steady_clock::now() < next) {
      cv_.wait_until(lock, next);
      continue;
    }
    auto fn = std::move(calls_.begin()->second);
    calls_.erase(calls_.begin());
    lock.unlock();
    fn();
    lock.lock();
  }
}

}  // namespace trellis::api
