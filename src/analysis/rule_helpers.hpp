#pragma once
// What the rule files share: the thresholds several domains use (each with its source), building
// Evidence, and the few facts more than one domain's rules read. A threshold that one domain uses
// lives in that domain's rules_<domain>.cpp. docs/RULES.md cites each threshold's source.
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/facts.hpp"
#include "analysis/rules.hpp"
#include "codeprof/findings.hpp"

namespace codeprof::analysis {

// CPU efficiency (thread CPU time / wall time). A thread that sleeps or blocks reads near 0; a
// CPU-bound thread reads near 1 on an idle machine but only 1/(runnable threads per core) on an
// oversubscribed one (runnable but preempted: 0.17 at a load of 12 on 2 cores, as measured on the
// shared build machine). So advice to compute less is withheld only below 5 % (asleep), "waiting"
// alone needs under 10 %, and 50 % counts as waiting only together with other evidence (I/O
// bytes, lock-like durations).
inline constexpr double kAsleepCpu = 0.05;
inline constexpr double kMostlyWaitingCpu = 0.1;
inline constexpr double kWaitingCpu = 0.5;
// Shares of the run. 20 %: TensorFlow's "highly input-bound" level; 10 %: the bottlenecks'
// low_priority_share default; 5 %: TensorFlow's "moderately" level.
inline constexpr double kLargeShare = 0.20;  // "a large share of the run"
inline constexpr double kNoticeableShare = 0.10;
inline constexpr double kSmallShare = 0.05;
inline constexpr std::uint64_t kManyCalls = 100;
// Below 1 MiB of I/O a cache or read-ahead saves nothing measurable (codeprof's own).
inline constexpr double kMinIoBytes = 1024.0 * 1024;
// Mean GPU utilisation under 50 %: the GPU waits more than it computes (codeprof's bound).
inline constexpr double kGpuLowUtilization = 50.0;  // percent
// Device memory over 90 %: under 10 % headroom for the caching allocator's peaks (codeprof's bound).
inline constexpr double kGpuMemoryNearLimit = 0.90;

Evidence ev(std::string metric, double value, EvidenceUnit unit, std::string operation = {});

int hardware_threads(const Facts& f);

// Any operation of category mixed_precision was recorded.
bool has_mixed_precision(const Facts& f);

// Work in the steps whose cost does not grow with the batch: the optimizer update (category
// gradient_accumulation, or PyTorch's "Optimizer.step#Adam.step" / "Optimizer.zero_grad#..."),
// the learning-rate scheduler, and (with a step operation) the step's own code between the
// operations it calls. batch-size-small fires on it; undecided_rules says when it was not seen.
struct StepFixedWork {
  double seconds = 0.0;            // over all steps
  std::vector<std::string> parts;  // what it is made of, largest first
  bool measured = false;           // an optimizer (or scheduler) operation was seen in the steps
};

StepFixedWork step_fixed_work(const Facts& f);

}  // namespace codeprof::analysis
