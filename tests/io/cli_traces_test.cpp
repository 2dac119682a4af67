// The codeprof command on real PyTorch profiler traces (../shared/fixtures/kineto): ranks, steps and
// added operations checked against the traces read independently here (zlib + nlohmann), and
// broken traces rejected with one line that names the file and the byte offset.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "codeprof/exporters.hpp"
#include "io/cli_runner.hpp"
#include "io/run_command.hpp"

namespace codeprof {
namespace {

const std::string kKineto = std::string(CODEPROF_FIXTURES_DIR) + "/kineto/";

std::string gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  std::string out;
  char buf[65536];
  int n;
  while (f && (n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  if (f) gzclose(f);
  return out;
}

nlohmann::json trace(const std::string& name) { return nlohmann::json::parse(gunzip(kKineto + name)); }

// Standard output only: the tests parse it.
test::CommandResult cli_stdout(const std::string& args) { return test::cli(args, /*merge_stderr=*/false); }

TEST(CliTraces, TwoRanksOfOneJob) {
  const auto r = cli_stdout("analyze --format json " + kKineto + "sampled_rank-0.json.gz " + kKineto + "sampled_rank-1.json.gz");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto job = nlohmann::json::parse(r.output);
  EXPECT_TRUE(job["one_job"].get<bool>());
  ASSERT_EQ(job["ranks"].size(), 2u);
  for (int rank = 0; rank < 2; ++rank) {
    SCOPED_TRACE(rank);
    const auto t = trace("sampled_rank-" + std::to_string(rank) + ".json.gz");
    // Independently: the rank from distributedInfo, the steps from ProfilerStep#N events.
    std::uint64_t steps = 0;
    double step_us = 0;
    for (const auto& ev : t["traceEvents"]) {
      if (ev.value("ph", "") == "X" && ev.value("name", "").rfind("ProfilerStep#", 0) == 0) {
        ++steps;
        step_us += ev["dur"].get<double>();
      }
    }
    const auto& row = job["ranks"][rank];
    EXPECT_EQ(row["rank"], t["distributedInfo"]["rank"]);
    EXPECT_EQ(row["steps"], steps);
    EXPECT_NEAR(row["step_time"].get<double>(), step_us / 1e6, 1e-6);
    EXPECT_GT(row["collective_time"].get<double>(), 0.0) << "nccl:all_reduce and friends";
    EXPECT_LT(row["collective_time"].get<double>(), row["step_time"].get<double>());
  }
  // The two ranks' steps differ by under 1 %: no straggler.
  EXPECT_TRUE(job["stragglers"].empty()) << job["stragglers"].dump();
  EXPECT_EQ(job["reports"].size(), 2u);

  const auto table = cli_stdout("analyze " + kKineto + "sampled_rank-0.json.gz " + kKineto + "sampled_rank-1.json.gz");
  EXPECT_NE(table.output.find("     0  -     sampled_rank-0.json.gz      2"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("Step-time skew over time"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("none: every rank is within 10.0 % of the others"), std::string::npos) << table.output;
}

TEST(CliTraces, DiffOfTwoRunsListsAddedOperations) {
  // Independently: CPU operation names in each run.
  const auto names = [](const nlohmann::json& t) {
    std::set<std::string> out;
    for (const auto& ev : t["traceEvents"])
      if (ev.value("ph", "") == "X" && ev.value("cat", "") == "cpu_op") out.insert(ev["name"].get<std::string>());
    return out;
  };
  const auto base = names(trace("compare_base.json.gz")), next = names(trace("compare_test.json.gz"));
  std::set<std::string> added;
  for (const auto& n : next)
    if (!base.count(n)) added.insert(n);
  ASSERT_FALSE(added.empty());

  const auto r = cli_stdout("diff " + kKineto + "compare_base.json.gz " + kKineto + "compare_test.json.gz --format json --max-regression 1000");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  std::set<std::string> reported_added;
  for (const auto& op : j["operations"])
    if (op["status"] == "added") reported_added.insert(op["name"].get<std::string>());
  for (const auto& n : added) EXPECT_TRUE(reported_added.count(n)) << n << " was added in compare_test";
  EXPECT_EQ(j["regressions"], 0);
}

TEST(CliTraces, EveryFixtureAnalysesWithoutError) {
  for (const auto& entry : std::filesystem::directory_iterator(kKineto)) {
    if (entry.path().extension() != ".gz") continue;
    SCOPED_TRACE(entry.path().filename().string());
    for (const char* format : {"text", "json", "html"}) {
      const auto r = cli_stdout(std::string("analyze --format ") + format + " " + test::shell_quote(entry.path().string()));
      EXPECT_EQ(r.exit_code, 0) << r.output.substr(0, 300);
      EXPECT_GT(r.output.size(), 500u);
    }
  }
}

TEST(CliTraces, BrokenTracesGiveOneLineWithTheByteOffset) {
  test::TempDir dir("cli_broken");
  const std::string json = gunzip(kKineto + "alexnet_benchmark_result_2869224_1695835535_trace.json.gz");
  const std::string truncated = dir.file("truncated.json");
  io::write_file_atomic(truncated, json.substr(0, json.size() / 2));
  std::ifstream gz(kKineto + "simple_add_benchmark_result_493459_1694039959_trace.json.gz", std::ios::binary);
  const std::string gz_bytes((std::istreambuf_iterator<char>(gz)), std::istreambuf_iterator<char>());
  const std::string bad_gzip = dir.file("bad.json.gz");
  io::write_file_atomic(bad_gzip, gz_bytes.substr(0, gz_bytes.size() / 3));
  const std::string not_json = dir.file("notes.json");
  io::write_file_atomic(not_json, "these are not the traces you are looking for\n");

  for (const auto& path : {truncated, bad_gzip, not_json}) {
    SCOPED_TRACE(path);
    const auto r = test::cli("analyze " + test::shell_quote(path));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(r.output.rfind("codeprof: " + path + ": ", 0), 0u) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find("byte"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace codeprof
