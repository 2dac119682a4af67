// The codeprof command used carelessly or with hostile input: output that cannot be written, gates
// that must not turn off, inputs that are pipes, gzip, deeply nested or ill-formed, names with
// control characters, a serve that must stop at once with slow clients connected.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "codeprof/exporters.hpp"
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

// Runs through bash, for process substitution and redirections.
test::CommandResult bash(const std::string& script) {
  return test::run_command("bash -c " + test::shell_quote(script));
}

TEST(CliOutput, AFailedWriteToStdoutExitsWithTwoNamingTheReason) {
  test::TempDir dir("cli_full");
  const std::string report = write_report(dir, "run.json", test::sample_snapshot());
  for (const char* format : {"text", "json", "html"}) {
    const auto r = bash(test::shell_quote(kCli) + " analyze " + report + " --format " + format + " > /dev/full");
    expect_one_line_error(r, "cannot write the output to standard output: No space left on device");
  }
  const auto d = bash(test::shell_quote(kCli) + " diff " + report + " " + report + " > /dev/full");
  expect_one_line_error(d, "No space left on device");
}

// Several files as HTML: one page per file into -o's directory, named after the file. Every name
// is checked before the first page is written.
TEST(CliOutput, PagesOfSeveralFilesNeverOverwriteEachOtherOrStopHalfway) {
  test::TempDir dir("cli_pages");
  std::filesystem::create_directories(dir.file("a"));
  std::filesystem::create_directories(dir.file("b"));
  const std::string first = write_report(dir, "a/run.json", test::sample_snapshot());
  const std::string second = write_report(dir, "b/run.json", test::sample_snapshot());
  const std::string pages = dir.file("pages");
  std::filesystem::create_directories(pages);
  expect_one_line_error(cli("analyze " + first + " " + second + " --format html -o " + pages), "would both be written to");
  EXPECT_TRUE(std::filesystem::is_empty(pages));

  const std::string other = write_report(dir, "b/other.json", test::sample_snapshot());
  std::filesystem::create_directories(pages + "/other.json.html");  // the second page's name is taken
  expect_one_line_error(cli("analyze " + first + " " + other + " --format html -o " + pages), "it is a directory");
  EXPECT_FALSE(std::filesystem::exists(pages + "/run.json.html")) << "the first page was written before the check";

  std::filesystem::remove(pages + "/other.json.html");
  EXPECT_EQ(cli("analyze " + first + " " + other + " --format html -o " + pages).exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(pages + "/run.json.html"));
  EXPECT_TRUE(std::filesystem::exists(pages + "/other.json.html"));
}

