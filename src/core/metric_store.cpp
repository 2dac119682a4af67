#include "core/metric_store.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <new>
#include <thread>

#include "codeprof/detail/ticks.hpp"

namespace codeprof::core {
namespace {

std::atomic<std::uint64_t> g_next_store_id{1};

// ---- percentiles of value metrics: a log-linear histogram over doubles (the duration histogram's
// layout, in binary exponents): 64 buckets per power of two, so a bucket's midpoint is within
// 1/128 of any value in it. Magnitudes from 2^-64 to 2^63; smaller ones count as zero, larger
// ones in the top bucket (min and max stay exact).
constexpr int kSubBuckets = 64;
constexpr int kExponents = 128;
constexpr int kMinExponent = -63;  // frexp exponent of 2^-64

// Ordinal of v's bucket: 0 for zero, +k for positive, -k for negative values; ascending with v.
int bucket_ordinal(double v) noexcept {
  const double a = std::fabs(v);
  int e = 0;
  double m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  if (a == 0.0 || e < kMinExponent) return 0;
  int ei = e - kMinExponent;
  if (ei >= kExponents) {
    ei = kExponents - 1;
    m = std::nextafter(1.0, 0.0);
  }
  const int sub = std::min(kSubBuckets - 1, static_cast<int>((m * 2.0 - 1.0) * kSubBuckets));
  const int k = 1 + ei * kSubBuckets + sub;
  return v < 0 ? -k : k;
}

double bucket_midpoint(int ordinal) noexcept {
  if (ordinal == 0) return 0.0;
  const int k = std::abs(ordinal) - 1;
  const int ei = k / kSubBuckets;
  const int sub = k % kSubBuckets;
  const double m = 0.5 + (sub + 0.5) / (2.0 * kSubBuckets);
  const double mid = std::ldexp(m, ei + kMinExponent);
  return ordinal < 0 ? -mid : mid;
}

// Per-thread state is written with plain load + store (one writer) and published to readers by a
// sequence counter: odd while the writer changes a cell. Stores inside are releases and reads
// acquires (plain moves on x86), so a reader that saw a value written after the counter went odd
// also sees the odd counter when it checks again (no fences: ThreadSanitizer follows these).
template <class T, class V>
void put(std::atomic<T>& a, V v) noexcept {
  a.store(static_cast<T>(v), std::memory_order_release);
}
template <class T>
T get(const std::atomic<T>& a) noexcept {
  return a.load(std::memory_order_acquire);
}

struct Window {
  std::atomic<std::uint64_t> count{0};
  std::atomic<double> sum{0.0};
  std::atomic<double> min{0.0};
  std::atomic<double> max{0.0};
  std::atomic<double> last{0.0};
  std::atomic<std::int64_t> last_ns{0};
};

struct WindowValue {
  std::uint64_t count = 0;
  double sum = 0.0, min = 0.0, max = 0.0, last = 0.0;
  std::int64_t last_ns = 0;

  void add(std::uint64_t c, double s, double lo, double hi, double l, std::int64_t l_ns) noexcept {
    if (c == 0) return;
    if (count == 0) {
      min = lo;
      max = hi;
    } else {
      min = std::min(min, lo);
      max = std::max(max, hi);
    }
    if (count == 0 || l_ns >= last_ns) {
      last = l;
      last_ns = l_ns;
    }
    count += c;
    sum += s;
  }
};

}  // namespace

// One metric on one thread.
struct Cell {
  std::atomic<std::uint32_t> seq{0};  // odd while the owner changes the scalars or the series
  std::atomic<std::uint64_t> count{0};
  std::atomic<double> sum{0.0};
  std::atomic<double> min{0.0};
  std::atomic<double> max{0.0};
  std::atomic<double> last{0.0};
  std::atomic<std::int64_t> first_ns{0};
  std::atomic<std::int64_t> last_ns{0};
  std::atomic<std::uint64_t> rejected{0};
  // Value metrics: histogram chunks by sign and exponent (kSubBuckets counts each), allocated on
  // first use; zeros counted apart.
  std::atomic<std::uint64_t> zeros{0};
  std::atomic<std::atomic<std::uint64_t>*> chunks[2][kExponents] = {};
  // The series: window i covers [i * width, (i + 1) * width) run-relative; width 0 = no window yet.
  std::atomic<std::int64_t> width_ns{0};
  std::atomic<Window*> windows{nullptr};  // kMetricWindows, allocated on first call

