// write_file_atomic: what happens depends on what the path names.
// - Nothing yet, or a regular file: the content goes to a temporary file in the target's
//   directory, is flushed to disk, then renamed over the target, so a reader sees the old file or
//   the whole new one. An existing file keeps its permission bits.
// - A symbolic link: the link is followed to its final target (also when that target does not
//   exist yet), and the rule above or below applies there; the link itself stays a link.
// - A character device or a FIFO (/dev/null, /dev/stdout, a named pipe): written through, never
//   replaced; renaming over it would turn a device node into a plain file.
// - A block device, a socket or a directory: refused.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
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

void write_all(int fd, std::string_view content, const std::string& path, const auto& on_error) {
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      on_error("write failed", errno);
    }
    if (n == 0) on_error("write made no progress", EIO);
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  (void)path;
}

// Follows a chain of symbolic links by hand (at most 40, the kernel's own limit) so that a link
// to a file that does not exist yet resolves to the path where that file will be created.
std::string resolve_links(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path current(path);
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st {};
    if (::lstat(current.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return current.string();
    std::string buf(PATH_MAX, '\0');
    const ssize_t n = ::readlink(current.c_str(), buf.data(), buf.size());
    if (n < 0) fail(path, "cannot read the symbolic link " + current.string(), errno);
    buf.resize(static_cast<std::size_t>(n));
    const fs::path next(buf);
    current = next.is_absolute() ? next : current.parent_path() / next;
  }
  fail(path, "too many levels of symbolic links (a symlink loop?)", 0);
}

void write_through(const std::string& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot open it for writing", errno);
  write_all(fd, content, path, [&](const std::string& what, int err) {
    ::close(fd);
    fail(path, what, err);
  });
  if (::close(fd) != 0) fail(path, "close failed", errno);
}

void write_replacing(const std::string& path, std::string_view content, mode_t mode) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.parent_path();
  std::error_code ec;
  if (!dir.empty()) {
    fs::create_directories(dir, ec);
    if (ec) {
      // "cannot create directory /dev/null" reads as if it were missing: name what is in the way.
      for (fs::path part = dir; !part.empty() && part != part.parent_path(); part = part.parent_path()) {
        std::error_code stat_ec;
        const fs::file_status followed = fs::status(part, stat_ec);  // through a symbolic link
        if (fs::is_symlink(fs::symlink_status(part, stat_ec)) && !fs::exists(followed))
          fail(path, part.string() + " is a symbolic link to " + fs::read_symlink(part, stat_ec).string() +
                         ", which does not exist (expected a directory to write into)", 0);
        if (fs::exists(followed) && !fs::is_directory(followed))
          fail(path, part.string() + " exists and is not a directory (expected a directory to write into)", 0);
      }
      fail(path, "cannot create directory " + dir.string(), ec.value());
    }
  }

  const fs::path temp_dir = dir.empty() ? fs::path(".") : dir;
  std::string temp = temp_dir.string() + "/." + target.filename().string() + ".tmp.XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) fail(path, "cannot create a temporary file in " + temp_dir.string() + " (the file is written there, then renamed)", errno);

  const auto abandon = [&](const std::string& what, int err) {
    ::close(fd);
    ::unlink(temp.c_str());
    fail(path, what, err);
  };
  if (::fchmod(fd, mode) != 0) abandon("cannot set permissions", errno);
  write_all(fd, content, path, abandon);
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

}  // namespace

void write_file_atomic(const std::string& path, std::string_view content) {
  namespace fs = std::filesystem;
  if (path.empty()) fail(path, "empty path", 0);
  if (fs::path(path).filename().empty()) fail(path, "the path names a directory, expected a file name", 0);

  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) return write_through(path, content);
    if (S_ISDIR(st.st_mode)) fail(path, "it is a directory, expected a file name", 0);
    if (S_ISBLK(st.st_mode)) fail(path, "it is a block device; refusing to overwrite it", 0);
    if (S_ISSOCK(st.st_mode)) fail(path, "it is a socket, expected a regular file", 0);
    // A regular file, possibly behind symbolic links: replace the file the links point to.
    // /proc/self/fd/N style links name files that readlink cannot give back; realpath can.
    std::error_code ec;
    const fs::path real = fs::canonical(path, ec);
    return write_replacing(ec ? resolve_links(path) : real.string(), content, st.st_mode & 07777);
  }
  const int err = errno;
  if (err == ELOOP) fail(path, "too many levels of symbolic links (a symlink loop?)", err);
  if (err == EACCES) fail(path, "permission denied on a directory of the path", err);
  if (err != ENOENT && err != ENOTDIR) fail(path, "cannot inspect it", err);
  // Nothing there yet (or a dangling symlink): create the file where the links lead.
  write_replacing(resolve_links(path), content, default_file_mode());
}

}  // namespace codeprof::io
