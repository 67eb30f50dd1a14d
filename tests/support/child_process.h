// ChildProcess: a long-running child (e.g. `trellis worker`) that tests start, signal (SIGKILL,
// SIGSTOP, SIGCONT, SIGTERM) and wait for, with its stdout and stderr appended to a log file.
//
// The child gets PR_SET_PDEATHSIG(SIGKILL), so it cannot outlive a test process that crashes.
// Linux delivers that signal when the *thread* that spawned the child exits: spawn from a thread
// that outlives the child (the test's main thread). The destructor SIGKILLs and reaps a child that
// is still running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace trellis::testing {

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;

  // Starts argv[0] (a path; no shell, no PATH search) with the current environment plus `env`
  // ("NAME=value" entries, overriding variables of the same name). stdout and stderr are appended
  // to `log_path` (created if missing); empty: /dev/null. stdin is /dev/null. False if it cannot
  // start (fork/exec failure: the log file then says why).
  bool Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
             const std::string& log_path = "");

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  // kill(pid, sig); false when the child was already reaped.
  bool Signal(int sig);
  // Waits until the child exits: its exit code, or 128 + the signal that ended it; nullopt when
  // `timeout` passes first (the child keeps running).
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // True while the child has not exited (reaps it if it has).
  bool Running();
  // The exit status once Wait/Running observed the exit.
  std::optional<int> exit_status() const { return exit_status_; }

  // The log file's contents so far.
  std::string ReadLog() const;

 private:
  void Reap(int raw_status);

  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::string log_path_;
};

// The whole file, or "" when it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace trellis::testing
