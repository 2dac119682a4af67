// The alert engine's semantics (pending, firing after `for`, resolving after `keep_firing_for`,
// one alert per label set) and the alert metrics measured over sliding windows of snapshots.
#include <gtest/gtest.h>

#include <cmath>

#include "analysis/alert_engine.hpp"
#include "analysis/alert_metrics.hpp"

namespace codeprof {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

AlertRule rule(double threshold, double for_s, double keep_s = 0) {
  AlertRule r;
  r.name = "SlowSteps";
  r.metric = "step_time_seconds";
  r.threshold = threshold;
  r.for_s = for_s;
  r.keep_firing_for_s = keep_s;
  r.unit = "s";
  r.summary = "mean step time {value} on rank {label:rank} (threshold {threshold})";
  return r;
}

AlertSample sample(double value, const std::string& rank = "0") { return {"step_time_seconds", {{"rank", rank}}, value}; }

TEST(AlertEngine, PendingUntilTheConditionHeldForItsDurationThenFiresOnce) {
  analysis::AlertEngine engine({rule(0.1, 10)});
  EXPECT_TRUE(engine.evaluate({sample(0.2)}, 100 * kSecond).empty());
  ASSERT_EQ(engine.alerts().size(), 1u);
  EXPECT_EQ(engine.alerts()[0].state, "pending");
  EXPECT_TRUE(engine.evaluate({sample(0.2)}, 109 * kSecond).empty());
  const auto fired = engine.evaluate({sample(0.3)}, 110 * kSecond);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].state, "firing");
  EXPECT_EQ(fired[0].active_since_unix_ns, 100 * kSecond);
  EXPECT_EQ(fired[0].fired_unix_ns, 110 * kSecond);
  EXPECT_EQ(fired[0].summary, "mean step time 300.0 ms on rank 0 (threshold 100.0 ms)");
  // Still true: no second notification.
  EXPECT_TRUE(engine.evaluate({sample(0.3)}, 111 * kSecond).empty());
}

TEST(AlertEngine, APendingAlertWhoseConditionLapsesStartsOverWithoutNotifying) {
  analysis::AlertEngine engine({rule(0.1, 10)});
  engine.evaluate({sample(0.2)}, 0);
  EXPECT_TRUE(engine.evaluate({sample(0.05)}, 5 * kSecond).empty());  // debounced away
  EXPECT_TRUE(engine.alerts().empty());
  engine.evaluate({sample(0.2)}, 6 * kSecond);
  EXPECT_TRUE(engine.evaluate({sample(0.2)}, 15 * kSecond).empty());  // 9 s since it held again
  EXPECT_EQ(engine.evaluate({sample(0.2)}, 16 * kSecond).size(), 1u);
}

TEST(AlertEngine, ResolvesOnlyAfterTheConditionStayedFalseForKeepFiringFor) {
  analysis::AlertEngine engine({rule(0.1, 0, 5)});
  ASSERT_EQ(engine.evaluate({sample(0.2)}, 0).size(), 1u);  // for 0: fires at once
  EXPECT_TRUE(engine.evaluate({sample(0.05)}, 1 * kSecond).empty());
  EXPECT_TRUE(engine.evaluate({sample(0.2)}, 2 * kSecond).empty());  // back above: the clearing restarts
  EXPECT_TRUE(engine.evaluate({sample(0.05)}, 3 * kSecond).empty());
  EXPECT_TRUE(engine.evaluate({}, 7 * kSecond).empty());  // a missing series counts as false
  const auto resolved = engine.evaluate({}, 8 * kSecond);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].state, "resolved");
  EXPECT_EQ(resolved[0].resolved_unix_ns, 8 * kSecond);
  ASSERT_EQ(engine.alerts().size(), 1u);  // kept as recently resolved
  EXPECT_EQ(engine.alerts()[0].state, "resolved");
}

TEST(AlertEngine, EachLabelSetIsItsOwnAlertAndBelowComparesDownwards) {
  AlertRule low = rule(10, 0);
  low.name = "FewSteps";
  low.comparison = AlertComparison::Below;
  analysis::AlertEngine engine({rule(0.1, 0), low});
  const auto fired = engine.evaluate({sample(0.2, "0"), sample(0.05, "1"), sample(0.3, "2")}, 0);
  ASSERT_EQ(fired.size(), 5u);  // SlowSteps on ranks 0 and 2; FewSteps on all three
  std::size_t slow = 0;
  for (const auto& a : fired) {
    if (a.name == "SlowSteps") {
      ++slow;
      EXPECT_NE(a.labels.at("rank"), "1");
    }
  }
  EXPECT_EQ(slow, 2u);
  EXPECT_FALSE(analysis::alert_condition(rule(0.1, 0), std::nan("")));  // no value, no alert
}

