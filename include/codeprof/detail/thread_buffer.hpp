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

// One completed scope. `payload_slots` > 0: that many slots of ProbeDeltas follow it.
struct alignas(32) Event {
  std::uint64_t start_ticks;
  std::uint64_t end_ticks;
  std::uint32_t operation_id;
  std::uint32_t parent_id;
  std::uint16_t depth;
  std::uint16_t payload_slots;
  std::uint32_t reserved;
};
static_assert(sizeof(Event) == 32);

inline constexpr std::uint16_t kProbeSlots = static_cast<std::uint16_t>((sizeof(ProbeDeltas) + sizeof(Event) - 1) / sizeof(Event));
inline constexpr std::uint16_t kMaxDepth = 256;

struct ThreadBuffer {
  explicit ThreadBuffer(std::uint32_t capacity_pow2)
      : capacity(capacity_pow2),
        mask(capacity_pow2 - 1),
        storage(new Event[capacity_pow2]),
        slots(storage.get()),
        consumer_mask(capacity_pow2 - 1),
        consumer_slots(storage.get()) {}

  // ---- producer side (owning thread only). The immutable ring geometry is repeated on the
  // consumer's line, so neither side reads a line the other one keeps writing.
  alignas(64) const std::uint32_t capacity;
  const std::uint32_t mask;
  std::unique_ptr<Event[]> storage;
  Event* const slots;
  std::atomic<std::uint64_t> head{0};
  std::uint64_t cached_tail = 0;
  std::atomic<std::uint64_t> dropped{0};  // written by the producer only
  std::uint32_t current_operation = 0xFFFFFFFFu;  // innermost open scope on this thread
  std::uint16_t depth = 0;
  ProbeFrame* probe_frames = nullptr;  // kMaxDepth frames, allocated on first probed scope

  // ---- consumer side (collector)
  alignas(64) std::atomic<std::uint64_t> tail{0};
  const std::uint32_t consumer_mask;
  const Event* const consumer_slots;

  // ---- set at registration, before the collector sees the ring
  std::uint32_t thread_index = 0;
  std::uint64_t os_tid = 0;
  std::atomic<bool> closed{false};  // the thread has exited; drain then retire

  ~ThreadBuffer() { delete[] probe_frames; }

  // Pushes one event (and optional probe deltas) or counts a drop. Never blocks.
  inline void push(const Event& ev, const ProbeDeltas* probes) noexcept {
    const std::uint64_t need = probes ? 1u + kProbeSlots : 1u;
    const std::uint64_t h = head.load(std::memory_order_relaxed);
    if (h + need - cached_tail > capacity) [[unlikely]] {
      cached_tail = tail.load(std::memory_order_acquire);
      if (h + need - cached_tail > capacity) {
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
