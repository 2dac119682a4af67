// Exports of real Profiler runs: the report reads back to the snapshot it was written from, every
// format is written through the facade, the Chrome trace holds every recorded call, and the CLI
// analyses what the profiler wrote.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <set>
#include <thread>

#include "analysis/analyze.hpp"
#include "codeprof/codeprof.hpp"
#include "codeprof/exporters.hpp"
#include "io/cli_runner.hpp"
#include "io/expect_same.hpp"
#include "io/report_reader.hpp"
#include "io/run_command.hpp"
#include "support/spin_for.hpp"

namespace codeprof {
namespace {

using test::spin_for;

// A small pipeline: 20 steps, each loading on a worker thread and computing on this one.
Snapshot run_pipeline(Profiler& p) {
  p.set_thread_name("trainer");
  for (int step = 0; step < 20; ++step) {
    auto s = p.profile_operation("train_step", Category::TrainingLoop);
    std::thread loader([&] {
      p.set_thread_name("loader");
      auto load = p.profile_operation("load_batch", Category::DataLoading);
      spin_for(std::chrono::microseconds(300));
    });
    loader.join();
    {
      auto fwd = p.profile_operation("forward", Category::ModelInference);
      std::vector<int> activations(4096, step);
      spin_for(std::chrono::microseconds(200));
    }
  }
  p.flush();
  return p.snapshot();
}

Config test_config() {
  Config c;
  c.trace_enabled = true;
  c.sampler_interval_ms = 10;
  c.metrics.cpu = true;
  return c;
}

TEST(ProfilerExports, ReportReadsBackToTheSameNumbers) {
  Profiler p(test_config());
  const Snapshot s = run_pipeline(p);
  ASSERT_NE(s.find("train_step"), nullptr);
  EXPECT_EQ(s.find("train_step")->count, 20u);
  EXPECT_EQ(s.find("load_batch")->count, 20u);
  const Findings f = analysis::analyze(s, p.config());

  const io::Report back = io::parse_report(io::to_json_report(s, f), "live.json");
  test::expect_same_snapshot(s, back.snapshot);
  test::expect_same_findings(f, back.findings);
  EXPECT_GT(s.find("load_batch")->resource(ProbeMetric::CpuTimeNs).samples, 0u) << "the CPU probe ran";
  EXPECT_FALSE(s.timelines.empty()) << "the sampler ran";
}

TEST(ProfilerExports, ChromeTraceHoldsEveryRecordedCall) {
  Profiler p(test_config());
  const Snapshot s = run_pipeline(p);
  ASSERT_EQ(s.trace_events.size(), 60u);
  const auto j = nlohmann::json::parse(io::to_chrome_trace(s));
  std::map<std::string, int> calls;
  std::set<std::string> thread_names;
  double previous_step_ts = -1;
  for (const auto& ev : j["traceEvents"]) {
    if (ev["ph"] == "M" && ev["name"] == "thread_name") thread_names.insert(ev["args"]["name"].get<std::string>().substr(0, 7));
    if (ev["ph"] != "X") continue;
    ++calls[ev["name"]];
    EXPECT_GE(ev["dur"].get<double>(), 0.0);
    if (ev["name"] == "load_batch") {
      EXPECT_EQ(ev["cat"], "data_loading");
      EXPECT_TRUE(ev["args"].contains("cpu_time")) << ev.dump();
    }
    if (ev["name"] == "train_step") {
      EXPECT_GT(ev["ts"].get<double>(), previous_step_ts);
      previous_step_ts = ev["ts"].get<double>();
    }
  }
  EXPECT_EQ(calls["train_step"], 20);
  EXPECT_EQ(calls["load_batch"], 20);
  EXPECT_EQ(calls["forward"], 20);
  EXPECT_TRUE(thread_names.count("trainer"));
  EXPECT_TRUE(thread_names.count("loader "));
}

TEST(ProfilerExports, FacadeWritesEveryFormatAndTheCliReadsTheReport) {
  test::TempDir dir("facade_exports");
  Config c = test_config();
  c.output_dir = dir.file("codeprof_output");  // does not exist yet
  c.export_formats = io::export_format_names();  // every format, the Perfetto trace included
  Profiler p(c);
  run_pipeline(p);

  const std::string report = p.export_profiling_data();
  EXPECT_TRUE(test::is_timestamped_name(std::filesystem::path(report).filename().string(), "profiling_report_", ".json"))
      << report;
  EXPECT_EQ(std::filesystem::path(report).parent_path(), std::filesystem::path(c.output_dir));
  const Snapshot back = io::read_json_report(report);
  EXPECT_EQ(back.find("forward")->count, 20u);

  const auto paths = p.export_all(dir.file("all"));
  ASSERT_EQ(paths.size(), c.export_formats.size());
  for (const auto& path : paths) {
    // Folded stacks hold one line per sampled stack: none when sampling is off (the default).
    if (path.ends_with(".folded")) EXPECT_EQ(std::filesystem::file_size(path), 0u) << path;
    // A gzipped pprof profile without samples is its header, string table and the command line:
    // 150-200 bytes, depending on the length of this executable's path.
    else if (path.ends_with(".pb.gz")) EXPECT_GT(std::filesystem::file_size(path), 100u) << path;
    else EXPECT_GT(std::filesystem::file_size(path), 200u) << path;
  }
  // The live sampler's real series pass the Prometheus lint too.
  if (std::filesystem::exists("/usr/bin/promtool")) {
    const auto prom = std::find_if(paths.begin(), paths.end(), [](const auto& x) { return x.ends_with(".prom"); });
    ASSERT_NE(prom, paths.end());
    const auto lint = test::run_command("/usr/bin/promtool check metrics < " + test::shell_quote(*prom));
    EXPECT_EQ(lint.exit_code, 0) << lint.output;
    EXPECT_EQ(lint.output, "");
  }

  const auto r = test::cli("analyze " + test::shell_quote(report), /*merge_stderr=*/false);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("train_step"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("steps: 20"), std::string::npos) << r.output;
}

// export_all writes several files, so its argument is always a directory: a file there is refused
// and left as it was; a missing path is created as a directory even when its name has a dot.
TEST(ProfilerExports, ExportAllRefusesAFileAndCreatesADottedDirectory) {
  test::TempDir dir("export_all_target");
  Config c = test_config();
  c.export_formats = {"json", "chrome", "csv", "prometheus", "html"};
  Profiler p(c);
  {
    auto s = p.profile_operation("tokenize", Category::Preprocessing);
  }
  p.set_gauge("queue_depth", 3.0);
  p.flush();

  const std::string victim = dir.file("victim.txt");
  { std::ofstream(victim) << "the user's notes\n"; }
  try {
    p.export_all(victim);
    ADD_FAILURE() << "export_all wrote to the file " << victim;
  } catch (const io::WriteError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(victim), std::string::npos) << what;
    EXPECT_NE(what.find("not a directory"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
  }
  std::ifstream in(victim);
  const std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, "the user's notes\n");
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1u) << "nothing else written next to the file";

  const std::string dotted = dir.file("reports.v2");
  const auto paths = p.export_all(dotted);
  EXPECT_TRUE(std::filesystem::is_directory(dotted));
  ASSERT_EQ(paths.size(), c.export_formats.size() + 1) << "the custom metrics' CSV too";
  std::set<std::string> distinct(paths.begin(), paths.end());
  EXPECT_EQ(distinct.size(), paths.size());
  for (const auto& path : paths) {
    EXPECT_EQ(std::filesystem::path(path).parent_path(), std::filesystem::path(dotted)) << path;
    EXPECT_TRUE(std::filesystem::is_regular_file(path)) << path;
  }
  EXPECT_EQ(std::count_if(paths.begin(), paths.end(),
                          [](const auto& x) { return x.find("profiling_custom_metrics_") != std::string::npos; }),
            1);
}

}  // namespace
}  // namespace codeprof
