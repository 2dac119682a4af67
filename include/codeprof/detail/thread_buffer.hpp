#pragma once
// Everything one thread keeps for one recorder: its open scopes, its statistics table (one OpStats
// per operation, written by this thread only, read by snapshots) and, while the raw trace is on, a
// single-producer / single-consumer ring of 32-byte events for the collector. Statistics never
// drop; a full trace ring drops the trace event and counts it.
#include <atomic>
#include <cstdint>
#include <cstring>

#include "codeprof/detail/op_stats.hpp"
#include "codeprof/detail/sample_marks.hpp"
#include "codeprof/probe_metrics.hpp"

namespace codeprof::detail {

struct RecorderState;
// A producer found its trace ring full (out of line, rare): in a forked child this starts the
// collector that fork() left behind.
void ring_full(RecorderState& state) noexcept;

// Event::flags: how a scope ended when it was not the innermost open scope of its thread.
inline constexpr std::uint32_t kEventMisnested = 1u;  // ended while inner scopes were open: they were closed with it
inline constexpr std::uint32_t kEventOrphan = 2u;     // its place had been closed by an enclosing scope that ended first

// One completed scope in the trace ring. `payload_slots` > 0: that many slots of ProbeDeltas follow.
struct alignas(32) Event {
  std::uint64_t start_ticks;
  std::uint64_t end_ticks;
  std::uint32_t operation_id;
  std::uint32_t parent_id;
  std::uint16_t depth;
  std::uint16_t payload_slots;
  std::uint32_t flags;
};
static_assert(sizeof(Event) == 32);

inline constexpr std::uint16_t kProbeSlots = static_cast<std::uint16_t>((sizeof(ProbeDeltas) + sizeof(Event) - 1) / sizeof(Event));
// Open scopes tracked per thread; deeper ones still record (see Scope), without a stack entry.
inline constexpr std::uint32_t kMaxDepth = 256;

// RecorderState::control: bit 0 = the raw trace is on; the rest counts resets (the epoch).
inline constexpr std::uint32_t kControlTrace = 1u;
inline constexpr std::uint32_t kControlEpochUnit = 2u;

struct ThreadBuffer {
  ThreadBuffer(std::uint32_t ring_capacity_pow2, RecorderState* owner) noexcept;
  ~ThreadBuffer();  // src/core/thread_stats.cpp
  ThreadBuffer(const ThreadBuffer&) = delete;
  ThreadBuffer& operator=(const ThreadBuffer&) = delete;

  // One finished call (defined in recorder_state.hpp, which knows RecorderState). `self` is its
  // duration minus its children's.
  [[gnu::always_inline]] inline void record(std::uint32_t id, std::uint32_t parent, std::uint32_t depth,
                                            std::uint64_t start, std::uint64_t end, std::uint64_t duration,
                                            std::uint64_t self) noexcept;
  // The same for calls that ended in an unusual way (flags), carry probe deltas, or need the
  // table to grow, a reset to be applied or the trace switch to be seen. src/core/thread_stats.cpp
  void record_slow(std::uint32_t id, std::uint32_t parent, std::uint32_t depth, std::uint64_t start,
                   std::uint64_t end, std::uint64_t duration, std::uint64_t self, std::uint32_t flags,
                   const ProbeDeltas* probes) noexcept;

  // Pushes one trace event (and optional probe deltas) or counts a drop. Never blocks.
  inline void push(const Event& ev, const ProbeDeltas* probes) noexcept;

  // Before every change of the open-scope stack: new samples in the ring get a mark naming the
  // stack they were taken under.
  [[gnu::always_inline]] void check_samples() noexcept {
    if (const std::uint64_t* p = sample_position.load(std::memory_order_acquire)) [[unlikely]]
      if (__atomic_load_n(p, __ATOMIC_RELAXED) != sample_position_seen) mark_samples();
  }
  void mark_samples() noexcept;  // src/core/thread_stats.cpp

  // Forgets this thread's statistics and pending trace events (a forked child: they are the
  // parent's), and stops reading a CPU sampler's ring. Owning thread only, no allocation.
  void discard_statistics() noexcept;

  // ---- producer: hot (owning thread only)
  alignas(64) RecorderState* const recorder;
  std::uint32_t seen_control = 0;  // recorder->control as last applied (epoch, trace switch)
  std::uint32_t table_size = 0;
  std::atomic<OpStats*>* table = nullptr;  // index = operation id
  // Signal-free CPU sampling (sample_marks.hpp): the word where the kernel keeps the write position
  // of this thread's sample ring (null: no such sampler runs) and the position last seen. Set by
  // the sampler's thread, which holds the buffer as const, hence mutable.
  mutable std::atomic<const std::uint64_t*> sample_position{nullptr};
  std::uint64_t sample_position_seen = 0;
  // Marking by time (sample_position == &kMarkByCpuRing): the CPU rings' positions, set before
  // sample_position, and the CPU, its ring's position and the mark time at the last check.
  mutable std::atomic<const CpuSamplePositions*> cpu_positions{nullptr};
  const CpuSamplePositions* cpu_positions_seen = nullptr;
  int sample_cpu_seen = -1;
  std::uint64_t mark_time_seen = 0;

