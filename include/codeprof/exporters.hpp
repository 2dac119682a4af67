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
std::string to_prometheus(const Snapshot& snapshot, const Findings& findings);  // text exposition 0.0.4
std::string to_html_report(const Snapshot& snapshot, const Findings& findings); // self-contained page
std::string to_pprof(const Snapshot& snapshot);   // sampled profile: pprof profile.proto, gzip (binary)
std::string to_folded(const Snapshot& snapshot);  // sampled profile: folded stacks (flamegraph.pl)

// Writes `content` to `path` atomically; creates missing parent directories. Throws WriteError.
void write_file_atomic(const std::string& path, std::string_view content);

// The formats: "json", "chrome", "csv", "prometheus", "html", "pprof", "folded".
const std::vector<std::string>& export_format_names();
// Default file name of a format, e.g. "profiling_report_20261124_093000.json" for json.
std::string default_file_name(std::string_view format, std::int64_t unix_ns);
// Writes one format to `path` (a directory or "" gives the default file name in it). Returns the path.
std::string write_export(std::string_view format, const std::string& path, const Snapshot& snapshot,
                         const Findings& findings);

}  // namespace codeprof::io
