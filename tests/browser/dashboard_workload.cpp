// A small profiled pipeline that serves its dashboard on a free port: what the browser tests
// drive. Prints "PORT <n>" once listening, then runs until its standard input closes (the test
// ended) or --seconds pass, whichever comes first.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <atomic>
#include <memory>
#include <vector>

#include "codeprof/codeprof.hpp"
#include "codeprof/dashboard.hpp"
#include "sampling/planted_allocations.hpp"

namespace {

std::uint64_t spin(std::chrono::microseconds how_long) {
  const auto end = std::chrono::steady_clock::now() + how_long;
  std::uint64_t x = 1;
  while (std::chrono::steady_clock::now() < end)
    for (int i = 0; i < 200; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 120;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atoi(argv[i + 1]);

  codeprof::Config config;
  config.sampler_interval_ms = 100;
  config.trace_enabled = true;  // the Chrome trace export then holds real events
  config.trace_budget_events = 200'000;
  config.sampling.enabled = true;  // the flame graph
  config.sampling.alloc_enabled = true;  // the allocation views (codeprof::alloc is linked)
  config.sampling.alloc_interval_bytes = 64 * 1024;
  codeprof::Profiler profiler(config);
  // The program's own notes, as the demo hands them over: they must reach the live page.
  profiler.add_unavailable("multi_gpu", "skipped: data-parallel training needs 2 or more CUDA devices, found 0");
  profiler.set_metadata("batch_size", "16");
  codeprof::DashboardOptions options;
  options.port = 0;
  codeprof::Dashboard dashboard(profiler, options);
  std::printf("PORT %u\n", static_cast<unsigned>(dashboard.port()));
  std::fflush(stdout);

  std::atomic<bool> stop{false};
  std::thread stdin_watch([&] {
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    stop = true;
  });
  stdin_watch.detach();  // blocked in read(); the process exit ends it

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::uint64_t sink = 0;
  std::vector<std::unique_ptr<char[]>> kept;  // the planted leak: 64 KiB a step, up to 4 MiB
  while (!stop && std::chrono::steady_clock::now() < deadline) {
    CODEPROF_SCOPE(profiler, "train_step", codeprof::Category::TrainingLoop);
    {
      CODEPROF_SCOPE(profiler, "load_batch", codeprof::Category::DataLoading);
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
    {
      CODEPROF_SCOPE(profiler, "tokenize", codeprof::Category::Preprocessing);
      sink += spin(std::chrono::microseconds(800));
    }
    {
      CODEPROF_SCOPE(profiler, "build_vocab", codeprof::Category::Preprocessing);
      sink += codeprof::test::allocate_planted(512 * 1024);
      if (kept.size() < 64) codeprof::test::leak_planted(kept, 1, 64 * 1024);
    }
    {
      CODEPROF_SCOPE(profiler, "forward", codeprof::Category::ModelInference);
      sink += spin(std::chrono::microseconds(1500));
    }
    // The program's own numbers (docs/METRICS.md), as the demo records them.
    profiler.add_counter("pages_scored", 16, "pages");
    profiler.record_value("loss", 1.0 + static_cast<double>(sink % 100) / 100.0);
    profiler.set_gauge("queue_depth", static_cast<double>(sink % 8), "batches");
  }
  std::printf("done %llu\n", static_cast<unsigned long long>(sink & 1));
  return 0;
}
