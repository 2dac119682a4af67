// Allocation counters with codeprof::alloc linked into this binary: exact counts for known
// allocations, the peak above the entry level (nested scopes too), per-thread isolation, and the
// counters through a real Profiler.
#include <gtest/gtest.h>

#include <new>
#include <vector>

#include "codeprof/codeprof.hpp"
#include "metrics/alloc_counters.hpp"
#include "probe_test_util.hpp"

using namespace codeprof;
using namespace codeprof::test;

namespace {

// Usable size may round a request up (allocator bookkeeping, page rounding of mmap'ed blocks).
constexpr std::int64_t kSlack = 8192;

metrics::ProbeSet memory_probes() {
  Config c = metrics_config();
  c.metrics.memory = true;
  return metrics::ProbeSet(c);
}

std::uint32_t op(const char* name) { return register_site(name, Category::Memory).id; }

}  // namespace

TEST(AllocCounters, LinkedMeansAvailable) {
  ASSERT_TRUE(metrics::alloc_counters_linked());
  Config c = metrics_config();
  c.metrics.memory = true;
  metrics::ProbeSet probes(c);
  EXPECT_FALSE(has_unavailable(probes.unavailable(), "allocation_counters"));
}

TEST(AllocCounters, EveryOperatorNewVariantIsCounted) {
  metrics::AllocCounters* c = metrics::thread_alloc_counters();
  ASSERT_NE(c, nullptr);
  const metrics::AllocCounters before = *c;
  struct alignas(256) Aligned {
    char data[1000];
  };
  int* a = new int(7);
  int* b = new int[100];
  int* d = new (std::nothrow) int(3);
  int* e = new (std::nothrow) int[10];
  auto* f = new Aligned;
  auto* g = new Aligned[3];
  auto* h = new (std::nothrow) Aligned;
  escape(a), escape(b), escape(d), escape(e), escape(f), escape(g), escape(h);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(f) % 256, 0u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(g) % 256, 0u);
  EXPECT_EQ(c->allocations - before.allocations, 7);
  EXPECT_GE(c->allocated_bytes - before.allocated_bytes,
            static_cast<std::int64_t>(sizeof(int) * 112 + sizeof(Aligned) * 5));
  delete a;
  delete[] b;
  ::operator delete(d, std::nothrow);
  delete[] e;
  delete f;
  delete[] g;
  delete h;
  EXPECT_EQ(c->frees - before.frees, 7);
  // Same usable sizes on both sides: the balance is back where it started.
  EXPECT_EQ(c->live_bytes, before.live_bytes);
  EXPECT_EQ(c->allocated_bytes - before.allocated_bytes, c->freed_bytes - before.freed_bytes);
}

TEST(AllocCounters, ScopeAllocating64MiB) {
  metrics::ProbeSet probes = memory_probes();
  std::unique_ptr<char[]> keep;
  const ProbeDeltas d = measure(probes, op("alloc.64"), [&] { keep = touched_block(64 * kMiB); });
  EXPECT_EQ(d.get(ProbeMetric::AllocCount), 1);
  EXPECT_GE(d.get(ProbeMetric::AllocBytes), 64 * kMiB);
  EXPECT_LE(d.get(ProbeMetric::AllocBytes), 64 * kMiB + kSlack);
  EXPECT_EQ(d.get(ProbeMetric::FreeCount), 0);
  EXPECT_EQ(d.get(ProbeMetric::FreeBytes), 0);
  EXPECT_EQ(d.get(ProbeMetric::AllocPeakBytes), d.get(ProbeMetric::AllocBytes));
  EXPECT_GE(d.get(ProbeMetric::RssDeltaBytes), 60 * kMiB);

  // Allocated and freed inside: the bytes show, the peak shows, the balance is zero.
  const ProbeDeltas temp = measure(probes, op("alloc.temp"), [&] { touched_block(64 * kMiB).reset(); });
  EXPECT_EQ(temp.get(ProbeMetric::AllocCount), 1);
  EXPECT_EQ(temp.get(ProbeMetric::FreeCount), 1);
  EXPECT_EQ(temp.get(ProbeMetric::AllocBytes), temp.get(ProbeMetric::FreeBytes));
  EXPECT_GE(temp.get(ProbeMetric::AllocPeakBytes), 64 * kMiB);

  // Freeing memory allocated before the scope: frees count, the peak stays at zero.
  const ProbeDeltas release = measure(probes, op("alloc.release"), [&] { keep.reset(); });
  EXPECT_EQ(release.get(ProbeMetric::AllocCount), 0);
  EXPECT_EQ(release.get(ProbeMetric::FreeCount), 1);
  EXPECT_GE(release.get(ProbeMetric::FreeBytes), 64 * kMiB);
  EXPECT_EQ(release.get(ProbeMetric::AllocPeakBytes), 0);
}

