#pragma once
// The trace reader over a byte source that is already open: the CLI opens a file once, tells its
// format from the first bytes, and hands the same source (head put back) to the right reader.
#include <string>

#include "codeprof/trace_reader.hpp"
#include "io/trace/input.hpp"

namespace codeprof::io::trace {

// Throws TraceReadError.
Snapshot read_trace_source(ByteSource& source, const std::string& name, const TraceReadOptions& options);

}  // namespace codeprof::io::trace
