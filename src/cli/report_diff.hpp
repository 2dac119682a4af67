#pragma once
// `codeprof diff`: per-operation changes between two runs (calls, mean, p95, total), operations
// added and removed, and which operations regressed beyond a limit (for CI gates).
#include <optional>
#include <string>
#include <vector>

#include "codeprof/snapshot.hpp"

namespace codeprof::cli {

struct OperationFigures {
  std::uint64_t calls = 0;
  double mean_s = 0.0;
  double p95_s = 0.0;
  double total_s = 0.0;
};

struct OperationChange {
  std::string name;
  std::string type;
  std::optional<OperationFigures> base;  // absent: added in the new run
  std::optional<OperationFigures> next;  // absent: removed
  // Relative changes, (new - base) / base; absent where an operation is missing or base is 0.
  std::optional<double> calls_change, mean_change, p95_change, total_change;
  bool regressed = false;
};

struct DiffOptions {
  std::optional<double> max_regression;  // fraction (0.10 = 10 %); absent: report only
  std::string metric = "mean";           // what regresses: "mean", "p95" or "total"
  double min_duration_s = 0.0;           // operations faster than this in both runs never regress
  std::size_t top = 20;                  // text: common operations listed (regressed ones always); 0 = all
};

struct DiffResult {
  std::vector<OperationChange> changes;  // common ones by |total time change|, then added, then removed
  std::size_t regressions = 0;
};

DiffResult diff_snapshots(const Snapshot& base, const Snapshot& next, const DiffOptions& options);

std::string diff_text(const DiffResult& diff, const DiffOptions& options, const std::string& base_name,
                      const std::string& new_name);
std::string diff_json(const DiffResult& diff, const DiffOptions& options, const std::string& base_name,
                      const std::string& new_name);

}  // namespace codeprof::cli
