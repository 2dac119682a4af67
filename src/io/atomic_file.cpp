// write_file_atomic: the content goes to a temporary file in the target's directory, is flushed to
// disk, then renamed over the target, so a reader sees the old file or the whole new one.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "codeprof/exporters.hpp"

namespace codeprof::io {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what, int err) {
  throw WriteError("cannot write " + path + ": " + what + (err ? std::string(": ") + std::strerror(err) : ""));
}

// Permissions a plain open(O_CREAT, 0666) would give: mkstemp makes the file 0600.
mode_t default_file_mode() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view content) {
  namespace fs = std::filesystem;
  if (path.empty()) fail(path, "empty path", 0);
  const fs::path target(path);
  if (target.filename().empty()) fail(path, "the path names a directory, expected a file name", 0);
  std::error_code ec;
  if (fs::is_directory(target, ec)) fail(path, "it is a directory, expected a file name", 0);

  const fs::path dir = target.parent_path();
  if (!dir.empty()) {
    fs::create_directories(dir, ec);
    if (ec) fail(path, "cannot create directory " + dir.string(), ec.value());
  }

  std::string temp = (dir.empty() ? fs::path(".") : dir).string() + "/." + target.filename().string() + ".tmp.XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) fail(path, "cannot create a temporary file in its directory", errno);

  const auto abandon = [&](const std::string& what, int err) {
    ::close(fd);
    ::unlink(temp.c_str());
    fail(path, what, err);
  };
  if (::fchmod(fd, default_file_mode()) != 0) abandon("cannot set permissions", errno);
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      abandon("write failed", errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) abandon("fsync failed", errno);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    fail(path, "close failed", err);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    fail(path, "rename failed", err);
  }
}

}  // namespace codeprof::io
