// Cost of analysis::analyze(), which the dashboard runs on every refresh and the CLI on every
// trace: a synthetic training run with N operations (call tree, threads, time windows, probes),
// against copying the same Snapshot (what the facade does anyway) as the baseline in this run.
// Printed: analyze / copy, and how the cost grows from 1,000 to 10,000 operations (10x = linear).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>

#include "../tests/analysis/snapshot_builder.hpp"
#include "analysis/analyze.hpp"
#include "ratio_reporter.hpp"

namespace {

using codeprof::Category;
using codeprof::Snapshot;

// A training loop: steps with loaders, preprocessing stages and model operators under them, on
// four threads, each operation with 64 time windows and CPU/alloc probes.
const Snapshot& run_with(int operations) {
  static std::map<int, Snapshot> cache;
  auto it = cache.find(operations);
  if (it != cache.end()) return it->second;
  codeprof::testing::SnapshotBuilder b(600.0, 16);
  const auto step = b.op("train_step", Category::TrainingLoop, 10000, 0.05);
  b.top(step);
  for (int i = 1; i < operations; ++i) {
    const auto category = static_cast<Category>(i % 13);
    const auto id = b.op("op_" + std::to_string(i), category, 10000 + static_cast<std::uint64_t>(i % 97), 1e-6 * (i % 50 + 1));
    b.child(i < 16 ? step : static_cast<std::uint32_t>(1 + i % 15), id);
    b.on_threads(id, {static_cast<std::uint32_t>(i % 4)});
    b.windows(id, std::vector<double>(64, 1e-6 * (i % 50 + 1)), 9.0, 150);
    b.cpu_efficiency(id, 0.2 + 0.1 * (i % 8));
    b.allocations(id, 1024.0 * (i % 5), 1024.0 * (i % 5));
  }
  std::vector<double> rss;
  for (int i = 0; i < 3000; ++i) rss.push_back(1e9 + 1e5 * (i % 7));
  b.timeline("rss_bytes", "bytes", 0.2, rss);
  return cache.emplace(operations, b.build()).first->second;
}

void BM_CopySnapshot(benchmark::State& state) {
  const Snapshot& s = run_with(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    Snapshot copy = s;
    benchmark::DoNotOptimize(copy.operations.data());
  }
}
BENCHMARK(BM_CopySnapshot)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_Analyze(benchmark::State& state) {
  const Snapshot& s = run_with(static_cast<int>(state.range(0)));
  const codeprof::Config config;
  for (auto _ : state) {
    codeprof::Findings f = codeprof::analysis::analyze(s, config);
    benchmark::DoNotOptimize(f.recommendations.data());
  }
}
BENCHMARK(BM_Analyze)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  // Single-threaded: CPU time is steadier on a busy machine.
  return codeprof::bench::run_with_ratios(argc, argv, [](const codeprof::bench::RunTimes& t) {
    for (const std::string n : {"1000", "10000"}) {
      const double copy = t.cpu_ns("BM_CopySnapshot/" + n), analyze = t.cpu_ns("BM_Analyze/" + n);
      if (copy > 0) std::printf("%s operations: analyze / snapshot copy = %.2f\n", n.c_str(), analyze / copy);
    }
    const double small = t.cpu_ns("BM_Analyze/1000"), large = t.cpu_ns("BM_Analyze/10000");
    if (small > 0) std::printf("analyze, 10000 vs 1000 operations = %.1fx (10x = linear)\n", large / small);
  });
}
