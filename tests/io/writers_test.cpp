// CSV, Prometheus and Chrome trace output parsed back and checked against the Snapshot they came
// from; atomic writes and default file names.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "codeprof/exporters.hpp"
#include "io/run_command.hpp"
#include "io/sample_snapshot.hpp"

namespace codeprof {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// ---------------------------------------------------------------- CSV

// RFC 4180 parser, written independently of the writer: rows of fields.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false, field_started = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"' && !field_started) {
      quoted = field_started = true;
    } else if (c == ',') {
      rows.back().push_back(field);
      field.clear();
      field_started = false;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(field);
      field.clear();
      field_started = false;
      rows.emplace_back();
      ++i;
    } else {
      field += c;
      field_started = true;
    }
  }
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

TEST(CsvWriter, OneQuotedRowPerOperation) {
  const Snapshot s = test::sample_snapshot();
  const std::string csv = io::to_csv(s);
  const auto rows = parse_csv(csv);
  ASSERT_EQ(rows.size(), s.operations.size() + 1);
  const auto& header = rows[0];
  std::map<std::string, std::size_t> col;
  for (std::size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  for (const char* name : {"name", "type", "count", "total_s", "self_s", "mean_s", "p95_s", "p99_s", "cpu_time_total_s",
                           "alloc_bytes_max", "rss_delta_bytes_total", "io_read_bytes_mean", "gpu_time_samples",
                           "net_recv_bytes_total", "net_blocked_total_s"})
    EXPECT_TRUE(col.count(name)) << name;
  EXPECT_FALSE(col.count("free_bytes_total")) << "metrics nobody measured get no column";
  for (std::size_t r = 1; r < rows.size(); ++r) {
    EXPECT_EQ(rows[r].size(), header.size()) << "row " << r;
  }
  // The name with a comma, quotes and a newline survives.
  EXPECT_EQ(rows[3][col["name"]], "tokenize, \"fast\"\nv2");
  EXPECT_NE(csv.find("\"tokenize, \"\"fast\"\"\nv2\""), std::string::npos);
  const auto& load = rows[2];
  EXPECT_EQ(load[col["name"]], "load_batch");
  EXPECT_EQ(load[col["type"]], "data_loading");
  EXPECT_EQ(load[col["count"]], "300");
  EXPECT_DOUBLE_EQ(std::stod(load[col["total_s"]]), 7.5);
  EXPECT_DOUBLE_EQ(std::stod(load[col["mean_s"]]), 0.025);
  EXPECT_DOUBLE_EQ(std::stod(load[col["p95_s"]]), 0.05);
  EXPECT_DOUBLE_EQ(std::stod(load[col["cpu_time_total_s"]]), 3.0);
  EXPECT_DOUBLE_EQ(std::stod(load[col["rss_delta_bytes_total"]]), -4096);
  EXPECT_EQ(rows[1][col["cpu_time_total_s"]], "") << "train_step has no CPU probe data";
  EXPECT_EQ(rows[5][col["name"]], "bad\xEF\xBF\xBD\xEF\xBF\xBDutf8");
}

// ---------------------------------------------------------------- Prometheus

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types;  // family -> type
  std::vector<PromSample> samples;
};

// Parses the text format back: HELP/TYPE lines and samples with escaped label values.
Exposition parse_prometheus(const std::string& text) {
  Exposition e;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      e.types[name] = type;
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    PromSample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name += line[i++];
    if (line[i] == '{') {
      ++i;
      while (line[i] != '}') {
        std::string key, value;
        while (line[i] != '=') key += line[i++];
        i += 2;  // ="
        while (line[i] != '"') {
          if (line[i] == '\\') {
            ++i;
            value += line[i] == 'n' ? '\n' : line[i];
          } else {
            value += line[i];
          }
          ++i;
        }
        ++i;  // closing quote
        if (line[i] == ',') ++i;
        s.labels[key] = value;
      }
      ++i;
    }
    const std::string v = line.substr(i + 1);
    s.value = v == "+Inf" ? INFINITY : std::stod(v);
    e.samples.push_back(s);
  }
  return e;
}

