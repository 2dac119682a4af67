#pragma once
// Opens what the user passes to `codeprof analyze/diff/serve`: a codeprof JSON report, or a
// Chrome / PyTorch (Kineto) trace, plain or gzip-compressed. The kind is told from the first bytes.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::cli {

// The file cannot be used; the message is one line that starts with the file name.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Input {
  std::string path;
  std::string kind;  // "codeprof report" or "trace"
  Snapshot snapshot;
  std::optional<Findings> saved_findings;  // what a report was written with
};

// Reads one file; prints progress to stderr when that takes over a second. Throws InputError.
Input load_input(const std::string& path);
// The same, keeping up to `trace_event_budget` raw events of a trace (a timeline needs them; the
// statistics do not).
Input load_input(const std::string& path, std::uint64_t trace_event_budget);

}  // namespace codeprof::cli
