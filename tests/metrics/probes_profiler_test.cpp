// Probes through a real Profiler: the facade installs the ProbeSet's hooks, the core calls them
// around each scope and aggregates the deltas into OperationStats::resources.
#include <gtest/gtest.h>

#include <cstdio>

#include "codeprof/codeprof.hpp"
#include "probe_test_util.hpp"

using namespace codeprof;
using namespace codeprof::test;

namespace {

double cpu_efficiency(const OperationStats& op) {
  const ResourceStat& cpu = op.resource(ProbeMetric::CpuTimeNs);
  return static_cast<double>(cpu.total) / static_cast<double>(op.total_ns);
}

}  // namespace

TEST(ProfilerProbes, SleepingScopeHasLowCpuEfficiencyBusyLoopHigh) {
  Config c = metrics_config();
  c.metrics.cpu = true;
  Profiler p(c);
  for (int i = 0; i < 3; ++i) {
    { auto s = p.profile_operation("probe.sleep", Category::Io); sleep_ms(30); }
    { auto s = p.profile_operation("probe.busy", Category::Cpu); burn_cpu(30'000'000); }
  }
  const Snapshot s = p.snapshot();
  const OperationStats* sleep = s.find("probe.sleep");
  const OperationStats* busy = s.find("probe.busy");
  ASSERT_NE(sleep, nullptr);
  ASSERT_NE(busy, nullptr);
  EXPECT_EQ(sleep->resource(ProbeMetric::CpuTimeNs).samples, 3u);
  EXPECT_EQ(busy->resource(ProbeMetric::CpuTimeNs).samples, 3u);
  EXPECT_GE(busy->resource(ProbeMetric::CpuTimeNs).min, 30'000'000);
  EXPECT_GE(busy->resource(ProbeMetric::CpuTimeNs).total, 90'000'000);
  EXPECT_LT(sleep->resource(ProbeMetric::CpuTimeNs).max, 10'000'000);
  // CPU time never exceeds wall time on one thread; a sleep is far below a spin.
  EXPECT_LE(cpu_efficiency(*busy), 1.0 + 1e-3);
  EXPECT_LT(cpu_efficiency(*sleep), 0.34);
  EXPECT_LT(cpu_efficiency(*sleep), cpu_efficiency(*busy));
  // Only the switched-on metric was measured.
  EXPECT_EQ(busy->resource(ProbeMetric::RssDeltaBytes).samples, 0u);
  EXPECT_EQ(busy->resource(ProbeMetric::IoWriteBytes).samples, 0u);
}

TEST(ProfilerProbes, ScopeAllocating64MiBShowsItInRss) {
  Config c = metrics_config();
  c.metrics.memory = true;
  Profiler p(c);
  std::unique_ptr<char[]> block;
  {
    auto s = p.profile_operation("probe.alloc64", Category::Memory);
    block = touched_block(64 * kMiB);
  }
  const Snapshot s = p.snapshot();
  const OperationStats* op = s.find("probe.alloc64");
  ASSERT_NE(op, nullptr);
  const ResourceStat& rss = op->resource(ProbeMetric::RssDeltaBytes);
  ASSERT_EQ(rss.samples, 1u);
  EXPECT_GE(rss.total, 60 * kMiB);
  if (!CODEPROF_TEST_SANITIZED) {
    EXPECT_LE(rss.total, 72 * kMiB);
  }
  // Without codeprof::alloc linked, the snapshot says so, once.
  int reported = 0;
  for (const auto& u : s.run.unavailable)
    if (u.what == "allocation_counters") {
      ++reported;
      EXPECT_EQ(u.reason, "link codeprof::alloc to count allocations");
    }
  EXPECT_EQ(reported, 1);
  EXPECT_EQ(op->resource(ProbeMetric::AllocBytes).samples, 0u);
}

