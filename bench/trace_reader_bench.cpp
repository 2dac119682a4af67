// Trace reader throughput and memory on a synthetic PyTorch-profiler (Kineto) trace written by
// this program: multi-line events like Kineto's, steps, data loading, nested aten ops launching
// kernels (correlation ids, ac2g flows), memcpys, an autograd thread, the optimizer, syncs.
//
// Size: CODEPROF_TRACE_BENCH_MB (default 128) or --trace_mb=N; the targets are stated for 1 GB:
//   CODEPROF_TRACE_BENCH_MB=1024 ./trace_reader_bench
// Targets: >= 300 MB/s of JSON (speed_vs_target >= 1) and peak RSS <= half the file size
// (rss_vs_half_file <= 1). Baselines in the same run: reading the file's bytes with read(2)
// (the I/O floor, from the page cache) and the same trace gzip-compressed.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "codeprof/trace_reader.hpp"

using namespace codeprof;

namespace {

std::uint64_t g_target_mb = 128;
std::string g_dir;

struct Generated {
  std::string path;
  std::uint64_t bytes = 0;
  std::uint64_t events = 0;
  std::uint64_t steps = 0;
};

// Writes a Kineto-like trace of about `target` bytes through `sink` (plain or gzip).
class KinetoLikeWriter {
 public:
  explicit KinetoLikeWriter(std::uint64_t target) : target_(target) {}

  template <class Sink>
  Generated write(Sink&& sink) {
    Generated g;
    out_.reserve(1 << 22);
    out_ += "{\n  \"schemaVersion\": 1,\n  \"distributedInfo\": {\"backend\": \"nccl\", \"rank\": 0, \"world_size\": 8},\n"
            "  \"deviceProperties\": [\n    {\"id\": 0, \"name\": \"NVIDIA H100 80GB HBM3\", \"totalGlobalMem\": 85520809984}\n  ],\n"
            "  \"traceEvents\": [\n";
    std::uint64_t written = 0;
    double t = 4203669603018.756;  // fractional microseconds, as recent Kineto writes them
    while (written + out_.size() < target_) {
      step(t, g);
      t += 20'000.0;
      if (out_.size() > (1u << 21)) {
        written += out_.size();
        sink(out_);
        out_.clear();
      }
    }
    // The closing events (the profiler span) and the tail of the object.
    event("Trace", "PyTorch Profiler (0)", "\"Spans\"", "\"PyTorch Profiler\"", 4203669603000.0, t - 4203669603000.0, "");
    out_ += "\n  ],\n  \"traceName\": \"bench.json\",\n  \"displayTimeUnit\": \"ms\",\n  \"baseTimeNanoseconds\": 1735632360000000000\n}\n";
    written += out_.size();
    sink(out_);
    g.bytes = written;
    g.events = events_;
    return g;
  }