  ~Cell() {
    for (auto& sign : chunks)
      for (auto& c : sign) delete[] c.load(std::memory_order_relaxed);
    delete[] windows.load(std::memory_order_relaxed);
  }

  void clear() noexcept {
    put(count, 0);
    put(sum, 0.0);
    put(min, 0.0);
    put(max, 0.0);
    put(last, 0.0);
    put(first_ns, 0);
    put(last_ns, 0);
    put(rejected, 0);
    put(zeros, 0);
    for (auto& sign : chunks)
      for (auto& c : sign)
        if (std::atomic<std::uint64_t>* chunk = get(c))
          for (int i = 0; i < kSubBuckets; ++i) put(chunk[i], 0);
    if (Window* w = get(windows))
      for (std::uint32_t i = 0; i < kMetricWindows; ++i) put(w[i].count, 0);
    put(width_ns, 0);
  }

  // The owner thread, between the seq bumps.
  void add(MetricKind kind, double v, std::int64_t t) noexcept {
    const std::uint64_t n = get(count);
    if (n == 0) {
      put(min, v);
      put(max, v);
      put(first_ns, t);
    } else {
      if (v < get(min)) put(min, v);
      if (v > get(max)) put(max, v);
    }
    put(count, n + 1);
    put(sum, get(sum) + v);
    put(last, v);
    put(last_ns, t);
    if (kind == MetricKind::Value) add_to_histogram(v);
    add_to_series(kind == MetricKind::Counter ? get(sum) : v, v, t);
  }

  void add_to_histogram(double v) noexcept {
    const int ord = bucket_ordinal(v);
    if (ord == 0) {
      put(zeros, get(zeros) + 1);
      return;
    }
    const int k = std::abs(ord) - 1;
    std::atomic<std::atomic<std::uint64_t>*>& slot = chunks[ord < 0 ? 1 : 0][k / kSubBuckets];
    std::atomic<std::uint64_t>* chunk = get(slot);
    if (!chunk) {
      chunk = new (std::nothrow) std::atomic<std::uint64_t>[kSubBuckets]();
      if (!chunk) return;  // out of memory: the percentiles miss this value, nothing else does
      slot.store(chunk, std::memory_order_release);
    }
    put(chunk[k % kSubBuckets], get(chunk[k % kSubBuckets]) + 1);
  }

