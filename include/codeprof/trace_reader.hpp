#pragma once
// Reads Chrome trace event files, including the PyTorch profiler's (Kineto) traces, into a
// Snapshot: the same per-operation statistics, call tree and thread table that live collection
// produces, plus steps, GPU activity per device/stream and synchronisation time.
//
// Streaming: the file (.json or .json.gz) is read in windows; memory grows with the number of
// distinct operations, threads and steps, not with the number of events (events are aggregated as
// they are read; the few that must be ordered first are sorted in a bounded buffer that spills to
// a temporary file). How PyTorch's names map onto codeprof's model: docs/TRACE_READER.md.
// Standard library only.
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "codeprof/snapshot.hpp"

namespace codeprof::io {

// A file that cannot be read as a trace. what() is one line:
//   "<file>: byte offset <N> (event <K>): expected <what>[, found <what>]"
// Offsets count uncompressed bytes; the event index is the position in traceEvents (from 0).
class TraceReadError : public std::runtime_error {
 public:
  static constexpr std::uint64_t kNoPosition = UINT64_MAX;
  TraceReadError(std::string file, std::uint64_t byte_offset, std::uint64_t event_index, const std::string& problem);

  const std::string& file() const noexcept { return file_; }
  std::uint64_t byte_offset() const noexcept { return byte_offset_; }  // kNoPosition when unknown
  std::uint64_t event_index() const noexcept { return event_index_; }  // kNoPosition when not in an event

 private:
  std::string file_;
  std::uint64_t byte_offset_;
  std::uint64_t event_index_;
};

struct TraceReadOptions {
  // Raw events kept in Snapshot::trace_events (the earliest ones; 0 keeps none).
  std::uint64_t trace_event_budget = 100'000;
  // Kernels, memcpys and memsets also become operations of category "gpu" on one thread per
  // device/stream, so per-kernel statistics appear next to the CPU operations.
  bool gpu_activities_as_operations = true;
  // Memory for ordering events before nesting them; beyond it sorted runs go to a temporary file.
  std::uint64_t sort_memory_bytes = 96ull << 20;
  // Directory for those runs; empty: $TMPDIR, else /tmp.
  std::string temp_directory;
  // A single event (or top-level value other than traceEvents) larger than this is an error.
  std::uint64_t max_value_bytes = 64ull << 20;
  // Distinct operations (name and category) kept apart; the calls of any further names are counted
  // together in one operation per category, "(other operations: names beyond the first N)", and
  // RunInfo::unavailable says so. Each operation's statistics take a few kilobytes, so a trace
  // with a fresh name per event (400,000 of them) would otherwise need gigabytes. 0: no limit.
  std::uint64_t max_operations = 20'000;
  // Called about every few megabytes: bytes consumed from the file so far and its size (both
  // compressed for .gz files). For progress display.
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

// What a file holds, judged from its first bytes (decompressed if gzip).
enum class TraceFormat : std::uint8_t {
  Unknown,         // not JSON, or no sign of either format
  CodeprofReport,  // codeprof's JSON report (first key "schema_version"): read it with the report reader
  ChromeTrace,     // Chrome trace event format (object with traceEvents, or a bare array of events)
  KinetoTrace,     // a Chrome trace written by the PyTorch profiler (Kineto)
};
std::string_view to_string(TraceFormat format) noexcept;

// Reads at most the first 64 KiB of the file. Throws TraceReadError if it cannot be opened.
TraceFormat detect_trace_format(const std::string& path);
// The same judgement over bytes already in memory (gzip data is inflated as far as needed).
TraceFormat detect_trace_format_of(std::string_view head) noexcept;

// Reads a Chrome/Kineto trace (.json, or gzip data whatever the name). Throws TraceReadError.
Snapshot read_trace_file(const std::string& path, const TraceReadOptions& options = {});
// The same from memory; `name` stands for the file in errors and in RunInfo::source_path.
Snapshot read_trace_bytes(std::string_view bytes, const std::string& name = "<memory>",
                          const TraceReadOptions& options = {});

}  // namespace codeprof::io