TEST(ProfilerProbes, ScopeWriting8MiBShowsTheBytes) {
  Config c = metrics_config();
  c.metrics.io = true;
  Profiler p(c);
  const std::string path = temp_path("profiler_io");
  for (int i = 0; i < 2; ++i) {
    auto s = p.profile_operation("probe.write8", Category::Io);
    write_file(path, 8, kMiB);
  }
  {
    auto s = p.profile_operation("probe.read8", Category::Io);
    EXPECT_EQ(read_file(path, 8, kMiB), 8 * kMiB);
  }
  std::remove(path.c_str());
  const Snapshot s = p.snapshot();
  const OperationStats* w = s.find("probe.write8");
  const OperationStats* r = s.find("probe.read8");
  ASSERT_NE(w, nullptr);
  ASSERT_NE(r, nullptr);
  const ResourceStat& wb = w->resource(ProbeMetric::IoWriteBytes);
  EXPECT_EQ(wb.samples, 2u);
  EXPECT_EQ(wb.total, 16 * kMiB);
  EXPECT_EQ(wb.min, 8 * kMiB);
  EXPECT_EQ(wb.max, 8 * kMiB);
  EXPECT_EQ(w->resource(ProbeMetric::IoWriteCalls).total, 16);
  EXPECT_EQ(r->resource(ProbeMetric::IoReadBytes).total, 8 * kMiB);
  EXPECT_EQ(r->resource(ProbeMetric::IoReadCalls).total, 8);
}

TEST(ProfilerProbes, ProbesRunOnlyForCategoriesSwitchedOn) {
  Config c = metrics_config();
  c.metrics.cpu = true;
  c.metrics.categories[index_of(Category::Preprocessing)] = false;
  Profiler p(c);
  { auto s = p.profile_operation("probe.cat_on", Category::DataLoading); burn_cpu(1'000'000); }
  { auto s = p.profile_operation("probe.cat_off", Category::Preprocessing); burn_cpu(1'000'000); }
  const Snapshot s = p.snapshot();
  ASSERT_NE(s.find("probe.cat_on"), nullptr);
  ASSERT_NE(s.find("probe.cat_off"), nullptr);
  EXPECT_EQ(s.find("probe.cat_on")->resource(ProbeMetric::CpuTimeNs).samples, 1u);
  EXPECT_EQ(s.find("probe.cat_off")->resource(ProbeMetric::CpuTimeNs).samples, 0u);
  EXPECT_EQ(s.find("probe.cat_off")->count, 1u);  // still timed
}

TEST(ProfilerProbes, ThreadsMeasureTheirOwnWork) {
  Config c = metrics_config();
  c.metrics.cpu = true;
  c.metrics.io = true;
  c.metrics.memory = true;
  Profiler p(c);
  constexpr int kThreads = 4;
  constexpr int kScopes = 20;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      const std::string path = temp_path("thread" + std::to_string(t));
      for (int i = 0; i < kScopes; ++i) {
        CODEPROF_SCOPE(p, "probe.thread_outer", Category::DataLoading);
        {
          CODEPROF_SCOPE(p, "probe.thread_write", Category::Io);
          write_file(path, 1, 64 * 1024);
        }
        burn_cpu(200'000);
      }
      std::remove(path.c_str());
    });
  for (auto& t : threads) t.join();
  const Snapshot s = p.snapshot();
  const OperationStats* w = s.find("probe.thread_write");
  const OperationStats* outer = s.find("probe.thread_outer");
  ASSERT_NE(w, nullptr);
  ASSERT_NE(outer, nullptr);
  EXPECT_EQ(w->resource(ProbeMetric::IoWriteBytes).samples, kThreads * kScopes * 1u);
  EXPECT_EQ(w->resource(ProbeMetric::IoWriteBytes).min, 64 * 1024);
  EXPECT_EQ(w->resource(ProbeMetric::IoWriteBytes).max, 64 * 1024);
  // The outer scope includes its child's write and nothing from other threads.
  EXPECT_EQ(outer->resource(ProbeMetric::IoWriteBytes).max, 64 * 1024);
  EXPECT_GE(outer->resource(ProbeMetric::CpuTimeNs).min, 200'000);
}
