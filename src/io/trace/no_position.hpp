#pragma once
// The byte offset an error reports when it has none (a whole-file problem, a closed stream).
#include <cstdint>

#include "codeprof/trace_reader.hpp"

namespace codeprof::io::trace {

inline constexpr std::uint64_t kNo = TraceReadError::kNoPosition;

}  // namespace codeprof::io::trace
