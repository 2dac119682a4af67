// Rules about the program's own metrics: checks, thresholds with their sources, and texts.
#include "analysis/rules_custom_metrics.hpp"

#include <algorithm>
#include <cmath>

#include "analysis/robust_stats.hpp"
#include "common/number_format.hpp"

namespace codeprof::analysis {
namespace {

// One-sided Mann-Whitney U test at p < 0.01 (normal approximation; Mann & Whitney 1947): the
// windows after the change point are lower than those before, not just a different median.
constexpr double kRateDropZ = 2.326;
// The change point splits the series into at least this many windows on each side.
constexpr std::size_t kMinSegment = 3;

std::string reading_text(const CustomMetric& m, double reading) {
  std::string unit = m.unit.empty() ? "" : " " + m.unit;
  if (m.kind == MetricKind::Counter) return common::format_number(reading, 1) + unit + "/s";
  return common::format_number(reading, 3) + unit;
}

std::optional<RuleFiring> custom_metric_threshold(const Facts& facts) {
  struct Breach {
    const CustomMetric* metric;
    double reading;
    double threshold;
    bool critical;
    bool below;
  };
  std::vector<Breach> breaches;
  for (const auto& [name, t] : facts.config.custom_metrics) {
    const CustomMetric* m = facts.snapshot.metric(name);
    if (!m || m->count == 0) continue;
    const double reading = metric_reading(*m, facts.wall_s);
    const auto past = [&](const std::optional<double>& limit) {
      return limit && (t.below ? reading < *limit : reading > *limit);
    };
    if (past(t.critical)) breaches.push_back({m, reading, *t.critical, true, t.below});
    else if (past(t.warning)) breaches.push_back({m, reading, *t.warning, false, t.below});
  }
  if (breaches.empty()) return std::nullopt;
  std::stable_sort(breaches.begin(), breaches.end(), [](const Breach& a, const Breach& b) { return a.critical > b.critical; });
  RuleFiring f;
  f.priority = breaches.front().critical ? "high" : "medium";
  std::string others;
  for (const Breach& b : breaches) {
    const std::string metric = b.metric->name + (b.metric->kind == MetricKind::Counter ? "_per_s" : "");
    f.evidence.push_back(metric_evidence(metric, b.reading, b.metric->unit));
    f.evidence.push_back(metric_evidence(metric + (b.critical ? "_critical" : "_warning"), b.threshold, b.metric->unit));
    if (&b != &breaches.front())
      others += std::string(others.empty() ? " Also past their thresholds: " : ", ") + b.metric->name + " (" +
                metric_reading_name(b.metric->kind) + " " + reading_text(*b.metric, b.reading) + ")";
  }
  if (!others.empty()) others += ".";
  const Breach& top = breaches.front();
  f.values = {{"metric", top.metric->name},
              {"reading", reading_text(*top.metric, top.reading)},
              {"how", metric_reading_name(top.metric->kind)},
              {"level", top.critical ? "critical" : "warning"},
              {"side", top.below ? "below" : "above"},
              {"threshold", reading_text(*top.metric, top.threshold)},
              {"others", others}};
  f.impact = static_cast<double>(breaches.size());
  return f;
}

std::optional<RuleFiring> custom_metric_rate_drop(const Facts& facts) {
  const double limit = facts.config.metric_rate_drop;
  if (limit <= 0.0) return std::nullopt;
  struct Drop {
    const CustomMetric* metric;
    RateChange change;
    double share;
  };
  std::optional<Drop> worst;
  for (const CustomMetric& m : facts.snapshot.custom_metrics) {
    if (m.kind != MetricKind::Counter) continue;
    const std::optional<RateChange> c = rate_change(m);
    if (!c || c->before_per_s <= 0.0 || c->z < kRateDropZ) continue;
    const double share = 1.0 - c->after_per_s / c->before_per_s;
    if (share >= limit && (!worst || share > worst->share)) worst = Drop{&m, *c, share};
  }
  if (!worst) return std::nullopt;
  const CustomMetric& m = *worst->metric;
  RuleFiring f;
  f.priority = worst->share >= 2.0 / 3.0 ? "high" : "medium";
  f.evidence = {{m.name + "_per_s_before", worst->change.before_per_s, EvidenceUnit::PerSecond, {}, {}},
                {m.name + "_per_s_after", worst->change.after_per_s, EvidenceUnit::PerSecond, {}, {}},
                {"rate_drop", worst->share, EvidenceUnit::Ratio, {}, {}},
                {"change_at", worst->change.at_s, EvidenceUnit::Seconds, {}, {}},
                {"mann_whitney_z", worst->change.z, EvidenceUnit::None, {}, {}}};
  const std::string unit = m.unit.empty() ? "" : " " + m.unit;
  f.values = {{"metric", m.name},
              {"drop", common::format_percent(worst->share)},
              {"at", common::format_seconds(worst->change.at_s)},
              {"before", common::format_number(worst->change.before_per_s, 1) + unit + "/s"},
              {"after", common::format_number(worst->change.after_per_s, 1) + unit + "/s"},
              {"windows", std::to_string(worst->change.windows)}};
  f.impact = worst->share;
  return f;
}

const std::vector<Rule> kCustomMetricRules = {
    {"custom-metric-threshold", "system", "medium", "{metric} is {side} its {level} threshold",
     "the program's own thresholds: custom_metrics.<name>.warning / .critical / .direction in the configuration "
     "(docs/CONFIG.md); high when a critical threshold is passed",
     "{metric} ({how}) is {reading} over the run, {side} its {level} threshold of {threshold} "
     "(custom_metrics.{metric}.{level}).{others} Look at what drives it in the same time span: the bottlenecks "
     "and trends of this report, and the metric's chart on the dashboard.",
     custom_metric_threshold},
    {"custom-metric-rate-drop", "system", "medium", "{metric} per second dropped {drop} after {at}",
     "least-squares single change point in the counter's windowed rate (Hinkley 1970, Biometrika 57(1)), "
     "confirmed by a one-sided Mann-Whitney U test at p < 0.01; a drop of at least analysis.metric_rate_drop "
     "(default 0.33: the duration slow-down detector's 1.5x as a rate, 1 - 1/1.5); high from two thirds",
     "{metric} went from {before} to {after} (median of its windows before and after {at}; {windows} windows). "
     "Find what changed at that time: an operation that slowed down (trends), a resource that ran out "
     "(memory, GPU, input queue), or a change in the input itself.",
     custom_metric_rate_drop},
};

}  // namespace

const char* metric_reading_name(MetricKind kind) {
  switch (kind) {
    case MetricKind::Counter: return "per second";
    case MetricKind::Value: return "mean";
    case MetricKind::Gauge: return "latest";
  }
  return "mean";
}

double metric_reading(const CustomMetric& m, double wall_s) {
  switch (m.kind) {
    case MetricKind::Counter: return wall_s > 0.0 ? m.sum / wall_s : 0.0;
    case MetricKind::Value: return m.mean;
    case MetricKind::Gauge: return m.last;
  }
  return m.mean;
}

std::optional<RateChange> rate_change(const CustomMetric& counter) {
  if (counter.series.empty()) return std::nullopt;
  const std::int64_t width = counter.series.front().width_ns;
  if (width <= 0) return std::nullopt;
  // The rate of every window from the first to the last one with calls, empty ones as 0; the
  // first and last windows are partly outside the counter's active time, so they are left out.
  const std::int64_t first = counter.series.front().start_ns, last = counter.series.back().start_ns;
  const std::size_t n = static_cast<std::size_t>((last - first) / width) + 1;
  if (n < kRateDropMinWindows + 2) return std::nullopt;
  std::vector<double> rate(n, 0.0);
  for (const MetricWindow& w : counter.series)
    if (w.width_ns == width) rate[static_cast<std::size_t>((w.start_ns - first) / width)] = w.sum / (static_cast<double>(width) / 1e9);
  rate = std::vector<double>(rate.begin() + 1, rate.end() - 1);
  const std::size_t m = rate.size();
  // Least-squares change point: the split that minimises the squared deviations from each side's mean.
  std::vector<double> prefix(m + 1, 0.0), prefix_sq(m + 1, 0.0);
  for (std::size_t i = 0; i < m; ++i) {
    prefix[i + 1] = prefix[i] + rate[i];
    prefix_sq[i + 1] = prefix_sq[i] + rate[i] * rate[i];
  }
  const auto sse = [&](std::size_t a, std::size_t b) {
    const double k = static_cast<double>(b - a), s = prefix[b] - prefix[a];
    return (prefix_sq[b] - prefix_sq[a]) - s * s / k;
  };
  std::size_t best = 0;
  double best_cost = 0.0;
  for (std::size_t k = kMinSegment; k + kMinSegment <= m; ++k) {
    const double cost = sse(0, k) + sse(k, m);
    if (best == 0 || cost < best_cost) {
      best = k;
      best_cost = cost;
    }
  }
  if (best == 0) return std::nullopt;
  const std::vector<double> before(rate.begin(), rate.begin() + static_cast<std::ptrdiff_t>(best));
  const std::vector<double> after(rate.begin() + static_cast<std::ptrdiff_t>(best), rate.end());
  double u = 0.0;
  for (double a : before)
    for (double b : after) u += a > b ? 1.0 : a == b ? 0.5 : 0.0;
  const double n1 = static_cast<double>(before.size()), n2 = static_cast<double>(after.size());
  const double sd = std::sqrt(n1 * n2 * (n1 + n2 + 1.0) / 12.0);
  RateChange c;
  c.before_per_s = median(before);
  c.after_per_s = median(after);
  c.at_s = static_cast<double>(first + static_cast<std::int64_t>(best + 1) * width) / 1e9;
  c.z = sd > 0.0 ? (u - n1 * n2 / 2.0) / sd : 0.0;
  c.windows = m;
  return c;
}

const std::vector<Rule>& custom_metrics_rules() { return kCustomMetricRules; }

}  // namespace codeprof::analysis
