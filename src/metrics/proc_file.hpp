#pragma once
// A /proc file kept open and re-read with pread(): the kernel regenerates the text on every read
// at offset 0, so the probes and the sampler avoid an open()/close() per reading.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace codeprof::metrics {

class ProcFile {
 public:
  ProcFile() noexcept = default;
  explicit ProcFile(const char* path) noexcept;
  ~ProcFile();
  ProcFile(ProcFile&& other) noexcept;
  ProcFile& operator=(ProcFile&& other) noexcept;
  ProcFile(const ProcFile&) = delete;
  ProcFile& operator=(const ProcFile&) = delete;

  bool is_open() const noexcept { return fd_ >= 0; }
  // Re-resolves the path ("self", "thread-self") in place, keeping the descriptor number, so a
  // forked child reads its own files instead of its parent's. Call only in a fork child handler.
  void reopen_in_child() const noexcept;
  int open_errno() const noexcept { return open_errno_; }
  // Reads the file (its first size - 1 bytes) into buf, NUL-terminated. Empty on failure.
  std::string_view read(char* buf, std::size_t size) const noexcept;

 private:
  const char* path_ = nullptr;  // a string literal
  int fd_ = -1;
  int open_errno_ = 0;
};

// Parsing of the few /proc formats used here. No allocation.
// The value after "key:" in a "key: value" file (/proc/*/io, /proc/*/status), if present.
std::optional<std::int64_t> proc_field(std::string_view text, std::string_view key) noexcept;
// The n-th (0-based) whitespace-separated unsigned integer of text, if present.
std::optional<std::int64_t> nth_number(std::string_view text, std::size_t n) noexcept;

}  // namespace codeprof::metrics
