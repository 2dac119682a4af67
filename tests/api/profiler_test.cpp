// The Profiler facade end to end: scopes from several threads, switches, reset, snapshots with
// run metadata, analysis entry points and exports on disk.
#include "codeprof/codeprof.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace codeprof;
namespace fs = std::filesystem;

namespace {

Config quiet_config() {
  Config c;
  c.sampler_enabled = false;
  return c;
}

fs::path temp_dir(const std::string& name) {
  auto p = fs::temp_directory_path() / ("codeprof_api_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p);
  return p;
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

TEST(Profiler, RecordsNestedOperationsFromSeveralThreads) {
  Profiler p(quiet_config());
  auto work = [&](int n) {
    for (int i = 0; i < n; ++i) {
      CODEPROF_SCOPE(p, "api.step", Category::TrainingLoop);
      { auto op = p.profile_operation("api.load_" + std::to_string(i % 2), Category::DataLoading); }
    }
  };
  std::thread a(work, 500), b(work, 300);
  a.join();
  b.join();
  const Snapshot s = p.snapshot();
  ASSERT_NE(s.find("api.step"), nullptr);
  EXPECT_EQ(s.find("api.step")->count, 800u);
  EXPECT_EQ(s.find("api.load_0")->count + s.find("api.load_1")->count, 800u);
  EXPECT_EQ(s.find("api.load_0")->category, Category::DataLoading);
  EXPECT_EQ(s.events_recorded, 1600u);
  EXPECT_EQ(s.events_dropped, 0u);
  EXPECT_EQ(s.run.source, "live");
  EXPECT_EQ(s.run.pid, static_cast<std::int64_t>(::getpid()));
  EXPECT_FALSE(s.run.host.empty());
  EXPECT_NE(s.run.command.find("api_tests"), std::string::npos);
  EXPECT_EQ(s.run.version, kVersion);
  EXPECT_GT(s.run.wall_ns, 0);
  EXPECT_GT(s.run.start_unix_ns, 1'700'000'000'000'000'000);
}

TEST(Profiler, SwitchesAtRunTime) {
  Profiler p(quiet_config());
  p.set_category_enabled(Category::Io, false);
  for (int i = 0; i < 10; ++i) {
    auto a = p.profile_operation("api.io", Category::Io);
    auto b = p.profile_operation("api.cpu", Category::Cpu);
  }
  p.set_enabled(false);
  for (int i = 0; i < 10; ++i) auto b = p.profile_operation("api.cpu", Category::Cpu);
  EXPECT_FALSE(p.enabled());
  EXPECT_FALSE(p.category_enabled(Category::Io));
  EXPECT_FALSE(p.config().enabled);
  p.set_enabled(true);
  const Snapshot s = p.snapshot();
  EXPECT_EQ(s.find("api.io"), nullptr);
  EXPECT_EQ(s.find("api.cpu")->count, 10u);
  EXPECT_EQ(s.run.category_mask & category_bit(Category::Io), 0u);

  Config c = p.config();
  c.category_enabled[index_of(Category::Io)] = true;
  c.thresholds[index_of(Category::Io)] = {0.001, 0.002};
  p.update_config(c);
  EXPECT_TRUE(p.category_enabled(Category::Io));
  EXPECT_DOUBLE_EQ(p.config().thresholds[index_of(Category::Io)].critical_s, 0.002);
  EXPECT_THROW(p.set_thresholds(Category::Io, {3.0, 1.0}), ConfigError);
  EXPECT_DOUBLE_EQ(p.config().thresholds[index_of(Category::Io)].critical_s, 0.002);
}

TEST(Profiler, ResetStartsFreshStatisticsWithoutStopping) {
  Profiler p(quiet_config());
  for (int i = 0; i < 100; ++i) auto a = p.profile_operation("api.before", Category::Custom);
  p.reset();
  for (int i = 0; i < 7; ++i) auto a = p.profile_operation("api.after", Category::Custom);
  const Snapshot s = p.snapshot();
  EXPECT_EQ(s.find("api.before"), nullptr);
  EXPECT_EQ(s.find("api.after")->count, 7u);
  EXPECT_EQ(s.events_recorded, 7u);
  EXPECT_EQ(s.events_recorded_total, 107u);
}

TEST(Profiler, BottlenecksRecommendationsAndExports) {
  Config c = quiet_config();
  c.thresholds[index_of(Category::DataLoading)] = {0.005, 0.020};
  Profiler p(c);
  for (int i = 0; i < 5; ++i) {
    CODEPROF_SCOPE(p, "api.train_step", Category::TrainingLoop);
    {
      CODEPROF_SCOPE(p, "api.slow_loader", Category::DataLoading);
      sleep_ms(25);
    }
    { CODEPROF_SCOPE(p, "api.fast_forward", Category::ModelInference); }
  }
  const auto bottlenecks = p.get_bottlenecks(0.0);
  ASSERT_FALSE(bottlenecks.empty());
  EXPECT_EQ(bottlenecks.front().operation, "api.slow_loader");
  EXPECT_EQ(bottlenecks.front().type, Category::DataLoading);
  EXPECT_EQ(bottlenecks.front().optimization_priority, Priority::High);
  EXPECT_GE(bottlenecks.front().avg_duration, 0.025);
  EXPECT_LT(bottlenecks.front().avg_duration, 0.5);
  // Nothing under a 1 s mean.
  EXPECT_TRUE(p.get_bottlenecks(1.0).empty());

  const auto dir = temp_dir("exports");
  const std::string json = p.export_profiling_data(dir.string());
  EXPECT_TRUE(fs::exists(json));
  EXPECT_EQ(fs::path(json).parent_path(), dir);
  EXPECT_EQ(fs::path(json).filename().string().rfind("profiling_report_", 0), 0u);
  EXPECT_EQ(fs::path(json).extension(), ".json");
  std::ifstream in(json);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"api.slow_loader\""), std::string::npos);
  EXPECT_NE(text.find("\"schema_version\""), std::string::npos);

  const std::string named = p.export_profiling_data((dir / "named.json").string());
  EXPECT_EQ(named, (dir / "named.json").string());
  EXPECT_TRUE(fs::exists(named));

  const auto paths = p.export_all((dir / "all").string());
  EXPECT_EQ(paths.size(), p.config().export_formats.size());
  for (const auto& path : paths) EXPECT_GT(fs::file_size(path), 0u) << path;
  fs::remove_all(dir);
}

TEST(Profiler, SamplerSeriesAppearInSnapshots) {
  Config c;
  c.sampler_interval_ms = 20;
  Profiler p(c);
  sleep_ms(250);
  const Snapshot s = p.snapshot();
  const TimelineSeries* rss = s.timeline("rss_bytes");
  ASSERT_NE(rss, nullptr);
  EXPECT_GE(rss->values.size(), 3u);
  EXPECT_GT(rss->values.back(), 1e6);
}

TEST(Profiler, DefaultProfilerAndZoneMacro) {
  for (int i = 0; i < 3; ++i) {
    CODEPROF_ZONE("api.zone", Category::Custom);
  }
  const Snapshot s = default_profiler().snapshot();
  ASSERT_NE(s.find("api.zone"), nullptr);
  EXPECT_EQ(s.find("api.zone")->count, 3u);
}

TEST(Profiler, DashboardPortWithoutTheDashboardLibraryIsReportedNotFatal) {
  Config c = quiet_config();
  c.dashboard_port = 1;  // this test binary does not link codeprof::dashboard
  Profiler p(c);
  const Snapshot s = p.snapshot();
  bool reported = false;
  for (const auto& u : s.run.unavailable) reported |= u.what == "dashboard";
  EXPECT_TRUE(reported);
}

TEST(Profiler, AlertWebhookWithoutTheDashboardLibraryIsReportedNotFatal) {
  Config c = quiet_config();
  c.alerts.webhook_url = "http://127.0.0.1:9/hook";  // the sender lives in codeprof::dashboard, not linked here
  Profiler p(c);
  const Snapshot s = p.snapshot();
  std::string reason;
  for (const auto& u : s.run.unavailable)
    if (u.what == "alerts_webhook") reason = u.reason;
  EXPECT_EQ(reason, "alerts.webhook.url is set but codeprof::dashboard (which sends it) is not linked into this program");
}

TEST(Profiler, RankIdentityComesFromTheTorchrunVariablesAndTheJobName) {
  ::setenv("RANK", "5", 1);
  ::setenv("LOCAL_RANK", "1", 1);
  ::setenv("WORLD_SIZE", "8", 1);
  ::setenv("CODEPROF_JOB_NAME", "bert-pretrain", 1);
  Config c = Config::from_env();
  ::unsetenv("RANK");
  ::unsetenv("LOCAL_RANK");
  ::unsetenv("WORLD_SIZE");
  ::unsetenv("CODEPROF_JOB_NAME");
  c.sampler_enabled = false;
  Profiler p(c);
  const Snapshot s = p.snapshot();
  EXPECT_EQ(s.run.rank, 5);
  EXPECT_EQ(s.run.local_rank, 1);
  EXPECT_EQ(s.run.world_size, 8);
  EXPECT_EQ(s.run.job_name, "bert-pretrain");
  EXPECT_FALSE(s.run.host.empty());
}