const PromSample* find_sample(const Exposition& e, const std::string& name, const std::map<std::string, std::string>& labels) {
  for (const auto& s : e.samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels)
      if (!s.labels.count(k) || s.labels.at(k) != v) match = false;
    if (match) return &s;
  }
  return nullptr;
}

TEST(PrometheusWriter, CountersHistogramsAndGauges) {
  const Snapshot s = test::sample_snapshot();
  const Exposition e = parse_prometheus(io::to_prometheus(s, test::sample_findings()));
  EXPECT_EQ(e.types.at("codeprof_operation_calls_total"), "counter");
  EXPECT_EQ(e.types.at("codeprof_operation_duration_seconds"), "histogram");
  EXPECT_EQ(e.types.at("codeprof_dropped_events_total"), "counter");
  EXPECT_EQ(e.types.at("codeprof_sampler_rss_bytes"), "gauge");
  EXPECT_EQ(e.types.at("codeprof_operation_cpu_seconds_total"), "counter");
  EXPECT_EQ(e.types.at("codeprof_operation_rss_growth_bytes"), "gauge");
  EXPECT_FALSE(e.types.count("codeprof_operation_allocation_peak_bytes")) << "nobody measured it";

  for (const auto& op : s.operations) {
    SCOPED_TRACE(op.name);
    const std::map<std::string, std::string> labels = {{"operation", op.name.find('\xff') == std::string::npos ? op.name : "bad\xEF\xBF\xBD\xEF\xBF\xBDutf8"},
                                                       {"type", std::string(to_string(op.category))}};
    const auto* calls = find_sample(e, "codeprof_operation_calls_total", labels);
    ASSERT_NE(calls, nullptr);
    EXPECT_EQ(calls->value, static_cast<double>(op.count));
    const auto* sum = find_sample(e, "codeprof_operation_duration_seconds_sum", labels);
    ASSERT_NE(sum, nullptr);
    EXPECT_DOUBLE_EQ(sum->value, static_cast<double>(op.total_ns) / 1e9);
    // Buckets: cumulative, never decreasing, +Inf equal to the count; each bound holds exactly the
    // histogram buckets that lie wholly below it (computed here from the Snapshot).
    double previous = 0;
    int buckets = 0;
    for (const auto& sample : e.samples) {
      if (sample.name != "codeprof_operation_duration_seconds_bucket" || sample.labels.at("operation") != labels.at("operation"))
        continue;
      ++buckets;
      EXPECT_GE(sample.value, previous);
      previous = sample.value;
      const std::string& le = sample.labels.at("le");
      if (le == "+Inf") {
        EXPECT_EQ(sample.value, static_cast<double>(op.count));
        continue;
      }
      const double bound_ns = std::stod(le) * 1e9;
      std::uint64_t expected = 0;
      for (const auto& b : op.histogram)
        if (static_cast<double>(b.upper_ns) <= bound_ns + 1) expected += b.count;
      EXPECT_EQ(sample.value, static_cast<double>(expected)) << "le=" << le;
    }
    EXPECT_EQ(buckets, 20);
  }
  const auto* cpu = find_sample(e, "codeprof_operation_cpu_seconds_total", {{"operation", "load_batch"}});
  ASSERT_NE(cpu, nullptr);
  EXPECT_DOUBLE_EQ(cpu->value, 3.0);
  EXPECT_EQ(find_sample(e, "codeprof_operation_cpu_seconds_total", {{"operation", "forward"}}), nullptr);
  const auto* blocked = find_sample(e, "codeprof_operation_network_blocked_seconds_total", {{"operation", "load_batch"}});
  ASSERT_NE(blocked, nullptr);
  EXPECT_DOUBLE_EQ(blocked->value, 2.0);
  EXPECT_EQ(find_sample(e, "codeprof_dropped_events_total", {})->value, 9);
  EXPECT_EQ(find_sample(e, "codeprof_sampler_rss_bytes", {})->value, 2.25e9);
  EXPECT_EQ(find_sample(e, "codeprof_sampler_process_cpu_percent", {})->value, 87.75);
  EXPECT_EQ(find_sample(e, "codeprof_recommendations", {{"priority", "high"}})->value, 1);
  EXPECT_EQ(find_sample(e, "codeprof_input_pipeline_share_ratio", {})->value, 0.625);
  const auto* share = find_sample(e, "codeprof_bottleneck_wall_share_ratio", {{"operation", "load_batch"}});
  ASSERT_NE(share, nullptr);
  EXPECT_EQ(share->labels.at("priority"), "high");
  // The awkward name comes back intact through label escaping.
  EXPECT_NE(find_sample(e, "codeprof_operation_calls_total", {{"operation", "tokenize, \"fast\"\nv2"}}), nullptr);
}

