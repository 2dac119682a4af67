// The live event path through real threads: exact accounting, nesting, switches, reset, flush.
#include "core/recorder.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "codeprof/scope.hpp"

using namespace codeprof;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kScale = 8;  // sanitizers are 5-15x slower
#else
constexpr int kScale = 1;
#endif

core::RecorderOptions small_ring(std::uint32_t events) {
  core::RecorderOptions o;
  o.buffer_events = events;
  o.collector_interval_us = 200;
  return o;
}

void spin_ns(std::int64_t ns) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  while (std::chrono::steady_clock::now() < until) {
  }
}

}  // namespace

TEST(Recorder, NestedScopesGiveSelfTimeAndCallTree) {
  core::Recorder rec(core::RecorderOptions{});
  const SiteId outer = register_site("rec.outer", Category::TrainingLoop);
  const SiteId inner = register_site("rec.inner", Category::DataLoading);
  for (int i = 0; i < 10; ++i) {
    Scope o(rec.state(), outer);
    spin_ns(200'000);
    {
      Scope in(rec.state(), inner);
      spin_ns(800'000);
    }
  }
  Snapshot s;
  rec.fill(s);
  const auto* o = s.find("rec.outer");
  const auto* in = s.find("rec.inner");
  ASSERT_TRUE(o && in);
  EXPECT_EQ(o->count, 10u);
  EXPECT_EQ(in->count, 10u);
  EXPECT_GE(in->min_ns, 800'000u);
  EXPECT_GE(o->total_ns, in->total_ns + 10 * 200'000u);
  EXPECT_EQ(o->self_ns, o->total_ns - in->total_ns);
  EXPECT_EQ(o->category, Category::TrainingLoop);
  bool edge = false;
  for (const auto& e : s.call_tree)
    if (e.parent_id == outer.id && e.child_id == inner.id) edge = e.count == 10;
  EXPECT_TRUE(edge);
  EXPECT_EQ(s.events_recorded, 20u);
  EXPECT_EQ(s.events_dropped, 0u);
}

TEST(Recorder, DurationsAgreeWithSteadyClock) {
  for (bool force_steady : {false, true}) {
    core::RecorderOptions o;
    o.force_steady_clock = force_steady;
    core::Recorder rec(o);
    const SiteId site = register_site("rec.sleep", Category::Io);
    const auto t0 = std::chrono::steady_clock::now();
    {
      Scope s(rec.state(), site);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const auto outside = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
    Snapshot s;
    rec.fill(s);
    const auto* op = s.find("rec.sleep");
    ASSERT_TRUE(op);
    EXPECT_GE(op->total_ns, 19'000'000u) << force_steady;
    EXPECT_LE(static_cast<std::int64_t>(op->total_ns), outside + 1'000'000) << force_steady;
    EXPECT_EQ(rec.uses_tsc(), !force_steady && core::tsc_is_invariant());
  }
}

TEST(Recorder, DisabledCategoryAndGlobalSwitchRecordNothing) {
  core::Recorder rec(core::RecorderOptions{});
  const SiteId a = register_site("rec.a", Category::Preprocessing);
  const SiteId b = register_site("rec.b", Category::Io);
  rec.set_category_enabled(Category::Preprocessing, false);
  for (int i = 0; i < 100; ++i) {
    Scope x(rec.state(), a);
    Scope y(rec.state(), b);
    EXPECT_FALSE(x.active());
    EXPECT_TRUE(y.active());
  }
  rec.set_enabled(false);
  for (int i = 0; i < 100; ++i) {
    Scope y(rec.state(), b);
    EXPECT_FALSE(y.active());
  }
  rec.set_enabled(true);
  Snapshot s;
  rec.fill(s);
  EXPECT_EQ(s.find("rec.a"), nullptr);
  ASSERT_NE(s.find("rec.b"), nullptr);
  EXPECT_EQ(s.find("rec.b")->count, 100u);
  EXPECT_EQ(s.find("rec.b")->resource(ProbeMetric::CpuTimeNs).samples, 0u);
  EXPECT_FALSE(rec.category_enabled(Category::Preprocessing));
}

// Statistics are kept by the recording thread and never drop; a full trace ring (the collector
// sleeps here) drops raw trace events, counts them, and never blocks.
TEST(Recorder, FullRingDropsOnlyTraceEventsAndCountsThemWithoutBlocking) {
  core::RecorderOptions o = small_ring(64);
  o.collector_interval_us = 1'000'000;  // the collector sleeps: the ring must fill
  o.keep_trace = true;
  core::Recorder rec(o);
  const SiteId site = register_site("rec.burst", Category::Custom);
  std::thread t([&] {
    for (int i = 0; i < 100000; ++i) Scope s(rec.state(), site);
  });
  t.join();
  Snapshot s;
  rec.fill(s);
  EXPECT_GT(s.events_dropped_total, 0u);
  EXPECT_EQ(s.events_dropped, s.events_dropped_total);
  ASSERT_NE(s.find("rec.burst"), nullptr);
  EXPECT_EQ(s.find("rec.burst")->count, 100000u);
  EXPECT_EQ(s.events_recorded_total, 100000u);
  EXPECT_EQ(s.events_recorded, 100000u);
  // Each call is in the trace, outside its window, or lost to the full ring.
  EXPECT_EQ(s.trace_events.size() + s.trace_events_dropped + s.events_dropped_total, 100000u);
  ASSERT_FALSE(s.threads.empty());
}

TEST(Recorder, ThreadExitFlushesEverythingAndNamesThreads) {
  core::Recorder rec(core::RecorderOptions{});
  const SiteId site = register_site("rec.worker", Category::DataLoading);
  std::vector<std::thread> ts;
  for (int k = 0; k < 4; ++k) {
    ts.emplace_back([&, k] {
      rec.set_thread_name("worker-" + std::to_string(k));
      for (int i = 0; i < 1000; ++i) Scope s(rec.state(), site);
    });
  }
  for (auto& t : ts) t.join();
  Snapshot s;
  rec.fill(s);
  ASSERT_NE(s.find("rec.worker"), nullptr);
  EXPECT_EQ(s.find("rec.worker")->count, 4000u);
  int named = 0;
  for (const auto& t : s.threads) {
    if (t.name.rfind("worker-", 0) == 0) {
      ++named;
      EXPECT_EQ(t.events, 1000u);
      EXPECT_GT(t.os_tid, 0u);
    }
  }
  EXPECT_EQ(named, 4);
}

TEST(Recorder, DestructionDrainsEveryPublishedEvent) {
  auto rec = std::make_unique<core::Recorder>(small_ring(1 << 20));
  const SiteId site = register_site("rec.final", Category::Custom);
  for (int i = 0; i < 50000; ++i) Scope s(rec->state(), site);
  Snapshot s;
  rec->fill(s);
  EXPECT_EQ(s.find("rec.final")->count, 50000u);
}

// >= 8 threads, millions of nested scopes (fewer under sanitizers), concurrent snapshots,
// resets and switch toggles: recorded + dropped == made, exactly.
TEST(RecorderStress, ExactAccountingUnderConcurrentSnapshotResetAndToggles) {
  core::Recorder rec(small_ring(1024));  // small rings: drops happen
  constexpr int kThreads = 8;
  const int per_thread = 120'000 / kScale;
  const SiteId l0 = register_site("stress.step", Category::TrainingLoop);
  const SiteId l1 = register_site("stress.load", Category::DataLoading);
  const SiteId l2 = register_site("stress.decode", Category::Preprocessing);
  std::atomic<std::uint64_t> made{0};
  std::atomic<bool> done{false};

  std::thread chaos([&] {
    int i = 0;
    while (!done.load()) {
      Snapshot s;
      rec.fill(s);
      if (i % 3 == 0) rec.reset();
      rec.set_category_enabled(Category::DataLoading, i % 2 == 0);
      rec.set_enabled(i % 5 != 4);
      ++i;
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    rec.set_enabled(true);
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&] {
      std::uint64_t mine = 0;
      for (int i = 0; i < per_thread; ++i) {
        Scope a(rec.state(), l0);
        mine += a.active();
        Scope b(rec.state(), l1);
        mine += b.active();
        {
          Scope c(rec.state(), l2);
          mine += c.active();
        }
      }
      made.fetch_add(mine);
    });
  }
  for (auto& w : workers) w.join();
  done.store(true);
  chaos.join();
  Snapshot s;
  rec.fill(s);
  EXPECT_GT(s.events_recorded_total, 0u);
  EXPECT_EQ(s.events_recorded_total + s.events_dropped_total, made.load());
}
