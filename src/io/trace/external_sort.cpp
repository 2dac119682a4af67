#include "io/trace/external_sort.hpp"

#include <sys/types.h>

namespace codeprof::io::trace {

TempFile::TempFile(const std::string& directory) {
  std::string dir = directory;
  if (dir.empty()) {
    const char* env = std::getenv("TMPDIR");
    dir = env && *env ? env : "/tmp";
  }
  std::string pattern = dir + "/codeprof-trace-sort-XXXXXX";
  fd_ = ::mkstemp(pattern.data());
  if (fd_ < 0)
    throw std::runtime_error("expected a writable temporary directory for sorting events (" + dir +
                             "): " + std::strerror(errno));
  ::unlink(pattern.c_str());  // the data lives as long as the descriptor
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
}

void TempFile::append(const void* data, std::size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes) {
    const ssize_t n = ::pwrite(fd_, p, bytes, static_cast<off_t>(size_));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("expected to write the event sort file: ") + std::strerror(errno));
    }
    p += n;
    bytes -= static_cast<std::size_t>(n);
    size_ += static_cast<std::uint64_t>(n);
  }
}

void TempFile::read_at(std::uint64_t offset, void* data, std::size_t bytes) const {
  char* p = static_cast<char*>(data);
  while (bytes) {
    const ssize_t n = ::pread(fd_, p, bytes, static_cast<off_t>(offset));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      throw std::runtime_error(std::string("expected to read the event sort file back: ") +
                               (n < 0 ? std::strerror(errno) : "unexpected end"));
    }
    p += n;
    bytes -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
}

}  // namespace codeprof::io::trace
