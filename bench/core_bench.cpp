// Hot-path cost of a scope against the floor (two timestamp reads and a store) and a naive
// baseline (steady_clock + mutex + hash map), every core saturated, and memory growth.
// Ratios to the floor are printed at the end (medians with --benchmark_repetitions); targets:
// enabled <= 1.5x floor (aim 1.1x), dynamic name <= 1.5x, disabled <= 1 ns, statistics exact
// (made == recorded) with all cores busy, < 10 MB growth over 100 M events.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "codeprof/scope.hpp"
#include "core/recorder.hpp"
#include "ratio_reporter.hpp"

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

// Four names in turn (e.g. f"load_{shard}"): no single-entry cache helps.
static void BM_Scope_DynamicName_FourInTurn(benchmark::State& state) {
  core::Recorder& r = recorder();
  const std::string names[4] = {"bench.dynamic.load_shard_0", "bench.dynamic.load_shard_1", "bench.dynamic.tokenize",
                                "bench.dynamic.x"};
  unsigned i = 0;
  for (auto _ : state) {
    Scope s(r.state(), intern_site(names[i++ & 3], Category::Custom));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_Scope_DynamicName_FourInTurn);

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

// Producers on every core (plus, with Arg 1, a thread that only burns CPU) for 500 ms against the
// live collector, raw trace on, so the collector competes for CPU. Statistics are kept by the
// producers: recorded must equal made; only raw trace events may drop (trace_drop_share).
static void BM_Saturated(benchmark::State& state) {
  const bool busy_thread = state.range(0) != 0;
  const unsigned producers = std::max(2u, std::thread::hardware_concurrency());
  for (auto _ : state) {
    core::RecorderOptions o;
    o.buffer_events = 1u << 16;
    o.keep_trace = true;
    o.trace_budget = 1'000'000;
    core::Recorder r(o);
    const SiteId site = register_site("bench.saturated", Category::Custom);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> made{0};
    std::vector<std::thread> threads;
    if (busy_thread)
      threads.emplace_back([&] {
        volatile std::uint64_t x = 0;
        while (!stop.load(std::memory_order_relaxed)) x = x * 6364136223846793005ull + 1;
      });
    const auto t0 = std::chrono::steady_clock::now();
    for (unsigned p = 0; p < producers; ++p)
      threads.emplace_back([&] {
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
    for (auto& t : threads) t.join();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Snapshot snap;
    r.fill(snap);
    const auto m = static_cast<double>(made.load());
    state.counters["producers"] = producers;
    state.counters["made_per_s"] = m / secs;
    state.counters["recorded_per_s"] = static_cast<double>(snap.events_recorded_total) / secs;
    state.counters["statistics_exact"] = snap.events_recorded_total == made.load() && snap.find("bench.saturated") &&
                                                 snap.find("bench.saturated")->count == made.load()
                                             ? 1
                                             : 0;
    state.counters["trace_drop_share"] = static_cast<double>(snap.events_dropped_total) / m;
    state.counters["trace_accounted"] =
        snap.trace_events.size() + snap.trace_events_dropped + snap.events_dropped_total == made.load() ? 1 : 0;
  }
}
BENCHMARK(BM_Saturated)->Arg(0)->Arg(1)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

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

// Prints the ratios the targets are stated in, from the same run (medians when repeated).
int main(int argc, char** argv) {
  return codeprof::bench::run_with_ratios(argc, argv, [](const codeprof::bench::RunTimes& t) {
    const double floor = t.cpu_ns("BM_Floor_TwoTimestampsAndStore");
    if (floor <= 0) return;
    auto line = [&](const char* what, const std::string& name, const char* target) {
      if (t.cpu_ns(name) <= 0) return;
      std::printf("%-36s %7.2f ns  = %5.2fx floor   (%s)\n", what, t.cpu_ns(name), t.cpu_ns(name) / floor, target);
    };
    std::printf("\nCPU time per call%s; floor (2 timestamps + store): %.2f ns\n",
                t.repeated() ? " (medians of the repetitions)" : "", floor);
    line("scope, timing only", "BM_Scope_Enabled", "target <= 1.5x, aim 1.1x");
    line("scope, dynamic name (one name)", "BM_Scope_DynamicName", "target <= 1.5x");
    line("scope, dynamic name (four in turn)", "BM_Scope_DynamicName_FourInTurn", "target <= 1.5x");
    line("scope, disabled at run time", "BM_Scope_RuntimeDisabled", "target <= 1 ns");
    line("scope, compiled out", "BM_Scope_CompiledOut", "target 0");
    line("naive steady_clock+mutex+map", "BM_Naive_SteadyClockMutexHashMap", "baseline");
    for (const std::string& name : t.names()) {
      if (name.rfind("BM_Saturated", 0) != 0) continue;
      auto c = [&](const char* key) { return t.counter(name, key); };
      std::printf("%s: %.0f producers%s, made %.1f M/s, recorded %.1f M/s (statistics exact: %s), "
                  "trace ring drops %.1f %% of made (trace accounted: %s)\n",
                  name.c_str(), c("producers"), name.find("/1") != std::string::npos ? " + 1 busy thread" : "",
                  c("made_per_s") / 1e6, c("recorded_per_s") / 1e6, c("statistics_exact") == 1 ? "yes" : "NO",
                  100 * c("trace_drop_share"), c("trace_accounted") == 1 ? "yes" : "NO");
    }
  });
}