  // ---- the thread's open scopes (owning thread only; a signal handler on that thread may read
  // open_depth and open_ids: ids are written before the depth that exposes them).
  // Index d + 1 holds the open scope at depth d; index 0 is the root, so the parent of a scope at
  // depth d is open_ids[d] without a branch.
  std::atomic<std::uint32_t> open_depth{0};
  std::uint64_t top_start = 0;  // start ticks of the innermost open scope (0: none); identifies it
  std::atomic<std::uint32_t> open_ids[kMaxDepth + 1];
  std::uint64_t open_starts[kMaxDepth + 1] = {};  // start ticks of each open scope
  // Time (ns) of each open scope's finished children; open_child[0], the root's, is the thread's
  // time in outermost scopes since it started.
  std::atomic<std::uint64_t> open_child[kMaxDepth + 1] = {};
  ProbeFrame* probe_frames = nullptr;  // kMaxDepth frames, allocated on first probed scope
  // The marks of check_samples(); allocated by the first sampler that sets sample_position, owned
  // by the buffer.
  mutable std::atomic<SampleMarks*> sample_marks{nullptr};

  // ---- thread totals since the last reset (owning thread writes)
  std::atomic<std::uint64_t> top_level_base{0};  // open_child[0] at the last reset
  std::atomic<std::uint64_t> misnested{0};
  // Lifetime counts: events before the epoch the table holds; `lifetime_seq` is odd while a
  // reset moves the table's counts here.
  std::atomic<std::uint32_t> lifetime_seq{0};
  std::atomic<std::uint64_t> lifetime_before{0};
  std::atomic<std::uint32_t> epoch_seen{0};  // the table holds statistics of this epoch (control >> 1)
  std::atomic<std::atomic<OpStats*>*> shared_table{nullptr};  // what readers use; grows by copy
  std::atomic<std::uint32_t> shared_size{0};
  struct OldTable {
    std::atomic<OpStats*>* table;
    OldTable* next;
  };
  OldTable* old_tables = nullptr;  // kept until destruction: a reader may still hold one

  // ---- trace ring, producer side. Allocated on the first trace event. The immutable geometry
  // is repeated on the consumer's line, so neither side reads a line the other keeps writing.
  alignas(64) const std::uint32_t capacity;
  const std::uint32_t mask;
  Event* slots = nullptr;
  std::atomic<std::uint64_t> head{0};
  std::uint64_t cached_tail = 0;
  std::atomic<std::uint64_t> dropped{0};  // written by the producer only

  // ---- trace ring, consumer side (collector)
  alignas(64) std::atomic<std::uint64_t> tail{0};
  const std::uint32_t consumer_mask;
  std::atomic<const Event*> consumer_slots{nullptr};

  // ---- set at registration, before any reader sees the buffer
  std::uint32_t thread_index = 0;
  std::uint64_t os_tid = 0;
  std::atomic<bool> closed{false};  // the thread has exited: drain, merge, then retire

 private:
  bool allocate_ring() noexcept;
};

inline void ThreadBuffer::push(const Event& ev, const ProbeDeltas* probes) noexcept {
  if (!slots) [[unlikely]] {
    if (!allocate_ring()) {
      dropped.store(dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return;
    }
  }
  const std::uint64_t need = probes ? 1u + kProbeSlots : 1u;
  const std::uint64_t h = head.load(std::memory_order_relaxed);
  if (h + need - cached_tail > capacity) [[unlikely]] {
    cached_tail = tail.load(std::memory_order_acquire);
    if (h + need - cached_tail > capacity) {
      ring_full(*recorder);
      dropped.store(dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return;
    }
  }
  Event& slot = slots[h & mask];
  slot = ev;
  if (probes) [[unlikely]] {
    slot.payload_slots = kProbeSlots;
    // Payload slots may wrap around the ring end: copy slot by slot.
    const auto* src = reinterpret_cast<const unsigned char*>(probes);
    for (std::uint64_t i = 0; i < kProbeSlots; ++i) {
      const std::size_t off = i * sizeof(Event);
      const std::size_t n = sizeof(ProbeDeltas) - off < sizeof(Event) ? sizeof(ProbeDeltas) - off : sizeof(Event);
      std::memcpy(&slots[(h + 1 + i) & mask], src + off, n);
    }
  }
  head.store(h + need, std::memory_order_release);
}

}  // namespace codeprof::detail
