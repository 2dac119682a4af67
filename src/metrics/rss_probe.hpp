#pragma once
// Resident set size of the process, from /proc/self/statm (second field, in pages). Kept open
// once per process; concurrent readers are serialised by the kernel's seq_file lock.
#include <cstdint>
#include <string>

namespace codeprof::metrics {

class RssProbe {
 public:
  RssProbe();
  bool available() const noexcept { return ok_; }
  const std::string& unavailable_reason() const noexcept { return reason_; }
  // Current RSS in bytes, -1 if the read failed.
  std::int64_t rss_bytes() const noexcept;

 private:
  bool ok_ = false;
  std::string reason_;
};

// Resident and virtual size from one statm read; false if it could not be read.
bool read_statm(std::int64_t& rss_bytes, std::int64_t& vm_bytes) noexcept;

}  // namespace codeprof::metrics
