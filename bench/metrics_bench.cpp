// Cost of the program's own metrics (Profiler::add_counter / record_value / set_gauge) against a
// scope of the same profiler and a naive baseline (mutex + hash map keyed by name), measured in
// the same run. Target: a metric call costs no more than a timed scope with a dynamic name, and
// well under the naive baseline.
#include <benchmark/benchmark.h>

#include <mutex>
#include <string>
#include <unordered_map>

#include "codeprof/profiler.hpp"

using namespace codeprof;

namespace {

Profiler& profiler() {
  static Profiler p([] {
    Config c;
    c.sampler_enabled = false;
    c.alerts.enabled = false;
    return c;
  }());
  return p;
}

std::mutex g_naive_mutex;
std::unordered_map<std::string, double> g_naive;

}  // namespace

static void BM_Scope_DynamicName(benchmark::State& state) {
  Profiler& p = profiler();
  for (auto _ : state) {
    Scope s = p.profile_operation("bench.metric_scope", Category::Custom);
    benchmark::DoNotOptimize(&s);
  }
}
BENCHMARK(BM_Scope_DynamicName);

static void BM_Naive_MutexHashMap(benchmark::State& state) {
  double x = 0;
  for (auto _ : state) {
    std::lock_guard lock(g_naive_mutex);
    g_naive[std::string("pages_scored")] += (x += 1.0);
  }
}
BENCHMARK(BM_Naive_MutexHashMap)->ThreadRange(1, 2);

static void BM_AddCounter(benchmark::State& state) {
  Profiler& p = profiler();
  for (auto _ : state) p.add_counter("pages_scored", 32, "pages");
}
BENCHMARK(BM_AddCounter)->ThreadRange(1, 2);

static void BM_RecordValue(benchmark::State& state) {
  Profiler& p = profiler();
  double x = 0.5;
  for (auto _ : state) {
    p.record_value("loss", x);
    x = x * 1.0001 + 1e-6;
  }
}
BENCHMARK(BM_RecordValue)->ThreadRange(1, 2);

static void BM_SetGauge(benchmark::State& state) {
  Profiler& p = profiler();
  double v = 0;
  for (auto _ : state) p.set_gauge("queue_depth", v += 1.0);
}
BENCHMARK(BM_SetGauge);

BENCHMARK_MAIN();