TEST(PrometheusWriter, EverySampleCarriesTheJobIdentityAndTheStepCountersFeedTheRules) {
  const Snapshot s = test::sample_snapshot();
  const Exposition e = parse_prometheus(io::to_prometheus(s, test::sample_findings()));
  ASSERT_FALSE(e.samples.empty());
  for (const auto& sample : e.samples) {
    SCOPED_TRACE(sample.name);
    EXPECT_EQ(sample.labels.at("job_name"), "nightly-bert");
    EXPECT_EQ(sample.labels.at("rank"), "1");
    EXPECT_EQ(sample.labels.at("host"), s.run.host);
  }
  const auto* info = find_sample(e, "codeprof_info", {});
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->labels.at("local_rank"), "1");
  EXPECT_EQ(info->labels.at("world_size"), "4");
  EXPECT_EQ(find_sample(e, "codeprof_world_size", {})->value, 4);
  for (const char* counter : {"codeprof_steps_total", "codeprof_step_seconds_total", "codeprof_step_input_seconds_total",
                              "codeprof_iteration_seconds_total", "codeprof_collective_seconds_total"})
    EXPECT_EQ(e.types.at(counter), "counter") << counter;
  EXPECT_EQ(find_sample(e, "codeprof_steps_total", {})->value, 300);
  EXPECT_EQ(find_sample(e, "codeprof_step_seconds_total", {})->value, 9.0);
  EXPECT_EQ(find_sample(e, "codeprof_step_input_seconds_total", {})->value, 3.2);
  EXPECT_EQ(find_sample(e, "codeprof_iteration_seconds_total", {})->value, 10.5);
  EXPECT_EQ(find_sample(e, "codeprof_collective_seconds_total", {})->value, 1.25);
  // The firing alert, labelled like Prometheus' own ALERTS series, its identity labels not repeated.
  const auto* alert = find_sample(e, "codeprof_alerts", {{"alertname", "InputBound"}});
  ASSERT_NE(alert, nullptr);
  EXPECT_EQ(alert->labels.at("alertstate"), "firing");
  EXPECT_EQ(alert->labels.size(), 6u);  // alertname, alertstate, severity + job_name, rank, host

  // Unknown parts of the identity are left out rather than written empty.
  Snapshot anonymous;
  const Exposition bare = parse_prometheus(io::to_prometheus(anonymous, {}));
  for (const auto& sample : bare.samples) EXPECT_FALSE(sample.labels.count("rank") || sample.labels.count("job_name")) << sample.name;
}

TEST(PrometheusWriter, RepeatedOperationNamesAreMerged) {
  Snapshot s;
  s.operations.push_back(test::make_operation(0, "aten::mm", Category::Custom, 3, 1000));
  s.operations.push_back(test::make_operation(1, "aten::mm", Category::Custom, 6, 1000));
  const Exposition e = parse_prometheus(io::to_prometheus(s, {}));
  int calls = 0;
  for (const auto& sample : e.samples)
    if (sample.name == "codeprof_operation_calls_total") {
      ++calls;
      EXPECT_EQ(sample.value, 9);
    }
  EXPECT_EQ(calls, 1);
}

