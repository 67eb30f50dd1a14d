#include "server_process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "http_load.h"

extern char** environ;

namespace trellis::bench {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

double RssMb(pid_t pid, const char* field) {
  std::istringstream in(ReadFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atof(line.c_str() + std::strlen(field)) / 1024.0;
  }
  return -1;
}

namespace {

// Clock ticks of user+system time of one process (/proc/PID/stat), or -1.
int64_t ProcessTicks(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream in(stat.substr(paren + 2));
  std::string field;
  int64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::atoll(field.c_str());
    if (i == 15) stime = std::atoll(field.c_str());
  }
  return utime + stime;
}

pid_t ParentOf(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream in(stat.substr(paren + 2));
  std::string state;
  pid_t ppid = -1;
  in >> state >> ppid;
  return ppid;
}

// The postmaster of the with-postgres server and its children (backends, WAL writer, ...).
int64_t PostgresTicks() {
  const char* data = std::getenv("TRELLIS_TEST_PG_DATA");
  if (data == nullptr) return -1;
  std::string pidfile = ReadFile(std::string(data) + "/postmaster.pid");
  pid_t postmaster = std::atoi(pidfile.c_str());
  if (postmaster <= 0) return -1;
  int64_t total = ProcessTicks(postmaster);
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    pid_t pid = std::atoi(name.c_str());
    if (ParentOf(pid) == postmaster) total += std::max<int64_t>(0, ProcessTicks(pid));
  }
  return total;
}

// Busy and total ticks of the whole machine (/proc/stat).
std::pair<int64_t, int64_t> MachineTicks() {
  std::istringstream in(ReadFile("/proc/stat"));
  std::string cpu;
  in >> cpu;
  int64_t v[10] = {};
  for (auto& x : v) in >> x;
  int64_t idle = v[3] + v[4];
  int64_t total = 0;
  for (int i = 0; i < 8; ++i) total += v[i];
  return {total - idle, total};
}

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

CpuMeter::CpuMeter(pid_t server) : server_(server) {
  Reset();
}

void CpuMeter::Reset() {
  at_ = Clock::now();
  server_ticks_ = ProcessTicks(server_);
  pg_ticks_ = PostgresTicks();
  self_ = SelfCpuSeconds();
  machine_ = MachineTicks();
}

Json CpuMeter::Report() const {
  double secs = std::chrono::duration<double>(Clock::now() - at_).count();
  double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  auto machine = MachineTicks();
  Json j = {
      {"server_cores", static_cast<double>(ProcessTicks(server_) - server_ticks_) / hz / secs},
      {"load_generator_cores", (SelfCpuSeconds() - self_) / secs},
      {"machine_busy_cores", static_cast<double>(machine.first - machine_.first) /
                                 static_cast<double>(std::max<int64_t>(1, machine.second - machine_.second)) *
                                 static_cast<double>(std::thread::hardware_concurrency())}};
  if (pg_ticks_ >= 0) j["postgres_cores"] = static_cast<double>(PostgresTicks() - pg_ticks_) / hz / secs;
  return j;
}

ServerProcess::ServerProcess(std::string binary, std::string database_url, fs::path dir,
                             std::vector<std::string> sets)
    : binary_(std::move(binary)),
      url_(std::move(database_url)),
      dir_(std::move(dir)),
      sets_(std::move(sets)) {}

ServerProcess::~ServerProcess() {
  Stop();
}

bool ServerProcess::Start(std::chrono::milliseconds limit) {
  port_ = FreePort();
  log_ = (dir_ / ("server-" + std::to_string(port_) + ".log")).string();
  std::vector<std::string> args = {binary_, "server",         "--port", std::to_string(port_),
                                   "--set", "log.level=warn", "--set",  "database.url=" + url_};
  for (const auto& s : sets_) {
    args.push_back("--set");
    args.push_back(s);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string path_env = std::string("PATH=") + (std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin");
  std::string home_env = "HOME=" + dir_.string();
  std::vector<char*> envp = {path_env.data(), home_env.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addchdir_np(&actions, dir_.c_str());
  spawned_at_ = Clock::now();
  int rc = posix_spawn(&pid_, binary_.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    error_ = "posix_spawn " + binary_ + ": " + std::strerror(rc);
    pid_ = -1;
    return false;
  }
  auto deadline = spawned_at_ + limit;
  while (Clock::now() < deadline) {
    HttpReply r = HttpCall("127.0.0.1", port_, {.method = "GET", .path = "/health/ready"}, 1000ms);
    if (r.status == 200) {
      ready_ms_ = std::chrono::duration<double, std::milli>(Clock::now() - spawned_at_).count();
      return true;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = "the server exited during start-up: " + LogTail();
      return false;
    }
    std::this_thread::sleep_for(1ms);
  }
  error_ = "the server was not ready within " + std::to_string(limit.count()) + " ms: " + LogTail();
  return false;
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  auto deadline = Clock::now() + 15s;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ServerProcess::LogTail() const {
  std::string log = ReadFile(log_);
  return log.size() > 2000 ? log.substr(log.size() - 2000) : log;
}

pid_t StartPerf(const std::string& dir, const std::string& name, pid_t target) {
  if (dir.empty()) return -1;
  std::string out = dir + "/" + name + ".perf.data";
  // DWARF unwinding: the libraries are built without frame pointers.
  std::vector<std::string> args = {"perf",         "record",      "-F", "299",
                                   "--call-graph", "dwarf,16384", "-p", std::to_string(target),
                                   "-o",           out,           "-q"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, "perf", nullptr, nullptr, argv.data(), environ) != 0) return -1;
  std::this_thread::sleep_for(300ms);  // perf attaches
  return pid;
}

void StopPerf(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
}

}  // namespace trellis::bench
