// The Profiler's own-metric calls: what threads record reaches the snapshot and the JSON report
// exactly, and comes back from the report unchanged.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "codeprof/exporters.hpp"
#include "codeprof/profiler.hpp"
#include "io/report_reader.hpp"

namespace codeprof {
namespace {

TEST(ProfilerCustomMetrics, ThreadsReachSnapshotAndReport) {
  Profiler profiler;
  constexpr int kThreads = 4, kCalls = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        profiler.add_counter("pages_scored", 2, "pages");
        profiler.record_value("loss", 1.0 / (1 + i), "");
        profiler.set_gauge("queue_depth", t, "items");
      }
    });
  for (auto& th : threads) th.join();
  const Snapshot s = profiler.snapshot();
  const CustomMetric* pages = s.metric("pages_scored");
  ASSERT_TRUE(pages);
  EXPECT_EQ(pages->count, std::uint64_t{kThreads} * kCalls);
  EXPECT_EQ(pages->last, 2.0 * kThreads * kCalls);
  EXPECT_EQ(pages->unit, "pages");
  const CustomMetric* loss = s.metric("loss");
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss->max, 1.0);
  EXPECT_EQ(loss->last, 1.0 / kCalls);

  const auto path = std::filesystem::temp_directory_path() / ("codeprof_metrics_" + std::to_string(::getpid()) + ".json");
  profiler.export_profiling_data(path.string());
  const Snapshot back = io::read_json_report(path.string());
  std::filesystem::remove(path);
  ASSERT_EQ(back.custom_metrics.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const CustomMetric& a = s.custom_metrics[i];
    const CustomMetric& b = back.custom_metrics[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.count, b.count);
    EXPECT_EQ(a.sum, b.sum);
    EXPECT_EQ(a.last, b.last);
    EXPECT_EQ(a.p99, b.p99);
    EXPECT_EQ(a.series.size(), b.series.size());
  }

  profiler.reset();
  EXPECT_TRUE(profiler.snapshot().custom_metrics.empty());
  profiler.set_enabled(false);  // off: nothing is recorded
  profiler.add_counter("pages_scored", 1);
  EXPECT_TRUE(profiler.snapshot().custom_metrics.empty());
}

}  // namespace
}  // namespace codeprof