TEST(AllocCounters, PeakIsPerScopeAndNestsCorrectly) {
  metrics::ProbeSet probes = memory_probes();
  // Registered first: a site's first registration allocates.
  const std::uint32_t outer_id = op("alloc.outer"), inner_id = op("alloc.inner");
  ProbeDeltas inner;
  const ProbeDeltas outer = measure(probes, outer_id, [&] {
    touched_block(4 * kMiB).reset();  // outer's own peak: 4 MiB
    inner = measure(probes, inner_id, [&] { touched_block(1 * kMiB).reset(); });
  });
  // The inner peak is its own 1 MiB, not the 4 MiB the outer reached before it began.
  EXPECT_GE(inner.get(ProbeMetric::AllocPeakBytes), 1 * kMiB);
  EXPECT_LE(inner.get(ProbeMetric::AllocPeakBytes), 1 * kMiB + kSlack);
  // The outer peak keeps the 4 MiB from before the inner scope.
  EXPECT_GE(outer.get(ProbeMetric::AllocPeakBytes), 4 * kMiB);
  EXPECT_LE(outer.get(ProbeMetric::AllocPeakBytes), 4 * kMiB + kSlack);
}

TEST(AllocCounters, InnerPeakRaisesTheOuterPeak) {
  metrics::ProbeSet probes = memory_probes();
  const std::uint32_t outer_id = op("alloc.outer2"), inner_id = op("alloc.inner2");
  ProbeDeltas inner;
  const ProbeDeltas outer = measure(probes, outer_id, [&] {
    touched_block(1 * kMiB).reset();
    inner = measure(probes, inner_id, [&] { touched_block(8 * kMiB).reset(); });
  });
  EXPECT_GE(inner.get(ProbeMetric::AllocPeakBytes), 8 * kMiB);
  EXPECT_EQ(outer.get(ProbeMetric::AllocPeakBytes), inner.get(ProbeMetric::AllocPeakBytes));
  EXPECT_EQ(outer.get(ProbeMetric::AllocCount), 2);
  EXPECT_EQ(outer.get(ProbeMetric::FreeCount), 2);
}

TEST(AllocCounters, CountersArePerThread) {
  metrics::ProbeSet probes = memory_probes();
  const ProbeDeltas d = measure(probes, op("alloc.other_thread"), [] {
    std::thread t([] { touched_block(16 * kMiB).reset(); });
    t.join();
  });
  // std::thread allocates its state on this thread (one small block); the 16 MiB were the other's.
  EXPECT_LT(d.get(ProbeMetric::AllocBytes), kMiB);
  EXPECT_LT(d.get(ProbeMetric::AllocPeakBytes), kMiB);
}

TEST(AllocCounters, ThroughAProfiler) {
  Config c = metrics_config();
  c.metrics.memory = true;
  Profiler p(c);
  std::vector<std::unique_ptr<char[]>> kept;
  for (int i = 0; i < 3; ++i) {
    auto s = p.profile_operation("alloc.profiled", Category::Memory);
    kept.push_back(touched_block(64 * kMiB));
  }
  const Snapshot s = p.snapshot();
  const OperationStats* o = s.find("alloc.profiled");
  ASSERT_NE(o, nullptr);
  const ResourceStat& bytes = o->resource(ProbeMetric::AllocBytes);
  EXPECT_EQ(bytes.samples, 3u);
  EXPECT_GE(bytes.min, 64 * kMiB);
  EXPECT_LE(bytes.max, 64 * kMiB + kSlack + 4096);  // the first push_back grows the vector
  EXPECT_GE(o->resource(ProbeMetric::AllocPeakBytes).min, 64 * kMiB);
  EXPECT_GE(o->resource(ProbeMetric::RssDeltaBytes).total, 3 * 60 * kMiB);
  EXPECT_FALSE(has_unavailable(s.run.unavailable, "allocation_counters"));
}
