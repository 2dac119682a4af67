#pragma once
// Now on the wall clock, in nanoseconds since the Unix epoch: when a report was generated, when an
// alert changed state, a dashboard view was computed or a rank was last heard from.
#include <chrono>
#include <cstdint>

namespace codeprof::common {

inline std::int64_t unix_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace codeprof::common
