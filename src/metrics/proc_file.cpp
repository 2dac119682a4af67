#include "metrics/proc_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <utility>

namespace codeprof::metrics {

ProcFile::ProcFile(const char* path) noexcept : path_(path) {
  fd_ = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) open_errno_ = errno;
}

ProcFile::~ProcFile() {
  if (fd_ >= 0) ::close(fd_);
}

ProcFile::ProcFile(ProcFile&& other) noexcept
    : path_(other.path_), fd_(std::exchange(other.fd_, -1)), open_errno_(other.open_errno_) {}

ProcFile& ProcFile::operator=(ProcFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = other.path_;
    fd_ = std::exchange(other.fd_, -1);
    open_errno_ = other.open_errno_;
  }
  return *this;
}

void ProcFile::reopen_in_child() const noexcept {
  if (fd_ < 0 || !path_) return;
  const int fresh = ::open(path_, O_RDONLY | O_CLOEXEC);
  if (fresh < 0) return;
  ::dup3(fresh, fd_, O_CLOEXEC);  // the child is single-threaded here: no reader in between
  ::close(fresh);
}

std::string_view ProcFile::read(char* buf, std::size_t size) const noexcept {
  if (fd_ < 0 || size < 2) return {};
  // One pread: seq_file hands over everything that fits, and a second call (to see EOF) would
  // cost a system call and show up in the thread's own I/O counters.
  ssize_t n;
  do {
    n = ::pread(fd_, buf, size - 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return {};
  buf[n] = '\0';
  return {buf, static_cast<std::size_t>(n)};
}

namespace {

std::optional<std::int64_t> parse_number(std::string_view text, std::size_t pos) noexcept {
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), v);
  if (ec != std::errc() || end == text.data() + pos) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::int64_t> proc_field(std::string_view text, std::string_view key) noexcept {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t eol = text.find('\n', pos);
    const std::string_view line = text.substr(pos, eol == std::string_view::npos ? text.size() - pos : eol - pos);
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 && line[key.size()] == ':')
      return parse_number(line, key.size() + 1);
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return std::nullopt;
}

std::optional<std::int64_t> nth_number(std::string_view text, std::size_t n) noexcept {
  std::size_t pos = 0;
  for (std::size_t i = 0;; ++i) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n')) ++pos;
    if (pos >= text.size()) return std::nullopt;
    if (i == n) return parse_number(text, pos);
    while (pos < text.size() && text[pos] != ' ' && text[pos] != '\t' && text[pos] != '\n') ++pos;
  }
}

}  // namespace codeprof::metrics
