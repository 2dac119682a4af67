// The public analysis entry points (include/codeprof/analysis.hpp) over src/analysis.
#include "codeprof/analysis.hpp"

#include "analysis/analyze.hpp"

namespace codeprof {

Findings analyze_snapshot(const Snapshot& snapshot, const Config& config) { return analysis::analyze(snapshot, config); }

std::vector<Bottleneck> find_bottlenecks(const Snapshot& snapshot, const Config& config, double min_mean_seconds) {
  return analysis::find_bottlenecks(snapshot, config, min_mean_seconds);
}

}  // namespace codeprof
