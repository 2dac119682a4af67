#include "core/trace_window.hpp"

#include <algorithm>

namespace codeprof::core {

std::string_view to_string(TracePolicy p) noexcept { return p == TracePolicy::First ? "first" : "last"; }

bool TraceWindow::fits(std::uint64_t extra_bytes) const noexcept {
  if (events_.size() + 1 > budget_.events) return false;
  return budget_.bytes == 0 || bytes_ + extra_bytes <= budget_.bytes;
}

void TraceWindow::evict_oldest() {
  const Kept& k = events_.front();
  bytes_ -= cost(k);
  if (k.has_probes) probes_.pop_front();
  events_.pop_front();
  ++outside_;
}

void TraceWindow::add(const TraceEvent& e) {
  const Kept k{e.start_ns, e.duration_ns, e.operation_id, e.thread_index, e.depth, e.probes.valid != 0};
  const std::uint64_t c = cost(k);
  if (budget_.policy == TracePolicy::Last) {
    while (!events_.empty() && !fits(c)) evict_oldest();
  }
  if (!fits(c)) {
    ++outside_;
    return;
  }
  events_.push_back(k);
  if (k.has_probes) probes_.push_back(e.probes);
  bytes_ += c;
}

void TraceWindow::set_budget(TraceBudget budget) {
  budget_ = budget;
  auto over = [&] { return events_.size() > budget_.events || (budget_.bytes != 0 && bytes_ > budget_.bytes); };
  if (budget_.policy == TracePolicy::Last) {
    while (!events_.empty() && over()) evict_oldest();
  } else {
    while (!events_.empty() && over()) {  // the newest are the ones outside a "first" window
      const Kept& k = events_.back();
      bytes_ -= cost(k);
      if (k.has_probes) probes_.pop_back();
      events_.pop_back();
      ++outside_;
    }
  }
}

void TraceWindow::clear() noexcept {
  events_.clear();
  probes_.clear();
  bytes_ = 0;
  outside_ = 0;
}

void TraceWindow::fill(Snapshot& out, const std::vector<bool>* keep) const {
  out.trace_events.clear();
  if (!keep) out.trace_events.reserve(events_.size());
  std::size_t probe = 0;
  std::int64_t first = INT64_MAX, last = INT64_MIN;
  for (const Kept& k : events_) {
    first = std::min(first, k.start_ns);
    last = std::max(last, k.start_ns + k.duration_ns);
    if (keep && (k.operation_id >= keep->size() || !(*keep)[k.operation_id])) {
      probe += k.has_probes ? 1 : 0;
      continue;
    }
    TraceEvent te;
    te.operation_id = k.operation_id;
    te.thread_index = k.thread_index;
    te.start_ns = k.start_ns;
    te.duration_ns = k.duration_ns;
    te.depth = k.depth;
    if (k.has_probes) te.probes = probes_[probe++];
    out.trace_events.push_back(te);
  }
  out.trace_events_dropped = outside_;
  out.trace_policy = std::string(to_string(budget_.policy));
  out.trace_window_start_ns = events_.empty() ? 0 : first;
  out.trace_window_end_ns = events_.empty() ? 0 : last;
}

}  // namespace codeprof::core
