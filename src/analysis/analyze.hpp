#pragma once
// Analysis entry point: pure, deterministic functions of a Snapshot and the thresholds in a Config.
#include "codeprof/config.hpp"
#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::analysis {

Findings analyze(const Snapshot& snapshot, const Config& config);

// Bottlenecks only; operations whose mean is under min_mean_seconds are left out.
std::vector<Bottleneck> find_bottlenecks(const Snapshot& snapshot, const Config& config,
                                         double min_mean_seconds = 0.0);

}  // namespace codeprof::analysis
