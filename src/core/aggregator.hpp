#pragma once
// Turns completed events into per-operation, per-thread and call-tree statistics. Used by the
// live collector and by trace readers alike, so both produce the same Snapshot fields.
// Not thread-safe: one owner feeds it (the collector holds its lock).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "codeprof/call_site.hpp"
#include "codeprof/snapshot.hpp"
#include "core/log_histogram.hpp"

namespace codeprof::core {

// One finished scope. Events of one thread must arrive in completion order (children before
// their parent), with depth = nesting level (0 = outermost); that is how self time is derived.
struct CompletedEvent {
  std::uint32_t operation_id = 0;
  std::uint32_t parent_id = kRootOperation;
  std::uint32_t thread_index = 0;
  std::uint16_t depth = 0;
  std::int64_t start_ns = 0;  // relative to the run's origin
  std::uint64_t duration_ns = 0;
  const ProbeDeltas* probes = nullptr;
  // detail::kEventMisnested / kEventOrphan: the scope did not end as the innermost one. An
  // orphan's time is not counted as its parent's children (the parent's place was closed).
  std::uint32_t flags = 0;
};

struct AggregatorOptions {
  bool keep_trace = false;
  std::uint64_t trace_budget = 1'000'000;
  std::size_t series_windows = 256;          // bounded series per operation
  std::int64_t initial_window_ns = 10'000'000;
  std::size_t slowest_kept = 8;
};

// Durations over time in at most `capacity` windows; the window width doubles when full.
class DurationSeries {
 public:
  DurationSeries(std::size_t capacity, std::int64_t initial_width_ns)
      : capacity_(capacity), width_(initial_width_ns) {}
  void add(std::int64_t start_ns, std::uint64_t duration_ns);
  std::vector<DurationWindow> windows() const;

 private:
  void widen();
  std::size_t capacity_;
  std::int64_t width_;
  std::int64_t base_ = 0;
  bool started_ = false;
  std::vector<DurationWindow> windows_;  // index = (start - base) / width
};

class Aggregator {
 public:
  explicit Aggregator(AggregatorOptions options = {});

  void add(const CompletedEvent& event);
  void set_thread_info(std::uint32_t thread_index, std::uint64_t os_tid, std::string name);
  void add_dropped(std::uint32_t thread_index, std::uint64_t count);
  void reset();
  void set_trace(bool keep, std::uint64_t budget) noexcept {
    options_.keep_trace = keep;
    options_.trace_budget = budget;
  }

  std::uint64_t events() const noexcept { return events_; }
  std::uint64_t trace_dropped() const noexcept { return trace_dropped_; }
  // Keeps only `thread_index`'s name and nesting state and clears the rest (a forked child's
  // recorder: the other threads do not exist there). Statistics must be reset() as well.
  void retain_only_thread(std::uint32_t thread_index, std::uint64_t os_tid);

  // Fills operations, call_tree, threads, trace_events, events_recorded, events_dropped and
  // trace_events_dropped. `sites[id]` names operation `id`.
  void fill(Snapshot& out, const std::vector<SiteInfo>& sites) const;

 private:
  struct ParentEdge {
    std::uint32_t parent_id;
    std::uint64_t count;
    std::uint64_t total_ns;
  };
  struct OpAccum {
    explicit OpAccum(const AggregatorOptions& o) : series(o.series_windows, o.initial_window_ns) {}
    std::uint64_t count = 0, total = 0, self = 0, min = UINT64_MAX, max = 0;
    double mean = 0.0, m2 = 0.0;  // Welford
    std::int64_t first = INT64_MAX, last = INT64_MIN;
    LogHistogram histogram;
    DurationSeries series;
    std::vector<SlowCall> slowest;  // min-heap on duration
    std::vector<ParentEdge> parents;
    std::array<ResourceStat, kProbeMetricCount> resources{};
  };
  struct ThreadOp {
    std::uint64_t count = 0, total = 0, self = 0;
  };
  struct ThreadAccum {
    std::uint64_t os_tid = 0;
    std::string name;
    std::uint64_t events = 0, dropped = 0, top_level = 0;
    std::vector<ThreadOp> ops;             // index = operation id
    std::vector<std::uint64_t> child_time;  // index = depth: time of finished children
  };

  OpAccum& op(std::uint32_t id);
  ThreadAccum& thread(std::uint32_t index);

  AggregatorOptions options_;
  std::vector<OpAccum> ops_;
  std::vector<ThreadAccum> threads_;
  std::vector<TraceEvent> trace_;
  std::uint64_t events_ = 0;
  std::uint64_t misnested_ = 0;
  std::uint64_t trace_dropped_ = 0;
};

}  // namespace codeprof::core
