// The program's own metrics: kinds, exactness with every core busy, percentiles, series, reset,
// thread exit and fork.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "codeprof/detail/ticks.hpp"
#include "core/metric_store.hpp"

namespace codeprof::core {
namespace {

std::int64_t now_ns() { return static_cast<std::int64_t>(detail::steady_ns()); }

const CustomMetric* find(const std::vector<CustomMetric>& v, std::string_view name) {
  for (const auto& m : v)
    if (m.name == name) return &m;
  return nullptr;
}

TEST(MetricStore, KindsUnitsAndStatistics) {
  MetricStore store(now_ns());
  store.record(MetricKind::Counter, "pages_scored", 3, "pages");
  store.record(MetricKind::Counter, "pages_scored", 4, "");
  store.record(MetricKind::Value, "loss", 2.5, "");
  store.record(MetricKind::Value, "loss", 0.5, "");
  store.record(MetricKind::Value, "loss", 1.0, "");
  store.record(MetricKind::Gauge, "queue_depth", 7, "items");
  store.record(MetricKind::Gauge, "queue_depth", 2, "items");
  const auto m = store.collect();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].name, "loss");  // ascending by name
  const CustomMetric* pages = find(m, "pages_scored");
  ASSERT_TRUE(pages);
  EXPECT_EQ(pages->kind, MetricKind::Counter);
  EXPECT_EQ(pages->unit, "pages");
  EXPECT_EQ(pages->count, 2u);
  EXPECT_EQ(pages->sum, 7.0);
  EXPECT_EQ(pages->last, 7.0);  // a counter's value
  EXPECT_EQ(pages->min, 3.0);
  EXPECT_EQ(pages->max, 4.0);
  const CustomMetric* loss = find(m, "loss");
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss->kind, MetricKind::Value);
  EXPECT_EQ(loss->count, 3u);
  EXPECT_EQ(loss->last, 1.0);
  EXPECT_EQ(loss->min, 0.5);
  EXPECT_EQ(loss->max, 2.5);
  EXPECT_DOUBLE_EQ(loss->mean, 4.0 / 3.0);
  EXPECT_NEAR(loss->p50, 1.0, 1.0 / 128);
  EXPECT_EQ(loss->p99, 2.5);  // clamped to the exact maximum
  const CustomMetric* depth = find(m, "queue_depth");
  ASSERT_TRUE(depth);
  EXPECT_EQ(depth->kind, MetricKind::Gauge);
  EXPECT_EQ(depth->last, 2.0);
  EXPECT_EQ(depth->max, 7.0);
  EXPECT_GE(depth->last_ns, depth->first_ns);
  std::uint64_t windowed = 0;
  for (const auto& w : depth->series) windowed += w.count;
  EXPECT_EQ(windowed, 2u);
}

TEST(MetricStore, RejectsCallsThatDoNotFit) {
  MetricStore store(now_ns());
  store.record(MetricKind::Counter, "tokens", 5, "");
  store.record(MetricKind::Gauge, "tokens", 1, "");   // another kind than its first use
  store.record(MetricKind::Counter, "tokens", -1, "");  // counters only grow
  store.record(MetricKind::Value, "loss", std::numeric_limits<double>::quiet_NaN(), "");
  store.record(MetricKind::Value, "loss", std::numeric_limits<double>::infinity(), "");
  const auto m = store.collect();
  const CustomMetric* tokens = find(m, "tokens");
  ASSERT_TRUE(tokens);
  EXPECT_EQ(tokens->kind, MetricKind::Counter);
  EXPECT_EQ(tokens->count, 1u);
  EXPECT_EQ(tokens->sum, 5.0);
  EXPECT_EQ(tokens->rejected, 2u);
  const CustomMetric* loss = find(m, "loss");
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss->count, 0u);
  EXPECT_EQ(loss->rejected, 2u);
}

TEST(MetricStore, PercentilesWithinHalfABucket) {
  MetricStore store(now_ns());
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(0.0, 2.0);
  std::vector<double> xs;
  for (int i = 0; i < 20000; ++i) {
    const double x = (i % 5 == 0 ? -1.0 : 1.0) * dist(rng);
    xs.push_back(x);
    store.record(MetricKind::Value, "x", x, "");
  }
  std::sort(xs.begin(), xs.end());
  const auto m = store.collect();
  ASSERT_EQ(m.size(), 1u);
  auto exact = [&](double q) { return xs[static_cast<std::size_t>(std::ceil(q * xs.size())) - 1]; };
  for (auto [q, got] : {std::pair{0.5, m[0].p50}, {0.9, m[0].p90}, {0.95, m[0].p95}, {0.99, m[0].p99}})
    EXPECT_NEAR(got, exact(q), std::fabs(exact(q)) / 128 + 1e-12) << "q=" << q;
  EXPECT_EQ(m[0].min, xs.front());
  EXPECT_EQ(m[0].max, xs.back());
}

