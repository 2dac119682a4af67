#pragma once
// Rules about socket I/O measured by the network probe (codeprof::net): checks, thresholds with
// their sources, and texts. docs/RULES.md documents them.
#include <vector>

#include "analysis/rules.hpp"

namespace codeprof::analysis {

const std::vector<Rule>& network_rules();

}  // namespace codeprof::analysis
