#pragma once
// The order of priorities (high first) and the level below one.
#include "codeprof/findings.hpp"

namespace codeprof::analysis {

constexpr int priority_rank(Priority p) noexcept { return static_cast<int>(p); }

constexpr Priority lower_priority(Priority p) noexcept { return p == Priority::High ? Priority::Medium : Priority::Low; }

}  // namespace codeprof::analysis
