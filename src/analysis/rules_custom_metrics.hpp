#pragma once
// Rules about the program's own metrics (Profiler::add_counter / record_value / set_gauge): the
// configured thresholds, and a counter whose rate falls during the run. docs/RULES.md documents them.
#include <vector>

#include "analysis/rule_domains.hpp"

namespace codeprof::analysis {

// custom_metrics_rules() is declared with the other domains in rule_domains.hpp.

// A metric's reading over the run: a counter's rate per second (its value / wall time), a value's
// mean, a gauge's latest setting. Also what the live alerts compare, over their window.
double metric_reading(const CustomMetric& metric, double wall_s);
// "per second" for counters, "mean" for values, "latest" for gauges.
const char* metric_reading_name(MetricKind kind);

// A counter's rate before and after its most likely change point.
struct RateChange {
  double before_per_s = 0.0;  // median rate of the windows before the change
  double after_per_s = 0.0;   // and after it
  double at_s = 0.0;          // run-relative start of the first window after the change
  double z = 0.0;             // Mann-Whitney U statistic, normal approximation (before > after)
  std::size_t windows = 0;    // windows looked at
};
// Needs kRateDropMinWindows complete windows of the counter's series; nullopt otherwise.
inline constexpr std::size_t kRateDropMinWindows = 8;
std::optional<RateChange> rate_change(const CustomMetric& counter);

}  // namespace codeprof::analysis
