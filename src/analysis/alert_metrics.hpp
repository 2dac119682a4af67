#pragma once
// The metrics the built-in alert rules read, measured over a sliding window of successive
// snapshots (like Prometheus' rate() over a range), and the built-in rules themselves with their
// thresholds from the configuration (docs/ALERTS.md gives each threshold's source).
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "codeprof/alerts.hpp"
#include "codeprof/config.hpp"
#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::analysis {

// Metric names (AlertSample::metric):
inline constexpr const char* kInputShareMetric = "input_share";          // input / iteration time, window
inline constexpr const char* kStepTimeMetric = "step_time_seconds";      // mean step time, window
inline constexpr const char* kDropShareMetric = "events_dropped_share";  // dropped / made, window
inline constexpr const char* kGpuIdleMetric = "gpu_idle_share";          // samples under 5 %, window; label gpu
inline constexpr const char* kRssGrowthMetric = "rss_growth_bytes";      // RSS growth over its own window
// The program's own metrics: "custom_metric:<name>", label metric=<name>; a counter's rate per
// second and a value's mean over the window, a gauge's latest setting.
inline constexpr std::string_view kCustomMetricPrefix = "custom_metric:";

class AlertMetrics {
 public:
  // The windows over which history is kept (Config::Alerts::window_s, memory_growth_window_s).
  void set_windows(double window_s, double rss_window_s) noexcept {
    window_s_ = window_s;
    rss_window_s_ = rss_window_s;
  }
  // Remembers what the snapshot says at `now_unix_ns` (counters drop back after a reset: the
  // window then starts again).
  void add(const Snapshot& snapshot, const Findings& findings, std::int64_t now_unix_ns);
  // The samples over the configured windows; a metric without enough data has no sample.
  std::vector<AlertSample> samples(const Snapshot& latest, const Config::Alerts& config) const;

 private:
  struct MetricTotals {
    std::uint64_t count = 0;
    double sum = 0.0;
  };
  struct Point {
    std::int64_t t_ns = 0;
    StepTiming steps;
    std::uint64_t recorded = 0;
    std::uint64_t dropped = 0;
    std::map<std::string, MetricTotals, std::less<>> metrics;  // counters and values
  };
  struct RssPoint {
    std::int64_t t_ns = 0;
    double bytes = 0.0;
  };
  std::deque<Point> points_;
  std::deque<RssPoint> rss_;
  double window_s_ = 60.0;
  double rss_window_s_ = 1800.0;
};

// The built-in rules with the configured thresholds; a rule whose threshold is 0 is left out.
std::vector<AlertRule> builtin_alert_rules(const Config::Alerts& config);
// One rule per threshold of the program's own metrics (custom_metrics.<name>.warning/.critical):
// CustomMetricWarning / CustomMetricCritical.
std::vector<AlertRule> custom_metric_alert_rules(const Config& config);

}  // namespace codeprof::analysis
