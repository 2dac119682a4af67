#include "core/tick_converter.hpp"

#include "codeprof/detail/ticks.hpp"

#if CODEPROF_HAS_TSC
#include <cpuid.h>
#endif

namespace codeprof::core {

bool tsc_is_invariant() noexcept {
#if CODEPROF_HAS_TSC
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0x80000000u, &a, &b, &c, &d) == 0 || a < 0x80000007u) return false;
  if (__get_cpuid(0x80000007u, &a, &b, &c, &d) == 0) return false;
  return (d & (1u << 8)) != 0;  // "Invariant TSC"
#else
  return false;
#endif
}

namespace {

// A (steady_clock ns, TSC) pair read as close together as possible: the TSC read between two
// steady_clock reads, the tightest bracket of a few tries. A preemption between the two reads of a
// single pair would skew the rate estimate by its length over the estimation interval.
struct ClockPair {
  std::int64_t steady_ns;
  std::uint64_t ticks;
};
ClockPair paired_read() noexcept {
  ClockPair best{0, 0};
  std::int64_t best_gap = INT64_MAX;
  for (int i = 0; i < 8; ++i) {
    const auto before = static_cast<std::int64_t>(detail::steady_ns());
    const std::uint64_t ticks = detail::read_ticks(true);
    const auto after = static_cast<std::int64_t>(detail::steady_ns());
    if (after - before < best_gap) {
      best_gap = after - before;
      best = {before + (after - before) / 2, ticks};
    }
  }
  return best;
}

}  // namespace

TickConverter::TickConverter(bool use_tsc) : use_tsc_(use_tsc) {
  if (!use_tsc_) {
    origin_steady_ns_ = static_cast<std::int64_t>(detail::steady_ns());
    origin_ticks_ = static_cast<std::uint64_t>(origin_steady_ns_);
    return;
  }
  const ClockPair origin = paired_read();
  origin_steady_ns_ = origin.steady_ns;
  origin_ticks_ = origin.ticks;
  // A first estimate over ~2 ms; refine() improves it as the run gets longer.
  while (static_cast<std::int64_t>(detail::steady_ns()) - origin_steady_ns_ < 2'000'000) {
  }
  const ClockPair now = paired_read();
  ns_per_tick_ = static_cast<double>(now.steady_ns - origin_steady_ns_) / static_cast<double>(now.ticks - origin_ticks_);
}

std::int64_t TickConverter::to_ns(std::uint64_t ticks) const noexcept {
  if (!use_tsc_) return static_cast<std::int64_t>(ticks) - origin_steady_ns_;
  const auto delta = static_cast<std::int64_t>(ticks - origin_ticks_);
  return static_cast<std::int64_t>(static_cast<double>(delta) * ns_per_tick_);
}

std::uint64_t TickConverter::duration_ns(std::uint64_t start, std::uint64_t end) const noexcept {
  if (end <= start) return 0;
  if (!use_tsc_) return end - start;
  return static_cast<std::uint64_t>(static_cast<double>(end - start) * ns_per_tick_ + 0.5);
}

void TickConverter::refine() noexcept {
  if (!use_tsc_) return;
  const ClockPair now = paired_read();
  if (now.steady_ns - origin_steady_ns_ < 50'000'000 || now.ticks <= origin_ticks_) return;
  ns_per_tick_ = static_cast<double>(now.steady_ns - origin_steady_ns_) / static_cast<double>(now.ticks - origin_ticks_);
}

}  // namespace codeprof::core
