#pragma once
// The RAII scope: two timestamps and an operation id, aggregated on the thread that ran it. One
// predictable branch when disabled.
//
// Scopes nest per thread. A scope that ends while it is not the innermost open scope of its thread
// (interleaved asyncio tasks: A begins, B begins, A ends, B ends) still records its duration and
// is counted as misnested (Snapshot::events_misnested); the scopes opened inside it are closed
// with it, so the thread's nesting is back where it was before A began. When such an inner scope
// (B) ends later, it records its duration under the parent it began with, as misnested too, and
// touches the thread's nesting no more. A scope must end on the thread that began it; if its owner
// ends it elsewhere, call cancel() there instead.
#include <cstdint>

#include "codeprof/call_site.hpp"
#include "codeprof/detail/recorder_state.hpp"
#include "codeprof/detail/ticks.hpp"

namespace codeprof {

class Scope {
 public:
  Scope() noexcept = default;  // inactive
  Scope(detail::RecorderState& state, SiteId site) noexcept {
    const std::uint32_t bit = category_bit(site.category);
    const std::uint32_t mask = state.active_mask.load(std::memory_order_relaxed);
    if (mask & bit) [[likely]]
      begin(state, site.id, mask & (bit << detail::kProbeShift));
  }
  [[gnu::always_inline]] ~Scope() {
    if (buffer_) end();
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
  Scope(Scope&&) = delete;
  Scope& operator=(Scope&&) = delete;

  bool active() const noexcept { return buffer_ != nullptr; }

  // Abandons the scope: nothing is recorded and the destructor does nothing. On the thread that
  // began it, its place in the thread's nesting is closed (with any scopes opened inside it). On
  // any other thread, nothing of the beginning thread is read or written; that thread closes the
  // scope's place when a scope enclosing it ends (until then, scopes it begins nest inside it).
  void cancel() noexcept {
    if (buffer_) cancel_slow();
  }

 private:
  void begin(detail::RecorderState& state, std::uint32_t id, std::uint32_t probed) noexcept {
    detail::ThreadBuffer* b = detail::thread_buffer(state);
    buffer_ = b;
    id_ = id;
    b->check_samples();
    const std::uint32_t d = b->open_depth.load(std::memory_order_relaxed);
    depth_ = d;
    use_tsc_ = state.use_tsc;
    if (d < detail::kMaxDepth) [[likely]] {
      parent_ = b->open_ids[d].load(std::memory_order_relaxed);
      b->open_ids[d + 1].store(id, std::memory_order_relaxed);
      std::atomic_signal_fence(std::memory_order_release);  // the id before the depth that shows it
      b->open_depth.store(d + 1, std::memory_order_relaxed);
      b->open_child[d + 1].store(0, std::memory_order_relaxed);
      start_ = detail::read_ticks(use_tsc_);
      b->open_starts[d + 1] = start_;
      b->top_start = start_;
    } else {
      begin_deep(b);
    }
    // Probes run inside the timestamps: their cost lands in this scope's duration, not in the
    // parent's self time (which would look like the parent's own work).
    if (probed) [[unlikely]]
      begin_probes(state);
  }

  // Inlined into the destructor: a call would cost as much as the work.
  [[gnu::always_inline]] void end() noexcept {
    if (probe_state_) [[unlikely]] {
      end_probed();
      return;
    }
    const std::uint64_t t = detail::read_ticks(use_tsc_);
    detail::ThreadBuffer* b = buffer_;
    // The innermost open scope is identified by its start ticks: one compare.
    if (b->top_start != start_) [[unlikely]] {
      end_unusual(t, nullptr);
      return;
    }
    const std::uint32_t d = depth_;
    b->check_samples();
    b->open_depth.store(d, std::memory_order_relaxed);
    b->top_start = b->open_starts[d];
    // Statistics are kept on this thread: nothing to hand over, nothing that a busy machine can
    // make a collector lose.
    const std::uint64_t duration = b->recorder->scale.duration_ns(start_, t);
    const std::uint64_t children = b->open_child[d + 1].load(std::memory_order_relaxed);
    detail::bump(b->open_child[d], duration);
    b->record(id_, parent_, d, start_, t, duration, children < duration ? duration - children : 0);
  }

  // src/core/scope.cpp: the rare paths, out of line so the timing-only path stays small.
  void begin_deep(detail::ThreadBuffer* b) noexcept;
  void begin_probes(detail::RecorderState& state) noexcept;
  void end_probed() noexcept;  // probes, then the end timestamp, then the push
  void end_unusual(std::uint64_t end_ticks, const ProbeDeltas* probes) noexcept;  // misnested or deep
  void cancel_slow() noexcept;

  // Only the two pointers are initialised up front: the rest is written by begin(), and an
  // inactive scope never reads it (fewer stores on the hot path).
  detail::ThreadBuffer* buffer_ = nullptr;
  detail::RecorderState* probe_state_ = nullptr;  // set when probes run for this scope
  std::uint64_t start_;
  std::uint32_t id_;
  std::uint32_t parent_;
  std::uint32_t depth_;
  bool use_tsc_;
};

namespace detail {
// Records an operation that already finished, on the calling thread, as a child of the thread's
// innermost open scope (whose self time then excludes it): [start_ticks, end_ticks] as read by
// read_ticks(state). False when nothing was recorded (category off, or end before start).
bool record_span(RecorderState& state, SiteId site, std::uint64_t start_ticks, std::uint64_t end_ticks) noexcept;
}  // namespace detail

}  // namespace codeprof