 private:
  void num(double v) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 3);
    out_.append(buf, r.ptr);
  }
  void num(std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  void separator() {
    if (events_++) out_ += ",\n";
  }
  void event(const char* cat, const std::string& name, const char* pid, const char* tid, double ts, double dur,
             const std::string& args) {
    separator();
    out_ += "  {\n    \"ph\": \"X\", \"cat\": \"";
    out_ += cat;
    out_ += "\", \"name\": \"";
    out_ += name;
    out_ += "\", \"pid\": ";
    out_ += pid;
    out_ += ", \"tid\": ";
    out_ += tid;
    out_ += ",\n    \"ts\": ";
    num(ts);
    out_ += ", \"dur\": ";
    num(dur);
    if (!args.empty()) {
      out_ += ",\n    \"args\": {\n      ";
      out_ += args;
      out_ += "\n    }";
    }
    out_ += "\n  }";
  }
  void flow(char ph, std::uint64_t id, const char* pid, const char* tid, double ts) {
    separator();
    out_ += "  {\n    \"ph\": \"";
    out_ += ph;
    out_ += "\", \"id\": ";
    num(id);
    out_ += ", \"pid\": ";
    out_ += pid;
    out_ += ", \"tid\": ";
    out_ += tid;
    out_ += ",\n    \"ts\": ";
    num(ts);
    out_ += ",\n    \"cat\": \"ac2g\", \"name\": \"ac2g\"";
    if (ph == 'f') out_ += ", \"bp\": \"e\"";
    out_ += "\n  }";
  }
  std::string cpu_args() {
    std::string a = "\"External id\": " + std::to_string(++external_) + ",\"Record function id\": 0, \"Ev Idx\": " +
                    std::to_string(events_) +
                    ",\n      \"Input Dims\": [[64, 1024], [1024, 1024], []], \"Input type\": [\"float\", \"float\", \"Scalar\"]";
    return a;
  }
  // A kernel (or memcpy) launched from the CPU at `ts`, with its runtime call and flow events.
  void launch(double ts, const std::string& kernel, bool memcpy) {
    const std::uint64_t corr = ++correlation_;
    const std::string c = std::to_string(corr);
    event("cuda_runtime", memcpy ? "cudaMemcpyAsync" : "cudaLaunchKernel", kPid, kPid, ts, 4.211,
          "\"External id\": " + std::to_string(external_) + ", \"cbid\": 211, \"correlation\": " + c);
    flow('s', corr, kPid, kPid, ts);
    const double gpu_ts = ts + 9.5;
    if (memcpy) {
      event("gpu_memcpy", "Memcpy HtoD (Pinned -> Device)", "0", "7", gpu_ts, 12.4,
            "\"External id\": " + std::to_string(external_) + ", \"device\": 0, \"context\": 1, \"stream\": 7, \"correlation\": " +
                c + ", \"bytes\": 4194304, \"memory bandwidth (GB/s)\": 338.2");
    } else {
      event("kernel", kernel, "0", "7", gpu_ts, 18.7,
            "\"External id\": " + std::to_string(external_) +
                ", \"queued\": 0, \"device\": 0, \"context\": 1, \"stream\": 7, \"correlation\": " + c +
                ",\n      \"registers per thread\": 128, \"shared memory\": 49152, \"blocks per SM\": 1.185185, "
                "\"warps per SM\": 9.481482,\n      \"grid\": [128, 1, 1], \"block\": [256, 1, 1], \"est. achieved occupancy %\": 19");
    }
    flow('f', corr, "0", "7", gpu_ts);
  }
  void step(double t0, Generated& g) {
    const std::uint64_t n = g.steps++;
    event("user_annotation", "ProfilerStep#" + std::to_string(n), kPid, kPid, t0, 19'000.0, cpu_args());
    event("user_annotation", "enumerate(DataLoader)#_MultiProcessingDataLoaderIter.__next__", kPid, kPid, t0 + 1.0, 900.0,
          cpu_args());
    launch(t0 + 950.0, "", true);
    double t = t0 + 1'000.0;
    static const char* layers[] = {"aten::linear", "aten::conv2d", "aten::layer_norm", "aten::gelu", "aten::softmax"};
    static const char* kernels[] = {
        "ampere_sgemm_128x64_tn", "void cutlass::Kernel<cutlass_80_tensorop_s1688gemm_128x128_32x3_nn_align4>(Params)",
        "void at::native::vectorized_elementwise_kernel<4, at::native::GeluCUDAKernelImpl(at::TensorIteratorBase&, "
        "at::native::GeluType)::{lambda()#1}::operator()() const::{lambda()#2}::operator()() const::{lambda(float)#1}, "
        "at::detail::Array<char*, 2> >(int, at::native::GeluCUDAKernelImpl(at::TensorIteratorBase&, at::native::GeluType)::"
        "{lambda()#1}::operator()() const::{lambda()#2}::operator()() const::{lambda(float)#1}, at::detail::Array<char*, 2>)",
        "void at::native::(anonymous namespace)::vectorized_layer_norm_kernel<float, float>(int, float, float const*, float "
        "const*, float const*, float*, float*, float*)",
        "void (anonymous namespace)::softmax_warp_forward<float, float, float, 10, false, false>(float*, float const*, int, "
        "int, int, bool const*, int, bool)"};
    for (int layer = 0; layer < 24; ++layer) {
      const int k = layer % 5;
      event("cpu_op", layers[k], kPid, kPid, t, 60.0, cpu_args());
      event("cpu_op", "aten::addmm", kPid, kPid, t + 5.0, 40.0, cpu_args());
      launch(t + 10.0, kernels[k], false);
      t += 70.0;
    }
    // Backward on the autograd thread.
    for (int layer = 0; layer < 24; ++layer) {
      event("cpu_op", "autograd::engine::evaluate_function: AddmmBackward0", kPid, "598009", t, 80.0, cpu_args());
      event("cpu_op", "AddmmBackward0", kPid, "598009", t + 2.0, 70.0, cpu_args());
      launch(t + 5.0, kernels[layer % 2], false);
      t += 90.0;
    }
    event("user_annotation", "Optimizer.step#AdamW.step", kPid, kPid, t, 500.0, cpu_args());
    launch(t + 10.0, "void at::native::(anonymous namespace)::multi_tensor_apply_kernel<float>(...)", false);
    event("cuda_runtime", "cudaStreamSynchronize", kPid, kPid, t + 520.0, 300.0, "\"cbid\": 131, \"correlation\": 0");
    separator();
    out_ += "  {\n    \"ph\": \"X\", \"cat\": \"cuda_sync\", \"name\": \"Stream Sync\", \"pid\": 0, \"tid\": 7,\n    \"ts\": ";
    num(t + 521.0);
    out_ += ", \"dur\": 298.000,\n    \"args\": {\n      \"cuda_sync_kind\": \"Stream Sync\", \"stream\": 7, \"device\": 0\n    }\n  }";
  }

  static constexpr const char* kPid = "597913";
  std::uint64_t target_;
  std::string out_;
  std::uint64_t events_ = 0, external_ = 0, correlation_ = 0;
};

Generated generate_plain(std::uint64_t bytes) {
  Generated g;
  g.path = g_dir + "/kineto_like.json";
  std::FILE* f = std::fopen(g.path.c_str(), "wb");
  if (!f) return g;
  Generated w = KinetoLikeWriter(bytes).write([&](const std::string& chunk) { std::fwrite(chunk.data(), 1, chunk.size(), f); });
  std::fclose(f);
  w.path = g.path;
  return w;
}

Generated generate_gzip(std::uint64_t bytes) {
  Generated g;
  g.path = g_dir + "/kineto_like.json.gz";
  gzFile f = gzopen(g.path.c_str(), "wb1");
  if (!f) return g;
  Generated w = KinetoLikeWriter(bytes).write(
      [&](const std::string& chunk) { gzwrite(f, chunk.data(), static_cast<unsigned>(chunk.size())); });
  gzclose(f);
  w.path = g.path;
  return w;
}

const Generated& plain_trace() {
  static const Generated g = generate_plain(g_target_mb << 20);
  return g;
}
const Generated& gzip_trace() {  // smaller: zlib writes slowly
  static const Generated g = generate_gzip(std::min<std::uint64_t>(g_target_mb, 128) << 20);
  return g;
}

// Peak resident set size since the last reset (VmHWM), in bytes.
std::uint64_t peak_rss() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  return 0;
}
std::uint64_t current_rss() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}
bool reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  return static_cast<bool>(clear);
}

