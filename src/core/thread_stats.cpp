// The producer's rare paths (a new operation, histogram magnitude, time window, parent or slow
// call; a reset; probes; the trace ring's allocation) and the snapshot side's reader.
#include "core/thread_stats.hpp"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <new>
#include <utility>
#include <vector>

#include "codeprof/detail/ticks.hpp"

namespace codeprof {
namespace detail {
namespace {

std::int64_t floor_to(std::int64_t v, std::int64_t width) noexcept { return v - ((v % width) + width) % width; }

void clear_window(SeriesWindow& w) noexcept {
  w.count.store(0, std::memory_order_release);
  w.total_ns.store(0, std::memory_order_release);
  w.min_ns.store(UINT64_MAX, std::memory_order_release);
  w.max_ns.store(0, std::memory_order_release);
}

SeriesWindow* window_chunk(Series& s, std::size_t chunk) noexcept {
  SeriesWindow* c = s.chunks[chunk].load(std::memory_order_relaxed);
  if (!c) {
    c = new (std::nothrow) SeriesWindow[kSeriesChunk];
    if (c) s.chunks[chunk].store(c, std::memory_order_release);
  }
  return c;
}

void widen(Series& s) noexcept {
  // Doubles the window width: pairs of windows merge (the base moves down to a multiple of the
  // new width). Runs inside the caller's FlushGuard, so readers retry.
  struct Sum {
    std::uint64_t count = 0, total = 0, min = UINT64_MAX, max = 0;
  };
  Sum merged[kSeriesWindows];
  const std::int64_t width = s.width_ns.load(std::memory_order_relaxed);
  const std::int64_t base = s.base_ns.load(std::memory_order_relaxed);
  const std::int64_t new_width = width * 2;
  const std::int64_t new_base = floor_to(base, new_width);
  for (std::size_t i = 0; i < kSeriesWindows; ++i) {
    const SeriesWindow* c = s.chunks[i / kSeriesChunk].load(std::memory_order_relaxed);
    if (!c) continue;
    const SeriesWindow& w = c[i % kSeriesChunk];
    const std::uint64_t n = w.count.load(std::memory_order_relaxed);
    if (n == 0) continue;
    Sum& m = merged[static_cast<std::size_t>((base + static_cast<std::int64_t>(i) * width - new_base) / new_width)];
    m.count += n;
    m.total += w.total_ns.load(std::memory_order_relaxed);
    m.min = std::min(m.min, w.min_ns.load(std::memory_order_relaxed));
    m.max = std::max(m.max, w.max_ns.load(std::memory_order_relaxed));
  }
  for (std::size_t k = 0; k < kSeriesWindows; ++k) {
    SeriesWindow* c = merged[k].count ? window_chunk(s, k / kSeriesChunk) : s.chunks[k / kSeriesChunk].load(std::memory_order_relaxed);
    if (!c) continue;
    SeriesWindow& w = c[k % kSeriesChunk];
    clear_window(w);
    if (merged[k].count == 0) continue;
    w.count.store(merged[k].count, std::memory_order_release);
    w.total_ns.store(merged[k].total, std::memory_order_release);
    w.min_ns.store(merged[k].min, std::memory_order_release);
    w.max_ns.store(merged[k].max, std::memory_order_release);
  }
  s.base_ns.store(new_base, std::memory_order_release);
  s.width_ns.store(new_width, std::memory_order_release);
}

// Adds calls to the series window that starts at `start` (aligned to the series' width).
void add_to_series(Series& s, std::int64_t start, std::uint64_t n, std::uint64_t total, std::uint64_t min,
                   std::uint64_t max) noexcept {
  const std::int64_t width = s.width_ns.load(std::memory_order_relaxed);
  const std::int64_t base = s.base_ns.load(std::memory_order_relaxed);
  if (n == 0 || width == 0 || start < base) return;
  const auto index = static_cast<std::size_t>((start - base) / width);
  if (index >= kSeriesWindows) return;
  SeriesWindow* c = window_chunk(s, index / kSeriesChunk);
  if (!c) return;
  SeriesWindow& w = c[index % kSeriesChunk];
  bump(w.count, n);
  bump(w.total_ns, total);
  if (min < w.min_ns.load(std::memory_order_relaxed)) w.min_ns.store(min, std::memory_order_release);
  if (max > w.max_ns.load(std::memory_order_relaxed)) w.max_ns.store(max, std::memory_order_release);
}

void add_edge(OpStats& op, std::uint32_t parent, std::uint64_t n, std::uint64_t total) noexcept {
  if (n == 0) return;
  const std::uint32_t count = op.edge_count.load(std::memory_order_relaxed);
  EdgeBlock* block = op.edges.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (i > 0 && i % EdgeBlock::kSize == 0) block = block->next.load(std::memory_order_relaxed);
    Edge& e = block->edges[i % EdgeBlock::kSize];
    if (e.parent.load(std::memory_order_relaxed) == parent) {
      bump(e.count, n);
      bump(e.total_ns, total);
      return;
    }
  }
  // Append: the block for index `count`, allocated when needed; readers see the edge once
  // edge_count says so.
  std::atomic<EdgeBlock*>* link = &op.edges;
  for (std::uint32_t i = 0; i < count / EdgeBlock::kSize; ++i) link = &link->load(std::memory_order_relaxed)->next;
  EdgeBlock* target = link->load(std::memory_order_relaxed);
  if (!target) {
    target = new (std::nothrow) EdgeBlock;
    if (!target) return;
    link->store(target, std::memory_order_release);
  }
  Edge& e = target->edges[count % EdgeBlock::kSize];
  e.parent.store(parent, std::memory_order_release);
  e.count.store(n, std::memory_order_release);
  e.total_ns.store(total, std::memory_order_release);
  op.edge_count.store(count + 1, std::memory_order_release);
}

}  // namespace

// ---------------------------------------------------------------- OpStats: rare paths

OpStats::~OpStats() {
  for (auto& c : histogram) delete[] c.load(std::memory_order_relaxed);
  for (auto& c : series.chunks) delete[] c.load(std::memory_order_relaxed);
  for (EdgeBlock* b = edges.load(std::memory_order_relaxed); b;) {
    EdgeBlock* next = b->next.load(std::memory_order_relaxed);
    delete b;
    b = next;
  }
  delete[] resources.load(std::memory_order_relaxed);
}

namespace {
// Brackets a change that readers must see whole (see OpStats::flush_seq).
struct FlushGuard {
  explicit FlushGuard(std::atomic<std::uint32_t>& s) noexcept : seq(s) {
    // Odd first; every store inside the guard is a release, so none moves before this one.
    seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  ~FlushGuard() { seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
  std::atomic<std::uint32_t>& seq;
};
}  // namespace

void OpStats::add_slow_call(std::uint64_t start_ticks, std::uint64_t d) noexcept {
  const FlushGuard guard(flush_seq);
  const std::uint32_t n = slowest_count.load(std::memory_order_relaxed);
  std::uint32_t slot = n;
  if (n == kSlowestKept) {  // replace the shortest
    slot = 0;
    for (std::uint32_t i = 1; i < kSlowestKept; ++i)
      if (slowest_ns[i].load(std::memory_order_relaxed) < slowest_ns[slot].load(std::memory_order_relaxed)) slot = i;
  }
  slowest_start_ticks[slot].store(start_ticks, std::memory_order_release);
  slowest_ns[slot].store(d, std::memory_order_release);
  if (n < kSlowestKept) slowest_count.store(n + 1, std::memory_order_release);
  if (slowest_count.load(std::memory_order_relaxed) == kSlowestKept) {
    std::uint64_t floor = UINT64_MAX;
    for (const auto& v : slowest_ns) floor = std::min(floor, v.load(std::memory_order_relaxed));
    slow_floor_ns = floor;
  }
}

void OpStats::fold_recent() noexcept {
  constexpr auto r = std::memory_order_relaxed;
  constexpr auto w = std::memory_order_release;
  const std::uint64_t n = count.load(r);  // the current call included
  const std::uint64_t shift = shift_ns.load(r);
  const FlushGuard guard(flush_seq);
  double sq = dev_sq_sum.load(r);
  for (std::uint64_t i = folded.load(r); i < n; ++i) {
    const std::uint64_t d = recent[i % kRecentCalls].load(r);
    const auto dev = static_cast<double>(static_cast<std::int64_t>(d - shift));
    sq += dev * dev;
    const std::size_t b = duration_bucket(d);
    std::atomic<std::uint64_t>* chunk = histogram[b >> kHistogramSubBits].load(r);
    if (!chunk) {
      chunk = new (std::nothrow) std::atomic<std::uint64_t>[kHistogramChunk]();
      if (chunk) histogram[b >> kHistogramSubBits].store(chunk, std::memory_order_release);
    }
    if (chunk) bump(chunk[b & (kHistogramChunk - 1)], 1);
  }
  dev_sq_sum.store(sq, w);
  folded.store(n, w);
}

void OpStats::change_window(std::uint64_t start_ticks, std::uint64_t d) noexcept {
  constexpr auto r = std::memory_order_relaxed;
  constexpr auto w = std::memory_order_release;
  Series& s = series;
  const std::uint64_t n = count.load(r), total = total_ns.load(r);  // this call included
  const std::int64_t start = scale->since_origin_ns(start_ticks);
  std::int64_t width = s.width_ns.load(r);
  if (width == 0) {
    width = kSeriesInitialWidthNs;
    s.base_ns.store(floor_to(start, width), w);
    s.width_ns.store(width, w);
  }
  const FlushGuard guard(flush_seq);
  if (start < s.base_ns.load(r)) {
    // Recursion: an outer call ends after an inner one that began later. It joins the first
    // window; the current window's calls stay pending without it.
    add_to_series(s, s.base_ns.load(r), 1, d, d, d);
    bump(window_base_count, 1);
    bump(window_base_total_ns, d);
    return;
  }
  // The calls before this one go to their window.
  if (window_width_ns.load(r) != 0)
    add_to_series(s, window_start_ns.load(r), n - 1 - window_base_count.load(r),
                  total - d - window_base_total_ns.load(r), window_min_ns.load(r), window_max_ns.load(r));
  auto index = static_cast<std::size_t>((start - s.base_ns.load(r)) / width);
  while (index >= kSeriesWindows) {
    widen(s);
    width = s.width_ns.load(r);
    index = static_cast<std::size_t>((start - s.base_ns.load(r)) / width);
  }
  const std::int64_t lo = s.base_ns.load(r) + static_cast<std::int64_t>(index) * width;
  window_start_ns.store(lo, w);
  window_width_ns.store(width, w);
  window_base_count.store(n - 1, w);
  window_base_total_ns.store(total - d, w);
  window_min_ns.store(d, w);
  window_max_ns.store(d, w);
  // The window as a tick range, so the next calls in it take the fast path.
  const double rate = scale->ns_per_tick.load(r);
  window_span_ticks = 0;
  if (rate <= 0) return;
  window_lo_ticks = scale->origin_ticks + static_cast<std::uint64_t>(static_cast<std::int64_t>(std::ceil(static_cast<double>(lo) / rate)));
  window_span_ticks = static_cast<std::uint64_t>(static_cast<double>(width) / rate);
}

void OpStats::change_parent(std::uint32_t parent, std::uint64_t d) noexcept {
  constexpr auto r = std::memory_order_relaxed;
  constexpr auto w = std::memory_order_release;
  const std::uint64_t n = count.load(r), total = total_ns.load(r);  // this call included
  const std::uint32_t old = current_parent.load(r);
  const FlushGuard guard(flush_seq);
  if (old != kNoCachedParent) add_edge(*this, old, n - 1 - edge_base_count.load(r), total - d - edge_base_total_ns.load(r));
  current_parent.store(parent, w);
  edge_base_count.store(n - 1, w);
  edge_base_total_ns.store(total - d, w);
}

void OpStats::clear() noexcept {
  constexpr auto r = std::memory_order_relaxed;
  constexpr auto w = std::memory_order_release;
  const FlushGuard guard(flush_seq);
  count.store(0, w);
  total_ns.store(0, w);
  self_ns.store(0, w);
  min_ns.store(UINT64_MAX, w);
  max_ns.store(0, w);
  dev_sq_sum.store(0.0, w);  // the shift stays: still a good centre
  folded.store(0, w);
  first_start_ticks.store(UINT64_MAX, w);
  last_end_ticks.store(0, w);
  current_parent.store(kNoCachedParent, w);
  edge_base_count.store(0, w);
  edge_base_total_ns.store(0, w);
  window_width_ns.store(0, w);
  window_base_count.store(0, w);
  window_base_total_ns.store(0, w);
  slowest_count.store(0, w);
  slow_floor_ns = 0;
  window_span_ticks = 0;
  for (auto& chunk : histogram)
    if (auto* c = chunk.load(r))
      for (std::size_t i = 0; i < kHistogramChunk; ++i) c[i].store(0, w);
  for (auto& chunk : series.chunks)
    if (auto* c = chunk.load(r))
      for (std::size_t i = 0; i < kSeriesChunk; ++i) clear_window(c[i]);
  series.width_ns.store(0, w);
  edge_count.store(0, w);
  if (ResourceSum* res = resources.load(r)) {
    for (std::size_t m = 0; m < kProbeMetricCount; ++m) {
      res[m].samples.store(0, w);
      res[m].total.store(0, w);
    }
  }
}

// ---------------------------------------------------------------- ThreadBuffer: rare paths

ThreadBuffer::ThreadBuffer(std::uint32_t ring_capacity_pow2, RecorderState* owner) noexcept
    : recorder(owner), capacity(ring_capacity_pow2), mask(ring_capacity_pow2 - 1), consumer_mask(ring_capacity_pow2 - 1) {
  for (auto& id : open_ids) id.store(kNoOperation, std::memory_order_release);
}

ThreadBuffer::~ThreadBuffer() {
  for (std::uint32_t i = 0; i < table_size; ++i) delete table[i].load(std::memory_order_relaxed);
  delete[] table;
  for (OldTable* t = old_tables; t;) {
    OldTable* next = t->next;
    delete[] t->table;
    delete t;
    t = next;
  }
  delete[] slots;
  delete[] probe_frames;
  delete sample_marks.load(std::memory_order_relaxed);
}

void ThreadBuffer::mark_samples() noexcept {
  const std::uint64_t* ring = sample_position.load(std::memory_order_relaxed);
  if (!ring) return;
  std::uint64_t from = 0, position = 0;
  const void* source = ring;
  if (ring == &kMarkByCpuRing) {
    const CpuSamplePositions* cpus = cpu_positions.load(std::memory_order_acquire);
    if (!cpus) return;
    // sched_getcpu reads the restartable-sequences area glibc registers: no system call.
    const int cpu = sched_getcpu();
    const std::uint64_t* word = cpu >= 0 && static_cast<std::uint32_t>(cpu) < cpus->cpus ? cpus->words[cpu] : nullptr;
    const std::uint64_t seen = word ? __atomic_load_n(word, __ATOMIC_RELAXED) : 0;
    if (word && cpus == cpu_positions_seen && cpu == sample_cpu_seen && seen == sample_position_seen) return;
    cpu_positions_seen = cpus;  // a later sampler's rings: its first check marks
    sample_cpu_seen = cpu;
    sample_position_seen = seen;
    position = steady_ns();  // CLOCK_MONOTONIC: the clock the CPU rings stamp samples with
    from = std::exchange(mark_time_seen, position);
    source = cpus;
  } else {
    position = __atomic_load_n(ring, __ATOMIC_RELAXED);
    from = std::exchange(sample_position_seen, position);
  }
  SampleMarks* m = sample_marks.load(std::memory_order_acquire);
  if (!m) return;
  const std::uint64_t w = m->written.load(std::memory_order_relaxed);
  if (w - m->taken.load(std::memory_order_acquire) >= SampleMarks::kCapacity) {
    // Counted before the stack changes, like a mark (see below): a sampler that saw no new mark
    // but a lost one does not take the stack it read for its unmarked samples', and drops the
    // samples up to this position, whose stack nobody knows.
    m->lost_position.store(position, std::memory_order_relaxed);
    m->lost.fetch_add(1, std::memory_order_acq_rel);
    return;
  }
  SampleMark& mark = m->marks[w & (SampleMarks::kCapacity - 1)];
  mark.from = from;
  mark.position = position;
  mark.ring = source;
  std::uint32_t depth = open_depth.load(std::memory_order_relaxed);
  if (depth > kMaxDepth) depth = kMaxDepth;
  std::uint32_t n = 0;
  for (std::uint32_t d = depth; d > 0 && n < kMarkedOperations; --d) mark.ids[n++] = open_ids[d].load(std::memory_order_relaxed);
  mark.depth = n;
  // Published before the stack changes: the exchange's acquire half keeps the caller's next stores
  // (the push or pop) after it, and its release half the mark's fields before it. A sampler that
  // reads the stack and then finds no new mark (an acq_rel read-modify-write of `written`) knows the
  // stack it read is the one its unmarked samples were taken under. (No fences: ThreadSanitizer does
  // not model them.)
  m->written.exchange(w + 1, std::memory_order_acq_rel);
}

bool ThreadBuffer::allocate_ring() noexcept {
  slots = new (std::nothrow) Event[capacity];
  if (!slots) return false;
  consumer_slots.store(slots, std::memory_order_release);
  return true;
}

namespace {

// Applies a changed control word: a new epoch (a reset) moves this thread's counts to its
// lifetime total and clears its statistics.
void apply_control(ThreadBuffer& b, std::uint32_t control) noexcept {
  if ((control / kControlEpochUnit) != (b.seen_control / kControlEpochUnit)) {
    const std::uint32_t s = b.lifetime_seq.load(std::memory_order_relaxed);
    b.lifetime_seq.store(s + 1, std::memory_order_relaxed);  // the stores below are releases
    std::uint64_t events = 0;
    for (std::uint32_t i = 0; i < b.table_size; ++i) {
      if (OpStats* op = b.table[i].load(std::memory_order_relaxed)) {
        events += op->count.load(std::memory_order_relaxed);
        op->clear();
      }
    }
    bump(b.lifetime_before, events);
    b.top_level_base.store(b.open_child[0].load(std::memory_order_relaxed), std::memory_order_release);
    b.misnested.store(0, std::memory_order_release);
    b.lifetime_seq.store(s + 2, std::memory_order_release);
    b.epoch_seen.store(control / kControlEpochUnit, std::memory_order_release);
  }
  b.seen_control = control;
}

bool grow_table(ThreadBuffer& b, std::uint32_t id) noexcept {
  std::uint32_t size = b.table_size ? b.table_size : 64;
  while (size <= id) size = size < (1u << 31) ? size * 2 : UINT32_MAX;
  auto* grown = new (std::nothrow) std::atomic<OpStats*>[size]();
  auto* keep = new (std::nothrow) ThreadBuffer::OldTable{b.table, b.old_tables};
  if (!grown || !keep) {
    delete[] grown;
    delete keep;
    return false;
  }
  for (std::uint32_t i = 0; i < b.table_size; ++i) grown[i].store(b.table[i].load(std::memory_order_relaxed), std::memory_order_release);
  if (b.table) {
    b.old_tables = keep;  // a reader may still walk the old table
  } else {
    delete keep;
  }
  b.table = grown;
  b.table_size = size;
  b.shared_table.store(grown, std::memory_order_release);  // table before size: see merge_thread_statistics
  b.shared_size.store(size, std::memory_order_release);
  return true;
}

OpStats* create_op(ThreadBuffer& b, std::uint32_t id, std::uint64_t first_duration) noexcept {
  if (id >= b.table_size && !grow_table(b, id)) return nullptr;
  auto* op = new (std::nothrow) OpStats;
  if (!op) return nullptr;
  op->shift_ns.store(first_duration, std::memory_order_release);
  op->scale = &b.recorder->scale;
  b.table[id].store(op, std::memory_order_release);
  return op;
}

void add_probes(OpStats& op, const ProbeDeltas& p) noexcept {
  ResourceSum* r = op.resources.load(std::memory_order_relaxed);
  if (!r) {
    r = new (std::nothrow) ResourceSum[kProbeMetricCount];
    if (!r) return;
    op.resources.store(r, std::memory_order_release);
  }
  for (std::size_t m = 0; m < kProbeMetricCount; ++m) {
    if (!(p.valid & (1u << m))) continue;
    const std::int64_t v = p.values[m];
    ResourceSum& s = r[m];
    if (s.samples.load(std::memory_order_relaxed) == 0 || v < s.min.load(std::memory_order_relaxed)) s.min.store(v, std::memory_order_release);
    if (s.samples.load(std::memory_order_relaxed) == 0 || v > s.max.load(std::memory_order_relaxed)) s.max.store(v, std::memory_order_release);
    bump(s.total, v);
    bump(s.samples, 1);  // last: a reader that sees the sample sees its value
  }
}

}  // namespace

void ThreadBuffer::record_slow(std::uint32_t id, std::uint32_t parent, std::uint32_t depth, std::uint64_t start,
                               std::uint64_t end, std::uint64_t duration, std::uint64_t self, std::uint32_t flags,
                               const ProbeDeltas* probes) noexcept {
  const std::uint32_t control = recorder->control.load(std::memory_order_acquire);
  if (control != seen_control) apply_control(*this, control);
  OpStats* op = id < table_size ? table[id].load(std::memory_order_relaxed) : nullptr;
  if (!op) op = create_op(*this, id, duration);
  if (op) {
    if (flags) bump(misnested, 1);
    const std::uint64_t last = op->last_end_ticks.load(std::memory_order_relaxed);
    op->add(duration, self, parent, start, end);
    if (last > end) op->last_end_ticks.store(last, std::memory_order_release);  // a span that ended earlier
    if (probes && probes->valid) add_probes(*op, *probes);
  } else {
    bump(dropped, 1);  // out of memory for a new operation: counted as lost
  }
  if (control & kControlTrace)
    push(Event{start, end, id, parent, static_cast<std::uint16_t>(depth < 0xFFFFu ? depth : 0xFFFFu), 0, flags}, probes);
}

void ThreadBuffer::discard_statistics() noexcept {
  // fork() does not copy a perf ring's mapping: the parent's sampler's position word is gone here.
  sample_position.store(nullptr, std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < table_size; ++i)
    if (OpStats* op = table[i].load(std::memory_order_relaxed)) op->clear();
  lifetime_before.store(0, std::memory_order_release);
  top_level_base.store(open_child[0].load(std::memory_order_relaxed), std::memory_order_release);
  misnested.store(0, std::memory_order_release);
  const std::uint64_t h = head.load(std::memory_order_relaxed);
  tail.store(h, std::memory_order_release);
  cached_tail = h;
}

}  // namespace detail

// ---------------------------------------------------------------- the reader

namespace core {
namespace {

struct CoreCopy {
  std::uint64_t count, total, self, min, max, shift, first, last;
  std::int64_t dev_sum;
  double dev_sq;
  std::uint32_t parent, slow_n;
  std::uint64_t edge_base_count, edge_base_total;
  std::int64_t window_start, window_width;
  std::uint64_t window_base_count, window_base_total, window_min, window_max;
  std::uint64_t slow_start[detail::kSlowestKept], slow_ns[detail::kSlowestKept];
  std::uint64_t folded;
  std::uint64_t pending_n;
  std::uint64_t pending[detail::kRecentCalls];  // durations not yet in the histogram and dev_sq
};

void copy_core(const detail::OpStats& op, CoreCopy& c) {
  constexpr auto r = std::memory_order_acquire;  // a value written inside a guard orders what follows
  c.count = op.count.load(std::memory_order_acquire);  // the durations of these calls are visible
  c.folded = std::min(op.folded.load(r), c.count);
  c.pending_n = std::min(c.count - c.folded, detail::kRecentCalls);
  for (std::uint64_t i = 0; i < c.pending_n; ++i) c.pending[i] = op.recent[(c.folded + i) % detail::kRecentCalls].load(r);
  c.total = op.total_ns.load(r);
  c.self = op.self_ns.load(r);
  c.min = op.min_ns.load(r);
  c.max = op.max_ns.load(r);
  c.shift = op.shift_ns.load(r);
  c.dev_sq = op.dev_sq_sum.load(r);
  c.first = op.first_start_ticks.load(r);
  c.last = op.last_end_ticks.load(r);
  c.parent = op.current_parent.load(r);
  c.edge_base_count = op.edge_base_count.load(r);
  c.edge_base_total = op.edge_base_total_ns.load(r);
  c.window_start = op.window_start_ns.load(r);
  c.window_width = op.window_width_ns.load(r);
  c.window_base_count = op.window_base_count.load(r);
  c.window_base_total = op.window_base_total_ns.load(r);
  c.window_min = op.window_min_ns.load(r);
  c.window_max = op.window_max_ns.load(r);
  c.slow_n = std::min(op.slowest_count.load(r), detail::kSlowestKept);
  for (std::uint32_t i = 0; i < c.slow_n; ++i) {
    c.slow_start[i] = op.slowest_start_ticks[i].load(r);
    c.slow_ns[i] = op.slowest_ns[i].load(r);
  }
}

// The series windows and call-tree edges moved out of the pending state so far.
struct Flushed {
  std::vector<DurationWindow> windows;
  std::vector<CallEdge> edges;  // parent_id, count, total_ns
  std::vector<std::pair<std::size_t, std::uint64_t>> buckets;  // histogram: index, count
};

void copy_flushed(const detail::OpStats& op, Flushed& f) {
  constexpr auto r = std::memory_order_acquire;  // a value written inside a guard orders what follows
  f.windows.clear();
  f.edges.clear();
  f.buckets.clear();
  for (std::size_t k = 0; k < detail::kHistogramChunks; ++k) {
    const std::atomic<std::uint64_t>* chunk = op.histogram[k].load(std::memory_order_acquire);
    if (!chunk) continue;
    for (std::size_t i = 0; i < detail::kHistogramChunk; ++i)
      if (const std::uint64_t v = chunk[i].load(r)) f.buckets.emplace_back(k * detail::kHistogramChunk + i, v);
  }
  const detail::Series& s = op.series;
  const std::int64_t width = s.width_ns.load(std::memory_order_acquire);
  const std::int64_t base = s.base_ns.load(r);
  for (std::size_t i = 0; width > 0 && i < detail::kSeriesWindows; ++i) {
    const detail::SeriesWindow* c = s.chunks[i / detail::kSeriesChunk].load(std::memory_order_acquire);
    if (!c) {
      i += detail::kSeriesChunk - 1;
      continue;
    }
    const detail::SeriesWindow& w = c[i % detail::kSeriesChunk];
    const std::uint64_t count = w.count.load(r);
    if (count == 0) continue;
    const std::uint64_t max = w.max_ns.load(r);
    f.windows.push_back({base + static_cast<std::int64_t>(i) * width, width, count, w.total_ns.load(r),
                         std::min(w.min_ns.load(r), max), max});
  }
  const std::uint32_t edges = op.edge_count.load(std::memory_order_acquire);
  const detail::EdgeBlock* block = op.edges.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < edges && block; ++i) {
    const detail::Edge& e = block->edges[i % detail::EdgeBlock::kSize];
    f.edges.push_back({e.parent.load(r), 0, e.count.load(r), e.total_ns.load(r)});
    if ((i + 1) % detail::EdgeBlock::kSize == 0) block = block->next.load(std::memory_order_acquire);
  }
}

void merge_op(const detail::OpStats& op, std::uint32_t id, std::uint32_t thread_index, const detail::TickScale& scale,
              Aggregator& into) {
  constexpr auto r = std::memory_order_acquire;  // a value written inside a guard orders what follows
  // The pending calls and what was moved out of them (windows, edges) are read on the same side
  // of every move: flush_seq is even and the same before and after. Counts read in between may
  // include a few more calls than the pending state (a count read later): clamped below.
  CoreCopy c;
  Flushed flushed;
  for (int attempt = 0; attempt < 64; ++attempt) {
    const std::uint32_t s1 = op.flush_seq.load(std::memory_order_acquire);
    copy_core(op, c);
    copy_flushed(op, flushed);
    if (!(s1 & 1) && op.flush_seq.load(r) == s1) break;
  }
  if (c.count == 0) return;
  c.dev_sum = static_cast<std::int64_t>(c.total - c.count * c.shift);
  const double n = static_cast<double>(c.count);
  const double dev_mean = static_cast<double>(c.dev_sum) / n;
  Aggregator::OperationPart part;
  part.operation_id = id;
  part.count = c.count;
  part.total_ns = c.total;
  part.self_ns = c.self;
  part.max_ns = c.max;
  part.min_ns = std::min(c.min, c.max);
  part.mean_ns = static_cast<double>(c.shift) + dev_mean;
  double dev_sq = c.dev_sq;
  for (std::uint64_t i = 0; i < c.pending_n; ++i) {
    const auto dev = static_cast<double>(static_cast<std::int64_t>(c.pending[i] - c.shift));
    dev_sq += dev * dev;
  }
  part.m2 = std::max(0.0, dev_sq - static_cast<double>(c.dev_sum) * dev_mean);
  part.first_ns = scale.since_origin_ns(c.first);
  part.last_ns = scale.since_origin_ns(c.last);
  into.merge_operation(part);
  into.merge_thread_operation(thread_index, id, c.count, c.total, c.self);
  for (std::uint32_t i = 0; i < c.slow_n; ++i)
    into.merge_slow_call(id, {scale.since_origin_ns(c.slow_start[i]), c.slow_ns[i], thread_index});

  for (const DurationWindow& w : flushed.windows) into.merge_window(id, w);
  if (c.window_width > 0 && c.count > c.window_base_count && c.total >= c.window_base_total)
    into.merge_window(id, {c.window_start, c.window_width, c.count - c.window_base_count, c.total - c.window_base_total,
                           std::min(c.window_min, c.window_max), c.window_max});
  for (const CallEdge& e : flushed.edges) into.merge_edge(id, e.parent_id, e.count, e.total_ns);
  if (c.parent != detail::kNoCachedParent && c.count > c.edge_base_count && c.total >= c.edge_base_total)
    into.merge_edge(id, c.parent, c.count - c.edge_base_count, c.total - c.edge_base_total);

  for (const auto& [bucket, calls] : flushed.buckets) into.merge_histogram(id, bucket, calls);
  for (std::uint64_t i = 0; i < c.pending_n; ++i) into.merge_histogram(id, detail::duration_bucket(c.pending[i]), 1);

  if (const detail::ResourceSum* res = op.resources.load(std::memory_order_acquire)) {
    for (std::size_t m = 0; m < kProbeMetricCount; ++m) {
      const std::uint64_t samples = res[m].samples.load(std::memory_order_acquire);
      if (samples == 0) continue;
      into.merge_resource(id, m, ResourceStat{samples, res[m].total.load(r), res[m].max.load(r), res[m].min.load(r)});
    }
  }
}

}  // namespace

void merge_thread_statistics(const detail::ThreadBuffer& t, std::uint32_t epoch, std::uint32_t thread_index,
                             const detail::TickScale& scale, Aggregator& into) {
  if (t.epoch_seen.load(std::memory_order_acquire) != epoch) return;  // nothing since that reset
  // Size before table: the table is published first, so it is at least as large as the size says.
  const std::uint32_t size = t.shared_size.load(std::memory_order_acquire);
  const std::atomic<detail::OpStats*>* table = t.shared_table.load(std::memory_order_acquire);
  for (std::uint32_t id = 0; id < size && table; ++id)
    if (const detail::OpStats* op = table[id].load(std::memory_order_acquire)) merge_op(*op, id, thread_index, scale, into);
  into.merge_thread_totals(thread_index,
                           t.open_child[0].load(std::memory_order_acquire) - t.top_level_base.load(std::memory_order_acquire),
                           t.misnested.load(std::memory_order_acquire));
}

std::uint64_t lifetime_events(const detail::ThreadBuffer& t) {
  for (;;) {
    const std::uint32_t s1 = t.lifetime_seq.load(std::memory_order_acquire);
    std::uint64_t n = t.lifetime_before.load(std::memory_order_acquire);
    const std::uint32_t size = t.shared_size.load(std::memory_order_acquire);
    const std::atomic<detail::OpStats*>* table = t.shared_table.load(std::memory_order_acquire);
    for (std::uint32_t id = 0; id < size && table; ++id)
      if (const detail::OpStats* op = table[id].load(std::memory_order_acquire)) n += op->count.load(std::memory_order_acquire);
    if (!(s1 & 1) && t.lifetime_seq.load(std::memory_order_acquire) == s1) return n;
  }
}

}  // namespace core
}  // namespace codeprof
