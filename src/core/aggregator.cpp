#include "core/aggregator.hpp"

#include <algorithm>
#include <cmath>

#include "codeprof/detail/thread_buffer.hpp"

namespace codeprof::core {

// ---------------------------------------------------------------- DurationSeries

void DurationSeries::add(std::int64_t start_ns, std::uint64_t duration_ns) {
  if (!started_) {
    base_ = start_ns - (start_ns % width_ + width_) % width_;
    started_ = true;
  }
  if (start_ns < base_) start_ns = base_;  // another thread's event, slightly earlier
  auto index = static_cast<std::size_t>((start_ns - base_) / width_);
  while (index >= capacity_) {
    widen();
    index = static_cast<std::size_t>((start_ns - base_) / width_);
  }
  if (index >= windows_.size()) {
    const std::size_t old = windows_.size();
    windows_.resize(index + 1);
    for (std::size_t i = old; i < windows_.size(); ++i) {
      windows_[i].start_ns = base_ + static_cast<std::int64_t>(i) * width_;
      windows_[i].width_ns = width_;
    }
  }
  DurationWindow& w = windows_[index];
  if (w.count == 0 || duration_ns < w.min_ns) w.min_ns = duration_ns;
  if (duration_ns > w.max_ns) w.max_ns = duration_ns;
  ++w.count;
  w.total_ns += duration_ns;
}

void DurationSeries::widen() {
  // Merge pairs of windows; the base moves down to a multiple of the new width.
  const std::int64_t new_width = width_ * 2;
  const std::int64_t new_base = base_ - ((base_ % new_width) + new_width) % new_width;
  std::vector<DurationWindow> merged;
  for (const DurationWindow& w : windows_) {
    const auto i = static_cast<std::size_t>((w.start_ns - new_base) / new_width);
    if (i >= merged.size()) {
      const std::size_t old = merged.size();
      merged.resize(i + 1);
      for (std::size_t k = old; k < merged.size(); ++k) {
        merged[k].start_ns = new_base + static_cast<std::int64_t>(k) * new_width;
        merged[k].width_ns = new_width;
      }
    }
    if (w.count == 0) continue;
    DurationWindow& m = merged[i];
    if (m.count == 0 || w.min_ns < m.min_ns) m.min_ns = w.min_ns;
    m.max_ns = std::max(m.max_ns, w.max_ns);
    m.count += w.count;
    m.total_ns += w.total_ns;
  }
  windows_ = std::move(merged);
  width_ = new_width;
  base_ = new_base;
}

void DurationSeries::extend_down_to(std::int64_t start_ns) {
  // Prepends empty windows so that `start_ns` falls in window 0, widening while that is too many.
  for (;;) {
    const std::int64_t new_base = start_ns - ((start_ns % width_) + width_) % width_;
    const auto extra = static_cast<std::size_t>((base_ - new_base) / width_);
    if (windows_.size() + extra <= capacity_) {
      std::vector<DurationWindow> grown(extra);
      for (std::size_t i = 0; i < extra; ++i) {
        grown[i].start_ns = new_base + static_cast<std::int64_t>(i) * width_;
        grown[i].width_ns = width_;
      }
      windows_.insert(windows_.begin(), grown.begin(), grown.end());
      base_ = new_base;
      return;
    }
    widen();
  }
}

void DurationSeries::merge(const DurationWindow& w) {
  if (w.count == 0) return;
  if (!started_) {
    while (width_ < w.width_ns) width_ *= 2;
    base_ = w.start_ns - (w.start_ns % width_ + width_) % width_;
    started_ = true;
  }
  while (width_ < w.width_ns) widen();
  if (w.start_ns < base_) extend_down_to(w.start_ns);
  auto index = static_cast<std::size_t>((w.start_ns - base_) / width_);
  while (index >= capacity_) {
    widen();
    index = static_cast<std::size_t>((w.start_ns - base_) / width_);
  }
  if (index >= windows_.size()) {
    const std::size_t old = windows_.size();
    windows_.resize(index + 1);
    for (std::size_t i = old; i < windows_.size(); ++i) {
      windows_[i].start_ns = base_ + static_cast<std::int64_t>(i) * width_;
      windows_[i].width_ns = width_;
    }
  }
  DurationWindow& m = windows_[index];
  if (m.count == 0 || w.min_ns < m.min_ns) m.min_ns = w.min_ns;
  m.max_ns = std::max(m.max_ns, w.max_ns);
  m.count += w.count;
  m.total_ns += w.total_ns;
}

std::vector<DurationWindow> DurationSeries::windows() const {
  std::vector<DurationWindow> out;
  out.reserve(windows_.size());
  for (const DurationWindow& w : windows_)
    if (w.count) out.push_back(w);
  return out;
}

// ---------------------------------------------------------------- Aggregator

Aggregator::Aggregator(AggregatorOptions options) : options_(options), trace_(trace_budget()) {}

Aggregator::OpAccum& Aggregator::op(std::uint32_t id) {
  while (ops_.size() <= id) ops_.emplace_back(options_);
  return ops_[id];
}

Aggregator::ThreadAccum& Aggregator::thread(std::uint32_t index) {
  if (threads_.size() <= index) threads_.resize(index + 1);
  return threads_[index];
}

void Aggregator::set_thread_info(std::uint32_t thread_index, std::uint64_t os_tid, std::string name) {
  ThreadAccum& t = thread(thread_index);
  t.os_tid = os_tid;
  t.name = std::move(name);
}

void Aggregator::add_dropped(std::uint32_t thread_index, std::uint64_t count) { thread(thread_index).dropped += count; }

void Aggregator::add(const CompletedEvent& e) {
  ++events_;
  const std::uint64_t d = e.duration_ns;
  ThreadAccum& t = thread(e.thread_index);
  ++t.events;

  // Self time: children at depth+1 finished before this event; their time was accumulated there.
  std::uint64_t children = 0;
  if (t.child_time.size() < static_cast<std::size_t>(e.depth) + 2) t.child_time.resize(e.depth + 2u, 0);
  children = t.child_time[e.depth + 1u];
  t.child_time[e.depth + 1u] = 0;
  if (!(e.flags & detail::kEventOrphan)) t.child_time[e.depth] += d;
  if (e.flags) ++misnested_;
  const std::uint64_t self = children < d ? d - children : 0;
  if (e.depth == 0) t.top_level += d;

  OpAccum& o = op(e.operation_id);
  ++o.count;
  o.total += d;
  o.self += self;
  o.min = std::min(o.min, d);
  o.max = std::max(o.max, d);
  const double x = static_cast<double>(d);
  const double delta = x - o.mean;
  o.mean += delta / static_cast<double>(o.count);
  o.m2 += delta * (x - o.mean);
  o.first = std::min(o.first, e.start_ns);
  o.last = std::max(o.last, e.start_ns + static_cast<std::int64_t>(d));
  o.histogram.add(d);
  o.series.add(e.start_ns, d);

  add_slow_call(o, {e.start_ns, d, e.thread_index});

  // Call tree: few distinct parents per operation, so a short linear scan.
  bool found = false;
  for (ParentEdge& p : o.parents) {
    if (p.parent_id == e.parent_id) {
      ++p.count;
      p.total_ns += d;
      found = true;
      break;
    }
  }
  if (!found) o.parents.push_back({e.parent_id, 1, d});

  if (t.ops.size() <= e.operation_id) t.ops.resize(e.operation_id + 1u);
  ThreadOp& to = t.ops[e.operation_id];
  ++to.count;
  to.total += d;
  to.self += self;

  if (e.probes && e.probes->valid) {
    for (std::size_t m = 0; m < kProbeMetricCount; ++m) {
      if (!(e.probes->valid & (1u << m))) continue;
      const std::int64_t v = e.probes->values[m];
      add_resource(o.resources[m], ResourceStat{1, v, v, v});
    }
  }

  if (options_.keep_trace) {
    TraceEvent te;
    te.operation_id = e.operation_id;
    te.thread_index = e.thread_index;
    te.start_ns = e.start_ns;
    te.duration_ns = static_cast<std::int64_t>(d);
    te.depth = e.depth;
    if (e.probes) te.probes = *e.probes;
    trace_.add(te);
  }
}

void Aggregator::add_slow_call(OpAccum& o, const SlowCall& call) const {
  // A min-heap of bounded size.
  auto slower = [](const SlowCall& a, const SlowCall& b) { return a.duration_ns > b.duration_ns; };
  if (o.slowest.size() < options_.slowest_kept) {
    o.slowest.push_back(call);
    std::push_heap(o.slowest.begin(), o.slowest.end(), slower);
  } else if (!o.slowest.empty() && call.duration_ns > o.slowest.front().duration_ns) {
    std::pop_heap(o.slowest.begin(), o.slowest.end(), slower);
    o.slowest.back() = call;
    std::push_heap(o.slowest.begin(), o.slowest.end(), slower);
  }
}

void Aggregator::add_resource(ResourceStat& into, const ResourceStat& r) {
  if (r.samples == 0) return;
  if (into.samples == 0) {
    into.min = r.min;
    into.max = r.max;
  } else {
    into.min = std::min(into.min, r.min);
    into.max = std::max(into.max, r.max);
  }
  into.samples += r.samples;
  into.total += r.total;
}

// ---------------------------------------------------------------- merging

void Aggregator::merge_operation(const OperationPart& p) {
  if (p.count == 0) return;
  events_ += p.count;
  OpAccum& o = op(p.operation_id);
  // Chan, Golub and LeVeque's pairwise update of mean and squared deviations.
  const double na = static_cast<double>(o.count), nb = static_cast<double>(p.count);
  const double delta = p.mean_ns - o.mean;
  o.mean += delta * nb / (na + nb);
  o.m2 += p.m2 + delta * delta * na * nb / (na + nb);
  o.count += p.count;
  o.total += p.total_ns;
  o.self += p.self_ns;
  o.min = std::min(o.min, p.min_ns);
  o.max = std::max(o.max, p.max_ns);
  o.first = std::min(o.first, p.first_ns);
  o.last = std::max(o.last, p.last_ns);
}

void Aggregator::merge_thread_operation(std::uint32_t thread_index, std::uint32_t operation_id, std::uint64_t count,
                                        std::uint64_t total_ns, std::uint64_t self_ns) {
  if (count == 0) return;
  ThreadAccum& t = thread(thread_index);
  t.events += count;
  if (t.ops.size() <= operation_id) t.ops.resize(operation_id + 1u);
  ThreadOp& to = t.ops[operation_id];
  to.count += count;
  to.total += total_ns;
  to.self += self_ns;
}

void Aggregator::merge_histogram(std::uint32_t operation_id, std::size_t bucket, std::uint64_t count) {
  op(operation_id).histogram.add_bucket(bucket, count);
}

void Aggregator::merge_window(std::uint32_t operation_id, const DurationWindow& window) {
  op(operation_id).series.merge(window);
}

void Aggregator::merge_slow_call(std::uint32_t operation_id, const SlowCall& call) {
  add_slow_call(op(operation_id), call);
}

void Aggregator::merge_edge(std::uint32_t operation_id, std::uint32_t parent_id, std::uint64_t count,
                            std::uint64_t total_ns) {
  if (count == 0) return;
  OpAccum& o = op(operation_id);
  for (ParentEdge& p : o.parents) {
    if (p.parent_id == parent_id) {
      p.count += count;
      p.total_ns += total_ns;
      return;
    }
  }
  o.parents.push_back({parent_id, count, total_ns});
}

void Aggregator::merge_resource(std::uint32_t operation_id, std::size_t metric, const ResourceStat& stat) {
  if (metric < kProbeMetricCount) add_resource(op(operation_id).resources[metric], stat);
}

void Aggregator::merge_thread_totals(std::uint32_t thread_index, std::uint64_t top_level_ns, std::uint64_t misnested) {
  thread(thread_index).top_level += top_level_ns;
  misnested_ += misnested;
}

void Aggregator::merge_from(const Aggregator& other) {
  for (std::uint32_t id = 0; id < other.ops_.size(); ++id) {
    const OpAccum& src = other.ops_[id];
    if (src.count == 0) continue;
    merge_operation({id, src.count, src.total, src.self, src.min, src.max, src.mean, src.m2, src.first, src.last});
    OpAccum& o = op(id);
    for (const HistogramBucket& b : src.histogram.buckets())
      o.histogram.add_bucket(LogHistogram::bucket_index(b.lower_ns), b.count);
    for (const DurationWindow& w : src.series.windows()) o.series.merge(w);
    for (const SlowCall& c : src.slowest) add_slow_call(o, c);
    for (const ParentEdge& p : src.parents) merge_edge(id, p.parent_id, p.count, p.total_ns);
    for (std::size_t m = 0; m < kProbeMetricCount; ++m) add_resource(o.resources[m], src.resources[m]);
  }
  for (std::uint32_t i = 0; i < other.threads_.size(); ++i) {
    const ThreadAccum& src = other.threads_[i];
    ThreadAccum& t = thread(i);
    if (t.name.empty()) t.name = src.name;
    if (!t.os_tid) t.os_tid = src.os_tid;
    t.dropped += src.dropped;
    t.top_level += src.top_level;
    for (std::uint32_t id = 0; id < src.ops.size(); ++id)
      merge_thread_operation(i, id, src.ops[id].count, src.ops[id].total, src.ops[id].self);
  }
  misnested_ += other.misnested_;
}

void Aggregator::reset() {
  ops_.clear();
  for (ThreadAccum& t : threads_) {
    t.events = t.dropped = t.top_level = 0;
    t.ops.clear();
    // child_time is kept: scopes open across the reset still close into it.
  }
  trace_.clear();
  events_ = 0;
  misnested_ = 0;
}

void Aggregator::retain_only_thread(std::uint32_t thread_index, std::uint64_t os_tid) {
  for (std::uint32_t i = 0; i < threads_.size(); ++i)
    if (i != thread_index) threads_[i] = ThreadAccum{};
  if (thread_index != UINT32_MAX) thread(thread_index).os_tid = os_tid;
}

void Aggregator::fill(Snapshot& out, const std::vector<SiteInfo>& sites) const {
  out.operations.clear();
  out.call_tree.clear();
  for (std::uint32_t id = 0; id < ops_.size(); ++id) {
    const OpAccum& o = ops_[id];
    if (o.count == 0) continue;
    OperationStats s;
    s.id = id;
    if (id < sites.size()) {
      s.name = sites[id].name;
      s.category = sites[id].category;
      s.file = sites[id].file;
      s.line = sites[id].line;
    } else {
      s.name = "operation#" + std::to_string(id);
    }
    s.count = o.count;
    s.total_ns = o.total;
    s.self_ns = o.self;
    s.min_ns = o.min;
    s.max_ns = o.max;
    s.mean_ns = o.mean;
    s.stddev_ns = o.count > 1 ? std::sqrt(o.m2 / static_cast<double>(o.count - 1)) : 0.0;
    // Percentiles are bucket midpoints, clamped to the observed range.
    auto pct = [&](double q) { return std::clamp(o.histogram.percentile(q), o.min, o.max); };
    s.p50_ns = pct(0.50);
    s.p90_ns = pct(0.90);
    s.p95_ns = pct(0.95);
    s.p99_ns = pct(0.99);
    s.first_seen_ns = o.first;
    s.last_seen_ns = o.last;
    s.histogram = o.histogram.buckets();
    s.series = o.series.windows();
    s.slowest = o.slowest;
    std::sort(s.slowest.begin(), s.slowest.end(),
              [](const SlowCall& a, const SlowCall& b) { return a.duration_ns > b.duration_ns; });
    s.resources = o.resources;
    out.operations.push_back(std::move(s));
    for (const ParentEdge& p : o.parents) out.call_tree.push_back({p.parent_id, id, p.count, p.total_ns});
  }
  std::sort(out.call_tree.begin(), out.call_tree.end(), [](const CallEdge& a, const CallEdge& b) {
    return a.parent_id != b.parent_id ? a.parent_id < b.parent_id : a.child_id < b.child_id;
  });

  out.threads.clear();
  std::uint64_t dropped = 0;
  for (std::uint32_t i = 0; i < threads_.size(); ++i) {
    const ThreadAccum& t = threads_[i];
    dropped += t.dropped;
    ThreadStats ts;
    ts.index = i;
    ts.os_tid = t.os_tid;
    ts.name = t.name;
    ts.events = t.events;
    ts.dropped = t.dropped;
    ts.top_level_ns = t.top_level;
    for (std::uint32_t id = 0; id < t.ops.size(); ++id)
      if (t.ops[id].count) ts.operations.push_back({id, t.ops[id].count, t.ops[id].total, t.ops[id].self});
    if (ts.events || ts.dropped || !ts.name.empty()) out.threads.push_back(std::move(ts));
  }
  if (options_.keep_trace) {
    trace_.fill(out);
  } else {
    out.trace_events.clear();
    out.trace_events_dropped = trace_.outside();
  }
  out.events_recorded = events_;
  out.events_misnested = misnested_;
  out.events_dropped = dropped;
}

}  // namespace codeprof::core