double g_read_floor_mbps = 0;

void BM_Baseline_ReadFileBytes(benchmark::State& state) {
  const Generated& g = plain_trace();
  std::vector<char> buf(4 << 20);
  for (auto _ : state) {
    const int fd = ::open(g.path.c_str(), O_RDONLY);
    std::uint64_t total = 0;
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) total += static_cast<std::uint64_t>(n);
    ::close(fd);
    benchmark::DoNotOptimize(total);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * g.bytes));
}

// CPU time of the whole process (the reader and, for .gz, its inflating thread), in seconds.
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void report(benchmark::State& state, const Generated& g, double seconds, double cpu_seconds, std::uint64_t rss_before,
            std::uint64_t peak, bool peak_valid) {
  const double mbps = static_cast<double>(g.bytes) / seconds / 1e6;
  state.counters["file_MB"] = static_cast<double>(g.bytes) / 1e6;
  state.counters["events"] = static_cast<double>(g.events);
  state.counters["MB_per_s"] = mbps;
  state.counters["speed_vs_target"] = mbps / 300.0;  // target >= 1
  // On a shared, oversubscribed machine wall time waits for other processes; CPU time does not.
  state.counters["MB_per_cpu_s"] = static_cast<double>(g.bytes) / cpu_seconds / 1e6;
  if (g_read_floor_mbps > 0) state.counters["speed_vs_read_floor"] = mbps / g_read_floor_mbps;
  if (peak_valid) {
    state.counters["peak_rss_MB"] = static_cast<double>(peak) / 1e6;
    state.counters["rss_growth_MB"] = static_cast<double>(peak - std::min(peak, rss_before)) / 1e6;
    state.counters["rss_vs_half_file"] = static_cast<double>(peak) / (static_cast<double>(g.bytes) / 2.0);  // target <= 1
  }
}

