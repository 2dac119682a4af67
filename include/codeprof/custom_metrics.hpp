#pragma once
// Numbers the program reports about itself that are not durations: throughput, loss, queue depth,
// cache hit rate. Recorded with Profiler::add_counter / record_value / set_gauge, aggregated by
// the recording thread (exact at any load), merged into every Snapshot. Plain data.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codeprof/detail/enum_names.hpp"

namespace codeprof {

enum class MetricKind : std::uint8_t {
  Counter,  // monotonic: increments add up (pages scored, tokens seen)
  Value,    // a series of observations: count, min, max, mean, last, percentiles (loss, batch size)
  Gauge,    // a level that is set: the most recent setting wins (queue depth, cache hit rate)
};

inline constexpr std::array<std::string_view, 3> kMetricKindNames = {"counter", "value", "gauge"};

inline constexpr std::string_view metric_kind_name(MetricKind k) noexcept { return detail::enum_name(kMetricKindNames, k); }
inline constexpr std::optional<MetricKind> metric_kind_from_name(std::string_view s) noexcept {
  return detail::enum_from_name<MetricKind>(kMetricKindNames, s);
}

// What a metric recorded within one time window [start_ns, start_ns + width_ns) (run-relative).
// Counter: `sum` is what was added in the window (so sum / width is the rate). Gauge: `last` is
// the setting in force at the window's end.
struct MetricWindow {
  std::int64_t start_ns = 0;
  std::int64_t width_ns = 0;
  std::uint64_t count = 0;
  double sum = 0.0;
  double min = 0.0;
  double max = 0.0;
  double last = 0.0;

  bool operator==(const MetricWindow&) const = default;
};

struct CustomMetric {
  std::string name;
  MetricKind kind = MetricKind::Value;
  std::string unit;            // as given by the program ("pages", "tokens", "" when none)
  std::uint64_t count = 0;     // calls: increments, observations or settings
  double sum = 0.0;            // counter: its value (all increments); value: sum of observations
  double last = 0.0;           // counter: its value; value/gauge: the most recent one
  double min = 0.0;            // of increments / observations / settings
  double max = 0.0;
  double mean = 0.0;
  // Value metrics: percentiles of the observations from a log-linear histogram (relative error
  // at most 1/128); other kinds: 0.
  double p50 = 0.0, p90 = 0.0, p95 = 0.0, p99 = 0.0;
  std::int64_t first_ns = 0;   // first and last call, run-relative
  std::int64_t last_ns = 0;
  // Calls refused: another kind than the metric's first use, a negative counter increment, a
  // value that is not a finite number.
  std::uint64_t rejected = 0;
  std::vector<MetricWindow> series;  // ascending by start; bounded (see docs/ARCHITECTURE.md)

  bool operator==(const CustomMetric&) const = default;
};

}  // namespace codeprof
