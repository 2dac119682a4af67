#include "core/aggregator.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace codeprof;
using core::Aggregator;
using core::CompletedEvent;

namespace {
std::vector<SiteInfo> sites() {
  return {{"step", Category::TrainingLoop, "a.cpp", 1},
          {"load", Category::DataLoading, "a.cpp", 2},
          {"forward", Category::ModelInference, "a.cpp", 3}};
}
CompletedEvent ev(std::uint32_t op, std::uint32_t parent, std::uint16_t depth, std::int64_t start, std::uint64_t dur,
                  std::uint32_t thread = 0) {
  CompletedEvent e;
  e.operation_id = op;
  e.parent_id = parent;
  e.depth = depth;
  e.start_ns = start;
  e.duration_ns = dur;
  e.thread_index = thread;
  return e;
}
}  // namespace

TEST(Aggregator, SelfTimeSubtractsDirectChildrenOnly) {
  Aggregator a;
  // step [0,100) contains load [0,30) and forward [30,90); completion order: children first.
  a.add(ev(1, 0, 1, 0, 30));
  a.add(ev(2, 0, 1, 30, 60));
  a.add(ev(0, kRootOperation, 0, 0, 100));
  // A second step without children.
  a.add(ev(0, kRootOperation, 0, 100, 50));
  Snapshot s;
  a.fill(s, sites());
  const OperationStats* step = s.find("step");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->count, 2u);
  EXPECT_EQ(step->total_ns, 150u);
  EXPECT_EQ(step->self_ns, 10u + 50u);
  EXPECT_EQ(step->min_ns, 50u);
  EXPECT_EQ(step->max_ns, 100u);
  EXPECT_DOUBLE_EQ(step->mean_ns, 75.0);
  EXPECT_EQ(s.find("load")->self_ns, 30u);
  EXPECT_EQ(s.events_recorded, 4u);
  ASSERT_EQ(s.threads.size(), 1u);
  EXPECT_EQ(s.threads[0].top_level_ns, 150u);

  ASSERT_EQ(s.call_tree.size(), 3u);
  EXPECT_EQ(s.call_tree[0].parent_id, 0u);  // step -> load
  EXPECT_EQ(s.call_tree[0].child_id, 1u);
  EXPECT_EQ(s.call_tree[2].parent_id, kRootOperation);
  EXPECT_EQ(s.call_tree[2].count, 2u);
  EXPECT_EQ(s.call_tree[2].total_ns, 150u);
}

TEST(Aggregator, StatisticsMatchAnIndependentComputation) {
  Aggregator a;
  std::vector<double> d;
  for (int i = 1; i <= 1000; ++i) {
    const auto dur = static_cast<std::uint64_t>(i * 1000);
    d.push_back(static_cast<double>(dur));
    a.add(ev(2, kRootOperation, 0, i * 2000, dur));
  }
  Snapshot s;
  a.fill(s, sites());
  const OperationStats& f = *s.find("forward");
  double mean = 0;
  for (double x : d) mean += x;
  mean /= static_cast<double>(d.size());
  double var = 0;
  for (double x : d) var += (x - mean) * (x - mean);
  var /= static_cast<double>(d.size() - 1);
  EXPECT_NEAR(f.mean_ns, mean, 1e-6);
  EXPECT_NEAR(f.stddev_ns, std::sqrt(var), 1e-3);
  EXPECT_NEAR(static_cast<double>(f.p50_ns), 500'000.0, 500'000.0 * 0.01);
  EXPECT_NEAR(static_cast<double>(f.p99_ns), 990'000.0, 990'000.0 * 0.01);
  EXPECT_EQ(f.first_seen_ns, 2000);
  EXPECT_EQ(f.last_seen_ns, 1000 * 2000 + 1'000'000);
  ASSERT_EQ(f.slowest.size(), 8u);
  EXPECT_EQ(f.slowest.front().duration_ns, 1'000'000u);
  EXPECT_EQ(f.slowest.back().duration_ns, 993'000u);
  std::uint64_t in_hist = 0;
  for (const auto& b : f.histogram) in_hist += b.count;
  EXPECT_EQ(in_hist, 1000u);
}

TEST(Aggregator, SeriesStaysBoundedAndCoversTheRun) {
  core::AggregatorOptions o;
  o.series_windows = 16;
  o.initial_window_ns = 10;
  Aggregator a(o);
  std::uint64_t total = 0;
  for (int i = 0; i < 10000; ++i) {
    a.add(ev(1, kRootOperation, 0, i * 7, 3 + static_cast<std::uint64_t>(i % 5)));
    total += 3 + static_cast<std::uint64_t>(i % 5);
  }
  Snapshot s;
  a.fill(s, sites());
  const auto& series = s.find("load")->series;
  ASSERT_FALSE(series.empty());
  EXPECT_LE(series.size(), 16u);
  std::uint64_t count = 0, sum = 0;
  for (const auto& w : series) {
    count += w.count;
    sum += w.total_ns;
    EXPECT_GE(w.min_ns, 3u);
    EXPECT_LE(w.max_ns, 7u);
  }
  EXPECT_EQ(count, 10000u);
  EXPECT_EQ(sum, total);
  EXPECT_LE(series.front().start_ns, 0);
  EXPECT_GE(series.back().start_ns + series.back().width_ns, 9999 * 7);
}

TEST(Aggregator, ProbesResetAndTrace) {
  core::AggregatorOptions o;
  o.keep_trace = true;
  o.trace_budget = 2;
  Aggregator a(o);
  ProbeDeltas p;
  p.set(ProbeMetric::AllocBytes, 4096);
  p.set(ProbeMetric::CpuTimeNs, 10);
  auto e = ev(1, kRootOperation, 0, 0, 20);
  e.probes = &p;
  a.add(e);
  p.set(ProbeMetric::AllocBytes, 1024);
  a.add(e);
  a.add(ev(1, kRootOperation, 0, 30, 20));
  Snapshot s;
  a.fill(s, sites());
  const auto& r = s.find("load")->resource(ProbeMetric::AllocBytes);
  EXPECT_EQ(r.samples, 2u);
  EXPECT_EQ(r.total, 5120);
  EXPECT_EQ(r.max, 4096);
  EXPECT_EQ(r.min, 1024);
  EXPECT_EQ(s.find("load")->resource(ProbeMetric::IoReadBytes).samples, 0u);
  EXPECT_EQ(s.trace_events.size(), 2u);
  EXPECT_EQ(s.trace_events_dropped, 1u);
  EXPECT_TRUE(s.trace_events[0].probes.has(ProbeMetric::CpuTimeNs));

  a.reset();
  Snapshot empty;
  a.fill(empty, sites());
  EXPECT_TRUE(empty.operations.empty());
  EXPECT_EQ(empty.events_recorded, 0u);
  EXPECT_TRUE(empty.trace_events.empty());
}