void read_and_report(benchmark::State& state, const Generated& g, std::uint64_t json_bytes) {
  if (g.bytes == 0) {
    state.SkipWithError(("cannot write " + g.path).c_str());
    return;
  }
  Snapshot s;
  double seconds = 0, cpu_seconds = 0;
  std::uint64_t rss_before = 0, peak = 0;
  bool peak_valid = false;
  for (auto _ : state) {
    state.PauseTiming();
    s = Snapshot{};
    rss_before = current_rss();
    peak_valid = reset_peak_rss();
    state.ResumeTiming();
    const auto t0 = std::chrono::steady_clock::now();
    const double cpu0 = process_cpu_seconds();
    s = io::read_trace_file(g.path);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cpu_seconds = process_cpu_seconds() - cpu0;
    peak = peak_rss();
  }
  // The synthetic trace's facts: every step read, 200 operation calls per step (the writer's
  // events minus flows and the cuda_sync), the launches' GPU time attributed.
  const OperationStats* launch = s.find("cudaLaunchKernel");
  if (s.steps.size() != g.steps || s.events_recorded != 200 * g.steps || !launch ||
      launch->resource(ProbeMetric::GpuTimeNs).samples != launch->count || s.run.rank != 0) {
    state.SkipWithError("the trace was not read as written");
    return;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * json_bytes));
  Generated as_json = g;
  as_json.bytes = json_bytes;
  report(state, as_json, seconds, cpu_seconds, rss_before, peak, peak_valid);
  state.counters["steps"] = static_cast<double>(s.steps.size());
  state.counters["operations"] = static_cast<double>(s.operations.size());
}

void BM_TraceReader_KinetoJson(benchmark::State& state) {
  const Generated& g = plain_trace();
  read_and_report(state, g, g.bytes);
}

void BM_TraceReader_KinetoJsonGz(benchmark::State& state) {
  const Generated& g = gzip_trace();
  read_and_report(state, g, g.bytes);  // MB/s of the JSON inside
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* mb = std::getenv("CODEPROF_TRACE_BENCH_MB")) g_target_mb = std::strtoull(mb, nullptr, 10);
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--trace_mb=", 11) == 0) {
      g_target_mb = std::strtoull(argv[i] + 11, nullptr, 10);
    } else {
      args.push_back(argv[i]);
    }
  }
  if (g_target_mb == 0) g_target_mb = 1;
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/codeprof-trace-bench-XXXXXX";
  if (!::mkdtemp(dir.data())) {
    std::perror("mkdtemp");
    return 1;
  }
  g_dir = dir;

  // Generate first (outside any measurement), then time reading.
  const Generated& plain = plain_trace();
  std::fprintf(stderr, "trace_reader_bench: %s: %.1f MB, %llu events\n", plain.path.c_str(),
               static_cast<double>(plain.bytes) / 1e6, static_cast<unsigned long long>(plain.events));
  {
    std::vector<char> buf(4 << 20);
    const auto t0 = std::chrono::steady_clock::now();
    const int fd = ::open(plain.path.c_str(), O_RDONLY);
    ssize_t n;
    std::uint64_t total = 0;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) total += static_cast<std::uint64_t>(n);
    ::close(fd);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    g_read_floor_mbps = static_cast<double>(total) / s / 1e6;
  }

  benchmark::RegisterBenchmark("BM_Baseline_ReadFileBytes", BM_Baseline_ReadFileBytes)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_TraceReader_KinetoJson", BM_TraceReader_KinetoJson)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(1)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_TraceReader_KinetoJsonGz", BM_TraceReader_KinetoJsonGz)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(1)
      ->UseRealTime();

  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::remove((g_dir + "/kineto_like.json").c_str());
  std::remove((g_dir + "/kineto_like.json.gz").c_str());
  ::rmdir(g_dir.c_str());
  return 0;
}
