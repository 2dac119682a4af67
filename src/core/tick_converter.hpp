#pragma once
// Converts raw ticks (TSC or steady_clock ns) to nanoseconds since the run's origin.
// The TSC rate is estimated at start-up and refined against steady_clock as the run goes on.
#include <cstdint>

namespace codeprof::core {

// True when the CPU has an invariant TSC (constant rate, runs in all C-states).
bool tsc_is_invariant() noexcept;

class TickConverter {
 public:
  explicit TickConverter(bool use_tsc);
  bool use_tsc() const noexcept { return use_tsc_; }
  std::int64_t origin_steady_ns() const noexcept { return origin_steady_ns_; }
  // The origin in ticks: to_ns(origin_ticks()) == 0.
  std::uint64_t origin_ticks() const noexcept {
    return use_tsc_ ? origin_ticks_ : static_cast<std::uint64_t>(origin_steady_ns_);
  }
  // Nanoseconds since the origin (may be negative for ticks taken before it).
  std::int64_t to_ns(std::uint64_t ticks) const noexcept;
  // Tick counts to a duration in nanoseconds.
  std::uint64_t duration_ns(std::uint64_t start, std::uint64_t end) const noexcept;
  // Re-estimates the TSC rate over the time since construction (collector thread only).
  void refine() noexcept;
  double ns_per_tick() const noexcept { return ns_per_tick_; }

 private:
  bool use_tsc_;
  std::int64_t origin_steady_ns_ = 0;
  std::uint64_t origin_ticks_ = 0;
  double ns_per_tick_ = 1.0;
};

}  // namespace codeprof::core
