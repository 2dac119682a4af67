// Malformed traces: every one ends in a TraceReadError whose message is one line naming the
// file, where (byte offset and/or event index) and what was expected. Never another exception,
// a crash or a hang (these also run under ASan/UBSan).
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <random>
#include <string>

#include "codeprof/trace_reader.hpp"
#include "io/trace_reference.hpp"

namespace codeprof {
namespace {

constexpr std::uint64_t kNone = io::TraceReadError::kNoPosition;

struct Failure {
  std::string message;
  std::uint64_t offset = kNone, event = kNone;
};

// Reads `bytes`; returns the error (the test fails if it reads, or throws anything else).
Failure failure_of(const std::string& bytes) {
  try {
    io::read_trace_bytes(bytes, "bad.json");
  } catch (const io::TraceReadError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("bad.json: ", 0), 0u) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_NE(m.find("expected"), std::string::npos) << m;
    EXPECT_EQ(e.file(), "bad.json");
    return {m, e.byte_offset(), e.event_index()};
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a TraceReadError: " << e.what();
    return {};
  }
  ADD_FAILURE() << "read without error: " << bytes.substr(0, 200);
  return {};
}

// 0: read, 1: TraceReadError; anything else fails the test.
int trace_outcome(const std::string& bytes) {
  try {
    io::read_trace_bytes(bytes, "bad.json");
    return 0;
  } catch (const io::TraceReadError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("bad.json: ", 0), 0u) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    return 1;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a TraceReadError: " << e.what();
    return 2;
  }
}

const std::string kGood = R"({"ph":"X","cat":"cpu_op","name":"a","pid":1,"tid":1,"ts":10,"dur":5})";

std::string events(const std::string& bad) { return "{\"traceEvents\":[" + kGood + "," + bad + "]}"; }

struct Case {
  const char* what;
  std::string input;
  std::string expect;           // part of the message
  std::uint64_t event = kNone;  // expected event index, when the problem is in an event
};

