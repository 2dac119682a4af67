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

TickConverter::TickConverter(bool use_tsc) : use_tsc_(use_tsc) {
  origin_steady_ns_ = static_cast<std::int64_t>(detail::steady_ns());
  origin_ticks_ = detail::read_ticks(use_tsc_);
  if (!use_tsc_) return;
  // A first estimate over ~2 ms; refine() improves it as the run gets longer.
  std::uint64_t steady = 0, ticks = 0;
  do {
    steady = detail::steady_ns();
    ticks = detail::read_ticks(true);
  } while (static_cast<std::int64_t>(steady) - origin_steady_ns_ < 2'000'000);
  ns_per_tick_ = static_cast<double>(static_cast<std::int64_t>(steady) - origin_steady_ns_) /
                 static_cast<double>(ticks - origin_ticks_);
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
  const auto steady = static_cast<std::int64_t>(detail::steady_ns());
  const std::uint64_t ticks = detail::read_ticks(true);
  if (steady - origin_steady_ns_ < 50'000'000 || ticks <= origin_ticks_) return;
  ns_per_tick_ = static_cast<double>(steady - origin_steady_ns_) / static_cast<double>(ticks - origin_ticks_);
}

}  // namespace codeprof::core
