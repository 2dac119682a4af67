#pragma once
// Statistics of one operation on one thread, kept by that thread as its scopes end, so no event
// is lost at any load (a ring that a starved collector drains would drop). One writer (the
// thread); snapshots read concurrently. Every field is an atomic that only its thread writes
// (load + store, no read-modify-write), so a reader never sees a torn value, and while the thread
// records, fields read one after the other are at most a few calls apart. The rare changes that
// move state around (pending calls into the series or the edge list, a new slowest call, a reset)
// are bracketed by `flush_seq`, which readers check to get them whole.
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace codeprof::detail {

inline constexpr std::uint32_t kNoOperation = 0xFFFFFFFFu;  // == kRootOperation
inline constexpr std::uint32_t kNoCachedParent = 0xFFFFFFFEu;  // never an operation id (ids are dense from 0)

// Adds to an atomic that only the calling thread writes: a plain load and store, no locked
// instruction. A release store (a plain store on x86): readers that check a sequence counter
// around what they read rely on it instead of a fence.
template <class T, class V>
inline void bump(std::atomic<T>& a, V v) noexcept {
  a.store(static_cast<T>(a.load(std::memory_order_relaxed) + static_cast<T>(v)), std::memory_order_release);
}

// ---- log-linear histogram index (core::LogHistogram uses the same): exact below 128 ns, then
// 64 buckets per power of two.
inline constexpr unsigned kHistogramSubBits = 6;
inline constexpr std::size_t kHistogramChunk = std::size_t{1} << kHistogramSubBits;  // buckets per chunk
inline constexpr std::size_t kHistogramChunks = 59;  // bucket_index(UINT64_MAX) / 64 + 1

inline std::size_t duration_bucket(std::uint64_t v) noexcept {
  if (v < (1u << (kHistogramSubBits + 1))) return static_cast<std::size_t>(v);
  const unsigned e = 63u - static_cast<unsigned>(__builtin_clzll(v));
  return (static_cast<std::size_t>(e - kHistogramSubBits + 1) << kHistogramSubBits) +
         static_cast<std::size_t>((v >> (e - kHistogramSubBits)) & ((1u << kHistogramSubBits) - 1));
}

// ---- durations over time: at most kSeriesWindows windows whose width doubles when the run
// outgrows them (windows are aligned to multiples of their width from the run's origin, so the
// series of several threads merge exactly).
inline constexpr std::size_t kSeriesWindows = 256;
inline constexpr std::size_t kSeriesChunk = 16;  // windows per allocation
inline constexpr std::int64_t kSeriesInitialWidthNs = 10'000'000;

struct SeriesWindow {
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> total_ns{0};
  std::atomic<std::uint64_t> min_ns{UINT64_MAX};
  std::atomic<std::uint64_t> max_ns{0};
};

struct Series {
  std::atomic<std::int64_t> base_ns{0};     // start of window 0
  std::atomic<std::int64_t> width_ns{0};    // 0: no window yet
  std::atomic<SeriesWindow*> chunks[kSeriesWindows / kSeriesChunk] = {};
};

// ---- parent edges of the call tree, appended by the producer, published by `count`.
struct Edge {
  std::atomic<std::uint32_t> parent{kNoOperation};
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> total_ns{0};
};
struct EdgeBlock {
  static constexpr std::uint32_t kSize = 8;
  Edge edges[kSize];
  std::atomic<EdgeBlock*> next{nullptr};
};

// ---- probe aggregates (allocated on a thread's first probed scope of the operation)
struct ResourceSum {
  std::atomic<std::uint64_t> samples{0};
  std::atomic<std::int64_t> total{0};
  std::atomic<std::int64_t> min{0};
  std::atomic<std::int64_t> max{0};
};

inline constexpr std::uint32_t kSlowestKept = 8;
// Durations wait in a small buffer and join the histogram and the second moment 64 at a time:
// the work that depends on the end timestamp stays short (the next timestamp waits for it).
inline constexpr std::uint64_t kRecentCalls = 64;

// Ticks to nanoseconds: the run's origin and the current rate (the TSC rate is refined as the
// run goes on; steady_clock ticks are nanoseconds: rate 1).
__extension__ using Uint128 = unsigned __int128;

struct TickScale {
  std::uint64_t origin_ticks = 0;
  std::atomic<double> ns_per_tick{1.0};
  std::atomic<std::uint64_t> ns_per_tick_q32{std::uint64_t{1} << 32};  // ns_per_tick * 2^32

  void set_rate(double ns_per_tick_now) noexcept {
    ns_per_tick.store(ns_per_tick_now, std::memory_order_relaxed);
    ns_per_tick_q32.store(static_cast<std::uint64_t>(ns_per_tick_now * 4294967296.0 + 0.5), std::memory_order_relaxed);
  }
  // Integer fixed point: a short dependency chain from the timestamp to every statistic.
  std::uint64_t duration_ns(std::uint64_t start, std::uint64_t end) const noexcept {
    if (end <= start) return 0;
    const Uint128 p = static_cast<Uint128>(end - start) * ns_per_tick_q32.load(std::memory_order_relaxed);
    return static_cast<std::uint64_t>((p + (Uint128{1} << 31)) >> 32);
  }
  std::int64_t since_origin_ns(std::uint64_t ticks) const noexcept {
    return static_cast<std::int64_t>(static_cast<double>(static_cast<std::int64_t>(ticks - origin_ticks)) *
                                     ns_per_tick.load(std::memory_order_relaxed));
  }
};

struct OpStats {
  // ---- written on every call (or, for the pending state, on a change of parent or window)
  // The parent of the latest calls: calls since `edge_base_count` (and their time since
  // `edge_base_total_ns`) belong to its edge and are added to the edge list only when the parent
  // changes, so the usual call pays one compare for the call tree.
  std::atomic<std::uint32_t> current_parent{kNoCachedParent};
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> total_ns{0};
  std::atomic<std::uint64_t> self_ns{0};
  std::atomic<std::uint64_t> min_ns{UINT64_MAX};
  std::atomic<std::uint64_t> max_ns{0};
  // Variance from sums of deviations from a fixed shift (the first duration seen): the first
  // moment is exact (total - count * shift), and the second's cancellation is small because the
  // shift is close to the mean. Merged across threads with Chan et al.'s formula.
  std::atomic<std::uint64_t> shift_ns{0};
  std::atomic<double> dev_sq_sum{0.0};  // of the calls before `folded`
  std::atomic<std::uint64_t> folded{0};  // calls whose durations are in the histogram and dev_sq_sum
  std::atomic<std::uint64_t> recent[kRecentCalls] = {};  // call i's duration at i % kRecentCalls
  std::atomic<std::uint64_t> first_start_ticks{UINT64_MAX};
  std::atomic<std::uint64_t> last_end_ticks{0};
  std::atomic<std::uint64_t> edge_base_count{0};
  std::atomic<std::uint64_t> edge_base_total_ns{0};
  // The time window of the latest calls, the same way: calls since `window_base_count` fell in
  // [window_start_ns, + window_width_ns) and are added to the series when the window changes.
  std::atomic<std::int64_t> window_start_ns{0};
  std::atomic<std::int64_t> window_width_ns{0};  // 0: no current window
  std::atomic<std::uint64_t> window_base_count{0};
  std::atomic<std::uint64_t> window_base_total_ns{0};
  std::atomic<std::uint64_t> window_min_ns{UINT64_MAX};
  std::atomic<std::uint64_t> window_max_ns{0};
  // Odd while pending calls move into `series` or `edges`, the series is re-cut, the slowest calls
  // change or the statistics are cleared: a reader that sees the same even value before and
  // after has a consistent picture of those.
  std::atomic<std::uint32_t> flush_seq{0};
  std::atomic<std::uint32_t> slowest_count{0};
  std::atomic<std::uint64_t> slowest_start_ticks[kSlowestKept] = {};
  std::atomic<std::uint64_t> slowest_ns[kSlowestKept] = {};

  // ---- producer only
  std::uint64_t slow_floor_ns = 0;  // the shortest of the kept slowest calls (0 until there are 8)
  std::uint64_t window_lo_ticks = 0;  // the current window as a tick range
  std::uint64_t window_span_ticks = 0;

  // ---- each read on its own
  std::atomic<std::atomic<std::uint64_t>*> histogram[kHistogramChunks] = {};
  Series series;  // earlier windows
  std::atomic<std::uint32_t> edge_count{0};
  std::atomic<EdgeBlock*> edges{nullptr};  // earlier parents
  std::atomic<ResourceSum*> resources{nullptr};  // kProbeMetricCount entries
  const TickScale* scale = nullptr;  // the recorder's clock, for the time windows

  OpStats() = default;
  OpStats(const OpStats&) = delete;
  OpStats& operator=(const OpStats&) = delete;
  ~OpStats();  // src/core/thread_stats.cpp

  // One finished call. Fast path inline; new histogram magnitudes, another time window or
  // parent, and a new slowest call go out of line.
  [[gnu::always_inline]] inline void add(std::uint64_t d, std::uint64_t self, std::uint32_t parent,
                                         std::uint64_t start_ticks, std::uint64_t end_ticks) noexcept;

  // src/core/thread_stats.cpp (count and total already include the call)
  void add_slow_call(std::uint64_t start_ticks, std::uint64_t d) noexcept;
  void change_window(std::uint64_t start_ticks, std::uint64_t d) noexcept;
  void change_parent(std::uint32_t parent, std::uint64_t d) noexcept;
  void fold_recent() noexcept;  // the recent durations into the histogram and dev_sq_sum
  void clear() noexcept;  // producer only (a reset)
};

[[gnu::always_inline]] inline void OpStats::add(std::uint64_t d, std::uint64_t self, std::uint32_t parent,
                                                std::uint64_t start_ticks, std::uint64_t end_ticks) noexcept {
  const std::uint64_t n = count.load(std::memory_order_relaxed);
  recent[n % kRecentCalls].store(d, std::memory_order_relaxed);
  count.store(n + 1, std::memory_order_release);  // a reader that sees the count sees the duration
  bump(total_ns, d);
  bump(self_ns, self);
  if (d < min_ns.load(std::memory_order_relaxed)) [[unlikely]]
    min_ns.store(d, std::memory_order_relaxed);
  if (d > max_ns.load(std::memory_order_relaxed)) [[unlikely]]
    max_ns.store(d, std::memory_order_relaxed);
  if (start_ticks < first_start_ticks.load(std::memory_order_relaxed)) [[unlikely]]
    first_start_ticks.store(start_ticks, std::memory_order_relaxed);
  last_end_ticks.store(end_ticks, std::memory_order_relaxed);  // a thread's scopes end in order (spans: record_slow)
  if (start_ticks - window_lo_ticks < window_span_ticks) [[likely]] {
    if (d < window_min_ns.load(std::memory_order_relaxed)) [[unlikely]]
      window_min_ns.store(d, std::memory_order_relaxed);
    if (d > window_max_ns.load(std::memory_order_relaxed)) [[unlikely]]
      window_max_ns.store(d, std::memory_order_relaxed);
  } else {
    change_window(start_ticks, d);
  }
  if (parent != current_parent.load(std::memory_order_relaxed)) [[unlikely]]
    change_parent(parent, d);
  if (d > slow_floor_ns) [[unlikely]]
    add_slow_call(start_ticks, d);
  if (n % kRecentCalls == kRecentCalls - 1) [[unlikely]]
    fold_recent();
}

}  // namespace codeprof::detail
