#pragma once
// The recommendation with this id in an analysis, or nullptr.
#include <string>

#include "codeprof/findings.hpp"

namespace codeprof::testing {

inline const Recommendation* find_recommendation(const Findings& f, const std::string& id) {
  for (const auto& r : f.recommendations)
    if (r.id == id) return &r;
  return nullptr;
}

}  // namespace codeprof::testing