TEST(AlertEngine, ReplacingTheRulesKeepsTheStateOfRulesThatStay) {
  analysis::AlertEngine engine({rule(0.1, 10)});
  engine.evaluate({sample(0.2)}, 0);
  engine.set_rules({rule(0.15, 10)});  // a new threshold: still the same alert
  EXPECT_EQ(engine.evaluate({sample(0.2)}, 10 * kSecond).size(), 1u);
  AlertRule other = rule(0.1, 0);
  other.name = "Other";
  engine.set_rules({other});
  EXPECT_TRUE(engine.alerts().empty());
}

// A snapshot and findings with the counters the alert metrics read.
struct Counters {
  std::uint64_t steps = 0;
  double step_s = 0, input_s = 0, iteration_s = 0, collective_s = 0;
  std::uint64_t recorded = 0, dropped = 0;
};

void add(analysis::AlertMetrics& m, std::int64_t t, const Counters& c, Snapshot s = {}) {
  Findings f;
  f.step_timing = {c.steps, c.step_s, c.input_s, c.iteration_s, c.collective_s};
  s.events_recorded_total = c.recorded;
  s.events_dropped_total = c.dropped;
  m.add(s, f, t);
}

double value_of(const std::vector<AlertSample>& samples, const std::string& metric) {
  for (const auto& s : samples)
    if (s.metric == metric) return s.value;
  return -1;
}

TEST(AlertMetrics, RatesAreMeasuredOverTheWindowNotSinceTheStart) {
  analysis::AlertMetrics m;
  m.set_windows(10, 1800);
  Config::Alerts config;
  config.window_s = 10;
  // The first 100 s: 1000 steps of 0.1 s, no input. Then 10 s of 100 steps of 0.2 s with 0.1 s input each.
  add(m, 0, {});
  add(m, 100 * kSecond, {1000, 100, 0, 100, 0, 10000, 0});
  EXPECT_NEAR(value_of(m.samples({}, config), analysis::kStepTimeMetric), 0.1, 1e-12);
  add(m, 105 * kSecond, {1050, 110, 5, 115, 0, 10500, 0});
  add(m, 110 * kSecond, {1100, 120, 10, 130, 0, 11000, 100});
  const auto samples = m.samples({}, config);
  EXPECT_NEAR(value_of(samples, analysis::kStepTimeMetric), 0.2, 1e-12);             // (120 - 100) / 100
  EXPECT_NEAR(value_of(samples, analysis::kInputShareMetric), 10.0 / 30.0, 1e-12);  // (10 - 0) / (130 - 100)
  EXPECT_NEAR(value_of(samples, analysis::kDropShareMetric), 100.0 / 1100.0, 1e-12);
}

TEST(AlertMetrics, CountersThatGoBackAfterAResetStartTheWindowAgain) {
  analysis::AlertMetrics m;
  m.set_windows(60, 1800);
  add(m, 0, {100, 10, 0, 10, 0, 0, 0});
  add(m, 1 * kSecond, {5, 3, 0, 3, 0, 0, 0});  // reset: counters start again
  EXPECT_EQ(value_of(m.samples({}, {}), analysis::kStepTimeMetric), -1);  // one point: no rate yet
  add(m, 2 * kSecond, {10, 4, 0, 4, 0, 0, 0});
  EXPECT_NEAR(value_of(m.samples({}, {}), analysis::kStepTimeMetric), 0.2, 1e-12);
}

TEST(AlertMetrics, GpuIdleIsTheShareOfUtilisationSamplesUnderFivePercentInTheWindow) {
  Snapshot s;
  TimelineSeries gpu;
  gpu.name = "gpu1_utilization_percent";
  gpu.unit = "percent";
  for (int i = 0; i < 20; ++i) {
    gpu.t_ns.push_back(i * kSecond);
    gpu.values.push_back(i < 10 ? 90.0 : (i % 2 ? 1.0 : 80.0));  // the last 10 s: half idle
  }
  s.timelines.push_back(gpu);
  Config::Alerts config;
  config.window_s = 9.5;
  const auto samples = analysis::AlertMetrics{}.samples(s, config);
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].metric, analysis::kGpuIdleMetric);
  EXPECT_EQ(samples[0].labels.at("gpu"), "1");
  EXPECT_DOUBLE_EQ(samples[0].value, 0.5);
}

