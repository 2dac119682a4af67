#pragma once
// Trends and anomalies over time: operations that slow down, memory that grows step after step,
// and single calls far above their operation's p99.
#include <vector>

#include "analysis/operation_facts.hpp"
#include "analysis/steps.hpp"
#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::analysis {

// Slow-down: late/early ratio of the medians of window means that counts as a slow-down.
inline constexpr double kSlowdownRatio = 1.5;
// Spike: a call this many times its operation's p99 (and at least 1 ms above it).
inline constexpr double kSpikeOverP99 = 3.0;

std::vector<Trend> find_slowdowns(const Snapshot& snapshot);
std::vector<Trend> find_memory_growth(const Snapshot& snapshot, const std::vector<OperationFacts>& ops,
                                      const StepFacts& steps);
std::vector<Trend> find_spikes(const Snapshot& snapshot);

// All of the above in a stable order: memory growth, slow-downs, spikes; larger magnitude first.
std::vector<Trend> find_trends(const Snapshot& snapshot, const std::vector<OperationFacts>& ops, const StepFacts& steps);

}  // namespace codeprof::analysis