  // `last_value` is what the window's `last` shows (a counter's running value), `v` the call's own.
  void add_to_series(double last_value, double v, std::int64_t t) noexcept {
    Window* w = get(windows);
    if (!w) {
      w = new (std::nothrow) Window[kMetricWindows];
      if (!w) return;
      windows.store(w, std::memory_order_release);
    }
    std::int64_t width = get(width_ns);
    if (width == 0) {
      // The first call (or the first since a reset): the finest width that holds t.
      width = kMetricWindowNs;
      while (t / width >= kMetricWindows) width *= 2;
      for (std::uint32_t i = 0; i < kMetricWindows; ++i) put(w[i].count, 0);
      put(width_ns, width);
    }
    while (t / width >= kMetricWindows) {
      // The run outgrew the windows: pairs merge, the width doubles.
      for (std::uint32_t i = 0; i < kMetricWindows / 2; ++i) {
        WindowValue m;
        for (std::uint32_t j = 2 * i; j <= 2 * i + 1; ++j)
          m.add(get(w[j].count), get(w[j].sum), get(w[j].min), get(w[j].max), get(w[j].last), get(w[j].last_ns));
        put(w[i].count, m.count);
        put(w[i].sum, m.sum);
        put(w[i].min, m.min);
        put(w[i].max, m.max);
        put(w[i].last, m.last);
        put(w[i].last_ns, m.last_ns);
      }
      for (std::uint32_t i = kMetricWindows / 2; i < kMetricWindows; ++i) put(w[i].count, 0);
      width *= 2;
      put(width_ns, width);
    }
    Window& x = w[t / width];
    const std::uint64_t c = get(x.count);
    if (c == 0) {
      put(x.sum, 0.0);
      put(x.min, v);
      put(x.max, v);
    } else {
      if (v < get(x.min)) put(x.min, v);
      if (v > get(x.max)) put(x.max, v);
    }
    put(x.sum, get(x.sum) + v);
    put(x.last, last_value);
    put(x.last_ns, t);
    put(x.count, c + 1);
  }
};

// What one thread keeps for one store.
struct MetricThread {
  struct Entry {
    std::uint32_t id;
    MetricKind kind;
  };
  // The length and the first and last 8 bytes, mixed by a multiply (as call sites are interned):
  // two loads instead of hashing every byte; names that share them are told apart by the compare.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      std::uint64_t head = 0, tail = 0;
      const std::size_t n = s.size();
      if (n >= 8) {
        std::memcpy(&head, s.data(), 8);
        std::memcpy(&tail, s.data() + n - 8, 8);
      } else if (n > 0) {
        std::memcpy(&head, s.data(), n);
      }
      std::uint64_t h = (head ^ (tail * 0x9E3779B97F4A7C15ull) ^ n) * 0xFF51AFD7ED558CCDull;
      return static_cast<std::size_t>(h ^ (h >> 29));
    }
  };

  std::atomic<bool> closed{false};      // the thread exited: fold, then free
  std::atomic<std::uint32_t> epoch{0};  // the store's epoch the cells belong to
  std::atomic<Cell*> cells[kMaxMetrics] = {};  // index = metric id; written by the owner only
  std::unordered_map<std::string, Entry, NameHash, std::equal_to<>> names;  // owner only

  ~MetricThread() {
    for (auto& c : cells) delete c.load(std::memory_order_relaxed);
  }
};

// A metric merged over threads.
struct MergedMetric {
  std::uint64_t count = 0;
  double sum = 0.0, min = 0.0, max = 0.0, last = 0.0;
  std::int64_t first_ns = 0, last_ns = 0;
  std::uint64_t rejected = 0;
  std::map<int, std::uint64_t> buckets;  // ordinal -> count
  std::int64_t width_ns = 0;
  std::map<std::int64_t, WindowValue> windows;  // window start -> aggregate

  void add_scalars(std::uint64_t c, double s, double lo, double hi, double l, std::int64_t f_ns, std::int64_t l_ns) {
    if (c == 0) return;
    if (count == 0) {
      min = lo;
      max = hi;
      first_ns = f_ns;
    } else {
      min = std::min(min, lo);
      max = std::max(max, hi);
      first_ns = std::min(first_ns, f_ns);
    }
    if (count == 0 || l_ns >= last_ns) {
      last = l;
      last_ns = l_ns;
    }
    count += c;
    sum += s;
  }

  // Windows of another width merge at the coarser one (widths are kMetricWindowNs times a power
  // of two, windows aligned to the run's origin, so a fine window lies inside one coarse window).
  void add_window(std::int64_t start, std::int64_t width, const WindowValue& v) {
    if (v.count == 0) return;
    if (width > width_ns) {
      std::map<std::int64_t, WindowValue> coarse;
      for (const auto& [s, w] : windows) coarse[s / width * width].add(w.count, w.sum, w.min, w.max, w.last, w.last_ns);
      windows = std::move(coarse);
      width_ns = width;
    }
    windows[start / width_ns * width_ns].add(v.count, v.sum, v.min, v.max, v.last, v.last_ns);
  }

