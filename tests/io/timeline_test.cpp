// Timelines of several processes: the merged Chrome trace and the Perfetto protobuf trace. The
// Perfetto output is decoded twice with the .proto definitions: through the generated classes and
// by protoc itself (--decode), independently of the writer's own encoding.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "codeprof/exporters.hpp"
#include "io/run_command.hpp"
#include "io/sample_snapshot.hpp"
#include "proto/perfetto_trace.pb.h"

#include <zlib.h>

namespace codeprof {
namespace {

namespace pb = perfetto::protos;

std::string inflate_zlib(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(inflateInit(&z), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[65536];
  int ret = Z_OK;
  while (ret == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    ret = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  EXPECT_EQ(ret, Z_STREAM_END) << "a complete zlib stream";
  return out;
}

// The packets of a trace file, with compressed batches inflated (as Perfetto's trace processor
// reads them): each batch is itself a sequence of Trace.packet fields. `inner` gets the inflated
// bytes, a valid Trace message on its own.
std::vector<pb::TracePacket> packets_of(const std::string& file, std::string* inner = nullptr) {
  pb::Trace outer;
  EXPECT_TRUE(outer.ParseFromString(file));
  std::vector<pb::TracePacket> out;
  for (const auto& packet : outer.packet()) {
    if (!packet.has_compressed_packets()) {
      out.push_back(packet);
      continue;
    }
    EXPECT_LT(packet.ByteSizeLong(), 512u * 1024) << "Perfetto's limit for one compressed packet";
    const std::string batch = inflate_zlib(packet.compressed_packets());
    if (inner) *inner += batch;
    pb::Trace t;
    EXPECT_TRUE(t.ParseFromString(batch));
    for (const auto& p : t.packet()) out.push_back(p);
  }
  return out;
}

// Two ranks of one job: rank 1 started 2.5 ms after rank 0 on the wall clock; each recorded an
// outer step with a nested all-reduce, on its own clock (nanoseconds since its own start).
std::vector<Snapshot> two_ranks() {
  std::vector<Snapshot> ranks;
  for (int r = 0; r < 2; ++r) {
    Snapshot s;
    s.run.rank = r;
    s.run.world_size = 2;
    s.run.host = "node-" + std::to_string(r);
    s.run.pid = 100 + r;
    s.run.start_unix_ns = 1'700'000'000'000'000'000 + r * 2'500'000;
    OperationStats step;
    step.id = 0;
    step.name = "train_step";
    step.category = Category::TrainingLoop;
    OperationStats allreduce;
    allreduce.id = 1;
    allreduce.name = "allreduce_gradients";
    allreduce.category = Category::MultiGpu;
    s.operations = {step, allreduce};
    s.threads = {{0, 4242, "main", 2, 0, 0, {}}};
    s.trace_events = {{1, 0, 1'000'000, 2'000'000, 1, {}}, {0, 0, 0, 10'000'000, 0, {}}};
    s.steps = {{0, 0, 10'000'000}};
    s.timelines = {{"rss_bytes", "bytes", {0, 5'000'000}, {1e9, 1.5e9}}};
    ranks.push_back(std::move(s));
  }
  return ranks;
}

std::vector<io::TimelineProcess> processes_of(const std::vector<Snapshot>& ranks) {
  std::vector<io::TimelineProcess> p;
  for (const auto& s : ranks) p.push_back({&s, "", -1});
  return p;
}

TEST(MergedChromeTrace, OneProcessPerRankAlignedOnTheWallClock) {
  const auto ranks = two_ranks();
  const auto j = nlohmann::json::parse(io::to_chrome_trace(processes_of(ranks)));
  EXPECT_EQ(j["baseTimeNanoseconds"], 1'700'000'000'000'000'000);
  std::map<int, std::string> process_names;
  std::map<std::pair<int, std::string>, double> starts;  // (pid, name) -> ts in us
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "process_name") process_names[e["pid"]] = e["args"]["name"];
    if (e["ph"] == "X") starts[{e["pid"].get<int>(), e["name"].get<std::string>()}] = e["ts"].get<double>();
  }
  EXPECT_EQ(process_names, (std::map<int, std::string>{{0, "rank 0 · node-0 · pid 100"}, {1, "rank 1 · node-1 · pid 101"}}));
  // Rank 1's events sit 2.5 ms later: its clock starts 2.5 ms after rank 0's.
  EXPECT_EQ(starts.at({0, "train_step"}), 0.0);
  EXPECT_EQ(starts.at({1, "train_step"}), 2500.0);
  EXPECT_EQ(starts.at({1, "allreduce_gradients"}), 3500.0);
  EXPECT_EQ(starts.at({1, "step 0"}), 2500.0);  // the steps' own track
  EXPECT_EQ(j["otherData"]["processes"][1]["offset_ns"], 2'500'000);
  // The codeprof trace reader reads it back as one trace with both processes' calls.
  EXPECT_EQ(j["otherData"]["codeprof_events"], "all recorded calls");
}

struct DecodedTrack {
  std::string name;
  std::int64_t pid = -1;
  bool is_thread = false, is_counter = false;
};

TEST(PerfettoTrace, DecodesWithThePerfettoDefinitionsIntoTracksSlicesAndCounters) {
  const auto ranks = two_ranks();
  const std::vector<pb::TracePacket> packets = packets_of(io::to_perfetto_trace(processes_of(ranks)));
  ASSERT_FALSE(packets.empty());
  EXPECT_TRUE(packets[0].sequence_flags() & pb::TracePacket::SEQ_INCREMENTAL_STATE_CLEARED);

  std::map<std::uint64_t, DecodedTrack> tracks;
  std::map<std::uint64_t, std::string> names, categories;
  std::map<std::uint64_t, std::vector<std::string>> open;  // track -> slice stack
  std::map<std::pair<std::uint64_t, std::string>, std::uint64_t> begins;  // (track, name) -> timestamp
  std::vector<std::pair<std::uint64_t, double>> counters;
  std::uint64_t last_ts = 0;
  std::size_t slices = 0;
  for (const auto& packet : packets) {
    EXPECT_EQ(packet.trusted_packet_sequence_id(), 1u);
    for (const auto& n : packet.interned_data().event_names()) EXPECT_TRUE(names.emplace(n.iid(), n.name()).second);
    for (const auto& c : packet.interned_data().event_categories()) EXPECT_TRUE(categories.emplace(c.iid(), c.name()).second);
    if (packet.has_track_descriptor()) {
      const auto& d = packet.track_descriptor();
      DecodedTrack t;
      if (d.has_process()) {
        t.name = d.process().process_name();
        t.pid = d.process().pid();
      } else if (d.has_thread()) {
        t.name = d.thread().thread_name();
        t.pid = d.thread().pid();
        t.is_thread = true;
      } else {
        t.name = d.name();
        t.is_counter = d.has_counter();
      }
      EXPECT_TRUE(tracks.emplace(d.uuid(), t).second) << "uuid " << d.uuid() << " declared twice";
      continue;
    }
    ASSERT_TRUE(packet.has_track_event());
    EXPECT_GE(packet.timestamp(), last_ts) << "events in time order";
    last_ts = packet.timestamp();
    const auto& e = packet.track_event();
    ASSERT_TRUE(tracks.count(e.track_uuid())) << "event on an undeclared track";
    if (e.type() == pb::TrackEvent::TYPE_SLICE_BEGIN) {
      ASSERT_TRUE(names.count(e.name_iid())) << "name interned before use";
      ASSERT_EQ(e.category_iids_size(), 1);
      ASSERT_TRUE(categories.count(e.category_iids(0)));
      open[e.track_uuid()].push_back(names[e.name_iid()]);
      begins[{e.track_uuid(), names[e.name_iid()]}] = packet.timestamp();
      ++slices;
    } else if (e.type() == pb::TrackEvent::TYPE_SLICE_END) {
      ASSERT_FALSE(open[e.track_uuid()].empty()) << "an end without a begin";
      open[e.track_uuid()].pop_back();
    } else {
      ASSERT_EQ(e.type(), pb::TrackEvent::TYPE_COUNTER);
      EXPECT_TRUE(tracks[e.track_uuid()].is_counter);
      counters.emplace_back(packet.timestamp(), e.double_counter_value());
    }
  }
  for (const auto& [track, stack] : open) EXPECT_TRUE(stack.empty()) << "unclosed slice on track " << track;
  EXPECT_EQ(slices, 6u);  // per rank: step, all-reduce, "step 0"
  EXPECT_EQ(counters.size(), 4u);

  std::set<std::string> process_names;
  for (const auto& [uuid, t] : tracks)
    if (!t.is_thread && !t.is_counter && t.pid >= 0) process_names.insert(t.name);
  EXPECT_EQ(process_names, (std::set<std::string>{"rank 0 · node-0 · pid 100", "rank 1 · node-1 · pid 101"}));
  // Timestamps are wall-clock nanoseconds: rank 1's all-reduce began 2.5 ms + 1 ms after rank 0's start.
  std::uint64_t rank1_allreduce = 0;
  for (const auto& [key, ts] : begins)
    if (key.second == "allreduce_gradients" && tracks[key.first].pid == 1) rank1_allreduce = ts;
  EXPECT_EQ(rank1_allreduce, 1'700'000'000'000'000'000ull + 3'500'000);
}

TEST(PerfettoTrace, ProtocDecodesItWithTheProtoFile) {
  const auto ranks = two_ranks();
  test::TempDir dir("pftrace");
  const std::string path = dir.file("job.pftrace"), inner_path = dir.file("inner.pb");
  io::write_file_atomic(path, io::to_perfetto_trace(processes_of(ranks)));
  const auto decode = [&](const std::string& file) {
    return test::run_command(std::string(CODEPROF_PROTOC) + " --proto_path=" + test::shell_quote(CODEPROF_PROTO_DIR) +
                             " --decode=perfetto.protos.Trace perfetto_trace.proto < " + test::shell_quote(file));
  };
  const auto outer = decode(path);
  ASSERT_EQ(outer.exit_code, 0) << outer.output;
  EXPECT_NE(outer.output.find("compressed_packets: "), std::string::npos);
  std::ifstream in(path, std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string inner;
  packets_of(file, &inner);
  io::write_file_atomic(inner_path, inner);
  const auto r = decode(inner_path);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("process_name: \"rank 1 \\302\\267 node-1 \\302\\267 pid 101\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("name: \"allreduce_gradients\""), std::string::npos);
  EXPECT_NE(r.output.find("type: TYPE_SLICE_BEGIN"), std::string::npos);
  EXPECT_NE(r.output.find("double_counter_value: 1500000000"), std::string::npos);
}

TEST(PerfettoTrace, SeveralTimesSmallerThanTheJsonTraceOfTheSameEvents) {
  Snapshot s = test::sample_snapshot();
  // 20,000 nested events over the sample's operations.
  s.trace_events.clear();
  for (int i = 0; i < 10000; ++i) {
    s.trace_events.push_back({0, 0, i * 100'000LL, 90'000, 0, {}});
    s.trace_events.push_back({1, 0, i * 100'000LL + 10'000, 50'000, 1, {}});
  }
  const std::size_t json = io::to_chrome_trace(s).size();
  const std::string proto = io::to_perfetto_trace(s);
  EXPECT_LT(proto.size() * 5, json) << "protobuf " << proto.size() << " bytes vs JSON " << json;
  std::size_t begins = 0;
  for (const auto& p : packets_of(proto))
    if (p.has_track_event() && p.track_event().type() == pb::TrackEvent::TYPE_SLICE_BEGIN) ++begins;
  EXPECT_EQ(begins, 20000u + s.steps.size());  // and a slice per step on the steps track
}

}  // namespace
}  // namespace codeprof
