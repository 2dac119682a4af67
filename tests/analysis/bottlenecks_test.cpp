// Bottlenecks: category thresholds on mean and p95, the self-time share rule, filtering and order.
#include <gtest/gtest.h>

#include "analysis/analyze.hpp"
#include "analysis/snapshot_builder.hpp"

namespace codeprof {
namespace {

using testing::SnapshotBuilder;

const Bottleneck* find(const std::vector<Bottleneck>& v, const std::string& op) {
  for (const auto& b : v)
    if (b.operation == op) return &b;
  return nullptr;
}

TEST(Bottlenecks, CriticalMeanIsHighPriorityWithEveryField) {
  SnapshotBuilder b(100.0);
  b.top(b.op("load_batch", Category::DataLoading, 10, 6.0));
  const auto v = analysis::find_bottlenecks(b.build(), Config{});
  ASSERT_EQ(v.size(), 1u);
  const Bottleneck& x = v[0];
  EXPECT_EQ(x.operation, "load_batch");
  EXPECT_EQ(x.type, Category::DataLoading);
  EXPECT_EQ(x.severity, Severity::Critical);
  EXPECT_EQ(x.optimization_priority, Priority::High);
  EXPECT_DOUBLE_EQ(x.avg_duration, 6.0);
  EXPECT_DOUBLE_EQ(x.p95_duration, 6.0);
  EXPECT_EQ(x.calls, 10u);
  EXPECT_DOUBLE_EQ(x.total_time, 60.0);
  EXPECT_DOUBLE_EQ(x.self_time, 60.0);
  EXPECT_DOUBLE_EQ(x.share_of_wall, 0.6);
  EXPECT_EQ(x.reason,
            "mean 6.00 s >= critical 5.00 s for data_loading: mean 6.00 s, p95 6.00 s over 10 calls; self 60.00 s = "
            "60.0 % of the 100 s run");
}

TEST(Bottlenecks, WarningMeanIsMedium) {
  SnapshotBuilder b(100.0);
  b.top(b.op("load_batch", Category::DataLoading, 10, 2.0));
  const auto v = analysis::find_bottlenecks(b.build(), Config{});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].severity, Severity::Warning);
  EXPECT_EQ(v[0].optimization_priority, Priority::Medium);
}

TEST(Bottlenecks, P95OverWarningCountsEvenWhenTheMeanIsUnder) {
  SnapshotBuilder b(1000.0);
  const auto id = b.op("load_batch", Category::DataLoading, 100, 0.5);
  b.top(id);
  b.percentiles(id, 0.1, 1.5, 3.0);
  const auto v = analysis::find_bottlenecks(b.build(), Config{});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].optimization_priority, Priority::Medium);
  EXPECT_EQ(v[0].reason.rfind("p95 1.50 s >= warning 1.00 s for data_loading", 0), 0u) << v[0].reason;
}

TEST(Bottlenecks, FastOperationCalledAMillionTimesIsFoundByShare) {
  SnapshotBuilder b(1200.0);
  b.top(b.op("hash_token", Category::Preprocessing, 1000000, 0.001));
  b.top(b.op("rare", Category::Custom, 10, 0.01));
  const auto v = analysis::find_bottlenecks(b.build(), Config{});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].operation, "hash_token");
  EXPECT_EQ(v[0].severity, Severity::Share);
  EXPECT_EQ(v[0].optimization_priority, Priority::Low);
  EXPECT_NEAR(v[0].share_of_wall, 1000.0 / 1200.0, 1e-9);
  EXPECT_NE(v[0].reason.find("83.3 % of the run >= 10.0 %"), std::string::npos) << v[0].reason;
}

