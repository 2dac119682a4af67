// Trends: slow-downs (medians of window means), memory growth (allocation balance, RSS deltas,
// Theil-Sen over the RSS timeline) and spikes over p99; plus the robust statistics they rest on.
#include <gtest/gtest.h>

#include <algorithm>

#include "analysis/analyze.hpp"
#include "analysis/robust_stats.hpp"
#include "analysis/snapshot_builder.hpp"

namespace codeprof {
namespace {

using testing::ns;
using testing::SnapshotBuilder;
using testing::MiB;

std::vector<Trend> trends_of(const Snapshot& s, TrendKind kind) {
  std::vector<Trend> out;
  for (const auto& t : analysis::analyze(s, Config{}).trends)
    if (t.kind == kind) out.push_back(t);
  return out;
}

using testing::repeat;

TEST(RobustStats, MedianQuantileTheilSenKendall) {
  EXPECT_DOUBLE_EQ(analysis::median({}), 0.0);
  EXPECT_DOUBLE_EQ(analysis::median({3, 1, 2}), 2.0);
  EXPECT_DOUBLE_EQ(analysis::median({4, 1, 2, 3}), 2.5);
  EXPECT_DOUBLE_EQ(analysis::quantile({0, 10}, 0.25), 2.5);
  // A line y = 2x + 1 with one wild outlier: Theil-Sen keeps the slope.
  std::vector<double> x, y;
  for (int i = 0; i < 11; ++i) {
    x.push_back(i);
    y.push_back(2 * i + 1);
  }
  y[5] = 1000;
  EXPECT_DOUBLE_EQ(analysis::theil_sen_slope(x, y), 2.0);
  EXPECT_GT(analysis::kendall_tau(x, y), 0.8);
  EXPECT_DOUBLE_EQ(analysis::kendall_tau({1, 2, 3}, {3, 2, 1}), -1.0);
  EXPECT_DOUBLE_EQ(analysis::theil_sen_slope({1, 1}, {0, 5}), 0.0);  // no distinct x
  const auto idx = analysis::even_subsample(1000, 10);
  ASSERT_EQ(idx.size(), 10u);
  EXPECT_EQ(idx.front(), 0u);
  EXPECT_EQ(idx.back(), 999u);
}

TEST(Slowdown, StepChangeIsFoundWithItsOnset) {
  SnapshotBuilder b(10.0);
  b.top(b.op("train_step", Category::Custom, 40, 0.002));
  std::vector<double> means = repeat(0.001, 24);
  for (int i = 0; i < 16; ++i) means.push_back(0.003);
  b.windows(0, means, 0.25);
  const auto t = trends_of(b.build(), TrendKind::Slowdown);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].operation, "train_step");
  EXPECT_DOUBLE_EQ(t[0].magnitude, 3.0);
  EXPECT_DOUBLE_EQ(t[0].at_s, 6.0);  // window 24 starts at 24 * 0.25 s
  EXPECT_EQ(t[0].method,
            "median of window means, first vs last quarter of the operation's time windows (fastest calls slower too)");
  EXPECT_NE(t[0].description.find("1.0 ms early vs 3.0 ms late"), std::string::npos) << t[0].description;
}

TEST(Slowdown, GradualRiseIsFound) {
  SnapshotBuilder b(10.0);
  b.top(b.op("parse", Category::Custom, 40, 0.002));
  std::vector<double> means;
  for (int i = 0; i < 40; ++i) means.push_back(0.001 + 0.0015 * i / 39.0);
  b.windows(0, means, 0.25);
  const auto t = trends_of(b.build(), TrendKind::Slowdown);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_GT(t[0].magnitude, 1.5);
  EXPECT_LT(t[0].magnitude, 2.5);
}

TEST(Slowdown, PreemptedCallsWithUnchangedFastestCallsAreNotASlowdown) {
  // Other processes took the CPU late in the run: the means rose, the fastest calls did not.
  SnapshotBuilder b(10.0);
  const auto op = b.op("forward", Category::Custom, 400, 0.003);
  b.top(op);
  std::vector<double> means = repeat(0.002, 20);
  for (int i = 0; i < 20; ++i) means.push_back(0.006);
  b.windows(op, means, 0.25, 10);
  for (auto& w : b.at(op).series) w.min_ns = static_cast<std::uint64_t>(ns(0.002));
  EXPECT_TRUE(trends_of(b.build(), TrendKind::Slowdown).empty());
}

