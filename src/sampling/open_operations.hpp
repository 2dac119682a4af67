#pragma once
// How the sampling signal handler learns which operations are open on the thread it interrupted:
// the core's per-thread open-operation stack, read inside the handler on that thread (no lock, no
// allocation, no system call; initial-exec TLS).
#include <cstdint>

#include "codeprof/detail/recorder_state.hpp"

namespace codeprof::sampling {

// Writes the open operation ids, innermost first, into out[0..max); returns how many (the
// innermost `max` when more are open), or -1 when the calling thread has never run a scope of
// this recorder.
inline int read_open_operations(const detail::RecorderState& state, std::uint32_t* out, int max) noexcept {
  const detail::OpenOperations open = detail::open_operations(state);
  if (open.ids == nullptr) return -1;
  int n = 0;
  for (std::uint32_t d = open.depth; d > 0 && n < max; --d) out[n++] = open.ids[d - 1].load(std::memory_order_relaxed);
  return n;
}

}  // namespace codeprof::sampling