TEST(TraceReaderErrors, OneLineNamingWhereAndWhatWasExpected) {
  const std::vector<Case> cases = {
      {"empty", "", "expected a JSON object or array, found an empty file"},
      {"spaces", " \n\t ", "found an empty file"},
      {"not JSON", "hello world", "expected a JSON object or array, found 'h'"},
      {"a number", "42", "expected a JSON object or array, found '4'"},
      {"binary", std::string("\x00\x01\x02", 3), "found byte 0x00"},
      {"no traceEvents", R"({"schemaVersion":1})", "expected a \"traceEvents\" array in the top-level object, found none"},
      {"traceEvents not array", R"({"traceEvents":{"ph":"X"}})", "expected \"traceEvents\" to be an array, found '{'"},
      {"two traceEvents", R"({"traceEvents":[],"traceEvents":[]})", "found a second one"},
      {"truncated array", R"({"traceEvents":[)", "found the end of the file (truncated?)", 0},
      {"truncated event", "{\"traceEvents\":[" + kGood + R"(,{"ph":"X","name":"b)", "expected the rest of this event", 1},
      {"truncated after event", "{\"traceEvents\":[" + kGood, "expected ',' or ']' to continue", 1},
      {"truncated object", "{\"traceEvents\":[]", "expected ',' or '}' in the top-level object, found the end of the file"},
      {"missing comma", "{\"traceEvents\":[" + kGood + " " + kGood + "]}", "expected ',' or ']' after an event, found '{'", 1},
      {"leading comma", "{\"traceEvents\":[," + kGood + "]}", "expected an event object, found ','", 0},
      {"trailing comma", "{\"traceEvents\":[" + kGood + ",]}", "expected an event after ','", 1},
      {"trailing garbage", "{\"traceEvents\":[]} x", "expected the end of the file after the top-level value, found 'x'"},
      {"key without colon", R"({"traceEvents" []})", "expected ':' after a key, found '['"},
      {"non-string key", R"({traceEvents: []})", "expected a key string in the top-level object, found 't'"},
      {"event not object", events("17"), "expected an event object", 1},
      {"bad JSON in event", events(R"({"ph":"X","name":"b" "ts":1})"), "expected valid JSON", 1},
      {"no ph", events(R"({"name":"b","ts":1,"dur":1})"), "expected \"ph\"", 1},
      {"ph number", events(R"({"ph":1,"name":"b","ts":1,"dur":1})"), "expected \"ph\" to be a string", 1},
      {"name number", events(R"({"ph":"X","name":5,"ts":1,"dur":1})"), "expected \"name\" to be a string", 1},
      {"X without name", events(R"({"ph":"X","ts":1,"dur":1})"), "expected \"name\" in a complete (\"X\") event", 1},
      {"X without ts", events(R"({"ph":"X","name":"b","dur":1})"), "expected \"ts\" in a complete", 1},
      {"X without dur", events(R"({"ph":"X","name":"b","ts":1})"), "expected \"dur\" in a complete", 1},
      {"ts string", events(R"({"ph":"X","name":"b","ts":"12","dur":1})"), "expected \"ts\" to be a number of microseconds, found \"12\"", 1},
      {"ts object", events(R"({"ph":"X","name":"b","ts":{},"dur":1})"), "expected \"ts\" to be a number", 1},
      {"ts true", events(R"({"ph":"X","name":"b","ts":true,"dur":1})"), "expected \"ts\" to be a number", 1},
      {"ts 1e300", events(R"({"ph":"X","name":"b","ts":1e300,"dur":1})"), "expected \"ts\" within +-3e15 microseconds, found 1e300", 1},
      {"ts huge integer", events(R"({"ph":"X","name":"b","ts":123456789012345678901234,"dur":1})"), "expected \"ts\" within", 1},
      {"ts bad number", events(R"({"ph":"X","name":"b","ts":12.3.4,"dur":1})"), "expected \"ts\" to be a number", 1},
      {"dur negative", events(R"({"ph":"X","name":"b","ts":1,"dur":-5})"), "expected \"dur\" to be zero or positive, found -5", 1},
      {"dur -1e300", events(R"({"ph":"X","name":"b","ts":1,"dur":-1e300})"), "expected \"dur\" within", 1},
      {"pid object", events(R"({"ph":"X","name":"b","ts":1,"dur":1,"pid":{}})"), "expected \"pid\" to be a number or a string", 1},
      {"B without name", events(R"({"ph":"B","ts":1})"), "expected \"name\" in a begin (\"B\") event", 1},
      {"E before B", events(R"({"ph":"B","name":"b","pid":1,"tid":1,"ts":100},{"ph":"E","pid":1,"tid":1,"ts":50})"),
       "expected an \"E\" event at or after its \"B\"", 2},
      {"C without ts", events(R"({"ph":"C","name":"c","args":{"value":1}})"), "expected \"ts\" in a counter", 1},
      {"rank string", R"({"distributedInfo":{"rank":"zero"},"traceEvents":[]})", "key \"distributedInfo\": expected distributedInfo.rank to be an integer"},
      {"rank negative", R"({"distributedInfo":{"rank":-3},"traceEvents":[]})", "expected distributedInfo.rank between 0 and"},
      {"rank absurd", R"({"distributedInfo":{"rank":1e300},"traceEvents":[]})", "expected distributedInfo.rank to be an integer"},
      {"rank >= world", R"({"distributedInfo":{"rank":8,"world_size":8},"traceEvents":[]})", "expected distributedInfo.rank below world_size (8), found 8"},
      {"distributedInfo array", R"({"distributedInfo":[1],"traceEvents":[]})", "expected \"distributedInfo\" to be an object"},
      {"deviceProperties object", R"({"deviceProperties":{},"traceEvents":[]})", "expected \"deviceProperties\" to be an array"},
      {"device name number", R"({"deviceProperties":[{"id":0,"name":7}],"traceEvents":[]})", "expected deviceProperties[0].name to be a string"},
      {"device memory negative", R"({"deviceProperties":[{"totalGlobalMem":-1}],"traceEvents":[]})", "expected deviceProperties[0].totalGlobalMem between"},
      {"base time string", R"({"baseTimeNanoseconds":"x","traceEvents":[]})", "expected \"baseTimeNanoseconds\" to be an integer"},
      {"base time negative", R"({"baseTimeNanoseconds":-1,"traceEvents":[]})", "expected \"baseTimeNanoseconds\" between 0"},
      {"bad top-level value", R"({"traceName": tru, "traceEvents":[]})", "expected valid JSON for key \"traceName\""},
      {"truncated top-level value", R"({"deviceProperties":[{"id":0)", "expected the rest of this value, found the end of the file"},
      {"invalid UTF-8", events("{\"ph\":\"X\",\"name\":\"b\xff\xfe\",\"ts\":1,\"dur\":1}"), "expected valid JSON", 1},
      {"control character", events("{\"ph\":\"X\",\"name\":\"b\x01\",\"ts\":1,\"dur\":1}"), "expected valid JSON", 1},
      {"deep nesting", events(R"({"ph":"X","name":"b","ts":1,"dur":1,"args":{"x":)" + std::string(5000, '[') +
                              std::string(5000, ']') + "}}"),
       "expected JSON nested at most 1024 levels deep", 1},
      {"deep top-level value", "{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + ",\"traceEvents\":[]}",
       "expected JSON nested at most 1024 levels deep"},
      {"deep bare array", std::string(100000, '['), "expected JSON nested at most 1024 levels deep", 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const Failure f = failure_of(c.input);
    EXPECT_NE(f.message.find(c.expect), std::string::npos) << f.message;
    EXPECT_EQ(f.event, c.event) << f.message;
    if (c.event != kNone) {
      EXPECT_NE(f.message.find("(event " + std::to_string(c.event) + ")"), std::string::npos) << f.message;
      EXPECT_NE(f.offset, kNone) << f.message;
      EXPECT_LE(f.offset, c.input.size()) << f.message;
    }
  }
}

TEST(TraceReaderErrors, OffsetsPointAtTheFaultyEvent) {
  const std::string text = events(R"({"ph":"X","name":"b","ts":1,"dur":-5})");
  const Failure f = failure_of(text);
  const std::uint64_t second = text.find("{\"ph\":\"X\",\"name\":\"b\"");
  EXPECT_GE(f.offset, second);
  EXPECT_LT(f.offset, text.size());
  EXPECT_NE(f.message.find("byte offset " + std::to_string(f.offset) + " (event 1)"), std::string::npos) << f.message;

  const std::string cut = text.substr(0, text.size() - 10);
  const Failure t = failure_of(cut);
  EXPECT_EQ(t.offset, second);  // the event that the end of the file cut off
  EXPECT_EQ(t.event, 1u);
}

// The largest accepted numbers, many times over: sums saturate instead of overflowing (UBSan
// would report a signed overflow), and times relative to the earliest event still fit.
TEST(TraceReaderErrors, ExtremeButValidNumbersSaturate) {
  std::string t = R"({"traceEvents":[
    {"ph":"X","cat":"cpu_op","name":"outer","pid":1,"tid":1,"ts":-3e15,"dur":3000000000000000},
    {"ph":"X","cat":"cuda_runtime","name":"cudaLaunchKernel","pid":1,"tid":1,"ts":-2999999999999999,"dur":1,"args":{"correlation":1}})";
  for (int i = 0; i < 4000; ++i) {
    t += R"(,{"ph":"X","cat":"kernel","name":"k","pid":0,"tid":7,"ts":3000000000000000,"dur":3000000000000000,"args":{"device":0,"stream":7,"correlation":1}})";
    t += R"(,{"ph":"X","cat":"cuda_sync","name":"Stream Sync","pid":0,"tid":7,"ts":0,"dur":3000000000000000})";
  }
  t += "]}";
  const Snapshot s = io::read_trace_bytes(t, "extreme.json");
  EXPECT_EQ(s.sync_ns, INT64_MAX);
  ASSERT_FALSE(s.devices.empty());
  EXPECT_EQ(s.devices[0].kernel_ns, INT64_MAX);
  EXPECT_EQ(s.devices[0].busy_ns, 3'000'000'000'000'000'000);
  EXPECT_EQ(s.find("outer")->resource(ProbeMetric::GpuTimeNs).total, INT64_MAX);
  EXPECT_EQ(s.run.wall_ns, 9'000'000'000'000'000'000);  // from -3e15 us to 6e15 us
  EXPECT_EQ(s.find("k")->last_seen_ns, 9'000'000'000'000'000'000);
}

