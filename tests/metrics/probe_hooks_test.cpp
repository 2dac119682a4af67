// The ProbeSet's hooks called directly, as the core calls them around a scope, on workloads whose
// resource use is known. This binary does not link codeprof::alloc.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>

#include "metrics/alloc_counters.hpp"
#include "metrics/nvtx_ranges.hpp"
#include "probe_test_util.hpp"

using namespace codeprof;
using namespace codeprof::test;

namespace {

std::uint32_t op(const char* name, Category c = Category::Custom) { return register_site(name, c).id; }

}  // namespace

TEST(ProbeSet, NothingOnMeansNoProbeAndNothingUnavailable) {
  metrics::ProbeSet probes(metrics_config());
  EXPECT_FALSE(probes.any());
  EXPECT_TRUE(probes.unavailable().empty());
  const ProbeDeltas d = measure(probes, op("hooks.none"), [] { burn_cpu(1'000'000); });
  EXPECT_EQ(d.valid, 0u);
}

TEST(ProbeSet, CpuTimeOfABusyLoopAndOfASleep) {
  Config c = metrics_config();
  c.metrics.cpu = true;
  metrics::ProbeSet probes(c);
  ASSERT_TRUE(probes.any());
  const ProbeDeltas busy = measure(probes, op("hooks.busy"), [] { burn_cpu(50'000'000); });
  ASSERT_TRUE(busy.has(ProbeMetric::CpuTimeNs));
  EXPECT_GE(busy.get(ProbeMetric::CpuTimeNs), 50'000'000);
  EXPECT_LT(busy.get(ProbeMetric::CpuTimeNs), 5'000'000'000);
  // Only the CPU probe ran.
  EXPECT_EQ(busy.valid, metric_bit(ProbeMetric::CpuTimeNs));

  const ProbeDeltas idle = measure(probes, op("hooks.sleep"), [] { sleep_ms(50); });
  ASSERT_TRUE(idle.has(ProbeMetric::CpuTimeNs));
  EXPECT_GE(idle.get(ProbeMetric::CpuTimeNs), 0);
  EXPECT_LT(idle.get(ProbeMetric::CpuTimeNs), 10'000'000);  // a sleep uses (almost) no CPU
}

TEST(ProbeSet, RssDeltaOf64MiBTouched) {
  Config c = metrics_config();
  c.metrics.memory = true;
  metrics::ProbeSet probes(c);
  ASSERT_TRUE(probes.any());
  std::unique_ptr<char[]> block;
  const ProbeDeltas d = measure(probes, op("hooks.rss"), [&] { block = touched_block(64 * kMiB); });
  ASSERT_TRUE(d.has(ProbeMetric::RssDeltaBytes));
  // Every page was written: the delta is the block, give or take the kernel's per-CPU batching
  // of RSS counters and the odd page of the test itself.
  EXPECT_GE(d.get(ProbeMetric::RssDeltaBytes), 60 * kMiB);
  if (CODEPROF_TEST_SANITIZED) GTEST_SKIP() << "sanitizer shadow memory and quarantine blur RSS";
  EXPECT_LE(d.get(ProbeMetric::RssDeltaBytes), 72 * kMiB);
  // Memory given back outside the scope: the next scope sees a negative delta.
  const ProbeDeltas freed = measure(probes, op("hooks.rss_free"), [&] { block.reset(); });
  EXPECT_LE(freed.get(ProbeMetric::RssDeltaBytes), -60 * kMiB);
}

TEST(ProbeSet, WithoutCodeprofAllocTheCountersAreReportedUnavailableOnce) {
  ASSERT_FALSE(metrics::alloc_counters_linked());
  Config c = metrics_config();
  c.metrics.memory = true;
  metrics::ProbeSet probes(c);
  const auto list = probes.unavailable();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].what, "allocation_counters");
  EXPECT_EQ(list[0].reason, "link codeprof::alloc to count allocations");
  const ProbeDeltas d = measure(probes, op("hooks.no_alloc"), [] { escape(touched_block(kMiB).get()); });
  EXPECT_TRUE(d.has(ProbeMetric::RssDeltaBytes));
  EXPECT_FALSE(d.has(ProbeMetric::AllocBytes));
  EXPECT_FALSE(d.has(ProbeMetric::AllocPeakBytes));
}

