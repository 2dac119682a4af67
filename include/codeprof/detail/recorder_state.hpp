#pragma once
// The few fields of a recorder that the hot path reads, and the thread-local lookup of the
// calling thread's ring. Everything else of the recorder lives in src/core.
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "codeprof/detail/thread_buffer.hpp"
#include "codeprof/detail/ticks.hpp"
#include "codeprof/probe_metrics.hpp"

namespace codeprof::detail {

inline constexpr unsigned kProbeShift = 16;

struct RecorderState {
  // Bits 0..13: categories that record ("enabled categories if globally on, else 0"), so the
  // hot path tests one bit. Bits 16..29: categories whose recording scopes also run probes.
  // One word, so a scope reads one atomic.
  alignas(64) std::atomic<std::uint32_t> active_mask{0};
  // kControlTrace | epoch * kControlEpochUnit: read as a scope ends (a reset bumps the epoch;
  // each thread clears its own statistics when it sees the change).
  std::atomic<std::uint32_t> control{0};
  TickScale scale;  // ticks to ns, for durations (on the recording thread) and start times
  bool use_tsc = false;
  std::uint64_t id = 0;  // unique per recorder in the process, never reused
  ProbeHooks hooks{};    // set before the first scope, immutable afterwards
  void* owner = nullptr; // the core::Recorder this state belongs to
  // In a forked child: no collector runs until a trace ring fills (ring_full).
  std::atomic<bool> collector_missing{false};
  // Called on a thread when it first records here, with its new buffer: a CPU sampler that armed
  // the thread before its first scope has it mark its samples from that scope on (sample_marks.hpp).
  std::atomic<void (*)(ThreadBuffer&)> thread_attached{nullptr};
};

[[gnu::always_inline]] inline void ThreadBuffer::record(std::uint32_t id, std::uint32_t parent, std::uint32_t depth,
                                                       std::uint64_t start, std::uint64_t end, std::uint64_t duration,
                                                       std::uint64_t self) noexcept {
  const std::uint32_t control = recorder->control.load(std::memory_order_relaxed);
  OpStats* op;
  if (control == seen_control && id < table_size && (op = table[id].load(std::memory_order_relaxed))) [[likely]] {
    op->add(duration, self, parent, start, end);
    if (control & kControlTrace) [[unlikely]]
      push(Event{start, end, id, parent, static_cast<std::uint16_t>(depth < 0xFFFFu ? depth : 0xFFFFu), 0, 0}, nullptr);
    return;
  }
  record_slow(id, parent, depth, start, end, duration, self, 0, nullptr);
}

// The clock the recorder's scopes use (TSC ticks or steady_clock ns), for spans measured by the
// caller (record_span).
inline std::uint64_t read_ticks(const RecorderState& state) noexcept { return read_ticks(state.use_tsc); }

// Per-thread cache of (recorder id -> ring). Trivial type: thread_local access costs no guard.
// initial-exec TLS exists from the thread's creation (a library loaded with dlopen takes it from
// glibc's static TLS reserve), so reading it from a signal handler never allocates.
struct ThreadSlot {
  std::uint64_t recorder_id;
  ThreadBuffer* buffer;
};
inline thread_local ThreadSlot tls_slot [[gnu::tls_model("initial-exec")]] {0, nullptr};
// The calling thread's rings of up to kSignalSlots recorders (most recently attached), for
// open_operations(); the fast path above only remembers the last recorder used.
inline constexpr std::size_t kSignalSlots = 4;
inline thread_local ThreadSlot tls_rings [[gnu::tls_model("initial-exec")]][kSignalSlots] {};

// Registers the calling thread with the recorder (once per thread and recorder).
ThreadBuffer* attach_thread(RecorderState& state);
// Whether `b` is one of the calling thread's rings (compares addresses: `b` may be gone).
bool ring_of_calling_thread(const ThreadBuffer* b) noexcept;

inline ThreadBuffer* thread_buffer(RecorderState& state) {
  if (tls_slot.recorder_id == state.id) [[likely]]
    return tls_slot.buffer;
  return attach_thread(state);
}

// The open scopes of the calling thread: ids[0] is the outermost, ids[depth - 1] the innermost.
struct OpenOperations {
  const std::atomic<std::uint32_t>* ids = nullptr;  // read with .load(std::memory_order_relaxed)
  std::uint32_t depth = 0;  // scopes nested deeper than kMaxDepth are not listed
};

// Async-signal-safe on the calling thread (for a sampling signal handler): no lock, no allocation,
// no system call, and only initial-exec TLS (see tls_slot). Empty when the calling thread never
// recorded with this recorder (or uses more than kSignalSlots recorders and this one is not among
// its latest). The ids stay valid until the thread records its next scope; a scope pushes its id
// before the depth that exposes it, so an interrupted push is never seen half-done.
inline OpenOperations open_operations(const RecorderState& state) noexcept {
  const ThreadBuffer* b = nullptr;
  if (tls_slot.recorder_id == state.id) {
    b = tls_slot.buffer;
  } else {
    for (const ThreadSlot& s : tls_rings)
      if (s.recorder_id == state.id) b = s.buffer;
  }
  if (!b || state.id == 0) return {};
  std::uint32_t depth = b->open_depth.load(std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_acquire);
  if (depth > kMaxDepth) depth = kMaxDepth;
  return {b->open_ids + 1, depth};
}

}  // namespace codeprof::detail
