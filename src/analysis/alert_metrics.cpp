#include "analysis/alert_metrics.hpp"

#include <algorithm>
#include <string>

#include "analysis/classification.hpp"
#include "analysis/robust_stats.hpp"

namespace codeprof::analysis {
namespace {

constexpr std::size_t kRssPointsKept = 120;  // Theil–Sen over at most this many points (pairs grow quadratically)

double seconds_between(std::int64_t a_ns, std::int64_t b_ns) { return static_cast<double>(b_ns - a_ns) / 1e9; }

bool went_back(const StepTiming& before, const StepTiming& after) {
  return after.steps < before.steps || after.step_time < before.step_time || after.iteration_time < before.iteration_time;
}

// "gpu3_utilization_percent" -> "3"; empty when the name is something else.
std::string gpu_of_utilization_series(const std::string& name) {
  static constexpr std::string_view kSuffix = "_utilization_percent";
  if (name.size() <= 3 + kSuffix.size() || name.rfind("gpu", 0) != 0 || !name.ends_with(kSuffix)) return {};
  std::string index = name.substr(3, name.size() - 3 - kSuffix.size());
  if (index.empty() || !std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; })) return {};
  return index;
}

}  // namespace

void AlertMetrics::add(const Snapshot& s, const Findings& f, std::int64_t now) {
  Point p{now, f.step_timing, s.events_recorded_total, s.events_dropped_total, {}};
  for (const CustomMetric& m : s.custom_metrics)
    if (m.kind != MetricKind::Gauge) p.metrics[m.name] = {m.count, m.sum};
  const auto metric_went_back = [&](const Point& last) {
    for (const auto& [name, t] : last.metrics) {
      const auto it = p.metrics.find(name);
      if (it == p.metrics.end() || it->second.count < t.count) return true;  // a reset
    }
    return false;
  };
  if (!points_.empty()) {
    const Point& last = points_.back();
    if (now <= last.t_ns || went_back(last.steps, p.steps) || p.recorded < last.recorded || p.dropped < last.dropped ||
        metric_went_back(last))
      points_.clear();
  }
  points_.push_back(p);
  // Keep the newest point at or before the window's start as the base of the rates.
  const std::int64_t start = now - static_cast<std::int64_t>(window_s_ * 1e9);
  while (points_.size() > 2 && points_[1].t_ns <= start) points_.pop_front();

  if (const TimelineSeries* rss = s.timeline("rss_bytes"); rss && !rss->values.empty()) {
    const double bytes = rss->values.back();
    // One point per 1/kRssPointsKept of the window bounds the history and the slope's cost.
    const double spacing_s = rss_window_s_ / static_cast<double>(kRssPointsKept);
    if (rss_.empty() || seconds_between(rss_.back().t_ns, now) >= spacing_s || now < rss_.back().t_ns) {
      if (!rss_.empty() && now < rss_.back().t_ns) rss_.clear();
      rss_.push_back({now, bytes});
    }
    const std::int64_t rss_start = now - static_cast<std::int64_t>(rss_window_s_ * 1e9);
    while (rss_.size() > 2 && rss_[1].t_ns <= rss_start) rss_.pop_front();
  }
}

std::vector<AlertSample> AlertMetrics::samples(const Snapshot& latest, const Config::Alerts& config) const {
  std::vector<AlertSample> out;
  // The program's own metrics.
  for (const CustomMetric& m : latest.custom_metrics) {
    const std::string metric = std::string(kCustomMetricPrefix) + m.name;
    if (m.kind == MetricKind::Gauge) {
      if (m.count > 0) out.push_back({metric, {{"metric", m.name}}, m.last});
      continue;
    }
    if (points_.size() < 2) continue;
    const auto a = points_.front().metrics.find(m.name);
    const auto b = points_.back().metrics.find(m.name);
    if (b == points_.back().metrics.end()) continue;
    const MetricTotals before = a == points_.front().metrics.end() ? MetricTotals{} : a->second;
    const double span_s = seconds_between(points_.front().t_ns, points_.back().t_ns);
    const double added = b->second.sum - before.sum;
    const std::uint64_t calls = b->second.count - before.count;
    if (m.kind == MetricKind::Counter && span_s > 0) out.push_back({metric, {{"metric", m.name}}, added / span_s});
    if (m.kind == MetricKind::Value && calls > 0) out.push_back({metric, {{"metric", m.name}}, added / static_cast<double>(calls)});
  }
  if (points_.size() >= 2) {
    const Point& a = points_.front();
    const Point& b = points_.back();
    const double steps = static_cast<double>(b.steps.steps - a.steps.steps);
    const double iteration = b.steps.iteration_time - a.steps.iteration_time;
    if (steps > 0 && iteration > 0)
      out.push_back({kInputShareMetric, {}, std::clamp((b.steps.input_time - a.steps.input_time) / iteration, 0.0, 1.0)});
    if (steps > 0) out.push_back({kStepTimeMetric, {}, (b.steps.step_time - a.steps.step_time) / steps});
    const double dropped = static_cast<double>(b.dropped - a.dropped);
    const double made = static_cast<double>(b.recorded - a.recorded) + dropped;
    if (made > 0) out.push_back({kDropShareMetric, {}, dropped / made});
  }

  // GPU idle: the share of the sampler's utilisation samples in the window under the idle level.
  const std::int64_t last_t = [&] {
    std::int64_t t = 0;
    for (const auto& series : latest.timelines)
      if (!series.t_ns.empty()) t = std::max(t, series.t_ns.back());
    return t;
  }();
  for (const auto& series : latest.timelines) {
    const std::string gpu = gpu_of_utilization_series(series.name);
    if (gpu.empty()) continue;
    std::size_t n = 0, idle = 0;
    for (std::size_t i = 0; i < series.t_ns.size() && i < series.values.size(); ++i) {
      if (seconds_between(series.t_ns[i], last_t) > config.window_s) continue;
      ++n;
      if (series.values[i] < kGpuIdleUtilizationPercent) ++idle;
    }
    if (n > 0) out.push_back({kGpuIdleMetric, {{"gpu", gpu}}, static_cast<double>(idle) / static_cast<double>(n)});
  }

  // RSS growth over its window, once the history covers most of it (else start-up would count).
  if (rss_.size() >= 3 && seconds_between(rss_.front().t_ns, rss_.back().t_ns) >= 0.9 * config.memory_growth_window_s) {
    std::vector<double> x, y;
    for (const auto& p : rss_) {
      x.push_back(seconds_between(rss_.front().t_ns, p.t_ns));
      y.push_back(p.bytes);
    }
    out.push_back({kRssGrowthMetric, {}, theil_sen_slope(x, y) * config.memory_growth_window_s});
  }
  return out;
}

