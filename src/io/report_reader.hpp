#pragma once
// Reads back the JSON report that to_json_report writes (docs/REPORT_SCHEMA.md): the Snapshot
// (everything but the raw trace events, which the report does not hold) and the Findings.
// Standard library only, so that the CLI and the dashboard can include it.
#include <stdexcept>
#include <string>
#include <string_view>

#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::io {

namespace trace {
class ByteSource;
}

// A file that is not a readable codeprof report. The message is one line: the file name, where
// (a byte offset or the key path, e.g. operations[3].count) and what was expected.
class ReportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Report {
  int schema_version = 0;
  std::string generated_at;
  Snapshot snapshot;  // run.source = "codeprof-report", run.source_path = the file
  Findings findings;  // as written; re-run analysis for findings under other thresholds
};

// Reads a report file, plain or gzip-compressed (.json.gz), as a stream: memory follows what the
// report holds, nesting deeper than 1024 levels and duplicate keys are refused.
Report read_report(const std::string& path);
// `name` is used in error messages and as run.source_path.
Report parse_report(std::string_view text, const std::string& name);
// From a byte source already open (io/trace/input.hpp), e.g. a pipe whose first bytes were read
// to tell its format.
Report read_report_source(trace::ByteSource& source, const std::string& name);

Snapshot read_json_report(const std::string& path);
Snapshot parse_json_report(std::string_view text, const std::string& name = "<string>");

// Whether the start of a file looks like a codeprof report (a JSON object whose first key is
// "schema_version", as to_json_report writes it), so callers can pick a reader without parsing.
bool looks_like_json_report(std::string_view head) noexcept;

}  // namespace codeprof::io
