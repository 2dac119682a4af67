// The JSON report read back gives the same numbers it was written from, and bad reports give
// one-line errors that name the file, where, and what was expected.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "codeprof/exporters.hpp"
#include "io/expect_same.hpp"
#include "io/report_reader.hpp"
#include "io/sample_snapshot.hpp"

namespace codeprof {
namespace {

std::string error_of(std::string_view text) {
  try {
    io::parse_report(text, "bad.json");
  } catch (const io::ReportError& e) {
    return e.what();
  }
  return "(no error)";
}

nlohmann::json sample_json() {
  return nlohmann::json::parse(io::to_json_report(test::sample_snapshot(), test::sample_findings()));
}

TEST(ReportRoundTrip, EveryNumberComesBackExactly) {
  const Snapshot original = test::sample_snapshot();
  const Findings findings = test::sample_findings();
  const io::Report back = io::parse_report(io::to_json_report(original, findings), "mem.json");

  Snapshot expected = original;
  expected.operations[4].name = "bad\xEF\xBF\xBD\xEF\xBF\xBDutf8";  // invalid bytes become U+FFFD
  test::expect_same_snapshot(expected, back.snapshot);
  EXPECT_EQ(back.snapshot.operations[4].name, expected.operations[4].name);
  test::expect_same_findings(findings, back.findings);
  EXPECT_EQ(back.schema_version, 1);
  EXPECT_EQ(back.snapshot.run.source, "codeprof-report");
  EXPECT_EQ(back.snapshot.run.source_path, "mem.json");
  EXPECT_EQ(back.snapshot.run.metadata.at("report_source"), "live");
  EXPECT_TRUE(back.snapshot.trace_events.empty());
}

TEST(ReportRoundTrip, ThroughAFileWrittenByWriteExport) {
  const auto dir = std::filesystem::temp_directory_path() / ("codeprof_rt_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::string path = io::write_export("json", (dir / "nested" / "r.json").string(), test::sample_snapshot(),
                                            test::sample_findings());
  EXPECT_EQ(path, (dir / "nested" / "r.json").string());
  const Snapshot back = io::read_json_report(path);
  Snapshot expected = test::sample_snapshot();
  expected.operations[4].name = "bad\xEF\xBF\xBD\xEF\xBF\xBDutf8";
  test::expect_same_snapshot(expected, back);
  std::filesystem::remove_all(dir);
}

TEST(ReportRoundTrip, SecondsConversionIsExactAcrossMagnitudes) {
  Snapshot s;
  for (std::uint64_t v : {1ull, 7ull, 999ull, 123'456'789ull, 86'400'000'000'000ull, 2'000'000'000'000'001ull}) {
    OperationStats op;
    op.id = static_cast<std::uint32_t>(s.operations.size());
    op.name = "op" + std::to_string(v);
    op.count = 1;
    op.total_ns = op.min_ns = op.max_ns = op.p99_ns = v;
    op.first_seen_ns = -static_cast<std::int64_t>(v);
    s.operations.push_back(op);
  }
  const Snapshot back = io::parse_json_report(io::to_json_report(s, {}));
  ASSERT_EQ(back.operations.size(), s.operations.size());
  for (std::size_t i = 0; i < s.operations.size(); ++i) {
    EXPECT_EQ(back.operations[i].total_ns, s.operations[i].total_ns);
    EXPECT_EQ(back.operations[i].p99_ns, s.operations[i].p99_ns);
    EXPECT_EQ(back.operations[i].first_seen_ns, s.operations[i].first_seen_ns);
  }
}

TEST(ReportRoundTrip, NonFiniteValuesAreWrittenAsNullAndReadAsNaN) {
  Findings f;
  f.classification.gpu.idle_share = std::nan("");
  const auto text = io::to_json_report({}, f);
  EXPECT_EQ(nlohmann::json::parse(text)["classification"]["gpu"]["idle_share"], nullptr);
  EXPECT_TRUE(std::isnan(io::parse_report(text, "x").findings.classification.gpu.idle_share));
}

TEST(ReportReaderValidation, NullStandsForNaNWhereverTheSchemaHasANumber) {
  auto j = sample_json();
  j["operations"][1]["avg_duration"] = nullptr;     // a double: NaN
  j["operations"][1]["stddev_duration"] = nullptr;
  j["operations"][1]["p95_duration"] = nullptr;     // whole nanoseconds: unknown, like an absent key
  j["operations"][1]["first_seen"] = nullptr;
  j["run"]["wall_time"] = nullptr;
  j["timeline"][0]["values"][0] = nullptr;
  j["bottlenecks"][0]["share_of_wall"] = nullptr;
  const io::Report r = io::parse_report(j.dump(), "nulls.json");
  EXPECT_TRUE(std::isnan(r.snapshot.operations[1].mean_ns));
  EXPECT_TRUE(std::isnan(r.snapshot.operations[1].stddev_ns));
  EXPECT_EQ(r.snapshot.operations[1].p95_ns, 0u);
  EXPECT_EQ(r.snapshot.operations[1].first_seen_ns, 0);
  EXPECT_EQ(r.snapshot.run.wall_ns, 0);
  EXPECT_TRUE(std::isnan(r.snapshot.timelines[0].values[0]));
  EXPECT_TRUE(std::isnan(r.findings.bottlenecks[0].share_of_wall));
  // A required time cannot be unknown; integers are never null.
  j = sample_json();
  j["operations"][0]["total_time"] = nullptr;
  EXPECT_EQ(error_of(j.dump()), "bad.json: operations[0].total_time: expected a number of seconds (required: null is not enough), got null");
  j = sample_json();
  j["operations"][0]["count"] = nullptr;
  EXPECT_EQ(error_of(j.dump()), "bad.json: operations[0].count: expected a non-negative integer, got null");
}

TEST(ReportReaderValidation, FindingsSpellingsOutsideTheirSetsAreRefused) {
  auto j = sample_json();
  j["classification"]["input"]["level"] = "very";
  EXPECT_EQ(error_of(j.dump()),
            "bad.json: classification.input.level: expected highly, moderately, not or unknown, got string \"very\"");
  j = sample_json();
  j["classification"]["gpu"]["source"] = "nvml";
  EXPECT_EQ(error_of(j.dump()),
            "bad.json: classification.gpu.source: expected \"\", sampler, trace or sampler+trace, got string \"nvml\"");
  j = sample_json();
  j["recommendations"][0]["type"] = "loading";
  EXPECT_NE(error_of(j.dump()).find("bad.json: recommendations[0].type: expected data_loading, preprocessing, "),
            std::string::npos);
  j = sample_json();
  j["bottlenecks"][1]["type"] = "loading";
  EXPECT_NE(error_of(j.dump()).find("bad.json: bottlenecks[1].type: expected a category (data_loading, "), std::string::npos);
  // An evidence unit of no known spelling must be a custom metric's unit in the same report.
  j = sample_json();
  j["recommendations"][0]["evidence"][1]["unit"] = "seconds";
  EXPECT_EQ(error_of(j.dump()),
            "bad.json: recommendations[0].evidence[1].unit: expected a unit: \"\", s, ratio, factor, percent, bytes, "
            "bytes_per_s, per_s or count, or a custom metric's unit in this report (pages), got string \"seconds\"");
}

// Shares documented as 0..1 and a count of hardware threads are refused outside their range, naming
// the key; null (a share that was not finite) still reads as NaN.
TEST(ReportReaderValidation, SharesOutsideZeroToOneAndNegativeThreadCountsAreRefused) {
  auto j = sample_json();
  j["run"]["hardware_threads"] = -4;
  EXPECT_EQ(error_of(j.dump()), "bad.json: run.hardware_threads: expected a non-negative integer, got number -4");
  j = sample_json();
  j["classification"]["input"]["input_share"] = 1.5;
  EXPECT_EQ(error_of(j.dump()), "bad.json: classification.input.input_share: expected a number from 0 to 1, got number 1.5");
  j = sample_json();
  j["classification"]["gpu"]["idle_share"] = -0.25;
  EXPECT_EQ(error_of(j.dump()), "bad.json: classification.gpu.idle_share: expected a number from 0 to 1, got number -0.25");
  j = sample_json();
  j["bottlenecks"][0]["share_of_wall"] = 2;
  EXPECT_EQ(error_of(j.dump()), "bad.json: bottlenecks[0].share_of_wall: expected a number from 0 to 1, got number 2");
  j = sample_json();
  std::size_t sampled = 0;
  while (j["operations"][sampled]["hot_functions"].empty()) ++sampled;
  j["operations"][sampled]["hot_functions"][0]["share"] = 1.25;
  EXPECT_EQ(error_of(j.dump()), "bad.json: operations[" + std::to_string(sampled) +
                                    "].hot_functions[0].share: expected a number from 0 to 1, got number 1.25");
  j = sample_json();
  j["classification"]["input"]["input_share"] = nullptr;
  EXPECT_EQ(error_of(j.dump()), "(no error)");
}

TEST(ReportRoundTrip, EvidenceInACustomMetricsOwnUnitComesBack) {
  Findings f = test::sample_findings();
  f.recommendations[0].evidence.push_back(metric_evidence("pages_per_s", 12.5, "pages"));
  f.recommendations[0].evidence.push_back(metric_evidence("pages_per_s_warning", 20.0, "bytes"));
  ASSERT_EQ(f.recommendations[0].evidence[2].unit, EvidenceUnit::Metric);
  ASSERT_EQ(f.recommendations[0].evidence[3].unit, EvidenceUnit::Bytes);  // a known spelling reads as the unit
  const std::string text = io::to_json_report(test::sample_snapshot(), f);
  EXPECT_EQ(nlohmann::json::parse(text)["recommendations"][0]["evidence"][2]["unit"], "pages");
  test::expect_same_findings(f, io::parse_report(text, "mem.json").findings);
}

TEST(ReportReaderValidation, ImpossibleValuesAreRefused) {
  auto j = sample_json();
  j["run"]["wall_time"] = -1.5;
  EXPECT_EQ(error_of(j.dump()), "bad.json: run.wall_time: expected non-negative seconds, got number -1.5");
  j = sample_json();
  j["operations"][1]["min_duration"] = 0.5;
  j["operations"][1]["max_duration"] = 0.25;
  EXPECT_EQ(error_of(j.dump()), "bad.json: operations[1].min_duration: expected at most max_duration (250.0 ms), got number 0.5");
  j = sample_json();
  j["steps"] = nlohmann::json::array({{{"index", 1}, {"start", 2.0}, {"end", 1.0}}});
  EXPECT_EQ(error_of(j.dump()), "bad.json: steps[0].end: expected a time at or after start, got number 1.0");
}

TEST(ReportReaderValidation, DuplicateKeysAreRefusedNamingThePath) {
  EXPECT_EQ(error_of(R"({"schema_version": 1, "run": {}, "operations": [], "operations": []})"),
            "bad.json: operations: expected one 'operations' key, found it twice (duplicate key)");
  EXPECT_EQ(error_of(R"({"schema_version": 1, "run": {"host": "a", "host": "b"}, "operations": []})"),
            "bad.json: run.host: expected each key once, found 'host' twice (duplicate key)");
  EXPECT_EQ(error_of(R"({"schema_version": 1, "run": {}, "operations": [)"
                     R"({"id": 1, "name": "a", "type": "io", "count": 1, "count": 2, "total_time": 1}]})"),
            "bad.json: operations[0].count: expected each key once, found 'count' twice (duplicate key)");
}

TEST(ReportReaderValidation, NestingIsLimitedTo1024Levels) {
  const auto nested = [](std::size_t levels) {
    return R"({"schema_version": 1, "run": {}, "operations": [], "x": )" + std::string(levels - 1, '[') +
           std::string(levels - 1, ']') + "}";
  };
  EXPECT_NO_THROW(io::parse_report(nested(1024), "deep.json"));
  const std::string error = error_of(nested(1025));
  EXPECT_NE(error.find("expected at most 1024 levels of nested objects and arrays"), std::string::npos) << error;
  EXPECT_EQ(error.rfind("bad.json: x", 0), 0u) << error;
}

TEST(ReportReaderValidation, LibraryWordingStaysOut) {
  const std::string truncated = error_of(R"({"schema_version": 1, "run": {)");
  EXPECT_EQ(truncated, "bad.json: not valid JSON at byte 30: the text ends early (a truncated file?)");
  const std::string bad = error_of(R"({"schema_version": 1, "run": nope})");
  EXPECT_EQ(bad.find("json.exception"), std::string::npos) << bad;
  EXPECT_EQ(bad.find("syntax error"), std::string::npos) << bad;
  EXPECT_NE(bad.find("not valid JSON at byte"), std::string::npos) << bad;
}

TEST(ReportWriter, SeedKeysAndUnits) {
  const auto j = sample_json();
  // First, so readers can sniff the format.
  EXPECT_EQ(nlohmann::ordered_json::parse(io::to_json_report({}, {})).begin().key(), "schema_version");
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["dropped_events"], 7);
  EXPECT_EQ(j["run"]["rank"], 1);
  EXPECT_EQ(j["run"]["world_size"], 4);
  EXPECT_DOUBLE_EQ(j["run"]["wall_time"].get<double>(), 12.345678901);
  const auto& load = j["operations"][1];
  EXPECT_EQ(load["name"], "load_batch");
  EXPECT_EQ(load["type"], "data_loading");
  EXPECT_EQ(load["count"], 300);
  EXPECT_DOUBLE_EQ(load["avg_duration"].get<double>(), 0.025);
  EXPECT_DOUBLE_EQ(load["total_time"].get<double>(), 7.5);
  EXPECT_DOUBLE_EQ(load["resources"]["cpu_time"]["total"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(load["resources"]["cpu_time"]["mean"].get<double>(), 0.01);
  EXPECT_EQ(load["resources"]["cpu_time"]["unit"], "s");
  EXPECT_EQ(load["resources"]["alloc_bytes"]["max"], 31'000'000);
  EXPECT_FALSE(load["resources"].contains("gpu_time"));  // not measured: left out
  const auto& b = j["bottlenecks"][0];
  EXPECT_EQ(b["operation"], "load_batch");
  EXPECT_EQ(b["type"], "data_loading");
  EXPECT_DOUBLE_EQ(b["avg_duration"].get<double>(), 0.025);
  EXPECT_EQ(b["optimization_priority"], "high");
  const auto& r = j["recommendations"][0];
  for (const char* key : {"id", "type", "priority", "title", "evidence", "action"}) EXPECT_TRUE(r.contains(key)) << key;
  EXPECT_EQ(j["call_tree"][0]["parent"], nullptr);

  Snapshot no_rank = test::sample_snapshot();
  no_rank.run.rank = no_rank.run.world_size = -1;
  const auto k = nlohmann::json::parse(io::to_json_report(no_rank, {}));
  EXPECT_FALSE(k["run"].contains("rank"));
  EXPECT_FALSE(k["run"].contains("world_size"));
  EXPECT_EQ(io::parse_json_report(io::to_json_report(no_rank, {})).run.rank, -1);
}

TEST(ReportReader, SniffsReports) {
  EXPECT_TRUE(io::looks_like_json_report(io::to_json_report({}, {})));
  EXPECT_TRUE(io::looks_like_json_report(" \n{ \"schema_version\": 1"));
  EXPECT_FALSE(io::looks_like_json_report("{\"traceEvents\": []}"));
  EXPECT_FALSE(io::looks_like_json_report("[{\"ph\":\"X\"}]"));
  EXPECT_FALSE(io::looks_like_json_report(""));
}

TEST(ReportReader, MalformedJsonNamesTheByte) {
  const std::string text = io::to_json_report(test::sample_snapshot(), {});
  const std::string msg = error_of(text.substr(0, 300));
  EXPECT_EQ(msg.rfind("bad.json: not valid JSON at byte 300", 0), 0u) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
  EXPECT_NE(error_of("not json").find("bad.json: not valid JSON at byte 1:"), std::string::npos) << error_of("not json");
}

TEST(ReportReader, WrongTypesNameTheKeyPathAndTheExpectation) {
  auto j = sample_json();
  j["operations"][2]["count"] = "many";
  EXPECT_EQ(error_of(j.dump()), "bad.json: operations[2].count: expected a non-negative integer, got string \"many\"");

  j = sample_json();
  j["operations"][0]["count"] = -3;
  EXPECT_EQ(error_of(j.dump()), "bad.json: operations[0].count: expected a non-negative integer, got number -3");

  j = sample_json();
  j["operations"][1]["type"] = "loading";
  EXPECT_NE(error_of(j.dump()).find("bad.json: operations[1].type: expected a category (data_loading, "), std::string::npos);

  j = sample_json();
  j["operations"][0].erase("name");
  EXPECT_EQ(error_of(j.dump()), "bad.json: operations[0].name: expected this key (it is required)");

  j = sample_json();
  j["operations"][0]["total_time"] = 1e300;
  EXPECT_EQ(error_of(j.dump()), "bad.json: operations[0].total_time: expected non-negative seconds below 1.8e10, got number 1e+300");

  j = sample_json();
  j["timeline"][0]["values"].push_back(1.0);
  EXPECT_EQ(error_of(j.dump()), "bad.json: timeline[0].values: expected as many values as times (4)");

  j = sample_json();
  j["call_tree"][1]["child"] = 77;
  EXPECT_EQ(error_of(j.dump()), "bad.json: call_tree[1].child: expected the id of an operation in operations[], got number 77");

  j = sample_json();
  j["operations"][3]["id"] = 0;
  EXPECT_EQ(error_of(j.dump()), "bad.json: operations[3].id: expected an id not used by another operation, got number 0");

  j = sample_json();
  j["run"] = 5;
  EXPECT_EQ(error_of(j.dump()), "bad.json: run: expected an object, got number 5");
}

TEST(ReportReader, SampledProfileIsChecked) {
  auto j = sample_json();
  j["profile"]["stacks"][1]["frames"][0] = 5;
  EXPECT_EQ(error_of(j.dump()), "bad.json: profile.stacks[1].frames[0]: expected an index into profile.frames (below 5), got number 5");

  j = sample_json();
  j["profile"]["stacks"][0]["operations"][1] = 4;
  EXPECT_EQ(error_of(j.dump()), "bad.json: profile.stacks[0].operations[1]: expected the id of an operation in profile.operations[], got number 4");

  j = sample_json();
  j["operations"][2]["hot_lines"][0]["samples"] = -1;
  EXPECT_EQ(error_of(j.dump()), "bad.json: operations[2].hot_lines[0].samples: expected a non-negative integer, got number -1");

  j = sample_json();
  j["sampling"]["sources"][0]["inherited_threads"] = j["sampling"]["sources"][0]["threads"].get<std::uint64_t>() + 1;
  EXPECT_EQ(error_of(j.dump()), "bad.json: sampling.sources[0].inherited_threads: expected at most threads (" +
                                    std::to_string(j["sampling"]["sources"][0]["threads"].get<std::uint64_t>()) + "), got number " +
                                    std::to_string(j["sampling"]["sources"][0]["threads"].get<std::uint64_t>() + 1));

  j = sample_json();
  j["sampling"]["sources"][0].erase("name");
  EXPECT_EQ(error_of(j.dump()), "bad.json: sampling.sources[0].name: expected this key (it is required)");

  // Reports written before sampling existed read back with an empty profile.
  j = sample_json();
  j.erase("profile");
  j.erase("sampling");
  const Snapshot old = io::parse_json_report(j.dump());
  EXPECT_TRUE(old.profile.empty());
  EXPECT_FALSE(old.sampling.enabled);
}

TEST(ReportReader, VersionsAndOtherFormats) {
  auto j = sample_json();
  j["schema_version"] = 2;
  EXPECT_EQ(error_of(j.dump()),
            "bad.json: schema_version: expected a version from 1 to 1 (a newer codeprof wrote this report?), got number 2");
  EXPECT_EQ(error_of(R"({"traceEvents": []})"),
            "bad.json: expected a codeprof report (key schema_version), found a Chrome trace (key traceEvents): read it as a trace");
  EXPECT_EQ(error_of("[1,2]"), "bad.json: top level: expected a JSON object (a codeprof report), got array");
  EXPECT_EQ(error_of("{}"), "bad.json: schema_version: expected this key (a codeprof report starts with it)");
  // The smallest readable report.
  const Snapshot minimal = io::parse_json_report(R"({"schema_version": 1, "run": {}, "operations": []})");
  EXPECT_TRUE(minimal.operations.empty());
}

TEST(ReportReader, FilesThatCannotBeRead) {
  try {
    io::read_json_report("/nonexistent/dir/report.json");
    FAIL() << "expected an error";
  } catch (const io::ReportError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/dir/report.json: cannot open the file for reading: no such file");
  }
  const auto path = std::filesystem::temp_directory_path() / ("codeprof_gz_" + std::to_string(::getpid()) + ".json");
  // Broken gzip data: reports may be gzip-compressed, so it is read as such and refused as broken.
  std::ofstream(path, std::ios::binary) << "\x1f\x8b\x08\x00rest";
  try {
    io::read_json_report(path.string());
    FAIL() << "expected an error";
  } catch (const io::ReportError& e) {
    EXPECT_NE(std::string(e.what()).find("gzip data"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

// Every key a report can hold is documented in docs/REPORT_SCHEMA.md as `key`, and the documented
// version is the one written.
void collect_keys(const nlohmann::json& j, const std::string& path, std::set<std::pair<std::string, std::string>>& keys) {
  if (j.is_array()) {
    for (const auto& e : j) collect_keys(e, path + "[]", keys);
    return;
  }
  if (!j.is_object() || path == "run.metadata") return;  // metadata holds the user's own keys
  for (const auto& [key, value] : j.items()) {
    keys.insert({key, path});
    collect_keys(value, path.empty() ? key : path + "." + key, keys);
  }
}

TEST(ReportSchemaDoc, DocumentsEveryKeyWritten) {
  std::ifstream in(std::string(CODEPROF_SOURCE_DIR) + "/docs/REPORT_SCHEMA.md");
  ASSERT_TRUE(in) << "docs/REPORT_SCHEMA.md is missing";
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(doc.find("# codeprof JSON report — schema version 1\n"), std::string::npos);

  Snapshot s = test::sample_snapshot();
  for (auto& r : s.operations[0].resources) r = {1, 2, 3, 1};  // every metric measured once
  std::set<std::pair<std::string, std::string>> keys;
  collect_keys(nlohmann::json::parse(io::to_json_report(s, test::sample_findings())), "", keys);
  EXPECT_GT(keys.size(), 120u);
  for (const auto& [key, where] : keys)
    EXPECT_NE(doc.find("`" + key + "`"), std::string::npos) << "undocumented key " << key << " in " << (where.empty() ? "top level" : where);
}

}  // namespace
}  // namespace codeprof
