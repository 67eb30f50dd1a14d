// The benchmarked `trellis server` as a child process, and what /proc says about it and about the
// machine: CPU time of the server, of the PostgreSQL server that scripts/with-postgres runs, of the
// load generator (this process) and of the whole machine; resident memory; `perf record` on demand.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/json.h"

namespace trellis::bench {

// A port on 127.0.0.1 that was free a moment ago.
int FreePort();
std::string ReadFile(const std::string& path);
// VmRSS (or another "Vm...:" field of /proc/PID/status) in MiB, or -1.
double RssMb(pid_t pid, const char* field = "VmRSS:");

// CPU used since construction (or Reset) by the server, the with-postgres PostgreSQL server (when
// TRELLIS_TEST_PG_DATA is set), this process and the machine, in cores.
class CpuMeter {
 public:
  explicit CpuMeter(pid_t server);
  void Reset();
  Json Report() const;

 private:
  pid_t server_;
  std::chrono::steady_clock::time_point at_;
  int64_t server_ticks_ = 0, pg_ticks_ = -1;
  double self_ = 0;
  std::pair<int64_t, int64_t> machine_;
};

// `trellis server` as a child process in `dir`, with a clean environment (no TRELLIS_* or
// DATABASE_URL from the caller), log.level=warn, a free port, `database_url`, and extra --set
// `sets`; its output goes to a log file in `dir`. Stopped (SIGTERM) on destruction.
class ServerProcess {
 public:
  ServerProcess(std::string binary, std::string database_url, std::filesystem::path dir,
                std::vector<std::string> sets);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Spawns and polls /health/ready every 1 ms; false (with error()) if it does not become ready.
  bool Start(std::chrono::milliseconds limit = std::chrono::milliseconds(60000));
  // SIGTERM, then SIGKILL after 15 s. Returns the exit status (or -1).
  int Stop();
  std::string LogTail() const;

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  double ready_ms() const { return ready_ms_; }  // spawn to the first 200 from /health/ready
  const std::string& error() const { return error_; }

 private:
  std::string binary_, url_;
  std::filesystem::path dir_;
  std::vector<std::string> sets_;
  std::string log_, error_;
  pid_t pid_ = -1;
  int port_ = 0;
  double ready_ms_ = 0;
  std::chrono::steady_clock::time_point spawned_at_;
};

// Starts `perf record -g` on `target` writing DIR/NAME.perf.data; returns its pid, or -1 when
// `dir` is empty or perf cannot start. StopPerf ends it (SIGINT) and waits.
pid_t StartPerf(const std::string& dir, const std::string& name, pid_t target);
void StopPerf(pid_t pid);

}  // namespace trellis::bench
