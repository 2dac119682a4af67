#pragma once
// The readable summary `codeprof analyze` prints: run facts, classification, top operations,
// bottlenecks, recommendations with their evidence and action, trends and unavailable probes.
#include <cstddef>
#include <string>

#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::cli {

// `top` bounds the operations, bottlenecks and recommendations listed.
std::string summary_text(const Snapshot& snapshot, const Findings& findings, std::size_t top);

}  // namespace codeprof::cli
