#pragma once
// The subcommands of `codeprof`, apart from argument parsing (main.cpp). Each returns the exit
// code: 0 success, 1 `diff` found a regression beyond the limit; errors throw (main prints one
// line and exits with 2).
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace codeprof::cli {

struct AnalyzeOptions {
  std::vector<std::string> files;
  std::string format = "text";  // text | json | html
  std::string output;           // "" = stdout (html with several files: a directory, required)
  std::string config_path;      // "" = defaults and CODEPROF_* environment variables
  std::size_t top = 10;
  double straggler_threshold_pct = 10.0;
};
int run_analyze(const AnalyzeOptions& options);

struct DiffOptionsCli {
  std::string base;
  std::string next;
  std::optional<double> max_regression_pct;
  std::string metric = "mean";  // mean | p95 | total
  double min_duration_s = 0.0;
  std::size_t top = 20;
  std::string format = "text";  // text | json
  std::string output;
};
int run_diff(const DiffOptionsCli& options);

struct ServeOptions {
  std::string file;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8765;
  std::string token;
  std::string config_path;
};
int run_serve(const ServeOptions& options);

struct MergeOptions {
  std::vector<std::string> files;
  std::string output;             // required
  std::string format;             // chrome | perfetto; "" = from the output's extension (.pftrace: perfetto)
  std::string config_path;
  double straggler_threshold_pct = 10.0;
  std::uint64_t max_events = 2'000'000;  // raw events kept per trace file
};
int run_merge(const MergeOptions& options);

// `codeprof serve --ranks`: the live dashboards of a job's ranks as one view.
struct ServeRanksOptions {
  std::vector<std::string> ranks;  // URLs (with ?token=... when a rank needs one), or @FILE
  std::string host = "127.0.0.1";
  std::uint16_t port = 8765;
  std::string token;
  std::string config_path;
  double straggler_threshold_pct = 10.0;
  double poll_interval_s = 2.0;
};
int run_serve_ranks(const ServeRanksOptions& options);

// The same errors as the CLI reports them, for callers that parse arguments themselves.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace codeprof::cli