// One producer per core plus one more, each recording as fast as it can while a reader collects:
// every call made is recorded (counts and integer sums are exact), live and after the threads exit.
TEST(MetricStore, ExactWithEveryCoreBusy) {
  MetricStore store(now_ns());
  const unsigned producers = std::max(2u, std::thread::hardware_concurrency()) + 1;
  constexpr std::uint64_t kCalls = 100'000;
  std::atomic<unsigned> done{0};
  std::atomic<bool> release{false};
  std::vector<std::thread> threads;
  for (unsigned p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (std::uint64_t i = 0; i < kCalls; ++i) {
        store.record(MetricKind::Counter, "items", 1.0, "items");
        store.record(MetricKind::Value, "batch", static_cast<double>(i % 7), "tokens");
        store.record(MetricKind::Gauge, "depth", static_cast<double>(p), "");
      }
      done.fetch_add(1);
      // Half the threads stay alive (their cells are read live), half exit (folded on exit).
      if (p % 2 == 0)
        while (!release.load()) std::this_thread::yield();
    });
  }
  std::uint64_t last_seen = 0;
  while (done.load() < producers) {
    const auto live = store.collect();  // concurrent reads: monotonic, never more than was made
    if (const CustomMetric* items = find(live, "items")) {
      EXPECT_GE(items->count, last_seen);
      EXPECT_LE(items->count, producers * kCalls);
      last_seen = items->count;
    }
  }
  for (unsigned p = 1; p < producers; p += 2) threads[p].join();  // the odd ones have exited
  std::vector<CustomMetric> m = store.collect();
  const std::uint64_t made = producers * kCalls;
  const CustomMetric* items = find(m, "items");
  ASSERT_TRUE(items);
  EXPECT_EQ(items->count, made);
  EXPECT_EQ(items->sum, static_cast<double>(made));
  std::uint64_t windowed = 0;
  double windowed_sum = 0;
  for (const auto& w : items->series) {
    windowed += w.count;
    windowed_sum += w.sum;
  }
  EXPECT_EQ(windowed, made);
  EXPECT_EQ(windowed_sum, static_cast<double>(made));
  EXPECT_LE(items->series.size(), kMetricWindows);
  const CustomMetric* batch = find(m, "batch");
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->count, made);
  double per_thread = 0;
  for (std::uint64_t i = 0; i < kCalls; ++i) per_thread += static_cast<double>(i % 7);
  EXPECT_EQ(batch->sum, per_thread * producers);
  EXPECT_EQ(batch->min, 0.0);
  EXPECT_EQ(batch->max, 6.0);
  const CustomMetric* depth = find(m, "depth");
  ASSERT_TRUE(depth);
  EXPECT_EQ(depth->count, made);
  release.store(true);
  for (unsigned p = 0; p < producers; p += 2) threads[p].join();
  m = store.collect();  // now every thread's cells are folded
  EXPECT_EQ(find(m, "items")->count, made);
  EXPECT_EQ(find(m, "batch")->sum, per_thread * producers);
}

TEST(MetricStore, GaugeKeepsTheLatestSettingAcrossThreads) {
  MetricStore store(now_ns());
  std::thread([&] { store.record(MetricKind::Gauge, "hit_rate", 0.25, "ratio"); }).join();
  std::thread a([&] { store.record(MetricKind::Gauge, "hit_rate", 0.75, "ratio"); });
  a.join();
  const auto m = store.collect();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].last, 0.75);
  EXPECT_EQ(m[0].count, 2u);
}

TEST(MetricStore, ResetStartsFresh) {
  MetricStore store(now_ns());
  std::thread([&] { store.record(MetricKind::Counter, "pages", 10, ""); }).join();
  store.record(MetricKind::Counter, "pages", 5, "");
  store.reset();
  EXPECT_TRUE(store.collect().empty());
  store.record(MetricKind::Counter, "pages", 2, "");
  const auto m = store.collect();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].sum, 2.0);
  EXPECT_EQ(m[0].count, 1u);
}

TEST(MetricStore, ForkedChildStartsEmpty) {
  MetricStore store(now_ns());
  store.record(MetricKind::Counter, "pages", 10, "");
  std::thread([&] { store.record(MetricKind::Counter, "pages", 1, ""); }).join();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    store.record(MetricKind::Counter, "pages", 3, "");
    const auto m = store.collect();
    _exit(m.size() == 1 && m[0].sum == 3.0 && m[0].count == 1 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const auto m = store.collect();
  EXPECT_EQ(m[0].sum, 11.0);  // the parent is untouched
}

}  // namespace
}  // namespace codeprof::core
