// The trace reader on small hand-made traces whose right answers are worked out by hand:
// nesting and self time, B/E pairs, both document forms, exact fractional microseconds, GPU time
// through correlation ids, busy-time unions, counters, codeprof's own Chrome trace read back,
// the bounded sort spilling to disk, events across read windows, and format detection.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "codeprof/exporters.hpp"
#include "codeprof/trace_reader.hpp"
#include "core/aggregator.hpp"

namespace codeprof {
namespace {

namespace fs = std::filesystem;

std::string micros(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

std::string x_event(const std::string& name, const std::string& cat, double ts, double dur, int tid = 1,
                    const std::string& args = "") {
  return R"({"ph":"X","cat":")" + cat + R"(","name":")" + name + R"(","pid":100,"tid":)" + std::to_string(tid) +
         R"(,"ts":)" + micros(ts) + R"(,"dur":)" + micros(dur) + (args.empty() ? "" : ",\"args\":" + args) + "}";
}

std::string gpu_event(const std::string& name, const std::string& cat, double ts, double dur, int stream, long corr,
                      long bytes = 0, int device = 0) {
  std::string args = "{\"device\":" + std::to_string(device) + ",\"stream\":" + std::to_string(stream) +
                     ",\"correlation\":" + std::to_string(corr);
  if (bytes) args += ",\"bytes\":" + std::to_string(bytes);
  args += "}";
  char buf[512];
  std::snprintf(buf, sizeof buf, R"({"ph":"X","cat":"%s","name":"%s","pid":%d,"tid":%d,"ts":%.3f,"dur":%.3f,"args":%s})",
                cat.c_str(), name.c_str(), device, stream, ts, dur, args.c_str());
  return buf;
}

std::string trace_of(const std::vector<std::string>& events, const std::string& extra = "") {
  std::string s = "{" + extra + (extra.empty() ? "" : ",") + "\"traceEvents\":[";
  for (std::size_t i = 0; i < events.size(); ++i) s += (i ? ",\n" : "") + events[i];
  return s + "]}";
}

Snapshot read(const std::string& text, const io::TraceReadOptions& options = {}) {
  return io::read_trace_bytes(text, "test.json", options);
}

const OperationStats& op(const Snapshot& s, const std::string& name) {
  const OperationStats* o = s.find(name);
  if (!o) throw std::runtime_error("no operation " + name);
  return *o;
}

std::uint64_t edge_count(const Snapshot& s, const std::string& parent, const std::string& child) {
  const std::uint32_t p = parent.empty() ? kRootOperation : op(s, parent).id;
  const std::uint32_t c = op(s, child).id;
  for (const auto& e : s.call_tree)
    if (e.parent_id == p && e.child_id == c) return e.count;
  return 0;
}

// step [0,100) > a [10,40) > b [15,25); step > c [50,90); written out of order.
std::vector<std::string> nested_events() {
  return {x_event("c", "cpu_op", 50, 40), x_event("b", "cpu_op", 15, 10), x_event("ProfilerStep#7", "user_annotation", 0, 100),
          x_event("a", "cpu_op", 10, 30)};
}

TEST(TraceReader, NestingGivesSelfTimeCallTreeAndSteps) {
  const Snapshot s = read(trace_of(nested_events()));
  EXPECT_EQ(s.run.source, "kineto");  // cpu_op / user_annotation are the PyTorch profiler's
  EXPECT_EQ(op(s, "ProfilerStep").self_ns, 30'000u);
  EXPECT_EQ(op(s, "ProfilerStep").total_ns, 100'000u);
  EXPECT_EQ(op(s, "a").self_ns, 20'000u);
  EXPECT_EQ(op(s, "b").self_ns, 10'000u);
  EXPECT_EQ(op(s, "c").self_ns, 40'000u);
  EXPECT_EQ(edge_count(s, "", "ProfilerStep"), 1u);
  EXPECT_EQ(edge_count(s, "ProfilerStep", "a"), 1u);
  EXPECT_EQ(edge_count(s, "a", "b"), 1u);
  EXPECT_EQ(edge_count(s, "ProfilerStep", "c"), 1u);
  ASSERT_EQ(s.steps.size(), 1u);
  EXPECT_EQ(s.steps[0].index, 7);
  EXPECT_EQ(s.steps[0].start_ns, 0);
  EXPECT_EQ(s.steps[0].end_ns, 100'000);
  ASSERT_EQ(s.threads.size(), 1u);
  EXPECT_EQ(s.threads[0].top_level_ns, 100'000u);
  EXPECT_EQ(s.threads[0].os_tid, 1u);
  EXPECT_EQ(s.events_recorded, 4u);
  ASSERT_EQ(s.trace_events.size(), 4u);
  // The kept events carry their depth.
  for (const auto& e : s.trace_events)
    if (e.operation_id == op(s, "b").id) {
      EXPECT_EQ(e.depth, 2u);
    }
}

TEST(TraceReader, BeginEndPairsAndTheBareArrayFormReadLikeCompleteEvents) {
  const Snapshot x = read(trace_of(nested_events()));
  const std::string be = R"([
    {"ph":"B","cat":"user_annotation","name":"ProfilerStep#7","pid":100,"tid":1,"ts":0},
    {"ph":"B","cat":"cpu_op","name":"a","pid":100,"tid":1,"ts":10},
    {"ph":"B","cat":"cpu_op","name":"b","pid":100,"tid":1,"ts":15},
    {"ph":"E","pid":100,"tid":1,"ts":25},
    {"ph":"E","pid":100,"tid":1,"ts":40},
    {"ph":"B","cat":"cpu_op","name":"c","pid":100,"tid":1,"ts":50},
    {"ph":"E","pid":100,"tid":1,"ts":90},
    {"ph":"E","pid":100,"tid":1,"ts":100}
  ])";
  const Snapshot y = read(be);
  EXPECT_EQ(y.run.metadata.at("trace_format"), "array");
  ASSERT_EQ(x.operations.size(), y.operations.size());
  for (const auto& o : x.operations) {
    const OperationStats& p = op(y, o.name);
    EXPECT_EQ(p.count, o.count) << o.name;
    EXPECT_EQ(p.total_ns, o.total_ns) << o.name;
    EXPECT_EQ(p.self_ns, o.self_ns) << o.name;
    EXPECT_EQ(p.category, o.category) << o.name;
  }
  EXPECT_EQ(y.steps.size(), 1u);
}

TEST(TraceReader, MicrosecondsConvertExactly) {
  const std::string t = R"({"traceEvents":[
    {"ph":"X","name":"a","pid":1,"tid":1,"ts":4203669603018.756,"dur":0.001},
    {"ph":"X","name":"b","pid":1,"tid":1,"ts":4203669603019,"dur":2.5},
    {"ph":"X","name":"c","pid":1,"tid":1,"ts":4203669603020,"dur":1e3},
    {"ph":"X","name":"d","pid":1,"tid":1,"ts":4203669605000,"dur":1.0005}
  ],"baseTimeNanoseconds":1735632360000000000})";
  const Snapshot s = read(t);
  EXPECT_EQ(s.run.source, "chrome-trace");
  EXPECT_EQ(op(s, "a").total_ns, 1u);
  EXPECT_EQ(op(s, "b").total_ns, 2'500u);
  EXPECT_EQ(op(s, "c").total_ns, 1'000'000u);
  EXPECT_EQ(op(s, "d").total_ns, 1'001u);  // 1000.5 ns rounds half up
  EXPECT_EQ(s.run.start_unix_ns, 1735632360000000000 + 4203669603018756);
  EXPECT_EQ(op(s, "b").first_seen_ns, 244);  // 4203669603019000 - 4203669603018756
  EXPECT_EQ(s.run.wall_ns, 4203669605001001 - 4203669603018756);
}

TEST(TraceReader, KernelTimeReachesTheLaunchingOperationAndItsAncestors) {
  // outer [0,100) > launch L1 [10,20) (corr 7: kernel 30 us + memset 2 us)
  //              > inner [30,60) > launch L2 [35,40) (corr 8: memcpy 5 us, 4096 bytes)
  // A kernel with correlation 9 has no launch in the trace.
  const Snapshot s = read(trace_of({
      x_event("outer", "cpu_op", 0, 100), x_event("cudaLaunchKernel", "cuda_runtime", 10, 10, 1, R"({"correlation":7})"),
      x_event("inner", "cpu_op", 30, 30), x_event("cudaMemcpyAsync", "cuda_runtime", 35, 5, 1, R"({"correlation":8})"),
      gpu_event("k1", "kernel", 25, 30, 7, 7), gpu_event("Memset (Device)", "gpu_memset", 56, 2, 7, 7),
      gpu_event("Memcpy HtoD (Pinned -> Device)", "gpu_memcpy", 45, 5, 9, 8, 4096), gpu_event("orphan", "kernel", 200, 1, 7, 9),
  }));
  EXPECT_EQ(op(s, "outer").resource(ProbeMetric::GpuTimeNs).total, 37'000);
  EXPECT_EQ(op(s, "outer").resource(ProbeMetric::GpuTimeNs).samples, 1u);
  EXPECT_EQ(op(s, "cudaLaunchKernel").resource(ProbeMetric::GpuTimeNs).total, 32'000);
  EXPECT_EQ(op(s, "inner").resource(ProbeMetric::GpuTimeNs).total, 5'000);
  EXPECT_EQ(op(s, "cudaMemcpyAsync").resource(ProbeMetric::GpuTimeNs).total, 5'000);
  EXPECT_EQ(op(s, "cudaLaunchKernel").category, Category::Gpu);
  EXPECT_EQ(op(s, "k1").category, Category::Gpu);
  EXPECT_EQ(s.run.metadata.at("gpu_activities_without_launch"), "1");
  // Device 0: stream 7 busy [25,55) + [56,58) + [200,201) = 33 us, stream 9 [45,50) = 5 us;
  // the device: [25,55) u [45,50) u [56,58) u [200,201) = 33 us.
  ASSERT_EQ(s.devices.size(), 3u);
  EXPECT_EQ(s.devices[0].stream, -1);
  EXPECT_EQ(s.devices[0].busy_ns, 33'000);
  EXPECT_EQ(s.devices[0].kernel_ns, 31'000);
  EXPECT_EQ(s.devices[0].kernels, 2u);
  EXPECT_EQ(s.devices[0].memset_ns, 2'000);
  EXPECT_EQ(s.devices[0].memcpy_ns, 5'000);
  EXPECT_EQ(s.devices[0].memcpy_bytes, 4096u);
  EXPECT_EQ(s.devices[1].stream, 7);
  EXPECT_EQ(s.devices[1].busy_ns, 33'000);
  EXPECT_EQ(s.devices[2].stream, 9);
  EXPECT_EQ(s.devices[2].busy_ns, 5'000);
}

TEST(TraceReader, BusyTimeIsAUnionAndCountsInsideSteps) {
  // Two streams overlap on [5,10); steps cover [0,8) and [12,14).
  const Snapshot s = read(trace_of({
      x_event("ProfilerStep#1", "user_annotation", 0, 8), x_event("ProfilerStep#2", "user_annotation", 12, 2),
      gpu_event("k", "kernel", 0, 10, 1, 0), gpu_event("k", "kernel", 5, 10, 2, 0),
      gpu_event("k", "kernel", 1, 1, 1, 0, 0, 1),  // another device
      x_event("Stream Sync", "cuda_sync", 15, 3),
  }));
  ASSERT_EQ(s.devices.size(), 5u);
  const DeviceActivity& dev0 = s.devices[0];
  EXPECT_EQ(dev0.device, 0);
  EXPECT_EQ(dev0.busy_ns, 15'000);
  EXPECT_EQ(dev0.busy_in_steps_ns, 8'000 + 2'000);
  EXPECT_EQ(dev0.kernel_ns, 20'000);
  EXPECT_EQ(s.devices[1].busy_in_steps_ns, 8'000);  // stream 1: [0,10)
  EXPECT_EQ(s.devices[2].busy_in_steps_ns, 3'000 + 2'000);  // stream 2: [5,15)
  EXPECT_EQ(s.devices[3].device, 1);
  EXPECT_EQ(s.devices[3].busy_in_steps_ns, 1'000);
  EXPECT_EQ(s.sync_ns, 3'000);
  EXPECT_EQ(op(s, "k").count, 3u);
}

TEST(TraceReader, CountersBecomeTimelinesAndMetadataNamesThreads) {
  const Snapshot s = read(trace_of({
      R"({"ph":"M","name":"process_name","pid":100,"tid":0,"args":{"name":"python3"}})",
      R"({"ph":"M","name":"thread_name","pid":100,"tid":1,"args":{"name":"main thread"}})",
      R"J({"ph":"C","name":"rss_bytes (bytes)","pid":100,"ts":20,"args":{"value":2048}})J",
      R"J({"ph":"C","name":"rss_bytes (bytes)","pid":100,"ts":10,"args":{"value":1024}})J",
      R"({"ph":"C","name":"queue","pid":100,"ts":10,"args":{"cats":1,"dogs":2.5}})",
      x_event("a", "", 0, 5), R"({"ph":"i","name":"mark","pid":100,"tid":1,"ts":3,"s":"t"})",
      R"({"ph":"s","id":1,"name":"flow","pid":100,"tid":1,"ts":3})",
  }));
  const TimelineSeries* rss = s.timeline("rss_bytes");
  ASSERT_NE(rss, nullptr);
  EXPECT_EQ(rss->unit, "bytes");
  EXPECT_EQ(rss->t_ns, (std::vector<std::int64_t>{10'000, 20'000}));
  EXPECT_EQ(rss->values, (std::vector<double>{1024, 2048}));
  ASSERT_NE(s.timeline("queue.dogs"), nullptr);
  EXPECT_EQ(s.timeline("queue.dogs")->values, std::vector<double>{2.5});
  EXPECT_EQ(s.run.command, "python3");
  EXPECT_EQ(s.run.pid, 100);
  ASSERT_EQ(s.threads.size(), 1u);
  EXPECT_EQ(s.threads[0].name, "main thread");
  EXPECT_EQ(op(s, "a").category, Category::Custom);
  EXPECT_EQ(s.run.metadata.at("instant_events"), "1");
  EXPECT_EQ(s.run.metadata.at("flow_events"), "1");
}

TEST(TraceReader, NameRulesMapPyTorchOperationsOntoCategories) {
  const Snapshot s = read(trace_of({
      x_event("enumerate(DataLoader)#_MultiProcessingDataLoaderIter.__next__", "user_annotation", 0, 5),
      x_event("Optimizer.step#SGD.step", "user_annotation", 10, 5),
      x_event("Optimizer.zero_grad#SGD.zero_grad", "user_annotation", 20, 5),
      x_event("aten::mm", "cpu_op", 30, 5), x_event("nccl:all_reduce", "user_annotation", 40, 5),
      x_event("## forward ##", "user_annotation", 50, 5), x_event("cudaStreamSynchronize", "cuda_runtime", 60, 5),
      x_event("load_batch", "data_loading", 70, 5),
  }));
  EXPECT_EQ(op(s, "enumerate(DataLoader)#_MultiProcessingDataLoaderIter.__next__").category, Category::DataLoading);
  EXPECT_EQ(op(s, "Optimizer.step#SGD.step").category, Category::TrainingLoop);
  EXPECT_EQ(op(s, "Optimizer.zero_grad#SGD.zero_grad").category, Category::TrainingLoop);
  EXPECT_EQ(op(s, "aten::mm").category, Category::ModelInference);
  EXPECT_EQ(op(s, "nccl:all_reduce").category, Category::MultiGpu);
  EXPECT_EQ(op(s, "## forward ##").category, Category::Custom);
  EXPECT_EQ(op(s, "load_batch").category, Category::DataLoading);
  EXPECT_EQ(s.sync_ns, 5'000);  // no cuda_sync events: the runtime's synchronize calls
}

// A Snapshot made by the core's own Aggregator, written by to_chrome_trace, read back.
TEST(TraceReader, ReadsCodeprofsOwnChromeTraceBack) {
  core::AggregatorOptions options;
  options.keep_trace = true;
  core::Aggregator agg(options);
  agg.set_thread_info(0, 4242, "main");
  agg.set_thread_info(1, 4250, "loader");
  auto add = [&](std::uint32_t opid, std::uint32_t parent, std::uint16_t depth, std::int64_t start, std::uint64_t dur,
                 std::uint32_t thread) {
    core::CompletedEvent e;
    e.operation_id = opid;
    e.parent_id = parent;
    e.depth = depth;
    e.start_ns = start;
    e.duration_ns = dur;
    e.thread_index = thread;
    agg.add(e);
  };
  for (int i = 0; i < 5; ++i) {
    const std::int64_t t0 = i * 1'000'000;
    add(1, 0, 1, t0 + 1'001, 300'007, 0);   // forward inside train_step
    add(0, kRootOperation, 0, t0, 900'123, 0);
    add(2, kRootOperation, 0, t0 + 17, 250'999 + i, 1);  // load_batch on the loader
  }
  Snapshot original;
  agg.fill(original, {{"train_step", Category::TrainingLoop, "a.cpp", 1},
                      {"forward", Category::ModelInference, "a.cpp", 2},
                      {"load_batch", Category::DataLoading, "a.cpp", 3}});
  original.run.pid = 777;
  original.run.host = "worker-3";
  original.run.command = "train.py";
  original.run.rank = 2;
  original.run.start_unix_ns = 1'764'000'000'123'456'789;
  original.timelines = {{"rss_bytes", "bytes", {100'000, 200'000}, {1.5e9, 1.75e9}}};

  const std::string text = io::to_chrome_trace(original);
  EXPECT_EQ(io::detect_trace_format_of(text), io::TraceFormat::ChromeTrace);
  const Snapshot back = read(text);
  EXPECT_EQ(back.run.source, "chrome-trace");
  EXPECT_EQ(back.run.rank, 2);
  EXPECT_EQ(back.run.host, "worker-3");
  EXPECT_EQ(back.run.command, "train.py");
  EXPECT_EQ(back.run.pid, 777);
  EXPECT_EQ(back.run.start_unix_ns, original.run.start_unix_ns);
  EXPECT_FALSE(back.run.version.empty());
  ASSERT_EQ(back.operations.size(), original.operations.size());
  for (const auto& o : original.operations) {
    const OperationStats& b = op(back, o.name);
    EXPECT_EQ(b.category, o.category) << o.name;
    EXPECT_EQ(b.count, o.count) << o.name;
    EXPECT_EQ(b.total_ns, o.total_ns) << o.name;
    EXPECT_EQ(b.self_ns, o.self_ns) << o.name;
    EXPECT_EQ(b.min_ns, o.min_ns) << o.name;
    EXPECT_EQ(b.max_ns, o.max_ns) << o.name;
    EXPECT_EQ(b.first_seen_ns, o.first_seen_ns) << o.name;
  }
  EXPECT_EQ(edge_count(back, "train_step", "forward"), 5u);
  ASSERT_EQ(back.threads.size(), 2u);
  EXPECT_EQ(back.threads[0].name, "main [tid 4242]");
  const TimelineSeries* rss = back.timeline("rss_bytes");
  ASSERT_NE(rss, nullptr);
  EXPECT_EQ(rss->unit, "bytes");
  EXPECT_EQ(rss->t_ns, original.timelines[0].t_ns);
  EXPECT_EQ(rss->values, original.timelines[0].values);
}

// A synthetic Kineto-like trace: steps, nested ops on two threads, launches and kernels.
std::string synthetic_trace(int steps, int ops_per_step) {
  std::string out = R"({"schemaVersion":1,"distributedInfo":{"rank":3,"world_size":8},"traceEvents":[)";
  long corr = 1;
  bool first = true;
  auto emit = [&](const std::string& e) {
    out += first ? "\n" : ",\n";
    out += e;
    first = false;
  };
  for (int s = 0; s < steps; ++s) {
    const double t0 = 1'000'000.0 + s * 10'000.0;
    emit(x_event("ProfilerStep#" + std::to_string(s), "user_annotation", t0, 9'000));
    for (int k = 0; k < ops_per_step; ++k) {
      const double t = t0 + 10 + k * (8'000.0 / ops_per_step);
      const std::string name = "aten::op" + std::to_string(k % 7);
      emit(x_event(name, "cpu_op", t, 50, 1));
      emit(x_event("cudaLaunchKernel", "cuda_runtime", t + 5, 10, 1, "{\"correlation\":" + std::to_string(corr) + "}"));
      emit(gpu_event("kernel_" + std::to_string(k % 5), "kernel", t + 20, 30 + k % 3, 7, corr));
      emit(x_event("loader_work", "python_function", t, 40, 2));
      ++corr;
    }
  }
  return out + "\n]}";
}

void expect_same_statistics(const Snapshot& a, const Snapshot& b) {
  ASSERT_EQ(a.operations.size(), b.operations.size());
  for (const auto& o : a.operations) {
    const OperationStats& p = op(b, o.name);
    EXPECT_EQ(p.count, o.count) << o.name;
    EXPECT_EQ(p.total_ns, o.total_ns) << o.name;
    EXPECT_EQ(p.self_ns, o.self_ns) << o.name;
    EXPECT_EQ(p.p95_ns, o.p95_ns) << o.name;
    EXPECT_EQ(p.resource(ProbeMetric::GpuTimeNs).total, o.resource(ProbeMetric::GpuTimeNs).total) << o.name;
  }
  EXPECT_EQ(a.call_tree.size(), b.call_tree.size());
  ASSERT_EQ(a.devices.size(), b.devices.size());
  for (std::size_t i = 0; i < a.devices.size(); ++i) {
    EXPECT_EQ(a.devices[i].busy_ns, b.devices[i].busy_ns);
    EXPECT_EQ(a.devices[i].busy_in_steps_ns, b.devices[i].busy_in_steps_ns);
  }
  EXPECT_EQ(a.steps.size(), b.steps.size());
  EXPECT_EQ(a.events_recorded, b.events_recorded);
}

TEST(TraceReader, TheBoundedSortSpillsToDiskWithTheSameResult) {
  const std::string text = synthetic_trace(40, 200);  // 32k events
  const Snapshot in_memory = read(text);
  io::TraceReadOptions tiny;
  tiny.sort_memory_bytes = 1;  // the sorter's floor: 1024 records, so dozens of runs
  tiny.temp_directory = ::testing::TempDir();
  const Snapshot spilled = read(text, tiny);
  expect_same_statistics(in_memory, spilled);
  EXPECT_EQ(in_memory.steps.size(), 40u);
  EXPECT_EQ(op(in_memory, "kernel_0").count, 40u * 40u);
  EXPECT_EQ(op(in_memory, "cudaLaunchKernel").resource(ProbeMetric::GpuTimeNs).samples, 40u * 200u);
  EXPECT_EQ(in_memory.run.rank, 3);
  EXPECT_EQ(in_memory.run.world_size, 8);
}

TEST(TraceReader, EventsAcrossReadWindowsAndGzipReadTheSame) {
  // About 10 MB: several 4 MiB read windows, some events cut by a window edge, and one event
  // larger than a window.
  std::string text = synthetic_trace(60, 400);
  const std::string big_arg(6 << 20, 'x');
  text.insert(text.size() - 2, ",\n" + x_event("huge", "user_annotation", 5, 1, 1, "{\"blob\":\"" + big_arg + "\"}"));
  ASSERT_GT(text.size(), 10u << 20);
  const Snapshot plain = read(text);
  EXPECT_EQ(op(plain, "huge").count, 1u);
  EXPECT_EQ(op(plain, "aten::op0").count, 60u * (400u / 7u + 1u));

  // The same bytes gzip-compressed (two members, then zero padding, as some tools write).
  auto gz = [](const std::string& in) {
    std::string out(compressBound(static_cast<uLong>(in.size())) + 64, '\0');
    z_stream z{};
    deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
  };
  const std::size_t half = text.size() / 2;
  const std::string compressed = gz(text.substr(0, half)) + gz(text.substr(half)) + std::string(16, '\0');
  std::vector<std::pair<std::uint64_t, std::uint64_t>> progress;
  io::TraceReadOptions options;
  options.progress = [&](std::uint64_t done, std::uint64_t total) { progress.push_back({done, total}); };
  ASSERT_GT(compressed.size(), 256u << 10);  // large enough to be inflated on the read-ahead thread
  const Snapshot unzipped = read(compressed, options);
  expect_same_statistics(plain, unzipped);
  // Corrupt deflate data in the middle: the error crosses from the inflating thread.
  std::string corrupt = compressed;
  for (std::size_t i = corrupt.size() / 3; i < corrupt.size() / 3 + 64; ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x33);
  EXPECT_THROW(read(corrupt), io::TraceReadError);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().first, compressed.size());
  EXPECT_EQ(progress.back().second, compressed.size());

  io::TraceReadOptions small;
  small.max_value_bytes = 1 << 20;
  try {
    read(text, small);
    FAIL() << "an event above max_value_bytes was accepted";
  } catch (const io::TraceReadError& e) {
    EXPECT_NE(std::string(e.what()).find("expected events smaller than 1 MiB"), std::string::npos) << e.what();
  }
}

TEST(TraceReader, TraceEventSampleIsBounded) {
  io::TraceReadOptions options;
  options.trace_event_budget = 100;
  const Snapshot s = read(synthetic_trace(5, 50), options);
  EXPECT_EQ(s.trace_events.size(), 100u);
  EXPECT_EQ(s.trace_events_dropped, s.events_recorded - 100u);
  options.trace_event_budget = 0;
  EXPECT_TRUE(read(synthetic_trace(5, 50), options).trace_events.empty());
  options.gpu_activities_as_operations = false;
  const Snapshot no_gpu_ops = read(synthetic_trace(5, 50), options);
  EXPECT_EQ(no_gpu_ops.find("kernel_0"), nullptr);
  EXPECT_EQ(no_gpu_ops.devices.size(), 2u);  // the device and its stream 7 are still measured
}

TEST(TraceReader, DistinctOperationsBeyondTheLimitAreCountedTogetherAndNoted) {
  // One fresh name per event: beyond max_operations the calls go to one "other" operation.
  std::string events;
  for (int i = 0; i < 300; ++i)
    events += std::string(i ? "," : "") + R"({"ph":"X","cat":"cpu_op","name":"op_)" + std::to_string(i) +
              R"(","pid":1,"tid":1,"ts":)" + std::to_string(i * 10) + R"(,"dur":5})";
  io::TraceReadOptions options;
  options.max_operations = 100;
  const Snapshot s = read("{\"traceEvents\":[" + events + "]}", options);
  ASSERT_EQ(s.operations.size(), 101u);
  const OperationStats* other = s.find("(other operations: names beyond the first 100)");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->count, 200u);
  EXPECT_EQ(s.run.metadata.at("operation_calls_over_limit"), "200");
  bool noted = false;
  for (const auto& u : s.run.unavailable) noted |= u.what == "operations" && u.reason.find("more than 100") != std::string::npos;
  EXPECT_TRUE(noted);
  options.max_operations = 0;  // no limit
  EXPECT_EQ(read("{\"traceEvents\":[" + events + "]}", options).operations.size(), 300u);
}

TEST(TraceReader, DetectsFormats) {
  EXPECT_EQ(io::detect_trace_format_of(R"({"schema_version": 1, "operations": []})"), io::TraceFormat::CodeprofReport);
  EXPECT_EQ(io::detect_trace_format_of(R"({"traceEvents": [{"ph":"X","name":"a"}]})"), io::TraceFormat::ChromeTrace);
  EXPECT_EQ(io::detect_trace_format_of(R"([{"ph":"X","cat":"cpu_op","name":"aten::mm"}])"), io::TraceFormat::KinetoTrace);
  EXPECT_EQ(io::detect_trace_format_of(R"([{"ph":"X","name":"a"}])"), io::TraceFormat::ChromeTrace);
  EXPECT_EQ(io::detect_trace_format_of("name,count\n"), io::TraceFormat::Unknown);
  EXPECT_EQ(io::detect_trace_format_of(""), io::TraceFormat::Unknown);
  EXPECT_EQ(io::to_string(io::TraceFormat::KinetoTrace), "kineto");
  for (const auto& entry : fs::directory_iterator(std::string(CODEPROF_FIXTURES_DIR) + "/kineto")) {
    if (entry.path().extension() != ".gz") continue;
    EXPECT_EQ(io::detect_trace_format(entry.path().string()), io::TraceFormat::KinetoTrace) << entry.path();
  }
  EXPECT_THROW(io::detect_trace_format("/nonexistent/trace.json"), io::TraceReadError);
}

}  // namespace
}  // namespace codeprof