  void merge(const MergedMetric& o) {
    add_scalars(o.count, o.sum, o.min, o.max, o.last, o.first_ns, o.last_ns);
    rejected += o.rejected;
    for (const auto& [k, n] : o.buckets) buckets[k] += n;
    for (const auto& [s, w] : o.windows) add_window(s, o.width_ns, w);
  }

  // One cell, read while its thread may keep recording: the scalars as one consistent set (the
  // sequence counter, retried); histogram and series each on their own.
  void merge(const Cell& c) {
    std::uint64_t n = 0, rej = 0;
    double s = 0, lo = 0, hi = 0, l = 0;
    std::int64_t f_ns = 0, l_ns = 0;
    for (;;) {
      const std::uint32_t s1 = c.seq.load(std::memory_order_acquire);
      if (s1 & 1u) {
        std::this_thread::yield();  // the owner is changing the cell (it may be preempted)
        continue;
      }
      n = get(c.count);
      s = get(c.sum);
      lo = get(c.min);
      hi = get(c.max);
      l = get(c.last);
      f_ns = get(c.first_ns);
      l_ns = get(c.last_ns);
      rej = get(c.rejected);
      if (c.seq.load(std::memory_order_acquire) == s1) break;
    }
    add_scalars(n, s, lo, hi, l, f_ns, l_ns);
    rejected += rej;
    if (const std::uint64_t z = get(c.zeros)) buckets[0] += z;
    for (int sign = 0; sign < 2; ++sign) {
      for (int e = 0; e < kExponents; ++e) {
        const std::atomic<std::uint64_t>* chunk = c.chunks[sign][e].load(std::memory_order_acquire);
        if (!chunk) continue;
        for (int i = 0; i < kSubBuckets; ++i) {
          if (const std::uint64_t k = get(chunk[i])) {
            const int ord = 1 + e * kSubBuckets + i;
            buckets[sign ? -ord : ord] += k;
          }
        }
      }
    }
    const Window* w = c.windows.load(std::memory_order_acquire);
    if (!w) return;
    std::vector<WindowValue> copy(kMetricWindows);
    std::int64_t width = 0;
    for (;;) {
      const std::uint32_t s1 = c.seq.load(std::memory_order_acquire);
      if (s1 & 1u) {
        std::this_thread::yield();  // the owner is changing the cell (it may be preempted)
        continue;
      }
      width = get(c.width_ns);
      for (std::uint32_t i = 0; i < kMetricWindows; ++i) {
        WindowValue& v = copy[i];
        v.count = get(w[i].count);
        v.sum = get(w[i].sum);
        v.min = get(w[i].min);
        v.max = get(w[i].max);
        v.last = get(w[i].last);
        v.last_ns = get(w[i].last_ns);
      }
      if (c.seq.load(std::memory_order_acquire) == s1) break;
    }
    if (width == 0) return;
    for (std::uint32_t i = 0; i < kMetricWindows; ++i)
      add_window(static_cast<std::int64_t>(i) * width, width, copy[i]);
  }

  double percentile(double q) const {
    std::uint64_t total = 0;
    for (const auto& [k, n] : buckets) total += n;
    if (total == 0) return 0.0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
    std::uint64_t seen = 0;
    for (const auto& [k, n] : buckets) {
      seen += n;
      if (seen >= std::max<std::uint64_t>(rank, 1)) return std::clamp(bucket_midpoint(k), min, max);
    }
    return max;
  }
};

namespace {

// The calling thread's tables, one per store it recorded into; marks them closed when the thread
// exits so the next collect() folds and frees them.
struct MetricAttachments {
  std::vector<std::pair<std::uint64_t, std::shared_ptr<MetricThread>>> tables;
  ~MetricAttachments() {
    for (auto& t : tables) t.second->closed.store(true, std::memory_order_release);
  }
};
thread_local MetricAttachments t_metric_tables;

// The last store the thread recorded into. Trivial, so reading it costs no TLS guard.
struct MetricSlot {
  std::uint64_t store_id;
  MetricThread* table;
};
thread_local MetricSlot t_metric_slot{0, nullptr};

}  // namespace

