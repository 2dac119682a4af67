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
#include "core/trace_window.hpp"

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
  TracePolicy trace_policy = TracePolicy::First;  // trace readers keep a file's first events
  std::uint64_t trace_budget_bytes = 0;           // 0: no limit in bytes
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
  // Adds a window of another series (aligned the same way: to multiples of its width, which is
  // the initial width times a power of two).
  void merge(const DurationWindow& window);
  std::vector<DurationWindow> windows() const;

 private:
  void widen();
  void extend_down_to(std::int64_t start_ns);
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
  void set_trace(bool keep, std::uint64_t budget) {
    options_.keep_trace = keep;
    options_.trace_budget = budget;
    trace_.set_budget(trace_budget());
  }

  // ---- merging statistics kept elsewhere: a live thread's own table, another Aggregator.
  struct OperationPart {
    std::uint32_t operation_id = 0;
    std::uint64_t count = 0, total_ns = 0, self_ns = 0, min_ns = UINT64_MAX, max_ns = 0;
    double mean_ns = 0.0, m2 = 0.0;  // m2: sum of squared deviations from the mean
    std::int64_t first_ns = INT64_MAX, last_ns = INT64_MIN;
  };
  void merge_operation(const OperationPart& part);
  void merge_thread_operation(std::uint32_t thread_index, std::uint32_t operation_id, std::uint64_t count,
                              std::uint64_t total_ns, std::uint64_t self_ns);
  void merge_histogram(std::uint32_t operation_id, std::size_t bucket, std::uint64_t count);
  void merge_window(std::uint32_t operation_id, const DurationWindow& window);
  void merge_slow_call(std::uint32_t operation_id, const SlowCall& call);
  void merge_edge(std::uint32_t operation_id, std::uint32_t parent_id, std::uint64_t count, std::uint64_t total_ns);
  void merge_resource(std::uint32_t operation_id, std::size_t metric, const ResourceStat& stat);
  void merge_thread_totals(std::uint32_t thread_index, std::uint64_t top_level_ns, std::uint64_t misnested);
  // All statistics, thread names and drops of `other` (not its raw trace).
  void merge_from(const Aggregator& other);

  std::uint64_t events() const noexcept { return events_; }
  std::uint64_t trace_dropped() const noexcept { return trace_.outside(); }
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
  TraceBudget trace_budget() const noexcept {
    return {options_.trace_policy, options_.trace_budget, options_.trace_budget_bytes};
  }
  void add_slow_call(OpAccum& o, const SlowCall& call) const;
  static void add_resource(ResourceStat& into, const ResourceStat& r);

  AggregatorOptions options_;
  std::vector<OpAccum> ops_;
  std::vector<ThreadAccum> threads_;
  TraceWindow trace_;
  std::uint64_t events_ = 0;
  std::uint64_t misnested_ = 0;
};

}  // namespace codeprof::core