TEST(ProbeSet, IoOfWritingAndReading8MiB) {
  Config c = metrics_config();
  c.metrics.io = true;
  metrics::ProbeSet probes(c);
  ASSERT_TRUE(probes.any()) << (probes.unavailable().empty() ? "" : probes.unavailable()[0].reason);
  const std::string path = temp_path("io8");
  const ProbeDeltas w = measure(probes, op("hooks.write"), [&] { write_file(path, 8, kMiB); });
  // wchar counts exactly the bytes handed to write(); syscw the calls.
  EXPECT_EQ(w.get(ProbeMetric::IoWriteBytes), 8 * kMiB);
  EXPECT_EQ(w.get(ProbeMetric::IoWriteCalls), 8);
  EXPECT_EQ(w.get(ProbeMetric::IoReadBytes), 0);
  EXPECT_EQ(w.get(ProbeMetric::IoReadCalls), 0);

  std::int64_t got = 0;
  const ProbeDeltas r = measure(probes, op("hooks.read"), [&] { got = read_file(path, 8, kMiB); });
  ASSERT_EQ(got, 8 * kMiB);
  EXPECT_EQ(r.get(ProbeMetric::IoReadBytes), 8 * kMiB);
  EXPECT_EQ(r.get(ProbeMetric::IoReadCalls), 8);
  EXPECT_EQ(r.get(ProbeMetric::IoWriteBytes), 0);
  std::remove(path.c_str());
}

TEST(ProbeSet, IoCountersArePerThread) {
  Config c = metrics_config();
  c.metrics.io = true;
  metrics::ProbeSet probes(c);
  const std::string path = temp_path("io_other_thread");
  // Another thread writes while this one measures: none of its bytes belong to this scope.
  const ProbeDeltas d = measure(probes, op("hooks.io_other"), [&] {
    std::thread t([&] { write_file(path, 4, kMiB); });
    t.join();
  });
  // (Creating a thread may write a few bytes on this one under a sanitizer runtime.)
  EXPECT_LT(d.get(ProbeMetric::IoWriteBytes), 4096);
  EXPECT_LE(d.get(ProbeMetric::IoWriteCalls), 1);
  std::remove(path.c_str());
}

TEST(ProbeSet, NestedScopesEachGetTheirOwnFrame) {
  Config c = metrics_config();
  c.metrics.cpu = true;
  c.metrics.io = true;
  metrics::ProbeSet probes(c);
  const std::string path = temp_path("nested");
  ProbeDeltas inner;
  const ProbeDeltas outer = measure(probes, op("hooks.outer"), [&] {
    write_file(path, 1, kMiB);
    inner = measure(probes, op("hooks.inner"), [&] {
      write_file(path, 2, kMiB);
      burn_cpu(20'000'000);
    });
  });
  EXPECT_EQ(inner.get(ProbeMetric::IoWriteBytes), 2 * kMiB);
  EXPECT_EQ(outer.get(ProbeMetric::IoWriteBytes), 3 * kMiB);
  // The inner scope's probe reads /proc/thread-self/io twice; the outer scope must not see that.
  EXPECT_EQ(outer.get(ProbeMetric::IoReadCalls), 0);
  EXPECT_EQ(outer.get(ProbeMetric::IoReadBytes), 0);
  EXPECT_EQ(outer.get(ProbeMetric::IoWriteCalls), 3);
  EXPECT_GE(inner.get(ProbeMetric::CpuTimeNs), 20'000'000);
  EXPECT_GE(outer.get(ProbeMetric::CpuTimeNs), inner.get(ProbeMetric::CpuTimeNs));
  std::remove(path.c_str());
}

TEST(ProbeSet, NvtxIsAvailableExactlyWhenBuiltWithTheHeader) {
  Config c = metrics_config();
  c.metrics.nvtx = true;
  metrics::ProbeSet probes(c);
  const std::string why = metrics::nvtx_unavailable_reason();
  EXPECT_EQ(probes.any(), why.empty());
  EXPECT_EQ(has_unavailable(probes.unavailable(), "nvtx"), !why.empty());
  // Push/pop pairs on nested scopes are harmless without a tool attached (NVTX is a no-op then).
  for (int i = 0; i < 100; ++i) {
    const ProbeDeltas d = measure(probes, op("hooks.nvtx_outer"),
                                  [&] { measure(probes, op("hooks.nvtx_inner"), [] {}); });
    EXPECT_EQ(d.valid, 0u);  // NVTX measures nothing
  }
}

TEST(ProbeSet, AForkedChildMeasuresItselfNotItsParent) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "fork under TSan is not supported reliably";
#endif
  Config c = metrics_config();
  c.metrics.memory = true;
  c.metrics.io = true;
  metrics::ProbeSet probes(c);
  const std::uint32_t id = op("hooks.fork_child");
  // Used once in the parent first, so the kept-open descriptors exist before the fork.
  measure(probes, id, [] {});
  const std::string path = temp_path("fork_child");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::unique_ptr<char[]> block;
    const ProbeDeltas d = measure(probes, id, [&] {
      block = touched_block(16 * kMiB);
      write_file(path, 1, kMiB);
    });
    // The parent sits in waitpid: had the child read the parent's files, both deltas would be 0.
    int code = 0;
    if (d.get(ProbeMetric::RssDeltaBytes) < 14 * kMiB) code |= 1;
    if (d.get(ProbeMetric::IoWriteBytes) != kMiB) code |= 2;
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  std::remove(path.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status) & 1, 0) << "the child's RSS delta came from the parent's statm";
  EXPECT_EQ(WEXITSTATUS(status) & 2, 0) << "the child's I/O delta came from the parent's thread";
}
