#pragma once
// Trends and anomalies over time: operations that slow down, memory that grows step after step,
// and single calls far above their operation's p99.
#include <cstdint>
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

// What each detector needs. Slow-down: an operation with this many calls spread over this many
// time windows. Spikes: this many calls (below, p99 is one of the few slowest calls) and a p99 of
// at least 100 us. Process memory growth: this many rss_bytes samples after the first quarter of
// the run (Theil-Sen and Kendall's tau over fewer points say little).
inline constexpr std::uint64_t kSlowdownMinCalls = 20;
inline constexpr std::size_t kSlowdownMinWindows = 8;
inline constexpr std::uint64_t kSpikeMinCalls = 50;
inline constexpr double kSpikeMinP99S = 100e-6;
inline constexpr std::size_t kMemoryGrowthMinSamples = 8;

// Each detector adds to `inconclusive` (when given) what it needed and what the run had, when it
// could not look at all.
std::vector<Trend> find_slowdowns(const Snapshot& snapshot, std::vector<Inconclusive>* inconclusive = nullptr);
std::vector<Trend> find_memory_growth(const Snapshot& snapshot, const std::vector<OperationFacts>& ops,
                                      const StepFacts& steps, std::vector<Inconclusive>* inconclusive = nullptr);
std::vector<Trend> find_spikes(const Snapshot& snapshot, std::vector<Inconclusive>* inconclusive = nullptr);

// All of the above in a stable order: memory growth, slow-downs, spikes; larger magnitude first.
std::vector<Trend> find_trends(const Snapshot& snapshot, const std::vector<OperationFacts>& ops, const StepFacts& steps,
                               std::vector<Inconclusive>* inconclusive = nullptr);

}  // namespace codeprof::analysis