// The series the system sampler writes (src/metrics/system_sampler.cpp), with their units.
Snapshot sampler_snapshot() {
  Snapshot s;
  const std::pair<const char*, const char*> series[] = {
      {"process_cpu_percent", "percent"},          {"system_cpu_percent", "percent"},
      {"rss_bytes", "bytes"},                      {"vm_bytes", "bytes"},
      {"page_faults", "per_second"},               {"major_page_faults", "per_second"},
      {"ctx_switches_voluntary", "per_second"},    {"ctx_switches_involuntary", "per_second"},
      {"io_read_bytes_per_s", "bytes_per_second"}, {"storage_write_bytes_per_s", "bytes_per_second"},
      {"open_fds", "count"},                       {"threads", "count"},
      {"gpu0_utilization_percent", "percent"},     {"gpu0_memory_used_bytes", "bytes"},
      {"gpu0_temperature_celsius", "celsius"},     {"gpu0_power_watts", "watts"}};
  for (const auto& [name, unit] : series) s.timelines.push_back({name, unit, {1, 2}, {3.0, 4.5}});
  return s;
}

TEST(PrometheusWriter, SamplerSeriesNamesSpellOutTheirUnits) {
  const Exposition e = parse_prometheus(io::to_prometheus(sampler_snapshot(), {}));
  for (const char* name : {"codeprof_sampler_process_cpu_percent", "codeprof_sampler_rss_bytes",
                           "codeprof_sampler_page_faults_per_second", "codeprof_sampler_io_read_bytes_per_second",
                           "codeprof_sampler_storage_write_bytes_per_second", "codeprof_sampler_open_fds",
                           "codeprof_sampler_gpu0_temperature_celsius", "codeprof_sampler_gpu0_power_watts"}) {
    EXPECT_EQ(e.types.count(name), 1u) << name;
    const auto* sample = find_sample(e, name, {});
    ASSERT_NE(sample, nullptr) << name;
    EXPECT_EQ(sample->value, 4.5) << "the latest sample";
  }
}

TEST(PrometheusWriter, PromtoolFindsNothingToComplainAbout) {
  const std::string promtool = "/usr/bin/promtool";
  if (!std::filesystem::exists(promtool)) GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  test::TempDir dir("prom");
  for (const auto& [name, snapshot, findings] :
       {std::tuple{"sample", test::sample_snapshot(), test::sample_findings()}, std::tuple{"empty", Snapshot{}, Findings{}},
        std::tuple{"sampler", sampler_snapshot(), Findings{}}}) {
    SCOPED_TRACE(name);
    const std::string path = dir.file(std::string(name) + ".prom");
    io::write_file_atomic(path, io::to_prometheus(snapshot, findings));
    const auto r = test::run_command(promtool + " check metrics < " + test::shell_quote(path));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "") << "promtool lint findings";
  }
}

// ---------------------------------------------------------------- Chrome trace

