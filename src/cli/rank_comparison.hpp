#pragma once
// Several ranks of one distributed job: a per-rank table and straggler detection.
//
// In a synchronous job every rank waits for the slowest at each collective, so step times look
// alike and the straggler shows elsewhere: it computes longer and waits less in collectives while
// the others wait for it. Each rank is compared with the median of the OTHER ranks (which works
// from two ranks up) on three measures: step time, compute time (step minus collectives) and
// collective time; a rank stands out when it differs by more than the threshold.
#include <optional>
#include <string>
#include <vector>

#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::cli {

// Collective communication, by name (nccl:/gloo:/c10d:: annotations, NCCL kernels, all_reduce,
// all_gather, reduce_scatter, all_to_all, broadcast, barrier) or by the multi_gpu category.
bool is_collective(const OperationStats& op);

// Time in collectives: outermost collective calls (time a collective spends inside another one is
// not counted twice); NCCL kernels count only when no CPU-side collective was recorded.
double collective_seconds(const Snapshot& snapshot);

struct RankFacts {
  std::string path;
  int rank = -1;
  std::uint64_t steps = 0;
  double step_time_s = 0.0;   // total time in steps
  double wall_s = 0.0;
  double collective_s = 0.0;  // total
  std::string top_operation;  // most self time
  double top_operation_s = 0.0;

  // The compared measures: per step when every rank has steps, else over the whole run.
  double step_s = 0.0;        // mean step time, or wall time
  double compute_s = 0.0;     // step_s minus collectives (never negative)
  double collective_per_s = 0.0;  // collectives per step, or in total
};

struct Straggler {
  int rank = -1;
  std::string path;
  std::string measure;   // "step_time", "compute_time" or "collective_time"
  double value_s = 0.0;
  double others_median_s = 0.0;
  double difference = 0.0;  // (value - median) / median: +0.25 is 25 % more, -0.4 is 40 % less
  std::string description;  // one line with the numbers
};

struct JobComparison {
  std::vector<RankFacts> ranks;  // ascending by rank
  bool per_step = false;         // measures are per step (else whole run)
  bool one_job = false;          // distinct known ranks: straggler detection ran
  std::string note;              // why detection did not run, or what was compared
  double threshold = 0.10;
  std::vector<Straggler> stragglers;
};

struct RankInput {
  std::string path;
  const Snapshot* snapshot;
  const Findings* findings;
};

JobComparison compare_ranks(const std::vector<RankInput>& inputs, double threshold = 0.10);

std::string comparison_text(const JobComparison& job);

}  // namespace codeprof::cli
