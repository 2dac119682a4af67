#pragma once
// Runs a shell command from a test and captures what it printed (stdout and stderr) and its exit code.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace codeprof::test {

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// With merge_stderr false, stderr is left to the test's own (useful for noisy programs).
inline CommandResult run_command(const std::string& command, bool merge_stderr = true) {
  CommandResult r;
  FILE* pipe = ::popen((merge_stderr ? command + " 2>&1" : command).c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

// A fresh directory under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("codeprof_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace codeprof::test

namespace codeprof::test {

// Whether `name` is prefix + "YYYYMMDD_HHMMSS" + extension (the default export file names).
// Written by hand: std::regex trips a GCC 12 false warning in the sanitizer build.
inline bool is_timestamped_name(const std::string& name, const std::string& prefix, const std::string& extension) {
  if (name.size() != prefix.size() + 15 + extension.size()) return false;
  if (name.compare(0, prefix.size(), prefix) != 0 || name.compare(name.size() - extension.size(), extension.size(), extension) != 0)
    return false;
  for (std::size_t i = 0; i < 15; ++i) {
    const char c = name[prefix.size() + i];
    if (i == 8 ? c != '_' : (c < '0' || c > '9')) return false;
  }
  return true;
}

}  // namespace codeprof::test
