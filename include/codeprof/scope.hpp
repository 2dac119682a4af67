#pragma once
// The RAII scope: two timestamps and an operation id. One predictable branch when disabled.
// A scope must end on the thread that began it; scopes nest.
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
  ~Scope() {
    if (buffer_) end();
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
  Scope(Scope&&) = delete;
  Scope& operator=(Scope&&) = delete;

  bool active() const noexcept { return buffer_ != nullptr; }

 private:
  void begin(detail::RecorderState& state, std::uint32_t id, std::uint32_t probed) noexcept {
    detail::ThreadBuffer* b = detail::thread_buffer(state);
    buffer_ = b;
    id_ = id;
    parent_ = b->current_operation;
    b->current_operation = id;
    depth_ = b->depth++;
    use_tsc_ = state.use_tsc;
    start_ = detail::read_ticks(use_tsc_);
    // Probes run inside the timestamps: their cost lands in this scope's duration, not in the
    // parent's self time (which would look like the parent's own work).
    if (probed) [[unlikely]]
      begin_probes(state);
  }

  void end() noexcept {
    if (probe_state_) [[unlikely]] {
      end_probed();
      return;
    }
    const std::uint64_t t = detail::read_ticks(use_tsc_);
    detail::ThreadBuffer* b = buffer_;
    b->current_operation = parent_;
    b->depth = depth_;
    b->push(detail::Event{start_, t, id_, parent_, depth_, 0, 0}, nullptr);
  }

  void begin_probes(detail::RecorderState& state) noexcept;  // src/core/scope.cpp
  void end_probed() noexcept;  // probes, then the end timestamp, then the push

  // Only the two pointers are initialised up front: the rest is written by begin(), and an
  // inactive scope never reads it (fewer stores on the hot path).
  detail::ThreadBuffer* buffer_ = nullptr;
  detail::RecorderState* probe_state_ = nullptr;  // set when probes run for this scope
  std::uint64_t start_;
  std::uint32_t id_;
  std::uint32_t parent_;
  std::uint16_t depth_;
  bool use_tsc_;
};

}  // namespace codeprof
