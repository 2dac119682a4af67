#pragma once
// Exporters: one function per output format, each producing the whole document in memory, and
// an atomic file writer (temporary file in the same directory, then rename).
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::io {

class WriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string to_json_report(const Snapshot& snapshot, const Findings& findings);  // docs/REPORT_SCHEMA.md
std::string to_chrome_trace(const Snapshot& snapshot);                          // Chrome trace event format
std::string to_csv(const Snapshot& snapshot);                                   // operation statistics
std::string to_metrics_csv(const Snapshot& snapshot);  // the program's own metrics (custom_metrics), one row each
std::string to_prometheus(const Snapshot& snapshot, const Findings& findings);  // text exposition 0.0.4
std::string to_html_report(const Snapshot& snapshot, const Findings& findings); // self-contained page
std::string to_pprof(const Snapshot& snapshot);   // sampled profile: pprof profile.proto, gzip (binary)
std::string to_folded(const Snapshot& snapshot);  // sampled profile: folded stacks (flamegraph.pl)
// The allocation samples as folded stacks: each stack's estimated bytes allocated, or (live) its
// estimated bytes not freed when the snapshot was taken.
enum class FoldedAllocations { Allocated, Live };
std::string to_folded(const Snapshot& snapshot, FoldedAllocations bytes);
std::string to_perfetto_trace(const Snapshot& snapshot);                        // Perfetto protobuf (.pftrace)

// One process of a timeline that shows several (the ranks of a distributed job). Each snapshot's
// times are placed on one clock through its RunInfo::start_unix_ns, the wall-clock time of its
// origin, so events that happened at the same moment on different hosts line up.
struct TimelineProcess {
  const Snapshot* snapshot = nullptr;
  std::string name;       // shown for the process; empty: "rank R · host · pid P" (or the command)
  std::int64_t pid = -1;  // process id in the file; -1: the rank when every rank is known and distinct, else 1, 2, ...
};
// Several processes on one timeline (`codeprof merge`): one process each, steps on a "steps" track.
std::string to_chrome_trace(const std::vector<TimelineProcess>& processes);
std::string to_perfetto_trace(const std::vector<TimelineProcess>& processes);

// Writes `content` to `path` atomically; creates missing parent directories. Throws WriteError.
void write_file_atomic(const std::string& path, std::string_view content);

// The formats: "json", "chrome", "csv", "prometheus", "html", "pprof", "folded", "perfetto".
const std::vector<std::string>& export_format_names();
// Default file name of a format, e.g. "profiling_report_20261124_093000.json" for json.
std::string default_file_name(std::string_view format, std::int64_t unix_ns);
// Writes one format to `path` (a directory or "" gives the default file name in it). Returns the path.
std::string write_export(std::string_view format, const std::string& path, const Snapshot& snapshot,
                         const Findings& findings);
// Writes each format into `directory` ("" = the current directory), created when missing, under
// the default file names of one timestamp; with "csv", also profiling_custom_metrics_<time>.csv
// when the snapshot has custom metrics. A path that exists and is not a directory is refused, and
// an unknown format fails, before anything is written. Returns the paths. Throws WriteError.
std::vector<std::string> write_exports(const std::vector<std::string>& formats, const std::string& directory,
                                       const Snapshot& snapshot, const Findings& findings);

}  // namespace codeprof::io
