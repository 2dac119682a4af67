// Edge cases: empty and degenerate Snapshots never crash, never produce NaN, and never fire a
// rule without evidence; the output is deterministic.
#include <gtest/gtest.h>

#include <algorithm>

#include "analysis/analyze.hpp"
#include "analysis/findings_text.hpp"
#include "analysis/snapshot_builder.hpp"

namespace codeprof {
namespace {

using testing::all_finite;
using testing::findings_text;
using testing::ns;
using testing::SnapshotBuilder;

TEST(EdgeCases, EmptySnapshotGivesNoFindings) {
  const Findings f = analysis::analyze(Snapshot{}, Config{});
  EXPECT_TRUE(f.bottlenecks.empty());
  EXPECT_TRUE(f.trends.empty());
  EXPECT_TRUE(f.recommendations.empty());
  EXPECT_EQ(f.classification.input.level, InputBound::Unknown);
  EXPECT_FALSE(f.classification.gpu.available);
  EXPECT_EQ(f.classification.cpu.mean_efficiency, -1.0);
  EXPECT_EQ(f.classification.summary, "input pipeline: unknown (no steps found); GPU: no data");
  EXPECT_TRUE(all_finite(f));
}

TEST(EdgeCases, OneCall) {
  SnapshotBuilder b(6.5);
  b.top(b.op("load_everything", Category::DataLoading, 1, 6.0));
  const Findings f = analysis::analyze(b.build(), Config{});
  ASSERT_EQ(f.bottlenecks.size(), 1u);
  EXPECT_EQ(f.bottlenecks[0].optimization_priority, Priority::High);
  EXPECT_TRUE(f.trends.empty());
  EXPECT_TRUE(all_finite(f));
  // No steps: the input rules fall back to the share of the run (92 % here).
  ASSERT_FALSE(f.recommendations.empty());
  EXPECT_EQ(f.recommendations[0].id, "input-bound-workers");
  EXPECT_EQ(f.recommendations[0].evidence[0].metric, "input_share_of_wall_time");
}

TEST(EdgeCases, ZeroDurationsAndZeroWallTime) {
  SnapshotBuilder b(0.0);
  const auto step = b.op("train_step", Category::TrainingLoop, 100, 0.0);
  b.top(step);
  const auto load = b.op("load_batch", Category::DataLoading, 100, 0.0);
  b.child(step, load);
  b.seen(step, 0.0, 0.0);
  b.seen(load, 0.0, 0.0);
  b.cpu_efficiency(load, 0.5);
  b.windows(step, std::vector<double>(40, 0.0), 0.1);
  b.at(step).slowest = {{0, 0, 0}};
  b.timeline("rss_bytes", "bytes", 0.1, std::vector<double>(20, 0.0));
  b.timeline("gpu0_utilization_percent", "percent", 0.1, std::vector<double>(20, 0.0));
  const Findings f = analysis::analyze(b.build(), Config{});
  EXPECT_TRUE(all_finite(f)) << findings_text(f);
  EXPECT_TRUE(f.bottlenecks.empty());
  EXPECT_TRUE(f.trends.empty());
  // The only evidence with a meaning is the GPU at 0 % in every sample.
  std::vector<std::string> ids;
  for (const auto& r : f.recommendations) ids.push_back(r.id);
  EXPECT_EQ(ids, std::vector<std::string>{"gpu-idle"});
}

TEST(EdgeCases, WallTimeFallsBackToTheSpanTheOperationsCover) {
  SnapshotBuilder b(0.0);
  const auto op = b.op("hash", Category::Preprocessing, 1000, 0.004);
  b.top(op);
  b.seen(op, 1.0, 6.0);  // 4 s of calls in a 5 s span
  const auto v = analysis::find_bottlenecks(b.build(), Config{});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NEAR(v[0].share_of_wall, 0.8, 1e-9);
}

TEST(EdgeCases, MalformedTimelinesAndCyclicCallTreesAreTolerated) {
  SnapshotBuilder b(10.0);
  const auto a = b.op("a", Category::TrainingLoop, 10, 0.5);
  const auto c = b.op("b", Category::TrainingLoop, 20, 0.2);
  b.top(a);
  b.child(a, c);
  b.snapshot().call_tree.push_back({c, a, 1, static_cast<std::uint64_t>(ns(0.1))});  // recursion b -> a
  b.snapshot().call_tree.push_back({a, a, 1, static_cast<std::uint64_t>(ns(0.1))});  // a -> a
  Snapshot s = b.build();
  TimelineSeries broken;
  broken.name = "rss_bytes";
  broken.values = std::vector<double>(50, 1e9);
  broken.t_ns = {0, 1};  // fewer times than values
  s.timelines.push_back(broken);
  TimelineSeries empty_gpu;
  empty_gpu.name = "gpu0_utilization_percent";
  s.timelines.push_back(empty_gpu);
  TimelineSeries odd_name;
  odd_name.name = "gpuX_utilization_percent";
  odd_name.values = {1, 2};
  odd_name.t_ns = {0, 1};
  s.timelines.push_back(odd_name);
  const Findings f = analysis::analyze(s, Config{});
  EXPECT_TRUE(all_finite(f));
  EXPECT_FALSE(f.classification.gpu.available);
  for (const auto& t : f.trends) EXPECT_NE(t.kind, TrendKind::MemoryGrowth);
}

TEST(EdgeCases, CleanComputeBoundRunHasNoHighPriorityFinding) {
  SnapshotBuilder b(5.0);
  const auto step = b.op("train_step", Category::TrainingLoop, 1000, 0.005);
  b.top(step);
  const auto fwd = b.op("forward", Category::TrainingLoop, 1000, 0.0049);
  b.child(step, fwd);
  b.cpu_efficiency(step, 0.99);
  b.cpu_efficiency(fwd, 0.99);
  const Findings f = analysis::analyze(b.build(), Config{});
  for (const auto& x : f.bottlenecks) EXPECT_NE(x.optimization_priority, Priority::High) << x.operation;
  EXPECT_TRUE(f.recommendations.empty()) << f.recommendations.front().id;
  EXPECT_EQ(f.classification.input.level, InputBound::Not);
}

TEST(EdgeCases, OutputIsDeterministicAndIndependentOfTimelineOrder) {
  SnapshotBuilder b(10.0);
  const auto step = b.op("train_step", Category::TrainingLoop, 100, 0.1);
  b.top(step);
  const auto load = b.op("load_batch", Category::DataLoading, 100, 0.04);
  b.child(step, load);
  b.timeline("gpu1_utilization_percent", "percent", 0.5, std::vector<double>(20, 10));
  b.timeline("gpu0_utilization_percent", "percent", 0.5, std::vector<double>(20, 90));
  std::vector<double> rss;
  for (int i = 0; i < 50; ++i) rss.push_back(1e8 + 1e6 * i);
  b.timeline("rss_bytes", "bytes", 0.2, rss);
  Snapshot s = b.build();
  const std::string first = findings_text(analysis::analyze(s, Config{}));
  EXPECT_EQ(first, findings_text(analysis::analyze(s, Config{})));
  std::reverse(s.timelines.begin(), s.timelines.end());
  EXPECT_EQ(first, findings_text(analysis::analyze(s, Config{})));
}

}  // namespace
}  // namespace codeprof
