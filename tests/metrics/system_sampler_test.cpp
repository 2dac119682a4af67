// The background sampler: series names and units, expected lengths, bounded rings, prompt stop,
// reset, and GPU series or a single "unavailable" entry depending on the machine.
#include "metrics/system_sampler.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "codeprof/codeprof.hpp"
#include "metrics/gpu_runtime.hpp"
#include "probe_test_util.hpp"

using namespace codeprof;
using namespace codeprof::test;

namespace {

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Waits (bounded) until the sampler has taken `n` samples; no timing assumption on a busy box.
bool wait_for_samples(const metrics::SystemSampler& s, std::int64_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (s.samples_taken() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    sleep_ms(2);
  }
  return true;
}

const TimelineSeries* find(const std::vector<TimelineSeries>& all, const std::string& name) {
  for (const auto& s : all)
    if (s.name == name) return &s;
  return nullptr;
}

Config sampler_config(std::uint32_t interval_ms, std::uint32_t capacity) {
  Config c;
  c.sampler_interval_ms = interval_ms;
  c.timeline_capacity = capacity;
  return c;
}

}  // namespace

TEST(SystemSampler, NotStartedMeansNoSeriesAndNothingReported) {
  metrics::SystemSampler s(sampler_config(10, 100), steady_now_ns());
  EXPECT_TRUE(s.series().empty());
  EXPECT_TRUE(s.unavailable().empty());
  EXPECT_TRUE(s.gpus().empty());
  EXPECT_EQ(s.samples_taken(), 0);
}

TEST(SystemSampler, SeriesHaveTheExpectedNamesUnitsAndLength) {
  const std::uint32_t interval_ms = 10;
  const std::int64_t origin = steady_now_ns();
  metrics::SystemSampler s(sampler_config(interval_ms, 1000), origin);
  const auto t0 = std::chrono::steady_clock::now();
  s.start();
  ASSERT_TRUE(wait_for_samples(s, 8));
  s.stop();
  const double elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const std::int64_t taken = s.samples_taken();
  // One sample per tick, never a burst: at most elapsed / interval samples.
  EXPECT_LE(taken, static_cast<std::int64_t>(elapsed_ms / interval_ms) + 1);

  const auto all = s.series();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"process_cpu_percent", "percent"},
      {"system_cpu_percent", "percent"},
      {"rss_bytes", "bytes"},
      {"vm_bytes", "bytes"},
      {"page_faults", "per_second"},
      {"major_page_faults", "per_second"},
      {"ctx_switches_voluntary", "per_second"},
      {"ctx_switches_involuntary", "per_second"},
      {"io_read_bytes_per_s", "bytes_per_second"},
      {"io_write_bytes_per_s", "bytes_per_second"},
      {"storage_read_bytes_per_s", "bytes_per_second"},
      {"storage_write_bytes_per_s", "bytes_per_second"},
      {"open_fds", "count"},
      {"threads", "count"},
  };
  for (const auto& [name, unit] : expected) {
    const TimelineSeries* t = find(all, name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->unit, unit) << name;
    // Levels also have the point taken at start (rates need an interval, so they do not).
    const bool level = name == "rss_bytes" || name == "vm_bytes" || name == "open_fds" || name == "threads";
    ASSERT_EQ(t->values.size(), static_cast<std::size_t>(taken) + (level ? 1 : 0)) << name;
    ASSERT_EQ(t->t_ns.size(), t->values.size()) << name;
    for (std::size_t i = 1; i < t->t_ns.size(); ++i) {
      EXPECT_GT(t->t_ns[i] - t->t_ns[i - 1], interval_ms * 1'000'000 / 2) << name;
    }
    EXPECT_GT(t->t_ns.front(), 0) << name;  // relative to the origin, first tick after it
    for (double v : t->values) EXPECT_GE(v, 0.0) << name;
  }
  EXPECT_GT(find(all, "rss_bytes")->values.back(), 1e6);
  EXPECT_GE(find(all, "vm_bytes")->values.back(), find(all, "rss_bytes")->values.back());
  EXPECT_GE(find(all, "threads")->values.back(), 2.0);  // this thread and the sampler (not yet at the start point)
  EXPECT_GE(find(all, "open_fds")->values.back(), 3.0);  // stdin/out/err at least
  for (double v : find(all, "system_cpu_percent")->values) EXPECT_LE(v, 100.0);
}

