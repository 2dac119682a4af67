#pragma once
// Whole-run facts about the GPU(s) and the CPU: idle and utilisation, device memory, CPU
// efficiency, context switches and operations that contend for a lock.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/operation_facts.hpp"
#include "analysis/steps.hpp"
#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::analysis {

// A sampled GPU-utilisation percentage under this counts as idle (NVML reports the share of the
// sample period in which any kernel ran, so ~0 means nothing ran).
inline constexpr double kGpuIdleUtilizationPercent = 5.0;

struct GpuUsage {
  int index = 0;
  double mean_utilization = 0.0;  // percent; -1 when unknown
  double idle_share = 0.0;        // 0..1; -1 when unknown
  std::uint64_t peak_memory_bytes = 0;
  std::uint64_t memory_total_bytes = 0;
  double peak_memory_fraction = 0.0;  // 0..1, 0 when unknown
  GpuSource source = GpuSource::None;  // Sampler or Trace
};

// One operation that several threads run at once while mostly waiting: a lock they share.
struct ContendedOperation {
  std::uint32_t operation_id = 0;
  std::size_t threads = 0;
  double concurrency = 0.0;      // calls in flight on average
  double wait_fraction = 0.0;    // share of its time spent waiting
  double mean_over_min = 0.0;    // mean duration / fastest (uncontended) call
  bool efficiency_measured = false;
  double waiting_share = 0.0;    // waiting time / time of the threads that ran it
};

std::vector<GpuUsage> gpu_usage(const Snapshot& snapshot, const StepFacts& steps, double wall_s);
GpuClass classify_gpu(const std::vector<GpuUsage>& gpus);

std::vector<ContendedOperation> find_contention(const Snapshot& snapshot, const std::vector<OperationFacts>& ops,
                                                double wall_s);

// Involuntary context switches per second from the sampler's timeline; empty when not sampled.
std::optional<double> involuntary_switches_per_second(const Snapshot& snapshot);

CpuClass classify_cpu(const Snapshot& snapshot, const std::vector<OperationFacts>& ops,
                      const std::vector<ContendedOperation>& contended);

std::string summarize(const Classification& c);

}  // namespace codeprof::analysis