TEST(Slowdown, TooFewWindowsOrCallsOrNoChangeIsSilent) {
  SnapshotBuilder few(10.0);
  few.top(few.op("a", Category::Custom, 40, 0.002));
  few.windows(0, {0.001, 0.001, 0.001, 0.003, 0.003, 0.003, 0.003}, 1.0, 6);
  EXPECT_TRUE(trends_of(few.build(), TrendKind::Slowdown).empty());

  SnapshotBuilder flat(10.0);
  flat.top(flat.op("b", Category::Custom, 40, 0.001));
  flat.windows(0, repeat(0.001, 40), 0.25);
  EXPECT_TRUE(trends_of(flat.build(), TrendKind::Slowdown).empty());

  SnapshotBuilder tiny(10.0);  // tripled, but by 2 microseconds
  tiny.top(tiny.op("c", Category::Custom, 40, 2e-6));
  std::vector<double> means = repeat(1e-6, 20);
  for (int i = 0; i < 20; ++i) means.push_back(3e-6);
  tiny.windows(0, means, 0.25);
  EXPECT_TRUE(trends_of(tiny.build(), TrendKind::Slowdown).empty());
}

TEST(Spikes, CallsFarAbovePercentile99WithTheirTime) {
  SnapshotBuilder b(10.0);
  const auto op = b.op("infer_one", Category::Custom, 1000, 0.002);
  b.top(op);
  b.at(op).slowest = {{ns(7.5), static_cast<std::uint64_t>(ns(0.100)), 2},
                      {ns(3.0), static_cast<std::uint64_t>(ns(0.020)), 1},
                      {ns(1.0), static_cast<std::uint64_t>(ns(0.010)), 0},
                      {ns(1.5), static_cast<std::uint64_t>(ns(0.009)), 0},
                      {ns(2.0), static_cast<std::uint64_t>(ns(0.004)), 0}};
  const auto t = trends_of(b.build(), TrendKind::Spike);
  ASSERT_EQ(t.size(), 3u);  // at most three per operation, slowest first
  EXPECT_DOUBLE_EQ(t[0].magnitude, 50.0);
  EXPECT_DOUBLE_EQ(t[0].at_s, 7.5);
  EXPECT_NE(t[0].description.find("took 100.0 ms = 50.0x its p99 (2.0 ms) on thread 2"), std::string::npos)
      << t[0].description;
  EXPECT_DOUBLE_EQ(t[2].magnitude, 5.0);

  SnapshotBuilder few(10.0);  // 20 calls: p99 is one of the slowest, no spike can be told
  const auto f = few.op("rare", Category::Custom, 20, 0.002);
  few.top(f);
  few.at(f).slowest = {{ns(1.0), static_cast<std::uint64_t>(ns(0.1)), 0}};
  EXPECT_TRUE(trends_of(few.build(), TrendKind::Spike).empty());
}

TEST(Spikes, OneStallIsReportedOnceAtTheInnermostOperation) {
  SnapshotBuilder b(10.0);
  // aten::zero_ calls aten::fill_: a 16 ms stall shows in both.
  const auto zero = b.op("aten::zero_", Category::Cpu, 1000, 0.0002);
  const auto fill = b.op("aten::fill_", Category::Cpu, 1000, 0.0002);
  b.top(zero);
  b.child(zero, fill);
  b.at(zero).slowest = {{ns(1.0), static_cast<std::uint64_t>(ns(0.0161)), 0}};
  b.at(fill).slowest = {{ns(1.00005), static_cast<std::uint64_t>(ns(0.0160)), 0}};
  // aten::addmm re-dispatches to aten::addmm (autocast): its two slowest calls are one, nested.
  const auto addmm = b.op("aten::addmm", Category::Cpu, 1000, 0.0002);
  b.top(addmm);
  b.at(addmm).slowest = {{ns(5.0), static_cast<std::uint64_t>(ns(0.0110)), 0},
                         {ns(5.00001), static_cast<std::uint64_t>(ns(0.0109)), 0}};
  const auto t = trends_of(b.build(), TrendKind::Spike);
  ASSERT_EQ(t.size(), 2u) << (t.empty() ? "" : t[0].description);
  for (const auto& x : t) EXPECT_NE(x.operation, "aten::zero_") << x.description;
  const auto fill_spike = std::find_if(t.begin(), t.end(), [](const Trend& x) { return x.operation == "aten::fill_"; });
  ASSERT_NE(fill_spike, t.end());
  EXPECT_NE(fill_spike->description.find("the same stall shows in its caller aten::zero_"), std::string::npos)
      << fill_spike->description;
}

