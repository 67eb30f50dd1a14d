// The process_* metrics: parsed exactly from a fake /proc, and present and sane for this process.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "observability/process_metrics.h"

namespace trellis::metrics {
namespace {

namespace fs = std::filesystem;

class FakeProc {
 public:
  FakeProc() {
    std::random_device rd;
    root_ = fs::temp_directory_path() / ("trellis-proc-" + std::to_string(rd()));
    fs::create_directories(root_ / "self" / "fd");
  }
  ~FakeProc() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void Write(const std::string& rel, const std::string& text) { std::ofstream(root_ / rel) << text; }
  std::string path() const { return root_.string(); }

 private:
  fs::path root_;
};

TEST(ProcessMetricsTest, ParsesProcFilesExactly) {
  FakeProc proc;
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  // A command name with spaces and a ')' must not shift the fields.
  // Fields: 1 pid, 2 comm, 3 state, ... 14 utime, 15 stime, 22 starttime, 23 vsize, 24 rss.
  proc.Write("self/stat",
             "4242 (tr llis) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 " +
                 std::to_string(static_cast<int>(3 * ticks)) + " " + std::to_string(static_cast<int>(ticks)) +
                 " 0 0 20 0 9 0 " + std::to_string(static_cast<int>(50 * ticks)) +
                 " 123456789 1000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n");
  proc.Write("stat", "cpu  1 2 3 4\nintr 1 2\nbtime 1700000000\nprocesses 1\n");
  proc.Write("self/limits",
             "Limit                     Soft Limit           Hard Limit           Units     \n"
             "Max cpu time              unlimited            unlimited            seconds   \n"
             "Max open files            4096                 524288               files     \n");
  for (const char* fd : {"0", "1", "2", "7"}) proc.Write(std::string("self/fd/") + fd, "");

  ProcessStats s = ReadProcessStats(proc.path());
  ASSERT_TRUE(s.cpu_seconds && s.resident_bytes && s.virtual_bytes && s.start_time_seconds && s.open_fds &&
              s.max_fds);
  EXPECT_DOUBLE_EQ(*s.cpu_seconds, 4);
  EXPECT_DOUBLE_EQ(*s.virtual_bytes, 123456789);
  EXPECT_DOUBLE_EQ(*s.resident_bytes, 1000 * page);
  EXPECT_DOUBLE_EQ(*s.start_time_seconds, 1700000050);
  EXPECT_DOUBLE_EQ(*s.open_fds, 4);
  EXPECT_DOUBLE_EQ(*s.max_fds, 4096);
}

TEST(ProcessMetricsTest, MissingFilesLeaveTheirMetricsOut) {
  FakeProc proc;
  proc.Write("self/limits", "Max open files            unlimited            unlimited            files\n");
  ProcessStats s = ReadProcessStats(proc.path());
  EXPECT_FALSE(s.cpu_seconds);
  EXPECT_FALSE(s.resident_bytes);
  EXPECT_FALSE(s.start_time_seconds);
  EXPECT_DOUBLE_EQ(s.open_fds.value_or(-1), 0);
  EXPECT_GT(s.max_fds.value_or(0), 1e18);

  Registry r;
  RegisterProcessMetrics(r, proc.path());
  std::string text = r.Render();
  EXPECT_EQ(text.find("process_cpu_seconds_total"), std::string::npos);
  EXPECT_NE(text.find("process_open_fds 0\n"), std::string::npos);
}

TEST(ProcessMetricsTest, ThisProcessReportsSaneValues) {
  ProcessStats before = ReadProcessStats();
  ASSERT_TRUE(before.cpu_seconds && before.resident_bytes && before.virtual_bytes &&
              before.start_time_seconds && before.open_fds && before.max_fds);
  EXPECT_GT(*before.resident_bytes, 0);
  EXPECT_GE(*before.virtual_bytes, *before.resident_bytes);
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(*before.start_time_seconds, now + 1);
  EXPECT_GT(*before.start_time_seconds, now - 24 * 3600);  // a test process started recently
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  EXPECT_DOUBLE_EQ(*before.max_fds, static_cast<double>(lim.rlim_cur));
  EXPECT_GE(*before.cpu_seconds, 0);

  int fd = open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  ProcessStats after = ReadProcessStats();
  close(fd);
  EXPECT_EQ(*after.open_fds, *before.open_fds + 1);

  // CPU time moves when the process works.
  volatile double sink = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (std::chrono::steady_clock::now() < until) sink = sink + 1;
  EXPECT_GT(*ReadProcessStats().cpu_seconds, *before.cpu_seconds);
}

TEST(ProcessMetricsTest, RendersEverySixFamilies) {
  Registry r;
  RegisterProcessMetrics(r);
  std::string text = r.Render();
  for (const char* line :
       {"# TYPE process_cpu_seconds_total counter\n", "# TYPE process_resident_memory_bytes gauge\n",
        "# TYPE process_virtual_memory_bytes gauge\n", "# TYPE process_start_time_seconds gauge\n",
        "# TYPE process_open_fds gauge\n", "# TYPE process_max_fds gauge\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " in\n" << text;
  }
}

}  // namespace
}  // namespace trellis::metrics
