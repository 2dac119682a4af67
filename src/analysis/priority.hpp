#pragma once
// Priorities as the findings spell them ("high", "medium", "low") and their order.
#include <string>
#include <string_view>

namespace codeprof::analysis {

inline int priority_rank(std::string_view p) noexcept { return p == "high" ? 0 : p == "medium" ? 1 : 2; }

inline std::string lower_priority(std::string_view p) { return p == "high" ? "medium" : "low"; }

}  // namespace codeprof::analysis
