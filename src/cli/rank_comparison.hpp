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

#include "analysis/collectives.hpp"
#include "codeprof/config.hpp"
#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::cli {

// Collectives are recognised by the analysis layer (src/analysis/collectives.hpp).
using analysis::collective_seconds;
using analysis::is_collective;

struct RankFacts {
  std::string path;
  int rank = -1;
  int local_rank = -1;
  std::string host;
  std::string job_name;
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

// Step-time skew over time: the job's common span (wall clock, each rank aligned on its
// start_unix_ns) cut into intervals; in each, every rank's compute time per step (step time minus
// collectives) against the median of the other ranks. A straggler shows as a column that stays
// high; one that turns slow mid-run shows from the interval where it started.
struct SkewCell {
  int rank = -1;
  double steps = 0.0;             // steps in the interval (fractions where a time window straddles it)
  double compute_per_step_s = 0.0;
  double skew = 0.0;              // (value - others' median) / others' median
  bool measured = false;          // false: no steps of this rank in the interval
};
struct SkewInterval {
  double start_s = 0.0;  // since the job's first step
  double end_s = 0.0;
  std::vector<SkewCell> ranks;  // in the order of JobComparison::ranks
};
struct StepSkew {
  bool available = false;
  std::string note;  // what was measured, or why nothing was
  std::vector<SkewInterval> intervals;
};
StepSkew step_skew(const std::vector<RankInput>& inputs, const Config& config, std::size_t intervals = 8);
std::string skew_text(const StepSkew& skew);

std::string comparison_text(const JobComparison& job);

}  // namespace codeprof::cli
