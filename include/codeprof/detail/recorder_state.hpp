#pragma once
// The few fields of a recorder that the hot path reads, and the thread-local lookup of the
// calling thread's ring. Everything else of the recorder lives in src/core.
#include <atomic>
#include <cstdint>

#include "codeprof/detail/thread_buffer.hpp"
#include "codeprof/probe_metrics.hpp"

namespace codeprof::detail {

inline constexpr unsigned kProbeShift = 16;

struct RecorderState {
  // Bits 0..13: categories that record ("enabled categories if globally on, else 0"), so the
  // hot path tests one bit. Bits 16..29: categories whose recording scopes also run probes.
  // One word, so a scope reads one atomic.
  alignas(64) std::atomic<std::uint32_t> active_mask{0};
  bool use_tsc = false;
  std::uint64_t id = 0;  // unique per recorder in the process, never reused
  ProbeHooks hooks{};    // set before the first scope, immutable afterwards
  void* owner = nullptr; // the core::Recorder this state belongs to
};

// Per-thread cache of (recorder id -> ring). Trivial type: thread_local access costs no guard.
struct ThreadSlot {
  std::uint64_t recorder_id;
  ThreadBuffer* buffer;
};
inline thread_local ThreadSlot tls_slot{0, nullptr};

// Registers the calling thread with the recorder (once per thread and recorder).
ThreadBuffer* attach_thread(RecorderState& state);

inline ThreadBuffer* thread_buffer(RecorderState& state) {
  if (tls_slot.recorder_id == state.id) [[likely]]
    return tls_slot.buffer;
  return attach_thread(state);
}

}  // namespace codeprof::detail