TEST(TraceReaderErrors, FilesThatCannotBeOpened) {
  try {
    io::read_trace_file("/nonexistent/dir/trace.json");
    FAIL();
  } catch (const io::TraceReadError& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/dir/trace.json: expected a readable file: No such file or directory");
  }
  try {
    io::read_trace_file(::testing::TempDir());
    FAIL();
  } catch (const io::TraceReadError& e) {
    EXPECT_NE(std::string(e.what()).find("expected a file, found a directory"), std::string::npos) << e.what();
  }
}

std::string fixture_bytes(const std::string& name) {
  std::ifstream in(std::string(CODEPROF_FIXTURES_DIR) + "/kineto/" + name, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(TraceReaderErrors, BadGzip) {
  const std::string gz = fixture_bytes("alexnet_benchmark_result_2869224_1695835535_trace.json.gz");
  ASSERT_GT(gz.size(), 10000u);
  // Cut anywhere: the gzip stream or the JSON inside it ends early.
  for (std::size_t cut : {std::size_t{2}, std::size_t{5}, std::size_t{30}, gz.size() / 3, gz.size() - 9, gz.size() - 1}) {
    SCOPED_TRACE(cut);
    const Failure f = failure_of(gz.substr(0, cut));
    EXPECT_TRUE(f.message.find("gzip") != std::string::npos || f.message.find("truncated") != std::string::npos)
        << f.message;
  }
  const Failure truncated = failure_of(gz.substr(0, gz.size() / 2));
  EXPECT_NE(truncated.message.find("expected more gzip data, found the end of the file (truncated?)"), std::string::npos)
      << truncated.message;
  // Corrupt the deflate data: zlib or the CRC check rejects it.
  std::string corrupt = gz;
  for (std::size_t i = 200; i < 260; ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
  const Failure c = failure_of(corrupt);
  EXPECT_TRUE(c.message.find("expected valid gzip data") != std::string::npos ||
              c.message.find("expected valid JSON") != std::string::npos)
      << c.message;
  // Garbage after the gzip member.
  const Failure g = failure_of(gz + "garbage");
  EXPECT_NE(g.message.find("gzip"), std::string::npos) << g.message;
}

TEST(TraceReaderErrors, EveryTruncationOfARealTraceIsAnError) {
  const std::string text = test::read_maybe_gzip(std::string(CODEPROF_FIXTURES_DIR) + "/kineto/inference_rank_1.json.gz");
  std::size_t end = text.size();
  while (end && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  for (std::size_t cut = 0; cut + 1 < end; cut += 37) {
    SCOPED_TRACE(cut);
    EXPECT_EQ(trace_outcome(text.substr(0, cut)), 1);
  }
}

TEST(TraceReaderErrors, ByteFlipsNeverCrash) {
  const std::string text = test::read_maybe_gzip(std::string(CODEPROF_FIXTURES_DIR) + "/kineto/compare_test.json.gz");
  const std::string alphabet = "{}[],:\"\\-.0123456789eE xtrufalsn\x01\xff";
  std::mt19937 rng(12345);
  int reads = 0, errors = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string mutated = text;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k)
      mutated[rng() % mutated.size()] = alphabet[rng() % alphabet.size()];
    const int r = trace_outcome(mutated);
    reads += r == 0;
    errors += r == 1;
  }
  EXPECT_GT(reads, 0);   // many flips land in places that do not matter
  EXPECT_GT(errors, 0);
}

}  // namespace
}  // namespace codeprof
