// Cost per scope of each resource probe beside the timing-only scope, through a real Profiler
// (facade -> core -> ProbeSet hooks), and the system sampler's own CPU use. Linked with
// codeprof::alloc, so the memory probe reads the allocation counters too. Ratios are printed at
// the end against the timing-only scope of the same run (docs/PROBES.md).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "codeprof/codeprof.hpp"
#include "metrics/alloc_counters.hpp"
#include "metrics/gpu_runtime.hpp"
#include "metrics/process_reader.hpp"
#include "metrics/system_sampler.hpp"
#include "ratio_reporter.hpp"

using namespace codeprof;

namespace {

enum ProbeChoice : int { kTimingOnly, kCpu, kMemory, kIo, kGpuMemory, kCpuMemoryIo };

const char* choice_name(int c) {
  switch (c) {
    case kTimingOnly: return "timing_only";
    case kCpu: return "cpu";
    case kMemory: return "memory";
    case kIo: return "io";
    case kGpuMemory: return "gpu_memory";
    case kCpuMemoryIo: return "cpu+memory+io";
  }
  return "?";
}

Config config_for(int c) {
  Config cfg;
  cfg.sampler_enabled = false;  // measured on its own below
  cfg.metrics.cpu = c == kCpu || c == kCpuMemoryIo;
  cfg.metrics.memory = c == kMemory || c == kCpuMemoryIo;
  cfg.metrics.io = c == kIo || c == kCpuMemoryIo;
  cfg.metrics.gpu = c == kGpuMemory;
  return cfg;
}

}  // namespace

static void BM_Scope(benchmark::State& state) {
  const int choice = static_cast<int>(state.range(0));
  state.SetLabel(choice_name(choice));
  if (choice == kGpuMemory && !metrics::Nvml::instance().available()) {
    state.SkipWithError(("gpu memory probe unavailable: " + metrics::Nvml::instance().unavailable_reason()).c_str());
    for (auto _ : state) {
    }
    return;
  }
  Profiler p(config_for(choice));
  const SiteId site = register_site("bench.probe_scope", Category::Custom);
  for (auto _ : state) {
    Scope s(p.state(), site);
    benchmark::DoNotOptimize(&s);
  }
  const Snapshot snap = p.snapshot();
  state.counters["dropped_share"] = snap.events_recorded_total + snap.events_dropped_total
                                        ? static_cast<double>(snap.events_dropped_total) /
                                              static_cast<double>(snap.events_recorded_total + snap.events_dropped_total)
                                        : 0.0;
}
BENCHMARK(BM_Scope)->DenseRange(kTimingOnly, kCpuMemoryIo)->ArgName("probe");

// What the allocation counters add to operator new/delete: new+delete (counted, through
// codeprof::alloc) against malloc+free of the same size (not counted).
static void BM_NewDelete_Counted(benchmark::State& state) {
  for (auto _ : state) {
    char* p = new char[64];
    benchmark::DoNotOptimize(p);
    delete[] p;
  }
  state.SetLabel(metrics::alloc_counters_linked() ? "codeprof::alloc linked" : "not linked");
}
BENCHMARK(BM_NewDelete_Counted);

static void BM_MallocFree_Uncounted(benchmark::State& state) {
  for (auto _ : state) {
    void* p = std::malloc(64);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}
BENCHMARK(BM_MallocFree_Uncounted);

// One sampler tick's /proc readings (the sampler's cost per sample, without NVML).
static void BM_Sampler_OneReading(benchmark::State& state) {
  metrics::ProcessReader reader;
  for (auto _ : state) {
    metrics::ProcessReading r = reader.read();
    benchmark::DoNotOptimize(&r);
  }
}
BENCHMARK(BM_Sampler_OneReading);

// The real sampler at the default 100 ms for 3 s: its own thread's CPU time over the wall time.
static void BM_Sampler_At100ms(benchmark::State& state) {
  for (auto _ : state) {
    Config cfg;
    cfg.sampler_interval_ms = 100;
    const auto t0 = std::chrono::steady_clock::now();
    metrics::SystemSampler sampler(cfg, std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count());
    sampler.start();
    std::this_thread::sleep_for(std::chrono::seconds(3));
    sampler.stop();
    const double wall_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    state.counters["samples"] = static_cast<double>(sampler.samples_taken());
    state.counters["cpu_us_per_sample"] =
        static_cast<double>(sampler.own_cpu_ns()) / 1e3 / static_cast<double>(std::max<std::int64_t>(1, sampler.samples_taken()));
    state.counters["percent_of_one_core"] = 100.0 * static_cast<double>(sampler.own_cpu_ns()) / wall_ns;
  }
}
BENCHMARK(BM_Sampler_At100ms)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// Prints each probe's cost per scope as a ratio to the timing-only scope of the same run.
int main(int argc, char** argv) {
  return codeprof::bench::run_with_ratios(argc, argv, [](const codeprof::bench::RunTimes& t) {
    const std::string base_name = "BM_Scope/probe:" + std::to_string(kTimingOnly);
    if (!t.has(base_name)) return;
    const double base = t.cpu_ns(base_name);
    std::printf("\n%-16s %10s %10s %12s\n", "probe", "ns/scope", "x timing", "+ns/scope");
    for (int c = kTimingOnly; c <= kCpuMemoryIo; ++c) {
      const std::string name = "BM_Scope/probe:" + std::to_string(c);
      if (!t.has(name)) {
        std::printf("%-16s %10s\n", choice_name(c), "unavailable");
        continue;
      }
      std::printf("%-16s %10.1f %10.2f %12.1f\n", choice_name(c), t.cpu_ns(name), t.cpu_ns(name) / base, t.cpu_ns(name) - base);
    }
    if (t.has("BM_NewDelete_Counted") && t.has("BM_MallocFree_Uncounted"))
      std::printf("new+delete counted: %.1f ns vs malloc+free %.1f ns (%.2fx)\n", t.cpu_ns("BM_NewDelete_Counted"),
                  t.cpu_ns("BM_MallocFree_Uncounted"), t.cpu_ns("BM_NewDelete_Counted") / t.cpu_ns("BM_MallocFree_Uncounted"));
    if (t.has("BM_Sampler_At100ms"))
      std::printf("sampler at 100 ms: %.3f %% of one core (%.0f us per sample; target < 1 %%)\n",
                  t.counter("BM_Sampler_At100ms", "percent_of_one_core"), t.counter("BM_Sampler_At100ms", "cpu_us_per_sample"));
  });
}
