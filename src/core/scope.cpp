// The probe part of a scope: out of line, so the timing-only path stays small.
#include "codeprof/scope.hpp"

#include <new>

namespace codeprof {

void Scope::begin_probes(detail::RecorderState& state) noexcept {
  if (depth_ >= detail::kMaxDepth) return;  // too deep for a frame: timing only
  detail::ThreadBuffer* b = buffer_;
  if (!b->probe_frames) {
    b->probe_frames = new (std::nothrow) ProbeFrame[detail::kMaxDepth];
    if (!b->probe_frames) return;
  }
  probe_state_ = &state;
  state.hooks.begin(state.hooks.context, id_, b->probe_frames[depth_]);
}

void Scope::end_probed() noexcept {
  ProbeDeltas deltas;
  probe_state_->hooks.end(probe_state_->hooks.context, id_, buffer_->probe_frames[depth_], deltas);
  const std::uint64_t t = detail::read_ticks(use_tsc_);
  detail::ThreadBuffer* b = buffer_;
  b->current_operation = parent_;
  b->depth = depth_;
  b->push(detail::Event{start_, t, id_, parent_, depth_, 0, 0}, &deltas);
}

}  // namespace codeprof