MetricStore::MetricStore(std::int64_t origin_steady_ns, const detail::RecorderState* clock)
    : id_(g_next_store_id.fetch_add(1, std::memory_order_relaxed)), origin_ns_(origin_steady_ns), clock_(clock) {
  register_fork_aware(this);
}

MetricStore::~MetricStore() { unregister_fork_aware(this); }

MetricThread* MetricStore::calling_thread() noexcept {
  if (t_metric_slot.store_id == id_) [[likely]]
    return t_metric_slot.table;
  try {
    return attach_current_thread();
  } catch (...) {
    return nullptr;
  }
}

MetricThread* MetricStore::attach_current_thread() {
  std::lock_guard lock(mutex_);
  if (forked_) fold_closed_locked();  // a forked child forgets the parent's threads first
  for (auto& [id, table] : t_metric_tables.tables) {
    if (id == id_) {
      // Known to this thread; after fork() the store may have forgotten it.
      if (std::find(threads_.begin(), threads_.end(), table) == threads_.end()) threads_.push_back(table);
      t_metric_slot = {id_, table.get()};
      return table.get();
    }
  }
  auto table = std::make_shared<MetricThread>();
  table->epoch.store(epoch_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  threads_.push_back(table);
  t_metric_tables.tables.emplace_back(id_, table);
  t_metric_slot = {id_, table.get()};
  return table.get();
}

void MetricStore::record(MetricKind kind, std::string_view name, double value, std::string_view unit) noexcept {
  MetricThread* t = calling_thread();
  if (!t) {
    names_refused_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::uint32_t epoch = epoch_.load(std::memory_order_acquire);
  if (t->epoch.load(std::memory_order_relaxed) != epoch) [[unlikely]] {
    // A reset happened: this thread clears its own cells (readers skip them until the epoch matches).
    for (auto& slot : t->cells) {
      if (Cell* c = slot.load(std::memory_order_relaxed)) {
        const std::uint32_t s = c->seq.load(std::memory_order_relaxed);
        c->seq.store(s + 1, std::memory_order_relaxed);
        c->clear();
        c->seq.store(s + 2, std::memory_order_release);
      }
    }
    t->epoch.store(epoch, std::memory_order_release);
  }
  auto it = t->names.find(name);
  if (it == t->names.end()) [[unlikely]] {
    try {
      std::uint32_t id;
      MetricKind first_kind;
      {
        std::lock_guard lock(mutex_);
        auto [pos, inserted] = ids_.try_emplace(std::string(name), static_cast<std::uint32_t>(infos_.size()));
        if (inserted) {
          if (infos_.size() >= kMaxMetrics) {
            ids_.erase(pos);
            names_refused_.fetch_add(1, std::memory_order_relaxed);
            return;
          }
          infos_.push_back(Info{std::string(name), kind, std::string(unit)});
        } else if (infos_[pos->second].unit.empty() && !unit.empty()) {
          infos_[pos->second].unit = std::string(unit);
        }
        id = pos->second;
        first_kind = infos_[id].kind;
      }
      it = t->names.emplace(std::string(name), MetricThread::Entry{id, first_kind}).first;
    } catch (...) {
      names_refused_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  const MetricThread::Entry e = it->second;
  Cell* c = t->cells[e.id].load(std::memory_order_relaxed);
  if (!c) [[unlikely]] {
    c = new (std::nothrow) Cell;
    if (!c) {
      names_refused_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    t->cells[e.id].store(c, std::memory_order_release);
  }
  const bool bad = e.kind != kind || !std::isfinite(value) || (kind == MetricKind::Counter && value < 0.0);
  const std::uint32_t s = c->seq.load(std::memory_order_relaxed);
  c->seq.store(s + 1, std::memory_order_relaxed);
  if (bad) {
    put(c->rejected, get(c->rejected) + 1);
  } else {
    const std::int64_t now = clock_ ? clock_->scale.since_origin_ns(detail::read_ticks(*clock_))
                                    : static_cast<std::int64_t>(detail::steady_ns()) - origin_ns_;
    const std::int64_t t_ns = std::max<std::int64_t>(0, now);
    c->add(kind, value, t_ns);
  }
  c->seq.store(s + 2, std::memory_order_release);
}

void MetricStore::reset() {
  std::lock_guard lock(mutex_);
  fold_closed_locked();
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  base_.clear();
}

void MetricStore::fold_closed_locked() {
  if (forked_) {
    // A forked child: the other threads' cells and the exited threads' statistics are the parent's.
    // The forking thread attaches again at its next call (its slot was cleared).
    threads_.clear();
    base_.clear();
    forked_ = false;
  }
  const std::uint32_t epoch = epoch_.load(std::memory_order_relaxed);
  std::erase_if(threads_, [&](const std::shared_ptr<MetricThread>& t) {
    // Read `closed` first: a closed thread writes nothing after it.
    if (!t->closed.load(std::memory_order_acquire)) return false;
    if (t->epoch.load(std::memory_order_acquire) == epoch) {
      if (base_.size() < infos_.size()) base_.resize(infos_.size());
      for (std::size_t id = 0; id < infos_.size(); ++id)
        if (const Cell* c = t->cells[id].load(std::memory_order_acquire)) base_[id].merge(*c);
    }
    return true;
  });
}

std::vector<CustomMetric> MetricStore::collect() {
  std::lock_guard lock(mutex_);
  fold_closed_locked();
  const std::uint32_t epoch = epoch_.load(std::memory_order_relaxed);
  std::vector<MergedMetric> merged(infos_.size());
  for (std::size_t id = 0; id < base_.size() && id < merged.size(); ++id) merged[id].merge(base_[id]);
  for (const auto& t : threads_) {
    if (t->epoch.load(std::memory_order_acquire) != epoch) continue;
    for (std::size_t id = 0; id < infos_.size(); ++id)
      if (const Cell* c = t->cells[id].load(std::memory_order_acquire)) merged[id].merge(*c);
  }
  std::vector<CustomMetric> out;
  for (std::size_t id = 0; id < merged.size(); ++id) {
    const MergedMetric& m = merged[id];
    if (m.count == 0 && m.rejected == 0) continue;
    CustomMetric cm;
    cm.name = infos_[id].name;
    cm.kind = infos_[id].kind;
    cm.unit = infos_[id].unit;
    cm.count = m.count;
    cm.sum = m.sum;
    cm.last = cm.kind == MetricKind::Counter ? m.sum : m.last;
    cm.min = m.min;
    cm.max = m.max;
    cm.mean = m.count ? m.sum / static_cast<double>(m.count) : 0.0;
    if (cm.kind == MetricKind::Value) {
      cm.p50 = m.percentile(0.50);
      cm.p90 = m.percentile(0.90);
      cm.p95 = m.percentile(0.95);
      cm.p99 = m.percentile(0.99);
    }
    cm.first_ns = m.first_ns;
    cm.last_ns = m.last_ns;
    cm.rejected = m.rejected;
    // A counter's window `last` is its running value at the window's end: the windows' own sums
    // add up, so it is recomputed here over all threads.
    double running = 0.0;
    for (const auto& [start, w] : m.windows) {
      MetricWindow mw{start, m.width_ns, w.count, w.sum, w.min, w.max, w.last};
      if (cm.kind == MetricKind::Counter) {
        running += w.sum;
        mw.last = running;
      }
      cm.series.push_back(mw);
    }
    out.push_back(std::move(cm));
  }
  std::sort(out.begin(), out.end(), [](const CustomMetric& a, const CustomMetric& b) { return a.name < b.name; });
  return out;
}

void MetricStore::before_fork() noexcept { mutex_.lock(); }
void MetricStore::after_fork_parent() noexcept { mutex_.unlock(); }
void MetricStore::after_fork_child() noexcept {
  mutex_.unlock();
  if (t_metric_slot.store_id == id_) t_metric_slot = {0, nullptr};
  forked_ = true;
  epoch_.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace codeprof::core