std::vector<AlertRule> builtin_alert_rules(const Config::Alerts& c) {
  std::vector<AlertRule> rules;
  const auto add = [&](AlertRule r) {
    if (r.threshold > 0) {
      r.keep_firing_for_s = c.keep_firing_for_s;
      rules.push_back(std::move(r));
    }
  };
  add({"InputBound", kInputShareMetric, AlertComparison::Above, c.input_bound_share, c.input_bound_for_s, 0, "warning",
       "input-bound: input takes {value} of each iteration (threshold {threshold})", "ratio",
       "TensorFlow's input-pipeline analyzer: >= 20 % of step time waiting for input is highly input-bound"});
  add({"GpuIdle", kGpuIdleMetric, AlertComparison::Above, c.gpu_idle_share, c.gpu_idle_for_s, 0, "warning",
       "GPU {label:gpu} idle {value} of the time (threshold {threshold})", "ratio",
       "Holistic Trace Analysis' idle-time breakdown; 30 % is codeprof's gpu-idle rule (docs/RULES.md)"});
  add({"EventsDropped", kDropShareMetric, AlertComparison::Above, c.events_dropped_share, c.events_dropped_for_s, 0,
       "warning", "the profiler drops {value} of its events: its numbers are incomplete (threshold {threshold})", "ratio",
       "codeprof's profiler-events-dropped rule: medium priority from 1 % (docs/RULES.md)"});
  add({"MemoryGrowth", kRssGrowthMetric, AlertComparison::Above, c.memory_growth_mib * 1024 * 1024, c.memory_growth_for_s, 0,
       "warning", "RSS grew {value} over the last " + std::to_string(static_cast<long long>(c.memory_growth_window_s)) +
                      " s (threshold {threshold})",
       "bytes", "codeprof's memory-growth trend: a process rising >= 16 MiB is worth a look (docs/RULES.md)"});
  add({"SlowSteps", kStepTimeMetric, AlertComparison::Above, c.step_time_s, c.step_time_for_s, 0, "warning",
       "mean step time {value} (threshold {threshold})", "s", "the user's own step-time budget (alerts.step_time.threshold)"});
  return rules;
}

std::vector<AlertRule> custom_metric_alert_rules(const Config& config) {
  std::vector<AlertRule> rules;
  for (const auto& [name, t] : config.custom_metrics) {
    const AlertComparison cmp = t.below ? AlertComparison::Below : AlertComparison::Above;
    const std::string metric = std::string(kCustomMetricPrefix) + name;
    const std::string summary = name + " is {value} (threshold {threshold}, " + (t.below ? "below" : "above") + ")";
    const std::string source = "the program's own threshold (custom_metrics." + name + ".";
    if (t.warning)
      rules.push_back({"CustomMetricWarning", metric, cmp, *t.warning, config.alerts.custom_metric_for_s,
                       config.alerts.keep_firing_for_s, "warning", summary, "", source + "warning)"});
    if (t.critical)
      rules.push_back({"CustomMetricCritical", metric, cmp, *t.critical, config.alerts.custom_metric_for_s,
                       config.alerts.keep_firing_for_s, "critical", summary, "", source + "critical)"});
  }
  return rules;
}

}  // namespace codeprof::analysis
