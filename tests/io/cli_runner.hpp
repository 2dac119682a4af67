#pragma once
// The codeprof executable as the tests run it (its path is CODEPROF_CLI_PATH), a report written for
// it to read, and the shape of its errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "codeprof/exporters.hpp"
#include "io/run_command.hpp"

namespace codeprof::test {

inline const std::string kCli = CODEPROF_CLI_PATH;

inline CommandResult cli(const std::string& args, bool merge_stderr = true) {
  return run_command(shell_quote(kCli) + " " + args, merge_stderr);
}

inline std::string write_report(const TempDir& dir, const std::string& name, const Snapshot& s) {
  const std::string path = dir.file(name);
  io::write_file_atomic(path, io::to_json_report(s, {}));
  return path;
}

// The whole output is one line: "codeprof: <what>\n", and the exit code is 2.
inline void expect_one_line_error(const CommandResult& r, const std::string& contains) {
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output.rfind("codeprof: ", 0), 0u) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find(contains), std::string::npos) << r.output;
}

}  // namespace codeprof::test
