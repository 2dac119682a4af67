// The dashboard's cost to the profiled program: thread CPU time of one workload iteration
// without a dashboard, with an idle one, and with 200 clients requesting as fast as they can
// (target: within 10 % of the value without). Also what the server itself spends per request.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>

#include "../tests/server/load_support.hpp"
#include "codeprof/dashboard.hpp"
#include "ratio_reporter.hpp"

namespace {

using codeprof::test::RequestCrowd;
using codeprof::test::workload_iteration;

codeprof::Profiler& profiler() {
  static codeprof::Profiler p;
  return p;
}

codeprof::DashboardOptions free_port() {
  codeprof::DashboardOptions o;
  o.port = 0;
  return o;
}

void run_workload(benchmark::State& state) {
  std::uint64_t x = 0;
  for (auto _ : state) benchmark::DoNotOptimize(x += workload_iteration(profiler(), x));
}

void BM_Workload_NoDashboard(benchmark::State& state) { run_workload(state); }
BENCHMARK(BM_Workload_NoDashboard)->MinTime(codeprof::bench::min_time(1.0));

void BM_Workload_IdleDashboard(benchmark::State& state) {
  codeprof::Dashboard dashboard(profiler(), free_port());
  run_workload(state);
}
BENCHMARK(BM_Workload_IdleDashboard)->MinTime(codeprof::bench::min_time(1.0));

void BM_Workload_Dashboard200Clients(benchmark::State& state) {
  codeprof::Dashboard dashboard(profiler(), free_port());
  RequestCrowd crowd(dashboard.port(), 200);
  run_workload(state);
  crowd.stop();
  state.counters["requests"] = static_cast<double>(crowd.ok());
  state.counters["failed"] = static_cast<double>(crowd.failed());
}
BENCHMARK(BM_Workload_Dashboard200Clients)->MinTime(codeprof::bench::min_time(1.0));

// One GET /api/state answered from the cache (wall time: client + server on loopback).
void BM_StateRequest_Cached(benchmark::State& state) {
  codeprof::Dashboard dashboard(profiler(), free_port());
  httplib::Client c("127.0.0.1", dashboard.port());
  c.set_keep_alive(true);
  for (auto _ : state) {
    auto res = c.Get("/api/state");
    if (!res || res->status != 200) state.SkipWithError("request failed");
  }
}
BENCHMARK(BM_StateRequest_Cached)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  return codeprof::bench::run_with_ratios(argc, argv, [](const codeprof::bench::RunTimes& t) {
    const double base = t.cpu_ns("BM_Workload_NoDashboard");
    if (base <= 0) return;
    std::printf("\nworkload iteration, thread CPU time (no dashboard = 1.00):\n");
    for (const std::string name : {"BM_Workload_IdleDashboard", "BM_Workload_Dashboard200Clients"})
      if (t.has(name))
        std::printf("  %-34s %8.0f ns  = %.3fx   (target <= 1.10x)\n", name.c_str(), t.cpu_ns(name), t.cpu_ns(name) / base);
  });
}
