// Hot-path cost of a scope against the floor (two timestamp reads and a store) and a naive
// baseline (steady_clock + mutex + hash map), collector throughput, and memory growth.
// Ratios are printed as counters; targets: enabled <= 1.5x floor, disabled <= 1 ns,
// >= 20 M events/s with exact drop accounting, < 10 MB growth over 100 M events.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "codeprof/scope.hpp"
#include "core/recorder.hpp"

using namespace codeprof;

namespace {

core::Recorder& recorder() {
  static core::Recorder r([] {
    core::RecorderOptions o;
    o.buffer_events = 1u << 16;
    return o;
  }());
  return r;
}

struct alignas(32) FloorEvent {
  std::uint64_t a, b;
  std::uint32_t id;
};
FloorEvent g_floor[1024];
unsigned g_floor_pos = 0;

std::mutex g_naive_mutex;
std::unordered_map<std::string, std::pair<std::uint64_t, std::uint64_t>> g_naive;

long rss_kb() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

}  // namespace

// The floor: what any timing scope must do at least.
static void BM_Floor_TwoTimestampsAndStore(benchmark::State& state) {
  const bool tsc = recorder().uses_tsc();
  for (auto _ : state) {
    const std::uint64_t a = detail::read_ticks(tsc);
    benchmark::ClobberMemory();
    const std::uint64_t b = detail::read_ticks(tsc);
    g_floor[g_floor_pos++ & 1023] = {a, b, 7};
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_Floor_TwoTimestampsAndStore);

static void BM_Naive_SteadyClockMutexHashMap(benchmark::State& state) {
  for (auto _ : state) {
    const auto a = std::chrono::steady_clock::now();
    benchmark::ClobberMemory();
    const auto b = std::chrono::steady_clock::now();
    std::lock_guard lock(g_naive_mutex);
    auto& e = g_naive["naive.op"];
    ++e.first;
    e.second += static_cast<std::uint64_t>((b - a).count());
  }
}
BENCHMARK(BM_Naive_SteadyClockMutexHashMap);

static void BM_Scope_Enabled(benchmark::State& state) {
  const SiteId site = register_site("bench.enabled", Category::Custom);
  core::Recorder& r = recorder();
  for (auto _ : state) {
    Scope s(r.state(), site);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_Scope_Enabled);

static void BM_Scope_DynamicName(benchmark::State& state) {
  core::Recorder& r = recorder();
  const std::string name = "bench.dynamic_name";
  for (auto _ : state) {
    Scope s(r.state(), intern_site(name, Category::Custom));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_Scope_DynamicName);

static void BM_Scope_RuntimeDisabled(benchmark::State& state) {
  const SiteId site = register_site("bench.disabled", Category::Gpu);
  core::Recorder& r = recorder();
  r.set_category_enabled(Category::Gpu, false);
  for (auto _ : state) {
    Scope s(r.state(), site);
    benchmark::ClobberMemory();
  }
  r.set_category_enabled(Category::Gpu, true);
}
BENCHMARK(BM_Scope_RuntimeDisabled);

static void BM_Scope_CompiledOut(benchmark::State& state) {
  // What CODEPROF_SCOPE expands to under CODEPROF_DISABLED: nothing.
  for (auto _ : state) {
    static_cast<void>(0);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_Scope_CompiledOut);

// Two producer threads for a fixed wall time against the live collector; reports events/s
// (recorded) and checks that recorded + dropped == made.
static void BM_Collector_TwoProducers(benchmark::State& state) {
  for (auto _ : state) {
    core::RecorderOptions o;
    o.buffer_events = 1u << 16;
    core::Recorder r(o);
    const SiteId site = register_site("bench.collector", Category::Custom);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> made{0};
    const auto t0 = std::chrono::steady_clock::now();
    std::thread p[2];
    for (auto& t : p)
      t = std::thread([&] {
        std::uint64_t n = 0;
        while (!stop.load(std::memory_order_relaxed)) {
          for (int i = 0; i < 256; ++i) {
            Scope s(r.state(), site);
          }
          n += 256;
        }
        made.fetch_add(n);
      });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    stop.store(true);
    for (auto& t : p) t.join();
    Snapshot snap;
    r.fill(snap);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.counters["recorded_per_s"] = static_cast<double>(snap.events_recorded_total) / secs;
    state.counters["made_per_s"] = static_cast<double>(made.load()) / secs;
    state.counters["drop_share"] = static_cast<double>(snap.events_dropped_total) / static_cast<double>(made.load());
    state.counters["accounting_exact"] = snap.events_recorded_total + snap.events_dropped_total == made.load() ? 1 : 0;
  }
}
BENCHMARK(BM_Collector_TwoProducers)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// Aggregation mode (no trace): memory must stay flat however many events arrive.
static void BM_MemoryGrowth_100M(benchmark::State& state) {
  const auto total = static_cast<std::uint64_t>(state.range(0));
  for (auto _ : state) {
    core::Recorder r(core::RecorderOptions{});
    const SiteId a = register_site("bench.mem.a", Category::Custom);
    const SiteId b = register_site("bench.mem.b", Category::Io);
    for (int i = 0; i < 100000; ++i) Scope s(r.state(), i % 2 ? a : b);  // warm up every structure
    r.flush();
    const long before = rss_kb();
    for (std::uint64_t i = 0; i < total; ++i) {
      Scope s(r.state(), i % 2 ? a : b);
      if ((i & 0xFFFF) == 0) r.flush();  // keep drops out of the picture
    }
    r.flush();
    const long after = rss_kb();
    Snapshot snap;
    r.fill(snap);
    state.counters["events"] = static_cast<double>(snap.events_recorded_total + snap.events_dropped_total);
    state.counters["rss_growth_mb"] = static_cast<double>(after - before) / 1024.0;
  }
}
BENCHMARK(BM_MemoryGrowth_100M)->Arg(100'000'000)->Iterations(1)->Unit(benchmark::kMillisecond);

// A snapshot of a run with many operations must be cheap enough to take twice a second.
static void BM_Snapshot_1000Operations(benchmark::State& state) {
  core::Recorder r(core::RecorderOptions{});
  std::vector<SiteId> sites;
  for (int i = 0; i < 1000; ++i) sites.push_back(register_site("bench.snapshot." + std::to_string(i), Category::Custom));
  for (int k = 0; k < 100; ++k)
    for (const SiteId& site : sites) {
      Scope outer(r.state(), site);
      Scope inner(r.state(), sites[static_cast<std::size_t>(k) % sites.size()]);
    }
  r.flush();
  for (auto _ : state) {
    Snapshot snap;
    r.fill(snap);
    benchmark::DoNotOptimize(snap.operations.data());
  }
}
BENCHMARK(BM_Snapshot_1000Operations)->Unit(benchmark::kMillisecond);

// Prints the ratios the targets are stated in, from the same run.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) ns_[r.benchmark_name()] = r.GetAdjustedCPUTime();
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    const double floor = ns_["BM_Floor_TwoTimestampsAndStore"];
    auto line = [&](const char* what, const std::string& name, const char* target) {
      if (!ns_.count(name) || floor <= 0) return;
      std::printf("%-34s %7.2f ns  = %5.2fx floor   (%s)\n", what, ns_[name], ns_[name] / floor, target);
    };
    std::printf("\nfloor (2 timestamps + store): %.2f ns\n", floor);
    line("scope, timing only", "BM_Scope_Enabled", "target <= 1.5x floor");
    line("scope, dynamic name (interned)", "BM_Scope_DynamicName", "informative");
    line("scope, disabled at run time", "BM_Scope_RuntimeDisabled", "target <= 1 ns");
    line("scope, compiled out", "BM_Scope_CompiledOut", "target 0");
    line("naive steady_clock+mutex+map", "BM_Naive_SteadyClockMutexHashMap", "baseline");
    if (ns_.count("BM_Naive_SteadyClockMutexHashMap") && ns_["BM_Scope_Enabled"] > 0)
      std::printf("naive / codeprof scope: %.1fx\n", ns_["BM_Naive_SteadyClockMutexHashMap"] / ns_["BM_Scope_Enabled"]);
  }

 private:
  std::map<std::string, double> ns_;
};

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
}