TEST(ChromeTraceWriter, RecordedEventsWithThreadsCountersAndProbeArgs) {
  Snapshot s = test::sample_snapshot();
  TraceEvent outer{0, 0, 10'000'000, 40'000'123, 0, {}};
  TraceEvent inner{1, 0, 12'000'500, 25'000'000, 1, {}};
  inner.probes.set(ProbeMetric::CpuTimeNs, 20'000'000);
  inner.probes.set(ProbeMetric::AllocBytes, 4096);
  TraceEvent other{2, 1, 13'000'000, 1'500'000, 0, {}};
  s.trace_events = {outer, inner, other};
  const auto j = nlohmann::json::parse(io::to_chrome_trace(s));
  ASSERT_TRUE(j["traceEvents"].is_array());
  std::vector<nlohmann::json> complete, counters;
  std::map<int, std::string> thread_names;
  for (const auto& ev : j["traceEvents"]) {
    if (ev["ph"] == "X") complete.push_back(ev);
    if (ev["ph"] == "C") counters.push_back(ev);
    if (ev["ph"] == "M" && ev["name"] == "thread_name") thread_names[ev["tid"]] = ev["args"]["name"];
    EXPECT_EQ(ev["pid"], 4242);
  }
  ASSERT_EQ(complete.size(), 3u);
  EXPECT_EQ(complete[0]["name"], "train_step");
  EXPECT_EQ(complete[0]["cat"], "training_loop");
  EXPECT_DOUBLE_EQ(complete[0]["ts"].get<double>(), 10000.0);
  EXPECT_DOUBLE_EQ(complete[0]["dur"].get<double>(), 40000.123);
  EXPECT_DOUBLE_EQ(complete[1]["ts"].get<double>(), 12000.5);
  EXPECT_EQ(complete[1]["cat"], "data_loading");
  EXPECT_DOUBLE_EQ(complete[1]["args"]["cpu_time"].get<double>(), 0.02);
  EXPECT_EQ(complete[1]["args"]["alloc_bytes"], 4096);
  EXPECT_FALSE(complete[0].contains("args"));
  EXPECT_EQ(complete[2]["tid"], 1);
  EXPECT_EQ(complete[2]["name"], "tokenize, \"fast\"\nv2");
  EXPECT_EQ(thread_names.at(0), "main [tid 4242]");
  EXPECT_EQ(thread_names.at(1), "loader \"0\" [tid 4250]");
  EXPECT_EQ(counters.size(), 8u);  // two series of four samples
  EXPECT_EQ(counters[5]["name"], "rss_bytes (bytes)");
  EXPECT_DOUBLE_EQ(counters[5]["ts"].get<double>(), 200000.0);
  EXPECT_DOUBLE_EQ(counters[5]["args"]["value"].get<double>(), 1.75e9);
  EXPECT_EQ(j["otherData"]["codeprof_events"], "all recorded calls");
  EXPECT_EQ(j["otherData"]["trace_events_dropped"], 11);
  EXPECT_EQ(j["baseTimeNanoseconds"], s.run.start_unix_ns);
}

TEST(ChromeTraceWriter, WithoutRecordingItHoldsTheSlowestCalls) {
  const Snapshot s = test::sample_snapshot();
  const auto j = nlohmann::json::parse(io::to_chrome_trace(s));
  std::size_t expected = 0;
  for (const auto& op : s.operations) expected += op.slowest.size();
  std::size_t complete = 0;
  for (const auto& ev : j["traceEvents"]) {
    if (ev["ph"] != "X") continue;
    ++complete;
    EXPECT_EQ(ev["args"]["codeprof"], "one of the slowest calls");
    const OperationStats* op = s.find(ev["name"].get<std::string>());
    if (!op) continue;  // the invalid-UTF-8 name was repaired
    EXPECT_DOUBLE_EQ(ev["dur"].get<double>() * 1000, static_cast<double>(op->slowest[0].duration_ns) *
                                                          (ev["tid"] == 0 ? 1.0 : 2.0 / 3.0));
  }
  EXPECT_EQ(complete, expected);
  EXPECT_EQ(j["otherData"]["codeprof_events"], "slowest calls per operation (trace recording was off)");
}

// ---------------------------------------------------------------- files

TEST(AtomicWrite, CreatesDirectoriesReplacesWholeFilesAndLeavesNoTemporaries) {
  test::TempDir dir("atomic");
  const std::string path = dir.file("a/b/c/out.txt");
  io::write_file_atomic(path, "first");
  EXPECT_EQ(read_file(path), "first");
  io::write_file_atomic(path, "second, longer content");
  EXPECT_EQ(read_file(path), "second, longer content");
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path() / "a/b/c")) ++entries;
  EXPECT_EQ(entries, 1u);
  const auto perms = std::filesystem::status(path).permissions();
  EXPECT_NE(perms & std::filesystem::perms::owner_read, std::filesystem::perms::none);
}

