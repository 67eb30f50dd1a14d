// DelayedCalls: the one thread that runs the timeouts of sync executions and sync webhooks.
#include "api/delayed_calls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace trellis::api {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// What the calls recorded, and a wait for `n` of them (bounded, so a call that never runs fails
// the test instead of hanging it).
struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> seen;

  std::function<void()> Call(std::string name) {
    return [this, name] {
      std::lock_guard lock(mu);
      seen.push_back(name);
      cv.notify_all();
    };
  }
  std::vector<std::string> WaitFor(size_t n) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 10s, [&] { return seen.size() >= n; });
    return seen;
  }
};

TEST(DelayedCallsTest, RunsCallsInDeadlineOrder) {
  DelayedCalls calls;
  Recorder r;
  auto now = Clock::now();
  calls.At(now + 60ms, r.Call("third"));
  calls.At(now + 20ms, r.Call("first"));
  calls.At(now + 40ms, r.Call("second"));
  EXPECT_THAT(r.WaitFor(3), ::testing::ElementsAre("first", "second", "third"));
  EXPECT_EQ(calls.pending(), 0u);
}

// The thread sleeps until the earliest deadline, and only a new earliest call wakes it: a call due
// now, added while an hour-long one is waiting, must still run now.
TEST(DelayedCallsTest, ACallEarlierThanAllOthersIsNotHeldBehindThem) {
  DelayedCalls calls;
  Recorder r;
  calls.After(1h, r.Call("later"));
  calls.After(30min, r.Call("later too"));
  // Let the thread go to sleep on the hour-long deadline first.
  std::this_thread::sleep_for(20ms);
  calls.At(Clock::now(), r.Call("now"));
  EXPECT_THAT(r.WaitFor(1), ::testing::ElementsAre("now"));
  EXPECT_EQ(calls.pending(), 2u);
}

TEST(DelayedCallsTest, PendingCallsAreDroppedOnDestruction) {
  Recorder r;
  {
    DelayedCalls calls;
    calls.After(1h, r.Call("never"));
    EXPECT_EQ(calls.pending(), 1u);
  }
  std::lock_guard lock(r.mu);
  EXPECT_TRUE(r.seen.empty());
}

}  // namespace
}  // namespace trellis::api