TEST(Spikes, OperationsThatShareANameAreToldApart) {
  SnapshotBuilder b(10.0);
  const auto a = b.op("aten::addmm", Category::ModelInference, 1000, 0.0002);
  const auto c = b.op("aten::addmm", Category::TrainingLoop, 1000, 0.0002);
  b.top(a);
  b.top(c);
  b.at(a).slowest = {{ns(1.0), static_cast<std::uint64_t>(ns(0.011)), 0}};
  b.at(c).slowest = {{ns(2.0), static_cast<std::uint64_t>(ns(0.011)), 0}};
  const auto t = trends_of(b.build(), TrendKind::Spike);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_NE(t[0].description.find("aten::addmm [model_inference]"), std::string::npos) << t[0].description;
  EXPECT_NE(t[1].description.find("aten::addmm [training_loop]"), std::string::npos) << t[1].description;
}

TEST(MemoryGrowth, RssSlopeIsReportedPerStep) {
  SnapshotBuilder b(10.0);
  const auto step = b.op("train_step", Category::TrainingLoop, 100, 0.1);  // 10 steps per second
  b.top(step);
  b.windows(step, repeat(0.1, 100), 0.1);
  std::vector<double> rss;
  for (int i = 0; i < 100; ++i) rss.push_back(200 * MiB + i * MiB + (i % 3 == 0 ? 2 * MiB : 0));  // 10 MiB/s
  b.timeline("rss_bytes", "bytes", 0.1, rss);
  const auto t = trends_of(b.build(), TrendKind::MemoryGrowth);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_NEAR(t[0].magnitude, 1 * MiB, 0.01 * MiB);
  EXPECT_TRUE(t[0].operation.empty());
  EXPECT_EQ(t[0].method.rfind("Theil-Sen slope of rss_bytes against steps done, after the first quarter of the steps", 0), 0u)
      << t[0].method;
  EXPECT_NE(t[0].description.find("1.0 MiB per step"), std::string::npos) << t[0].description;
}

TEST(MemoryGrowth, StallWithoutStepsAddsNoFlatStretch) {
  // 100 steps in the first 5 s, RSS +1 MiB each; then the thread is preempted for 5 s: the RSS is
  // flat in time but not against steps, so the leak is still seen with its rate per step.
  SnapshotBuilder b(10.0);
  const auto step = b.op("train_step", Category::TrainingLoop, 100, 0.05);
  b.top(step);
  b.windows(step, repeat(0.05, 100), 0.05);
  std::vector<double> rss;
  for (int i = 0; i < 200; ++i) rss.push_back(200 * MiB + std::min(i, 100) * MiB);
  b.timeline("rss_bytes", "bytes", 0.05, rss);
  const auto t = trends_of(b.build(), TrendKind::MemoryGrowth);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_NEAR(t[0].magnitude, 1 * MiB, 0.01 * MiB);
}

TEST(MemoryGrowth, RssDeltasNameTheOperationWithoutAllocationHooks) {
  SnapshotBuilder b(10.0);
  const auto step = b.op("train_step", Category::TrainingLoop, 100, 0.1);
  b.top(step);
  b.resource(step, ProbeMetric::RssDeltaBytes, static_cast<std::int64_t>(100 * MiB));
  const auto t = trends_of(b.build(), TrendKind::MemoryGrowth);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].operation, "train_step");
  EXPECT_NEAR(t[0].magnitude, 1 * MiB, 1.0);
  EXPECT_EQ(t[0].method, "sum of per-call RSS deltas (process-wide: memory other threads touch during the call counts too) of the operation, per step");
}

TEST(MemoryGrowth, OneTimeCacheIsNotALeak) {
  SnapshotBuilder b(10.0);
  const auto vocab = b.op("build_vocabulary", Category::Preprocessing, 1, 0.5);
  b.top(vocab);
  b.allocations(vocab, 50 * MiB, 0);
  EXPECT_TRUE(trends_of(b.build(), TrendKind::MemoryGrowth).empty());
}

TEST(Trends, OrderIsMemoryThenSlowdownThenSpikes) {
  SnapshotBuilder b(10.0);
  const auto keep = b.op("keep", Category::Custom, 100, 0.001);
  b.top(keep);
  b.allocations(keep, 2 * MiB, 0);
  const auto slow = b.op("slow", Category::Custom, 1000, 0.002);
  b.top(slow);
  std::vector<double> means = repeat(0.001, 20);
  for (int i = 0; i < 20; ++i) means.push_back(0.004);
  b.windows(slow, means, 0.25);
  b.at(slow).slowest = {{ns(2.0), static_cast<std::uint64_t>(ns(0.05)), 0}};
  const auto all = analysis::analyze(b.build(), Config{}).trends;
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].kind, TrendKind::MemoryGrowth);
  EXPECT_EQ(all[1].kind, TrendKind::Slowdown);
  EXPECT_EQ(all[2].kind, TrendKind::Spike);
}

}  // namespace
}  // namespace codeprof
