#pragma once
// Busy work for a span of wall time: CPU-bound, so a profiled scope around it has CPU time as well
// as duration; a preempted spin still ends on time.
#include <chrono>
#include <cstdint>

namespace codeprof::test {

inline void spin_for(std::chrono::microseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  volatile std::uint64_t x = 0;
  while (std::chrono::steady_clock::now() < end) x = x + 1;
}

}  // namespace codeprof::test