TEST(SystemSampler, RingsStayBoundedAndKeepTheNewestSamples) {
  metrics::SystemSampler s(sampler_config(2, 4), steady_now_ns());
  s.start();
  ASSERT_TRUE(wait_for_samples(s, 12));
  s.stop();
  const auto all = s.series();
  ASSERT_FALSE(all.empty());
  for (const auto& t : all) {
    if (t.name.rfind("gpu", 0) == 0) continue;  // GPU fields may skip a sample on a read error
    ASSERT_EQ(t.values.size(), 4u) << t.name;
    for (std::size_t i = 1; i < t.t_ns.size(); ++i) EXPECT_GT(t.t_ns[i], t.t_ns[i - 1]) << t.name;
  }
  // The ring holds the last four of >= 12 ticks of 2 ms: none of the first ticks.
  EXPECT_GE(find(all, "rss_bytes")->t_ns.front(), 8 * 2'000'000 / 2);
}

TEST(SystemSampler, StopsPromptlyEvenWithALongInterval) {
  metrics::SystemSampler s(sampler_config(60'000, 10), steady_now_ns());
  s.start();
  sleep_ms(20);
  const auto t0 = std::chrono::steady_clock::now();
  s.stop();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ms, 5'000.0);  // a 60 s sleep would blow this; the condition variable wakes at once
  // Only the early cadence's ticks (at least 10 ms apart) came in those 20 ms, not a 60 s one.
  EXPECT_LE(s.samples_taken(), 3);
  s.stop();  // idempotent
}

TEST(SystemSampler, EarlyInARunItSamplesOftenEvenWithALongInterval) {
  // A 1 s interval alone would take 8 s for these 8 samples: the early cadence takes them in the
  // first few hundred milliseconds, so that a short run has a timeline.
  metrics::SystemSampler s(sampler_config(1000, 100), steady_now_ns());
  s.start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  while (s.samples_taken() < 8 && std::chrono::steady_clock::now() < deadline) sleep_ms(5);
  s.stop();
  EXPECT_GE(s.samples_taken(), 8);
}

TEST(SystemSampler, SampleNowAddsAPointForASnapshot) {
  metrics::SystemSampler s(sampler_config(60'000, 100), steady_now_ns());
  s.sample_now();  // not started: nothing
  EXPECT_EQ(s.samples_taken(), 0);
  s.start();
  const auto rss_points = [&] {
    const auto all = s.series();
    return find(all, "rss_bytes")->values.size();
  };
  EXPECT_EQ(rss_points(), 1u);  // the start
  sleep_ms(6);
  const std::int64_t before = s.samples_taken();
  s.sample_now();
  // At least one more: early in a run the sampler's own thread samples every 1/32 of the elapsed
  // time, so one of its samples may land between the two reads (seen under ASan: before 1, after 2).
  EXPECT_GE(s.samples_taken(), before + 1);
  s.stop();
}

TEST(SystemSampler, ResetDropsSamplesAndMovesTheOrigin) {
  metrics::SystemSampler s(sampler_config(5, 100), steady_now_ns());
  s.start();
  ASSERT_TRUE(wait_for_samples(s, 3));
  const std::int64_t new_origin = steady_now_ns();
  s.reset(new_origin);
  const std::int64_t after_reset = s.samples_taken();
  // Only the levels taken at the reset itself remain: one point each, at or after the new origin.
  for (const auto& t : s.series()) {
    const bool level = t.name == "rss_bytes" || t.name == "vm_bytes" || t.name == "open_fds" || t.name == "threads";
    EXPECT_LE(t.values.size(), level ? 1u : 0u) << t.name;
    if (level && !t.t_ns.empty()) {
      EXPECT_GE(t.t_ns.front(), 0) << t.name;
    }
  }
  ASSERT_TRUE(wait_for_samples(s, after_reset + 2));
  s.stop();
  const auto all = s.series();
  const TimelineSeries* rss = find(all, "rss_bytes");
  ASSERT_NE(rss, nullptr);
  ASSERT_FALSE(rss->t_ns.empty());
  EXPECT_GE(rss->t_ns.front(), 0);
}

TEST(SystemSampler, ReadersSeeConsistentSeriesWhileItRuns) {
  metrics::SystemSampler s(sampler_config(1, 50), steady_now_ns());
  s.start();
  for (int i = 0; i < 200; ++i) {
    for (const auto& t : s.series()) ASSERT_EQ(t.t_ns.size(), t.values.size()) << t.name;
  }
  s.stop();
}

TEST(SystemSampler, ProcessCpuPercentFollowsABusyThread) {
  metrics::SystemSampler s(sampler_config(20, 1000), steady_now_ns());
  s.start();
  const std::int64_t before = s.samples_taken();
  // Burn CPU until several whole intervals lie inside the busy period.
  while (s.samples_taken() < before + 5) burn_cpu(5'000'000);
  s.stop();
  const auto all = s.series();
  const TimelineSeries* cpu = find(all, "process_cpu_percent");
  ASSERT_NE(cpu, nullptr);
  double peak = 0;
  for (double v : cpu->values) peak = std::max(peak, v);
  // One thread spinning: some interval saw a good share of a core (even on a loaded box).
  EXPECT_GT(peak, 20.0);
}

TEST(SystemSampler, WithoutAGpuDriverTheGpuIsReportedUnavailableOnce) {
  if (metrics::Nvml::instance().available()) GTEST_SKIP() << "NVML present: covered by the GPU tests";
  metrics::SystemSampler s(sampler_config(2, 100), steady_now_ns());
  s.start();
  ASSERT_TRUE(wait_for_samples(s, 5));
  s.stop();
  s.start();  // a restart must not report it again
  s.stop();
  int reported = 0;
  for (const auto& u : s.unavailable())
    if (u.what == "gpu_sampler") {
      ++reported;
      EXPECT_NE(u.reason.find("libnvidia-ml.so.1"), std::string::npos) << u.reason;
    }
  EXPECT_EQ(reported, 1);
  EXPECT_TRUE(s.gpus().empty());
  for (const auto& t : s.series()) EXPECT_NE(t.name.rfind("gpu", 0), 0u) << t.name;
}

TEST(SystemSampler, GpuSeriesPerDeviceWhenNvmlIsPresent) {
  const metrics::Nvml& nvml = metrics::Nvml::instance();
  if (!nvml.available()) GTEST_SKIP() << "no GPU: " << nvml.unavailable_reason();
  metrics::SystemSampler s(sampler_config(20, 100), steady_now_ns());
  s.start();
  ASSERT_TRUE(wait_for_samples(s, 3));
  s.stop();
  const auto gpus = s.gpus();
  ASSERT_EQ(static_cast<int>(gpus.size()), nvml.device_count());
  EXPECT_FALSE(gpus[0].name.empty());
  EXPECT_GT(gpus[0].memory_total_bytes, 0u);
  const auto all = s.series();
  const TimelineSeries* used = find(all, "gpu0_memory_used_bytes");
  ASSERT_NE(used, nullptr);
  ASSERT_FALSE(used->values.empty());
  EXPECT_LE(used->values.back(), static_cast<double>(gpus[0].memory_total_bytes));
  if (const TimelineSeries* util = find(all, "gpu0_utilization_percent")) {
    for (double v : util->values) EXPECT_LE(v, 100.0);
  }
}

TEST(SystemSampler, SnapshotsOfAProfilerCarryTheSeries) {
  Config c = sampler_config(10, 100);
  Profiler p(c);
  // Poll the snapshot until the sampler has produced a few points (bounded wait).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  Snapshot snap;
  do {
    sleep_ms(10);
    snap = p.snapshot();
  } while ((!snap.timeline("threads") || snap.timeline("threads")->values.size() < 3) &&
           std::chrono::steady_clock::now() < deadline);
  const TimelineSeries* threads = snap.timeline("threads");
  ASSERT_NE(threads, nullptr);
  ASSERT_GE(threads->values.size(), 3u);
  // This thread, the collector and the sampler.
  EXPECT_GE(threads->values.back(), 3.0);
  if (!metrics::Nvml::instance().available()) {
    int reported = 0;
    for (const auto& u : snap.run.unavailable) reported += u.what == "gpu_sampler";
    EXPECT_EQ(reported, 1);
  }
}
