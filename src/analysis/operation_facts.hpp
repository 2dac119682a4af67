#pragma once
// Numbers derived once per operation (seconds, shares, CPU efficiency, allocation balance, I/O)
// that bottlenecks, classification and the rules all read.
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "codeprof/snapshot.hpp"

namespace codeprof::analysis {

struct OperationFacts {
  const OperationStats* op = nullptr;
  double mean_s = 0.0;
  double p95_s = 0.0;
  double total_s = 0.0;
  double self_s = 0.0;
  double self_share = 0.0;  // self time / wall time of the run, clamped to 0..1

  // Probe-based; empty when the probe did not measure this operation.
  std::optional<double> cpu_efficiency;       // CPU time / wall time of the measured calls, 0..1
  std::optional<double> alloc_balance_bytes;  // bytes allocated - bytes freed, over the run
  std::optional<double> allocs_per_call;
  std::optional<double> alloc_bytes_per_call;
  std::optional<double> rss_delta_bytes;      // sum of per-call RSS deltas
  std::optional<double> io_read_bytes;        // over the run
  std::optional<double> io_write_bytes;
  std::optional<double> gpu_time_s;

  std::size_t threads = 0;   // threads that ran it
  double concurrency = 0.0;  // total time / active span (first..last seen): > 1 means calls overlap
};

// Wall time of the profiled run in seconds: run.wall_ns, else the span the operations cover.
double run_wall_seconds(const Snapshot& snapshot);

// One entry per snapshot operation, same order.
std::vector<OperationFacts> compute_operation_facts(const Snapshot& snapshot, double wall_s);

// Share of an operation's time that ran on the given threads (1 when threads are unknown).
double thread_fraction(const Snapshot& snapshot, std::uint32_t operation_id,
                       const std::vector<std::uint32_t>& thread_indices);

// The same per-thread times, indexed once for loops over many operations.
class ThreadTimes {
 public:
  explicit ThreadTimes(const Snapshot& snapshot);
  std::size_t threads(std::uint32_t operation_id) const;
  double fraction_on(std::uint32_t operation_id, const std::vector<std::uint32_t>& thread_indices) const;

 private:
  std::unordered_map<std::uint32_t, std::vector<std::pair<std::uint32_t, std::uint64_t>>> by_operation_;
};

// Snapshot::operations is ascending by id: a binary search (a linear one if it is not).
const OperationStats* operation_by_id(const Snapshot& snapshot, std::uint32_t id) noexcept;

constexpr double ns_to_s(double ns) noexcept { return ns * 1e-9; }

}  // namespace codeprof::analysis