// An output folder that is a device or a plain file is named as what is in the way, not as a
// folder that could not be created; an unwritable folder is named as the place of the temporary file.
TEST(CliOutput, WhatStandsInTheWayOfAnOutputIsNamed) {
  test::TempDir dir("cli_in_the_way");
  const std::string first = write_report(dir, "run.json", test::sample_snapshot());
  const std::string second = write_report(dir, "other.json", test::sample_snapshot());
  expect_one_line_error(cli("analyze " + first + " " + second + " --format html -o /dev/null"),
                        "/dev/null exists and is not a directory (expected a directory to write into)");
  const std::string plain = dir.file("plain");
  std::ofstream(plain) << "x";
  expect_one_line_error(cli("analyze " + first + " --format json -o " + plain + "/deeper/out.json"),
                        plain + " exists and is not a directory");
  expect_one_line_error(cli("analyze " + first + " --format json -o /proc/version"), "cannot create a temporary file in /proc");
  const std::string dangling = dir.file("dangling");
  ASSERT_EQ(::symlink("nowhere", dangling.c_str()), 0);
  expect_one_line_error(cli("analyze " + first + " --format json -o " + dangling + "/out.json"),
                        dangling + " is a symbolic link to nowhere, which does not exist");
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST(CliOutput, OutputThroughASymlinkOrAFifoKeepsThemWhatTheyAre) {
  test::TempDir dir("cli_out");
  const std::string report = write_report(dir, "run.json", test::sample_snapshot());
  const std::string target = dir.file("target.json"), link = dir.file("link.json");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  ASSERT_EQ(cli("analyze " + report + " --format json -o " + link).exit_code, 0);
  struct stat st {};
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "the symlink was replaced";
  EXPECT_GT(std::filesystem::file_size(target), 100u);

  const std::string fifo = dir.file("out.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto r = bash("cat " + fifo + " > " + dir.file("from_fifo.json") + " & " + test::shell_quote(kCli) +
                      " analyze " + report + " --format json -o " + fifo + "; wait");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced by a regular file";
  EXPECT_GT(std::filesystem::file_size(dir.file("from_fifo.json")), 100u);
}

TEST(CliDiff, NonFiniteLimitsAreRefusedAndDoNotTurnTheGateOff) {
  test::TempDir dir("cli_nan");
  const Snapshot base = test::sample_snapshot();
  Snapshot next = base;
  next.operations[1].total_ns *= 2;  // load_batch twice as slow
  const std::string a = write_report(dir, "a.json", base), b = write_report(dir, "b.json", next);
  ASSERT_EQ(cli("diff " + a + " " + b + " --max-regression 10").exit_code, 1);
  for (const char* value : {"nan", "NaN", "-nan", "inf", "nan%", "1e999"})
    expect_one_line_error(cli("diff " + a + " " + b + " --max-regression " + value), "--max-regression");
  expect_one_line_error(cli("diff " + a + " " + b + " --max-regression 10 --min-duration nan"), "--min-duration");
  expect_one_line_error(cli("analyze " + a + " " + b + " --straggler-threshold nan"), "--straggler-threshold");
}

// A NaN poll interval passed every range check (each comparison with NaN is false) and made the job
// view poll without pause; `timeout` bounds the run should it be accepted again.
TEST(CliServe, NonFinitePollIntervalsAreRefused) {
  for (const char* value : {"nan", "-nan", "inf", "1e999"}) {
    const auto r = test::run_command("timeout 30 " + test::shell_quote(kCli) +
                                     " serve --ranks http://127.0.0.1:1 --port 0 --poll-interval " + value);
    expect_one_line_error(r, "--poll-interval");
    EXPECT_NE(r.output.find("expected a finite number, got '" + std::string(value) + "'"), std::string::npos) << r.output;
  }
  test::TempDir dir("cli_merge_nan");
  const std::string a = write_report(dir, "a.json", test::sample_snapshot());
  expect_one_line_error(cli("merge " + a + " " + a + " -o " + dir.file("m.json") + " --straggler-threshold nan"),
                        "--straggler-threshold");
  EXPECT_FALSE(std::filesystem::exists(dir.file("m.json")));
}

TEST(CliCounts, TopTakesAWholeNumberAndSaysSoWhenItIsNot) {
  test::TempDir dir("cli_top");
  const std::string a = write_report(dir, "a.json", test::sample_snapshot());
  ASSERT_EQ(cli("analyze " + a + " --top 3").exit_code, 0);
  ASSERT_EQ(cli("diff " + a + " " + a + " --top 0").exit_code, 0);
  for (const char* value : {"abc", "0", "-1", "2.5", "99999999999"}) {
    const auto r = cli("analyze " + a + " --top " + value);
    expect_one_line_error(r, "--top");
    EXPECT_NE(r.output.find("expected a whole number from 1 to 999999999, got '" + std::string(value) + "'"), std::string::npos)
        << r.output;
  }
  expect_one_line_error(cli("diff " + a + " " + a + " --top 1.5"), "--top");
}

// A word outside an option's set and an option the command does not have are named with what is
// expected (CLI11 said "xml not in {text,json,html}" and "The following argument was not expected").
TEST(CliWords, UnknownWordsAndOptionsNameWhatIsExpected) {
  test::TempDir dir("cli_words");
  const std::string a = write_report(dir, "a.json", test::sample_snapshot());
  expect_one_line_error(cli("analyze " + a + " --format xml"), "--format: expected text, json or html, got 'xml'");
  expect_one_line_error(cli("diff " + a + " " + a + " --metric median"), "--metric: expected mean, p95 or total, got 'median'");
  expect_one_line_error(cli("merge " + a + " --format svg -o " + dir.file("m.json")), "expected chrome or perfetto, got 'svg'");
  expect_one_line_error(cli("analyze " + a + " --frobnicate"),
                        "unknown option or extra argument '--frobnicate' (see codeprof analyze --help for what it takes)");
  expect_one_line_error(cli("analyze " + a + " --frobnicate --zap"), "unknown options or extra arguments '--frobnicate --zap'");
  expect_one_line_error(cli("--frobnicate"), "expected a command (analyze, diff, merge or serve) before any option, got '--frobnicate'");
  EXPECT_EQ(cli("--version").exit_code, 0);
}

// A value out of range gets one line naming the option, the range and the value (CLI11's own
// message named the range as "0.000000 to 1797693...(309 digits).000000", and a port over 65535
// as "Could not convert").
TEST(CliCounts, RangeErrorsNameTheOptionTheRangeAndTheValue) {
  test::TempDir dir("cli_range");
  const std::string a = write_report(dir, "a.json", test::sample_snapshot());
  const std::string m = dir.file("m.json");
  const struct {
    std::string args, option, expected;
  } cases[] = {
      {"diff " + a + " " + a + " --max-regression -1", "--max-regression", "expected a number >= 0, got '-1'"},
      {"diff " + a + " " + a + " --min-duration -0.5", "--min-duration", "expected a number >= 0, got '-0.5'"},
      {"analyze " + a + " " + a + " --straggler-threshold 2000%", "--straggler-threshold", "expected a number from 0 to 1000, got '2000'"},
      {"merge " + a + " " + a + " -o " + m + " --straggler-threshold -3", "--straggler-threshold", "expected a number from 0 to 1000, got '-3'"},
      {"merge " + a + " " + a + " -o " + m + " --max-events 0", "--max-events", "expected a whole number from 1 to 999999999, got '0'"},
      {"serve --ranks http://127.0.0.1:1 --poll-interval 0.01", "--poll-interval", "expected a number from 0.1 to 3600, got '0.01'"},
      {"serve " + a + " --port 99999", "--port", "expected a port number from 0 to 65535, got '99999'"},
      {"serve " + a + " --port -1", "--port", "expected a port number from 0 to 65535, got '-1'"},
  };
  for (const auto& c : cases) {
    const auto r = test::run_command("timeout 30 " + test::shell_quote(kCli) + " " + c.args);
    expect_one_line_error(r, c.option + ": " + c.expected);
    EXPECT_EQ(r.output.find("digits"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(std::filesystem::exists(m));
}

TEST(CliDiff, AnOperationThatTookNoTimeBeforeAndSomeNowHasRegressed) {
  test::TempDir dir("cli_zero");
  Snapshot base = test::sample_snapshot();
  auto& op = base.operations[1];
  op.total_ns = 0;
  op.mean_ns = 0;
  op.min_ns = op.max_ns = op.p50_ns = op.p90_ns = op.p95_ns = op.p99_ns = 0;
  const std::string a = write_report(dir, "a.json", base), b = write_report(dir, "b.json", test::sample_snapshot());
  const auto r = cli("diff " + a + " " + b + " --max-regression 1000", false);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("REGRESSED  load_batch"), std::string::npos) << r.output;
}

TEST(CliInput, PipesFifosAndProcessSubstitutionReadLikeFiles) {
  test::TempDir dir("cli_fifo");
  const std::string report = write_report(dir, "run.json", test::sample_snapshot());
  auto r = bash(test::shell_quote(kCli) + " analyze <(cat " + report + ") --format json");
  ASSERT_EQ(r.exit_code, 0) << r.output.substr(0, 400);
  EXPECT_EQ(nlohmann::json::parse(r.output)["operations"].size(), test::sample_snapshot().operations.size());
  r = bash("cat " + report + " | " + test::shell_quote(kCli) + " analyze /dev/stdin --format json");
  ASSERT_EQ(r.exit_code, 0) << r.output.substr(0, 400);

  const std::string fifo = dir.file("report.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  r = bash("cat " + report + " > " + fifo + " & " + test::shell_quote(kCli) + " analyze " + fifo + " --format json; wait");
  ASSERT_EQ(r.exit_code, 0) << r.output.substr(0, 400);
  EXPECT_EQ(nlohmann::json::parse(r.output)["operations"].size(), test::sample_snapshot().operations.size());
}

std::string gzip(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

TEST(CliInput, GzippedReportsRead) {
  test::TempDir dir("cli_gz");
  const std::string path = dir.file("run.json.gz");
  io::write_file_atomic(path, gzip(io::to_json_report(test::sample_snapshot(), {})));
  const auto r = cli("analyze " + path + " --format json", false);
  ASSERT_EQ(r.exit_code, 0) << r.output.substr(0, 400);
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["operations"].size(), test::sample_snapshot().operations.size());
  EXPECT_EQ(j["run"]["source"], "codeprof-report");
}

TEST(CliInput, OpenErrorsNameTheRealCause) {
  test::TempDir dir("cli_open");
  const std::string loop = dir.file("loop.json");
  ASSERT_EQ(::symlink(loop.c_str(), loop.c_str()), 0);
  expect_one_line_error(cli("analyze " + loop), loop + ": too many levels of symbolic links");
  // A /proc file has size 0 but is not empty: it is read, and refused for what it holds.
  const auto r = cli("analyze /proc/self/status");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output.find("empty"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("/proc/self/status: "), std::string::npos) << r.output;
  const std::string empty = dir.file("empty.json");
  io::write_file_atomic(empty, "");
  expect_one_line_error(cli("analyze " + empty), empty + ": the file is empty");
}

TEST(CliInput, DeeplyNestedReportsAreRefusedAtTheLimitWithBoundedMemory) {
  test::TempDir dir("cli_deep");
  // 8 MB of nesting under a key the reader does not know, after a valid start (a reader that
  // builds the whole document first needs about 300 MB for it).
  const std::size_t depth = 4'000'000;
  const std::string path = dir.file("deep.json");
  {
    std::ofstream out(path, std::ios::binary);
    out << R"({"schema_version": 1, "run": {}, "operations": [], "x": )" << std::string(depth, '[')
        << std::string(depth, ']') << "}";
  }
  const auto r = cli("analyze " + path);
  expect_one_line_error(r, "at most 1024 levels of nested objects and arrays");
  rusage children{};
  ::getrusage(RUSAGE_CHILDREN, &children);  // the largest peak RSS of the commands run so far
#if defined(__SANITIZE_ADDRESS__)
  // ASan's shadow memory and quarantine raise every process's floor (79 MiB seen here).
  constexpr long kPeakKiB = 160 * 1024;
#else
  constexpr long kPeakKiB = 64 * 1024;
#endif
  EXPECT_LT(children.ru_maxrss, kPeakKiB) << "peak RSS in KiB";
  // Exactly at the limit it reads: 1024 levels counting the top-level object.
  const std::string ok = dir.file("limit.json");
  {
    std::ofstream out(ok, std::ios::binary);
    out << R"({"schema_version": 1, "run": {}, "operations": [], "x": )" << std::string(1023, '[')
        << std::string(1023, ']') << "}";
  }
  EXPECT_EQ(cli("analyze " + ok + " --format json", false).exit_code, 0);
}

TEST(CliMessages, ControlCharactersInNamesAndValuesStayOnOneLine) {
  test::TempDir dir("cli_ctrl");
  const std::string path = dir.file("bad\nname\x1b[31m.json");
  io::write_file_atomic(path, "{\"schema_version\": 1, \"run\": {}, \"operations\": [{\"id\": \"x\\u001b[2J\\n\"}]}");
  const auto r = cli("analyze " + test::shell_quote(path));
  expect_one_line_error(r, "bad\\nname\\x1b[31m.json");
  EXPECT_EQ(r.output.find('\x1b'), std::string::npos) << r.output;
}

// Control bytes a terminal acts on, as a report or trace can carry them: ESC (colours, clear
// screen), OSC (sets the window title, ended by BEL), CR (overwrites the line), LF, NUL.
const std::string kTerminalControls = std::string("\x1b[2J\x1b]0;owned\x07\rover\nnext") + '\0' + "end";

// Every byte of `text` a terminal would act on, but the line ends.
std::string controls_in(const std::string& text) {
  std::string found;
  for (const char c : text)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\n') || c == 0x7f) found += "\\x" + std::to_string(static_cast<unsigned char>(c)) + " ";
  return found;
}

TEST(CliMessages, AnalyzeTextKeepsTheInputsControlBytesFromTheTerminal) {
  test::TempDir dir("cli_terminal");
  Snapshot s = test::sample_snapshot();
  s.run.command = "train.py" + kTerminalControls;
  s.run.host = "host" + kTerminalControls;
  s.run.unavailable.push_back({"probe" + kTerminalControls, "reason" + kTerminalControls});
  for (auto& op : s.operations) op.name += kTerminalControls;  // quoted by the recommendations' evidence and action
  const std::string report = write_report(dir, "hostile.json", s);
  const auto r = cli("analyze " + test::shell_quote(report), false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(controls_in(r.output), "") << r.output;
  const auto header = r.output.substr(0, r.output.find('\n'));
  EXPECT_NE(header.find("train.py?[2J?]0;owned??over\\nnext?end"), std::string::npos) << header;
  EXPECT_NE(header.find("host?[2J"), std::string::npos) << header;
  EXPECT_NE(r.output.find("  - probe?[2J?]0;owned??over\\nnext?end: reason?[2J"), std::string::npos) << r.output;
  const auto evidence = r.output.find("     evidence: ");
  ASSERT_NE(evidence, std::string::npos) << "the sample run gives recommendations: " << r.output;
  EXPECT_NE(r.output.find("?]0;owned??over\\nnext?end", evidence), std::string::npos) << r.output;

  // A trace's process name becomes the run's command line in the header.
  const std::string trace = dir.file("hostile.trace.json");
  io::write_file_atomic(trace, R"({"traceEvents": [)"
                               R"({"ph": "M", "name": "process_name", "pid": 7, "tid": 7, "args": {"name": "py\u001b]0;owned\u0007\r\n\u0000x"}},)"
                               R"({"ph": "X", "name": "step", "pid": 7, "tid": 7, "ts": 0, "dur": 1000}]})");
  const auto t = cli("analyze " + test::shell_quote(trace), false);
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_EQ(controls_in(t.output), "") << t.output;
  EXPECT_NE(t.output.substr(0, t.output.find('\n')).find("py?]0;owned??\\n?x"), std::string::npos) << t.output;
}

TEST(CliServe, HostReachableFromOtherMachinesNamesTheTokenFlag) {
  test::TempDir dir("cli_host");
  const std::string report = write_report(dir, "run.json", test::sample_snapshot());
  expect_one_line_error(cli("serve " + report + " --host 0.0.0.0 --port 0"), "add --token TOKEN");
  expect_one_line_error(cli("serve " + report + " --host 0.0.0.0 --port 0 --token short"), "--token");
}

int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(CliServe, SigtermStopsPromptlyWithSlowClientsConnected) {
  test::TempDir dir("cli_serve_slow");
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
  ::close(out[0]);
  const std::string prefix = " at http://127.0.0.1:";
  const auto at = line.find(prefix);
  ASSERT_NE(at, std::string::npos) << line;
  const int port = std::atoi(line.c_str() + at + prefix.size());

  // Slow clients: each has sent part of a request and keeps adding header lines.
  std::vector<int> slow;
  for (int i = 0; i < 50; ++i) {
    const int fd = connect_loopback(port);
    ASSERT_GE(fd, 0);
    const std::string start = "GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    ASSERT_EQ(::send(fd, start.data(), start.size(), MSG_NOSIGNAL), static_cast<ssize_t>(start.size()));
    slow.push_back(fd);
  }
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (const int fd : slow) ::send(fd, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
  }
  const auto start = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_LT(took, 2.0) << "a generous bound: before, SIGTERM waited for the slow clients (~19 s)";
  for (const int fd : slow) ::close(fd);
}

}  // namespace
}  // namespace codeprof
