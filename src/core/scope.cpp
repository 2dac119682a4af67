// The rare paths of a scope: probes, misnesting, nesting deeper than the tracked stack, cancel,
// and spans recorded after the fact. Out of line, so the timing-only path stays small.
#include "codeprof/scope.hpp"

#include <new>

namespace codeprof {
namespace {

// Marks top_start while a scope deeper than kMaxDepth is open: no tracked scope matches it, so
// the tracked ones below take the slow path and see the deep ones above them.
constexpr std::uint64_t kDeepOpen = ~0ull;

// Closes the thread's nesting down to `depth` (the scope at `depth` and everything inside it).
void close_to(detail::ThreadBuffer* b, std::uint32_t depth) noexcept {
  b->check_samples();
  b->open_depth.store(depth, std::memory_order_relaxed);
  b->top_start = depth <= detail::kMaxDepth ? b->open_starts[depth] : kDeepOpen;
}

// Whether the scope (begun at `depth` with `start` ticks) still has its place on the thread:
// nothing but the scope's own end or cancel, or an enclosing scope's, removes it.
bool place_is_open(const detail::ThreadBuffer* b, std::uint32_t depth, std::uint64_t start) noexcept {
  const std::uint32_t open = b->open_depth.load(std::memory_order_relaxed);
  if (depth >= open) return false;
  if (depth < detail::kMaxDepth) return b->open_starts[depth + 1] == start;
  return true;  // deeper than tracked: the depth is all we know
}

}  // namespace

void Scope::begin_deep(detail::ThreadBuffer* b) noexcept {
  parent_ = b->open_ids[detail::kMaxDepth].load(std::memory_order_relaxed);
  b->open_depth.store(depth_ + 1, std::memory_order_relaxed);
  b->top_start = kDeepOpen;
  start_ = detail::read_ticks(use_tsc_);
}

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
  if (b->top_start != start_) {
    end_unusual(t, &deltas);
    return;
  }
  close_to(b, depth_);
  const std::uint64_t duration = b->recorder->scale.duration_ns(start_, t);
  const std::uint64_t children = b->open_child[depth_ + 1].load(std::memory_order_relaxed);
  detail::bump(b->open_child[depth_], duration);
  b->record_slow(id_, parent_, depth_, start_, t, duration, children < duration ? duration - children : 0, 0, &deltas);
}

void Scope::end_unusual(std::uint64_t end_ticks, const ProbeDeltas* probes) noexcept {
  detail::ThreadBuffer* b = buffer_;
  const std::uint64_t duration = b->recorder->scale.duration_ns(start_, end_ticks);
  std::uint32_t flags = 0;
  std::uint64_t children = 0;  // unknown once the place is gone (and for untracked depths)
  if (place_is_open(b, depth_, start_)) {
    // Innermost deep scope: an ordinary end. Otherwise inner scopes are still open: they close
    // with this one, and each records as an orphan when it ends.
    if (b->open_depth.load(std::memory_order_relaxed) != depth_ + 1) flags = detail::kEventMisnested;
    if (depth_ < detail::kMaxDepth) children = b->open_child[depth_ + 1].load(std::memory_order_relaxed);
    close_to(b, depth_);
    if (depth_ <= detail::kMaxDepth) detail::bump(b->open_child[depth_], duration);  // the parent's children
  } else {
    flags = detail::kEventOrphan;  // an enclosing scope already closed our place
    if (depth_ == 0) detail::bump(b->open_child[0], duration);  // still time in an outermost scope
  }
  b->record_slow(id_, parent_, depth_, start_, end_ticks, duration, children < duration ? duration - children : 0,
                 flags, probes);
}

void Scope::cancel_slow() noexcept {
  detail::ThreadBuffer* b = buffer_;
  buffer_ = nullptr;
  if (!detail::ring_of_calling_thread(b)) {
    probe_state_ = nullptr;  // another thread: nothing of the beginning thread is touched
    return;
  }
  if (probe_state_) {
    // Probes keep per-thread state (e.g. an NVTX range): end them, discard what they measured.
    ProbeDeltas unused;
    probe_state_->hooks.end(probe_state_->hooks.context, id_, b->probe_frames[depth_], unused);
    probe_state_ = nullptr;
  }
  if (place_is_open(b, depth_, start_)) close_to(b, depth_);
}

bool detail::record_span(RecorderState& state, SiteId site, std::uint64_t start_ticks, std::uint64_t end_ticks) noexcept {
  if (!(state.active_mask.load(std::memory_order_relaxed) & category_bit(site.category))) return false;
  if (end_ticks < start_ticks) return false;
  ThreadBuffer* b = thread_buffer(state);
  const std::uint32_t depth = b->open_depth.load(std::memory_order_relaxed);
  const std::uint32_t parent = b->open_ids[depth < kMaxDepth ? depth : kMaxDepth].load(std::memory_order_relaxed);
  const std::uint64_t duration = state.scale.duration_ns(start_ticks, end_ticks);
  if (depth <= kMaxDepth) bump(b->open_child[depth], duration);  // the innermost open scope's children
  b->record(site.id, parent, depth, start_ticks, end_ticks, duration, duration);
  return true;
}

}  // namespace codeprof
