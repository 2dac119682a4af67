// The codeprof executable, run as a user runs it: exit codes, one-line errors that name the file,
// analyze/diff/serve output checked against the inputs the test wrote.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "codeprof/exporters.hpp"
#include "io/report_reader.hpp"
#include "io/cli_runner.hpp"
#include "io/run_command.hpp"
#include "io/sample_snapshot.hpp"

extern char** environ;

namespace codeprof {
namespace {

using test::cli;
using test::expect_one_line_error;
using test::kCli;
using test::write_report;

TEST(Cli, VersionAndHelp) {
  auto r = cli("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "codeprof 0.1.0\n");
  r = cli("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* word : {"analyze", "diff", "serve", "Exit codes"}) EXPECT_NE(r.output.find(word), std::string::npos) << word;
  r = cli("diff --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--max-regression"), std::string::npos) << r.output;
}

TEST(Cli, UsageErrorsExitWithTwo) {
  expect_one_line_error(cli(""), "A subcommand is required");
  expect_one_line_error(cli("analyze"), "FILE is required");
  expect_one_line_error(cli("analyze x.json --format xml"), "--format");
  expect_one_line_error(cli("frobnicate"), "frobnicate");
}

TEST(Cli, BadFilesGiveOneLineNamingTheFile) {
  test::TempDir dir("cli_bad");
  expect_one_line_error(cli("analyze " + dir.file("missing.json")), dir.file("missing.json") + ": no such file");
  expect_one_line_error(cli("analyze " + dir.path().string()), ": is a directory");

  const std::string full = io::to_json_report(test::sample_snapshot(), {});
  const std::string truncated = dir.file("truncated.json");
  io::write_file_atomic(truncated, full.substr(0, full.size() / 2));
  expect_one_line_error(cli("analyze " + truncated), truncated + ": not valid JSON at byte " + std::to_string(full.size() / 2));

  auto j = nlohmann::ordered_json::parse(full);
  j["operations"][1]["count"] = "lots";
  const std::string wrong = dir.file("wrong_type.json");
  io::write_file_atomic(wrong, j.dump());
  expect_one_line_error(cli("analyze " + wrong), wrong + ": operations[1].count: expected a non-negative integer");

  const std::string empty = dir.file("empty.json");
  io::write_file_atomic(empty, "");
  expect_one_line_error(cli("analyze " + empty), empty + ": the file is empty");

  const std::string config = dir.file("bad.toml");
  io::write_file_atomic(config, "[thresholds.data_loading]\nwarning = \"soon\"\n");
  const auto r = cli("analyze " + write_report(dir, "ok.json", test::sample_snapshot()) + " --config " + config);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("thresholds.data_loading.warning"), std::string::npos) << r.output;
}

TEST(Cli, AnalyzeReportPrintsTheSummary) {
  test::TempDir dir("cli_analyze");
  const std::string report = write_report(dir, "run.json", test::sample_snapshot());
  const auto r = cli("analyze " + report, false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* text : {"codeprof analyze: train.py --epochs 3 (host worker-7, pid 4242, rank 1 of 4, local rank 1, job nightly-bert)",
                           "Classification", "Top operations by total time", "Bottlenecks", "Recommendations",
                           "train_step", "load_batch", "data_loading", "7.50 s", "25.0 ms", "Unavailable",
                           "gpu_memory: no NVIDIA driver: libnvidia-ml.so.1 not found"})
    EXPECT_NE(r.output.find(text), std::string::npos) << text << "\n" << r.output;
  // Operations are listed by total time: train_step (12 s) before load_batch (7.5 s) before forward.
  const auto train = r.output.find("  train_step "), load = r.output.find("  load_batch "), fwd = r.output.find("  forward ");
  EXPECT_LT(train, load);
  EXPECT_LT(load, fwd);
}

TEST(Cli, AnalyzeWritesJsonAndHtml) {
  test::TempDir dir("cli_formats");
  const Snapshot original = test::sample_snapshot();
  const std::string report = write_report(dir, "run.json", original);
  const std::string json_out = dir.file("out/analysis.json");
  auto r = cli("analyze " + report + " --format json -o " + json_out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const io::Report back = io::read_report(json_out);
  ASSERT_EQ(back.snapshot.operations.size(), original.operations.size());
  for (std::size_t i = 0; i < original.operations.size(); ++i) {
    EXPECT_EQ(back.snapshot.operations[i].total_ns, original.operations[i].total_ns);
    EXPECT_EQ(back.snapshot.operations[i].p95_ns, original.operations[i].p95_ns);
  }
  r = cli("analyze " + report + " --format json", false);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(r.output)["operations"].size(), original.operations.size());

  const std::string html_out = dir.file("page.html");
  r = cli("analyze " + report + " --format html -o " + html_out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(html_out);
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("load_batch"), std::string::npos);
}

// Four ranks of one job, 10 steps of 100 ms each. Rank 2 computes 80 ms per step and spends 5 ms
// in all-reduce, the others compute 50 ms and wait 35 ms there for rank 2: a straggler that step
// times alone would not show.
Snapshot rank_snapshot(int rank, std::uint64_t forward_ms, std::uint64_t allreduce_ms) {
  Snapshot s;
  s.run.rank = rank;
  s.run.world_size = 4;
  s.run.command = "ddp_train.py";
  s.run.wall_ns = 1'000'000'000;
  constexpr std::uint64_t ms = 1'000'000;
  s.operations.push_back(test::make_operation(0, "ProfilerStep", Category::TrainingLoop, 10, 100 * ms));
  s.operations.push_back(test::make_operation(1, "forward_backward", Category::ModelInference, 10, forward_ms * ms));
  s.operations.push_back(test::make_operation(2, "nccl:all_reduce", Category::MultiGpu, 10, allreduce_ms * ms));
  s.operations.push_back(test::make_operation(3, "load_batch", Category::DataLoading, 10, 10 * ms));
  s.call_tree = {{kRootOperation, 0, 10, 1000 * ms}, {0, 1, 10, 10 * forward_ms * ms}, {0, 2, 10, 10 * allreduce_ms * ms},
                 {0, 3, 10, 100 * ms}};
  for (int i = 0; i < 10; ++i) s.steps.push_back({i, static_cast<std::int64_t>(i * 100 * ms), static_cast<std::int64_t>((i + 1) * 100 * ms)});
  return s;
}

TEST(Cli, SeveralRanksGetATableAndTheStraggler) {
  test::TempDir dir("cli_ranks");
  std::string files;
  for (int rank : {3, 0, 2, 1})  // any order: the table is by rank
    files += " " + write_report(dir, "rank" + std::to_string(rank) + ".json",
                                rank == 2 ? rank_snapshot(2, 80, 5) : rank_snapshot(rank, 50, 35));
  auto r = cli("analyze" + files, false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Ranks\n"), std::string::npos) << r.output;
  const auto row0 = r.output.find("\n     0  "), row3 = r.output.find("\n     3  ");
  EXPECT_NE(row0, std::string::npos) << r.output;
  EXPECT_LT(row0, row3);
  EXPECT_NE(r.output.find("rank 2 computes longer outside collectives: 95.0 ms per step vs 65.0 ms on the other ranks "
                          "(median), +46.2 % (+30.0 ms)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("rank 2 waits less in collectives, so the other ranks wait for it: 5.0 ms per step vs 35.0 ms"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("rank 0 computes longer"), std::string::npos);
  EXPECT_EQ(r.output.find("has slow steps"), std::string::npos) << "step times are equal";

  r = cli("analyze" + files + " --format json", false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["kind"], "codeprof-job-analysis");
  EXPECT_TRUE(j["one_job"].get<bool>());
  ASSERT_EQ(j["stragglers"].size(), 2u);
  for (const auto& s : j["stragglers"]) EXPECT_EQ(s["rank"], 2);
  EXPECT_EQ(j["ranks"][0]["rank"], 0);
  EXPECT_EQ(j["reports"].size(), 4u);

  // No straggler when all ranks look alike.
  std::string alike;
  for (int rank : {0, 1}) alike += " " + write_report(dir, "alike" + std::to_string(rank) + ".json", rank_snapshot(rank, 50, 35));
  r = cli("analyze" + alike, false);
  EXPECT_NE(r.output.find("none: every rank is within 10.0 % of the others"), std::string::npos) << r.output;

  // Files without distinct ranks are not taken for one job.
  r = cli("analyze " + write_report(dir, "a.json", test::sample_snapshot()) + " " +
          write_report(dir, "b.json", test::sample_snapshot()), false);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("do not carry distinct ranks"), std::string::npos) << r.output;
}

TEST(Cli, DiffExitsWithOneOnAPlantedRegression) {
  test::TempDir dir("cli_diff");
  const Snapshot base = test::sample_snapshot();
  Snapshot next = base;
  auto& load = next.operations[1];  // load_batch: 25 ms -> 37.5 ms mean (+50 %)
  load.total_ns = load.total_ns * 3 / 2;
  load.p95_ns = load.p95_ns * 3 / 2;
  next.operations.erase(next.operations.begin() + 3);  // "<script>..." removed
  next.operations.push_back(test::make_operation(9, "augment", Category::Preprocessing, 50, 2'000'000));
  const std::string a = write_report(dir, "base.json", base), b = write_report(dir, "new.json", next);

  auto r = cli("diff " + a + " " + b + " --max-regression 10", false);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("REGRESSED  load_batch"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("25.0 ms -> 37.5 ms (+50.0 %)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 operation regressed by more than 10.0 % (mean duration): load_batch +50.0 %"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("+ augment [preprocessing]: 50 calls"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("- <script>alert(1)</script> & co [custom]"), std::string::npos) << r.output;

  EXPECT_EQ(cli("diff " + a + " " + b + " --max-regression 60%").exit_code, 0);
  EXPECT_EQ(cli("diff " + a + " " + b).exit_code, 0) << "without a limit nothing is gated";
  EXPECT_EQ(cli("diff " + a + " " + b + " --max-regression 10 --metric total").exit_code, 1);
  EXPECT_EQ(cli("diff " + a + " " + b + " --max-regression 10 --min-duration 1").exit_code, 0)
      << "load_batch's mean is far below 1 s";
  EXPECT_EQ(cli("diff " + a + " " + a + " --max-regression 0").exit_code, 0) << "a run against itself";

  r = cli("diff " + a + " " + b + " --max-regression 10 --format json", false);
  EXPECT_EQ(r.exit_code, 1);
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["regressions"], 1);
  bool saw_load = false;
  for (const auto& op : j["operations"]) {
    if (op["name"] == "load_batch") {
      saw_load = true;
      EXPECT_TRUE(op["regressed"].get<bool>());
      EXPECT_DOUBLE_EQ(op["change"]["mean"].get<double>(), 0.5);
      EXPECT_DOUBLE_EQ(op["base"]["mean"].get<double>(), 0.025);
      EXPECT_EQ(op["change"]["calls"], 0.0);
    } else if (op["name"] == "augment") {
      EXPECT_EQ(op["status"], "added");
      EXPECT_EQ(op["base"], nullptr);
    }
  }
  EXPECT_TRUE(saw_load);
  expect_one_line_error(cli("diff " + a + " " + dir.file("nope.json")), dir.file("nope.json") + ": no such file");
  expect_one_line_error(cli("diff " + a + " " + b + " --max-regression lots"), "--max-regression");
}

// ---- serve: start on a free port, fetch the page over a plain socket, stop with SIGTERM.
std::string http_get(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::write(fd, request.data(), request.size()) < 0) return "";
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) response.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return response;
}

TEST(Cli, ServeShowsASavedReportUntilStopped) {
  test::TempDir dir("cli_serve");
  const std::string report = write_report(dir, "run.json", test::sample_snapshot());
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<std::string> args = {kCli, "serve", report, "--port", "0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, kCli.c_str(), &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);

  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
  const std::string prefix = " at http://127.0.0.1:";
  const auto at = line.find(prefix);
  ASSERT_NE(at, std::string::npos) << line;
  const int port = std::atoi(line.c_str() + at + prefix.size());
  ASSERT_GT(port, 0) << line;
  const std::string page = http_get(port, "/");
  EXPECT_NE(page.find("200"), std::string::npos) << page.substr(0, 200);
  const std::string api = http_get(port, "/api/operations");
  EXPECT_NE(api.find("load_batch"), std::string::npos) << api.substr(0, 300);

  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << "killed by a signal instead of stopping cleanly";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ::close(out[0]);
}

}  // namespace
}  // namespace codeprof
