#include "support/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

extern char** environ;

namespace trellis::testing {

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_status_) {
    kill(pid_, SIGKILL);
    kill(pid_, SIGCONT);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept {
  *this = std::move(other);
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    this->~ChildProcess();
    pid_ = other.pid_;
    exit_status_ = other.exit_status_;
    log_path_ = std::move(other.log_path_);
    other.pid_ = -1;
    other.exit_status_.reset();
  }
  return *this;
}

bool ChildProcess::Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         const std::string& log_path) {
  if (argv.empty() || (pid_ > 0 && !exit_status_)) return false;
  pid_ = -1;
  exit_status_.reset();
  log_path_ = log_path;

  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::map<std::string, std::string> vars;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv;
  }
  for (const auto& kv : env) {
    size_t eq = kv.find('=');
    vars[eq == std::string::npos ? kv : kv.substr(0, eq)] = kv;
  }
  std::vector<std::string> env_strings;
  for (auto& [k, kv] : vars) env_strings.push_back(kv);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args_copy = argv;
  std::vector<char*> args;
  for (auto& a : args_copy) args.push_back(a.data());
  args.push_back(nullptr);

  int out_fd = open(log_path.empty() ? "/dev/null" : log_path.c_str(),
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out_fd < 0) return false;
  int in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (in_fd < 0) {
    close(out_fd);
    return false;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(out_fd);
    close(in_fd);
    return false;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    // The test process may block signals in some threads; the child starts with none blocked.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    execve(args[0], args.data(), envp.data());
    const char msg[] = "ChildProcess: execve failed\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  close(out_fd);
  close(in_fd);
  pid_ = pid;
  return true;
}

void ChildProcess::Reap(int raw_status) {
  exit_status_ = WIFEXITED(raw_status) ? WEXITSTATUS(raw_status) : 128 + WTERMSIG(raw_status);
}

bool ChildProcess::Signal(int sig) {
  if (pid_ <= 0 || exit_status_) return false;
  return kill(pid_, sig) == 0;
}

std::optional<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  auto until = std::chrono::steady_clock::now() + timeout;
  while (!exit_status_) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      Reap(status);
      break;
    }
    if (r < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return exit_status_;
}

bool ChildProcess::Running() {
  if (pid_ <= 0 || exit_status_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    Reap(status);
    return false;
  }
  return r == 0;
}

std::string ChildProcess::ReadLog() const {
  return log_path_.empty() ? "" : ReadFileOrEmpty(log_path_);
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace trellis::testing
