#pragma once
// Per-thread single-producer / single-consumer ring of fixed 32-byte slots. The owning thread
// pushes; the collector thread drains. A full ring never blocks: the event is dropped and counted.
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "codeprof/probe_metrics.hpp"

namespace codeprof::detail {

struct RecorderState;
// A producer found its ring full (out of line, rare): in a forked child this starts the collector
// that fork() left behind.
void ring_full(RecorderState& state) noexcept;

// Event::flags: how a scope ended when it was not the innermost open scope of its thread.
inline constexpr std::uint32_t kEventMisnested = 1u;  // ended while inner scopes were open: they were closed with it
inline constexpr std::uint32_t kEventOrphan = 2u;     // its place had been closed by an enclosing scope that ended first

// One completed scope. `payload_slots` > 0: that many slots of ProbeDeltas follow it.
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
inline constexpr std::uint32_t kNoOperation = 0xFFFFFFFFu;  // == kRootOperation

struct ThreadBuffer {
  explicit ThreadBuffer(std::uint32_t capacity_pow2)
      : capacity(capacity_pow2),
        mask(capacity_pow2 - 1),
        storage(new Event[capacity_pow2]),
        slots(storage.get()),
        consumer_mask(capacity_pow2 - 1),
        consumer_slots(storage.get()) {
    for (auto& id : open_ids) id.store(kNoOperation, std::memory_order_relaxed);
  }

  // ---- producer side (owning thread only). The immutable ring geometry is repeated on the
  // consumer's line, so neither side reads a line the other one keeps writing.
  alignas(64) const std::uint32_t capacity;
  const std::uint32_t mask;
  std::unique_ptr<Event[]> storage;
  Event* const slots;
  std::atomic<std::uint64_t> head{0};
  std::uint64_t cached_tail = 0;
  std::atomic<std::uint64_t> dropped{0};  // written by the producer only
  ProbeFrame* probe_frames = nullptr;  // kMaxDepth frames, allocated on first probed scope

  // ---- the thread's open scopes (owning thread only; a signal handler on that thread may read
  // open_depth and open_ids: ids are written before the depth that exposes them).
  // open_ids[d + 1] is the operation of the open scope at depth d; open_ids[0] is the root, so
  // the parent of a scope at depth d is open_ids[d] without a branch.
  std::atomic<std::uint32_t> open_depth{0};
  std::uint64_t top_start = 0;  // start ticks of the innermost open scope (0: none); identifies it
  std::atomic<std::uint32_t> open_ids[kMaxDepth + 1];
  std::uint64_t open_starts[kMaxDepth + 1] = {};  // open_starts[d + 1]: start ticks of the scope at depth d

  // ---- consumer side (collector)
  alignas(64) std::atomic<std::uint64_t> tail{0};
  const std::uint32_t consumer_mask;
  const Event* const consumer_slots;

  // ---- set at registration, before the collector sees the ring
  std::uint32_t thread_index = 0;
  std::uint64_t os_tid = 0;
  RecorderState* recorder = nullptr;
  std::atomic<bool> closed{false};  // the thread has exited; drain then retire

  ~ThreadBuffer() { delete[] probe_frames; }

  // Pushes one event (and optional probe deltas) or counts a drop. Never blocks.
  inline void push(const Event& ev, const ProbeDeltas* probes) noexcept {
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
};

}  // namespace codeprof::detail