TEST(AlertMetrics, MemoryGrowthNeedsMostOfItsWindowAndIsTheSlopeTimesTheWindow) {
  analysis::AlertMetrics m;
  m.set_windows(60, 100);
  Config::Alerts config;
  config.memory_growth_window_s = 100;
  const auto at = [&](double t_s, double rss) {
    Snapshot s;
    s.timelines.push_back({"rss_bytes", "bytes", {0}, {rss}});
    add(m, static_cast<std::int64_t>(t_s * 1e9), {}, s);
    return s;
  };
  Snapshot last;
  for (int i = 0; i <= 80; ++i) last = at(i, 1e9 + 1e6 * i);  // 1 MB/s for 80 s: not 90 % of the window yet
  EXPECT_EQ(value_of(m.samples(last, config), analysis::kRssGrowthMetric), -1);
  for (int i = 81; i <= 120; ++i) last = at(i, 1e9 + 1e6 * i);
  EXPECT_NEAR(value_of(m.samples(last, config), analysis::kRssGrowthMetric), 100e6, 1e3);
}

TEST(BuiltinAlertRules, ThresholdsComeFromTheConfigAndZeroTurnsARuleOff) {
  Config::Alerts config;
  auto rules = analysis::builtin_alert_rules(config);
  std::vector<std::string> names;
  for (const auto& r : rules) names.push_back(r.name);
  EXPECT_EQ(names, (std::vector<std::string>{"InputBound", "GpuIdle", "EventsDropped", "MemoryGrowth"}));
  for (const auto& r : rules) EXPECT_FALSE(r.source.empty()) << r.name;
  config.step_time_s = 0.25;
  config.input_bound_share = 0;
  config.keep_firing_for_s = 7;
  rules = analysis::builtin_alert_rules(config);
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(rules.back().name, "SlowSteps");
  EXPECT_EQ(rules.back().threshold, 0.25);
  EXPECT_EQ(rules.back().keep_firing_for_s, 7);
}

}  // namespace
}  // namespace codeprof

namespace codeprof {
namespace {

Snapshot with_metrics(double pages, std::uint64_t pages_calls, double loss_sum, std::uint64_t loss_calls, double depth) {
  Snapshot s;
  const auto make = [](std::string name, MetricKind kind, std::uint64_t count, double sum, double last) {
    CustomMetric m;
    m.name = std::move(name);
    m.kind = kind;
    m.count = count;
    m.sum = sum;
    m.last = last;
    return m;
  };
  s.custom_metrics = {make("pages_scored", MetricKind::Counter, pages_calls, pages, pages),
                      make("loss", MetricKind::Value, loss_calls, loss_sum, 0), make("queue_depth", MetricKind::Gauge, 1, depth, depth)};
  return s;
}

// A counter's rate and a value's mean over the window, a gauge's latest setting; the thresholds
// of custom_metrics.* fire CustomMetricWarning / CustomMetricCritical with the metric as a label.
TEST(AlertMetrics, CustomMetricsAreReadOverTheWindowAndFireTheirThresholds) {
  analysis::AlertMetrics m;
  m.set_windows(10, 1800);
  add(m, 0, {}, with_metrics(0, 0, 0, 0, 3));
  add(m, 100 * kSecond, {}, with_metrics(10000, 100, 100, 100, 4));  // 100 pages/s, loss 1.0
  add(m, 110 * kSecond, {}, with_metrics(10200, 110, 130, 110, 9));  // 20 pages/s, loss 3.0 in the window
  const auto samples = m.samples(with_metrics(10200, 110, 130, 110, 9), {});
  EXPECT_NEAR(value_of(samples, "custom_metric:pages_scored"), 20.0, 1e-9);
  EXPECT_NEAR(value_of(samples, "custom_metric:loss"), 3.0, 1e-9);
  EXPECT_EQ(value_of(samples, "custom_metric:queue_depth"), 9.0);

  Config config;
  config.custom_metrics["pages_scored"].critical = 50;
  config.custom_metrics["pages_scored"].below = true;
  config.custom_metrics["loss"].warning = 2.5;
  config.custom_metrics["queue_depth"].warning = 100;
  analysis::AlertEngine engine;
  engine.set_rules(analysis::custom_metric_alert_rules(config));
  engine.evaluate(samples, 110 * kSecond);
  std::map<std::string, std::string> firing;  // metric label -> alert name
  for (const Alert& a : engine.alerts())
    if (a.state == "firing") firing[a.labels.at("metric")] = a.name;
  EXPECT_EQ(firing.size(), 2u);
  EXPECT_EQ(firing["pages_scored"], "CustomMetricCritical");
  EXPECT_EQ(firing["loss"], "CustomMetricWarning");
}

}  // namespace
}  // namespace codeprof