TEST(Bottlenecks, MinimumMeanLeavesFastOperationsOut) {
  SnapshotBuilder b(1200.0);
  b.top(b.op("hash_token", Category::Preprocessing, 1000000, 0.001));
  b.top(b.op("load_batch", Category::DataLoading, 10, 6.0));
  const auto all = analysis::find_bottlenecks(b.build(), Config{}, 0.0);
  const auto slow = analysis::find_bottlenecks(b.build(), Config{}, 0.01);
  EXPECT_EQ(all.size(), 2u);
  ASSERT_EQ(slow.size(), 1u);
  EXPECT_EQ(slow[0].operation, "load_batch");
}

TEST(Bottlenecks, OrderIsPriorityThenShareThenName) {
  SnapshotBuilder b(1000.0);
  b.top(b.op("b_share", Category::Custom, 1000, 0.2));   // 20 %: low
  b.top(b.op("a_share", Category::Custom, 1000, 0.2));   // 20 %: low, same share -> by name
  b.top(b.op("c_share", Category::Custom, 1000, 0.3));   // 30 %: low
  b.top(b.op("warn", Category::DataLoading, 10, 2.0));   // medium
  b.top(b.op("crit", Category::DataLoading, 2, 6.0));    // high
  const auto v = analysis::find_bottlenecks(b.build(), Config{});
  std::vector<std::string> names;
  for (const auto& x : v) names.push_back(x.operation);
  EXPECT_EQ(names, (std::vector<std::string>{"crit", "warn", "c_share", "a_share", "b_share"}));
}

TEST(Bottlenecks, ContainerScopeIsRankedBelowItsChildren) {
  SnapshotBuilder b(80.0);
  const auto epoch = b.op("epoch", Category::TrainingLoop, 2, 40.0);  // over critical 30 s
  b.top(epoch);
  const auto step = b.op("train_step", Category::TrainingLoop, 2000, 0.039);
  b.child(epoch, step);
  const auto v = analysis::find_bottlenecks(b.build(), Config{});
  const Bottleneck* e = find(v, "epoch");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->severity, Severity::Critical);
  EXPECT_EQ(e->optimization_priority, Priority::Medium);
  EXPECT_NE(e->reason.find("mostly in its children"), std::string::npos);
  ASSERT_NE(find(v, "train_step"), nullptr);
  EXPECT_EQ(v[0].operation, "epoch");  // medium before the step's low (share)
}

TEST(Bottlenecks, ThresholdsAndShareComeFromTheConfig) {
  SnapshotBuilder b(100.0);
  b.top(b.op("load_batch", Category::DataLoading, 100, 0.06));  // 6 %
  b.top(b.op("infer", Category::ModelInference, 3, 11.0));       // 33 %
  Config cfg;
  cfg.thresholds[index_of(Category::DataLoading)] = {0.01, 0.05};
  const auto v = analysis::find_bottlenecks(b.build(), cfg);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].operation, "infer");  // model_inference critical 10 s
  EXPECT_EQ(v[0].optimization_priority, Priority::High);
  EXPECT_EQ(v[1].operation, "load_batch");
  EXPECT_EQ(v[1].optimization_priority, Priority::High);

  Config share;
  share.low_priority_share = 0.5;
  b.top(b.op("busy", Category::Custom, 1000, 0.04));  // 40 %
  const auto w = analysis::find_bottlenecks(b.build(), share);
  EXPECT_EQ(find(w, "busy"), nullptr);
}

TEST(Bottlenecks, OperationOnSeveralThreadsIsClampedAndSaysSo) {
  SnapshotBuilder b(10.0);
  const auto op = b.op("update", Category::Custom, 4000, 0.01);  // 40 s over 4 threads
  b.top(op);
  b.on_threads(op, {0, 1, 2, 3});
  const auto v = analysis::find_bottlenecks(b.build(), Config{});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_DOUBLE_EQ(v[0].share_of_wall, 1.0);
  // The text gives the sum's real ratio; the rank (share_of_wall) is clamped.
  EXPECT_NE(v[0].reason.find("summed over 4 threads = 400.0 % of the"), std::string::npos) << v[0].reason;
}

}  // namespace
}  // namespace codeprof
