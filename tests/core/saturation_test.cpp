// Every core busy: one producer per core plus a thread that only burns CPU, so the collector gets
// little time. Statistics are kept by the recording threads: every call counts, exactly; only the
// raw trace may lose events (counted).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "codeprof/scope.hpp"
#include "core/recorder.hpp"

using namespace codeprof;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kCallsPerThread = 20'000;  // sanitizers are 5-15x slower
#else
constexpr int kCallsPerThread = 300'000;
#endif

std::uint64_t sum_histogram(const OperationStats& op) {
  std::uint64_t n = 0;
  for (const auto& b : op.histogram) n += b.count;
  return n;
}
std::uint64_t sum_series(const OperationStats& op) {
  std::uint64_t n = 0;
  for (const auto& w : op.series) n += w.count;
  return n;
}
std::uint64_t sum_edges(const Snapshot& s, std::uint32_t child) {
  std::uint64_t n = 0;
  for (const auto& e : s.call_tree)
    if (e.child_id == child) n += e.count;
  return n;
}

}  // namespace

TEST(Saturation, EveryCallCountsWhileAllCoresAreBusyAndOnlyTheTraceDrops) {
  core::RecorderOptions o;
  o.buffer_events = 256;  // small trace rings: a starved collector makes them drop
  o.keep_trace = true;
  o.trace_budget = 50'000;
  core::Recorder rec(o);
  const SiteId step = register_site("sat.step", Category::TrainingLoop);
  const SiteId load = register_site("sat.load", Category::DataLoading);
  const SiteId decode = register_site("sat.decode", Category::Preprocessing);
  const int producers = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));

  std::atomic<bool> stop_busy{false};
  std::thread busy([&] {  // takes a core's worth of CPU from the collector
    volatile std::uint64_t x = 0;
    while (!stop_busy.load(std::memory_order_relaxed)) x = x * 6364136223846793005ull + 1;
  });
  std::atomic<bool> stop_snapshots{false};
  std::uint64_t snapshots = 0, last_seen = 0;
  bool monotonic = true;
  std::thread reader([&] {  // snapshots while everyone records: counts only grow
    while (!stop_snapshots.load()) {
      Snapshot s;
      rec.fill(s);
      monotonic = monotonic && s.events_recorded >= last_seen;
      last_seen = s.events_recorded;
      ++snapshots;
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < producers; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        Scope a(rec.state(), step);
        Scope b(rec.state(), load);
        Scope c(rec.state(), decode);
      }
    });
  }
  for (auto& t : threads) t.join();
  stop_snapshots.store(true);
  reader.join();
  stop_busy.store(true);
  busy.join();

  Snapshot s;
  rec.fill(s);
  const std::uint64_t per_op = static_cast<std::uint64_t>(producers) * kCallsPerThread;
  const std::uint64_t made = 3 * per_op;
  EXPECT_EQ(s.events_recorded, made);
  EXPECT_EQ(s.events_recorded_total, made);
  for (const SiteId site : {step, load, decode}) {
    const OperationStats* op = s.find(site.id);
    ASSERT_NE(op, nullptr);
    EXPECT_EQ(op->count, per_op) << op->name;
    EXPECT_EQ(sum_histogram(*op), per_op) << op->name;
    EXPECT_EQ(sum_series(*op), per_op) << op->name;
    EXPECT_EQ(sum_edges(s, site.id), per_op) << op->name;
    EXPECT_LE(op->self_ns, op->total_ns);
    EXPECT_LE(op->min_ns, op->p50_ns);
    EXPECT_LE(op->p99_ns, op->max_ns);
  }
  std::uint64_t thread_events = 0;
  for (const auto& t : s.threads) thread_events += t.events;
  EXPECT_EQ(thread_events, made);
  // The trace: each call is kept, outside the window, or lost to a full ring; nothing else.
  EXPECT_EQ(s.trace_events.size() + s.trace_events_dropped + s.events_dropped_total, made);
  EXPECT_LE(s.trace_events.size(), 50'000u);
  EXPECT_GT(s.trace_events.size(), 0u);
  EXPECT_EQ(s.trace_policy, "last");
  EXPECT_TRUE(monotonic);
  EXPECT_GT(snapshots, 0u);
}
