// Runs a command to completion and captures its output and exit code, for tests that drive the
// real `trellis` binary.
#pragma once

#include <string>
#include <vector>

namespace trellis::testing {

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// argv[0] is the program path; no shell is involved, so arguments need no quoting.
ProcessResult RunProcess(const std::vector<std::string>& argv);

}  // namespace trellis::testing
