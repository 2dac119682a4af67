#pragma once
// How the sampling signal handler learns which operations are open on the thread it interrupted.
// Runs inside the handler, on that thread: reads only the thread's own state, no lock, no call.
#include <cstdint>

#include "codeprof/detail/recorder_state.hpp"

namespace codeprof::sampling {

// Writes the open operation ids, innermost first, into out[0..max); returns how many, or -1 when
// the calling thread has never run a scope of this recorder.
inline int read_open_operations(const detail::RecorderState& state, std::uint32_t* out, int max) noexcept {
  const detail::ThreadSlot slot = detail::tls_slot;
  if (slot.recorder_id != state.id || slot.buffer == nullptr) return -1;
  const std::uint32_t current = slot.buffer->current_operation;
  if (current == 0xFFFFFFFFu || max < 1) return 0;
  // The per-thread state keeps the innermost operation only; its parents are not readable here.
  out[0] = current;
  return 1;
}

}  // namespace codeprof::sampling
