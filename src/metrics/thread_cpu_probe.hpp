#pragma once
// CPU time (user + system) of the calling thread, in ns. The vDSO does not serve CPU-time clocks
// (only the wall clocks), so this is one system call (~0.2 us): the CPU probe costs two per scope.
#include <time.h>

#include <cstdint>

namespace codeprof::metrics {

// -1 when the clock cannot be read (never seen on Linux, but the probe must not lie).
inline std::int64_t thread_cpu_ns() noexcept {
  timespec ts{};
  if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return -1;
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace codeprof::metrics
