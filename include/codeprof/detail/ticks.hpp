#pragma once
// Raw timestamps for the hot path: the TSC where it is invariant, else steady_clock nanoseconds.
// Which one a recorder uses is decided once (RecorderState::use_tsc); converting ticks to
// nanoseconds uses the rate src/core/tick_converter.cpp estimates (detail::TickScale).
#include <chrono>
#include <cstdint>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define CODEPROF_HAS_TSC 1
#else
#define CODEPROF_HAS_TSC 0
#endif

namespace codeprof::detail {

inline std::uint64_t steady_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

inline std::uint64_t read_ticks(bool use_tsc) noexcept {
#if CODEPROF_HAS_TSC
  if (use_tsc) [[likely]]
    return __rdtsc();
#else
  (void)use_tsc;
#endif
  return steady_ns();
}

}  // namespace codeprof::detail
