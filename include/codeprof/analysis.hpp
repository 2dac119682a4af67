#pragma once
// Analysis of any Snapshot (a live one, a trace read with io::read_trace_file, another process's):
// the same bottlenecks, classification, trends and recommendations Profiler::analyze() gives.
// Pure functions of the Snapshot and the thresholds in the Config (docs/RULES.md).
#include <vector>

#include "codeprof/config.hpp"
#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof {

Findings analyze_snapshot(const Snapshot& snapshot, const Config& config = Config{});
// Operations whose mean is at least `min_mean_seconds`, ranked.
std::vector<Bottleneck> find_bottlenecks(const Snapshot& snapshot, const Config& config = Config{},
                                         double min_mean_seconds = 0.0);

}  // namespace codeprof