TEST(AtomicWrite, FailuresNameThePathAndKeepTheOldFile) {
  test::TempDir dir("atomic_fail");
  EXPECT_THROW(io::write_file_atomic(dir.path().string(), "x"), io::WriteError);
  const std::string blocker = dir.file("file");
  io::write_file_atomic(blocker, "keep");
  try {
    io::write_file_atomic(blocker + "/child.json", "x");
    FAIL() << "writing under a regular file must fail";
  } catch (const io::WriteError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write " + blocker + "/child.json"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(blocker), "keep");
}

// A path that names a device, a FIFO or a symlink must never be replaced by a plain file: as root,
// renaming a report over /dev/null would replace the system's /dev/null.
TEST(AtomicWrite, CharacterDevicesAreWrittenThroughNeverReplaced) {
  struct stat before {};
  ASSERT_EQ(::stat("/dev/null", &before), 0);
  io::write_file_atomic("/dev/null", "a report nobody keeps");
  struct stat after {};
  ASSERT_EQ(::stat("/dev/null", &after), 0);
  EXPECT_TRUE(S_ISCHR(after.st_mode));
  EXPECT_EQ(after.st_rdev, before.st_rdev);
  EXPECT_EQ(after.st_ino, before.st_ino);

  // A device node of our own (needs CAP_MKNOD, as root in CI): it stays a device.
  test::TempDir dir("atomic_dev");
  const std::string node = dir.file("null");
  if (::mknod(node.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
    io::write_file_atomic(node, std::string(25000, 'x'));
    struct stat st {};
    ASSERT_EQ(::lstat(node.c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << "the device node became a plain file";
  }
}

TEST(AtomicWrite, AFullDeviceIsAnErrorNamingTheCause) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full here";
  try {
    io::write_file_atomic("/dev/full", "x");
    FAIL() << "writing to /dev/full must fail";
  } catch (const io::WriteError& e) {
    EXPECT_NE(std::string(e.what()).find("No space left"), std::string::npos) << e.what();
  }
  struct stat st {};
  ASSERT_EQ(::stat("/dev/full", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST(AtomicWrite, FifosAreWrittenThroughToTheirReader) {
  test::TempDir dir("atomic_fifo");
  const std::string fifo = dir.file("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string received;
  std::thread reader([&] {
    std::ifstream in(fifo, std::ios::binary);
    received.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  });
  io::write_file_atomic(fifo, "through the pipe");
  reader.join();
  EXPECT_EQ(received, "through the pipe");
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST(AtomicWrite, SymlinksAreFollowedAndStayLinks) {
  test::TempDir dir("atomic_link");
  const std::string target = dir.file("real/report.json");
  io::write_file_atomic(target, "old");
  ::chmod(target.c_str(), 0640);
  const std::string link = dir.file("link.json");
  ASSERT_EQ(::symlink("real/report.json", link.c_str()), 0);
  io::write_file_atomic(link, "new");
  struct stat st {};
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "the link was replaced by a file";
  EXPECT_EQ(read_file(target), "new");
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u) << "an existing file keeps its permissions";

  // A dangling link creates its target; the link stays.
  const std::string dangling = dir.file("dangling.json");
  ASSERT_EQ(::symlink("later/made.json", dangling.c_str()), 0);
  io::write_file_atomic(dangling, "made");
  EXPECT_EQ(read_file(dir.file("later/made.json")), "made");
  ASSERT_EQ(::lstat(dangling.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));

  // A loop is named as one.
  const std::string a = dir.file("loop_a"), b = dir.file("loop_b");
  ASSERT_EQ(::symlink(b.c_str(), a.c_str()), 0);
  ASSERT_EQ(::symlink(a.c_str(), b.c_str()), 0);
  try {
    io::write_file_atomic(a, "x");
    FAIL() << "a symlink loop must fail";
  } catch (const io::WriteError& e) {
    EXPECT_NE(std::string(e.what()).find("symbolic links"), std::string::npos) << e.what();
  }
}

TEST(AtomicWrite, SocketsAreRefused) {
  test::TempDir dir("atomic_sock");
  const std::string path = dir.file("s");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) { ::close(fd); GTEST_SKIP() << "temp path too long for a socket"; }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_THROW(io::write_file_atomic(path, "x"), io::WriteError);
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  ::close(fd);
}

TEST(Exports, TimestampedNameCheck) {
  EXPECT_TRUE(test::is_timestamped_name("profiling_report_20261124_093000.json", "profiling_report_", ".json"));
  EXPECT_FALSE(test::is_timestamped_name("profiling_report_2026112_0930000.json", "profiling_report_", ".json"));
  EXPECT_FALSE(test::is_timestamped_name("profiling_report_20261124_09300a.json", "profiling_report_", ".json"));
  EXPECT_FALSE(test::is_timestamped_name("profiling_report_20261124_093000.csv", "profiling_report_", ".json"));
}

TEST(Exports, DefaultNamesFollowTheSeed) {
  // Local time: compare with the same conversion the test does independently.
  const std::int64_t ns = 1'764'000'000'000'000'000;
  const std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &tm);
  EXPECT_EQ(io::default_file_name("json", ns), std::string("profiling_report_") + stamp + ".json");
  EXPECT_EQ(io::default_file_name("html", ns), std::string("profiling_report_") + stamp + ".html");
  EXPECT_EQ(io::default_file_name("perfetto", ns), std::string("profiling_trace_") + stamp + ".pftrace");
  EXPECT_EQ(io::export_format_names(),
            (std::vector<std::string>{"json", "chrome", "csv", "prometheus", "html", "pprof", "folded", "perfetto"}));
  EXPECT_THROW(io::default_file_name("xml", ns), io::WriteError);
}

TEST(Exports, DirectoryOrEmptyPathGetsATimestampedFile) {
  test::TempDir dir("exports");
  const Snapshot s = test::sample_snapshot();
  const Findings f = test::sample_findings();
  const std::string a = io::write_export("json", dir.path().string(), s, f);
  EXPECT_TRUE(test::is_timestamped_name(std::filesystem::path(a).filename().string(), "profiling_report_", ".json")) << a;
  EXPECT_EQ(std::filesystem::path(a).parent_path(), dir.path());
  const std::string b = io::write_export("csv", dir.file("new_dir/"), s, f);
  EXPECT_TRUE(test::is_timestamped_name(std::filesystem::path(b).filename().string(), "profiling_operations_", ".csv")) << b;
  EXPECT_TRUE(std::filesystem::exists(b));
  // A directory that does not exist yet (the configured output_dir before the first export).
  const std::string c = io::write_export("prometheus", dir.file("codeprof_output"), s, f);
  EXPECT_TRUE(test::is_timestamped_name(std::filesystem::path(c).filename().string(), "profiling_metrics_", ".prom")) << c;
  EXPECT_EQ(std::filesystem::path(c).parent_path(), dir.path() / "codeprof_output");
  for (const auto& format : io::export_format_names()) {
    const std::string p = io::write_export(format, dir.file("all/out." + format), s, f);
    EXPECT_GT(std::filesystem::file_size(p), 100u) << format;
  }
  try {
    io::write_export("yaml", dir.path().string(), s, f);
    FAIL();
  } catch (const io::WriteError& e) {
    EXPECT_STREQ(e.what(), "unknown export format 'yaml': expected one of json, chrome, csv, prometheus, html, pprof, folded, perfetto");
  }
}

}  // namespace
}  // namespace codeprof
