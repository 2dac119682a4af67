#pragma once
// The Snapshot: one immutable value that live collection and trace readers produce, and that
// analysis, exporters, the dashboard and the CLI consume. Plain data, standard library only.
// Times are nanoseconds relative to the run's origin (RunInfo::start_unix_ns) unless named _unix.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codeprof/category.hpp"
#include "codeprof/probe_metrics.hpp"

namespace codeprof {

inline constexpr std::uint32_t kRootOperation = 0xFFFFFFFFu;  // parent id of top-level scopes

// One non-empty bucket of the log-linear duration histogram: values in [lower_ns, upper_ns).
struct HistogramBucket {
  std::uint64_t lower_ns = 0;
  std::uint64_t upper_ns = 0;
  std::uint64_t count = 0;
};

// Durations aggregated over one time window [start_ns, start_ns + width_ns).
struct DurationWindow {
  std::int64_t start_ns = 0;
  std::int64_t width_ns = 0;
  std::uint64_t count = 0;
  std::uint64_t total_ns = 0;
  std::uint64_t min_ns = 0;
  std::uint64_t max_ns = 0;
};

// One of the slowest calls of an operation, kept with when it happened.
struct SlowCall {
  std::int64_t start_ns = 0;
  std::uint64_t duration_ns = 0;
  std::uint32_t thread_index = 0;
};

// Aggregate of one probe metric over the scopes that measured it.
struct ResourceStat {
  std::uint64_t samples = 0;
  std::int64_t total = 0;
  std::int64_t max = 0;
  std::int64_t min = 0;
  double mean() const noexcept { return samples ? static_cast<double>(total) / static_cast<double>(samples) : 0.0; }
};

struct OperationStats {
  std::uint32_t id = 0;
  std::string name;
  Category category = Category::Custom;
  std::string file;   // first call site seen, empty for trace input
  std::uint32_t line = 0;

  std::uint64_t count = 0;
  std::uint64_t total_ns = 0;
  std::uint64_t self_ns = 0;  // total minus time in direct children
  std::uint64_t min_ns = 0;
  std::uint64_t max_ns = 0;
  double mean_ns = 0.0;
  double stddev_ns = 0.0;
  std::uint64_t p50_ns = 0;
  std::uint64_t p90_ns = 0;
  std::uint64_t p95_ns = 0;
  std::uint64_t p99_ns = 0;
  std::int64_t first_seen_ns = 0;  // start of the first call
  std::int64_t last_seen_ns = 0;   // end of the last call

  std::vector<HistogramBucket> histogram;  // non-empty buckets, ascending
  std::vector<DurationWindow> series;      // durations over time, bounded, ascending
  std::vector<SlowCall> slowest;           // slowest calls, slowest first, bounded

  std::array<ResourceStat, kProbeMetricCount> resources{};  // probe metrics (samples == 0: not measured)

  const ResourceStat& resource(ProbeMetric m) const noexcept { return resources[index_of(m)]; }
};

// Parent -> child edge of the call tree (parent_id == kRootOperation for top-level calls).
struct CallEdge {
  std::uint32_t parent_id = kRootOperation;
  std::uint32_t child_id = 0;
  std::uint64_t count = 0;
  std::uint64_t total_ns = 0;
};

struct ThreadOperationStats {
  std::uint32_t operation_id = 0;
  std::uint64_t count = 0;
  std::uint64_t total_ns = 0;
  std::uint64_t self_ns = 0;
};

struct ThreadStats {
  std::uint32_t index = 0;      // dense index used by events
  std::uint64_t os_tid = 0;
  std::string name;
  std::uint64_t events = 0;
  std::uint64_t dropped = 0;
  std::uint64_t top_level_ns = 0;  // time inside outermost scopes: how busy the thread was
  std::vector<ThreadOperationStats> operations;
};

// A raw event, kept when trace recording is on (Chrome trace export).
struct TraceEvent {
  std::uint32_t operation_id = 0;
  std::uint32_t thread_index = 0;
  std::int64_t start_ns = 0;
  std::int64_t duration_ns = 0;
  std::uint16_t depth = 0;
  ProbeDeltas probes;  // valid == 0 when no probe ran
};

// A sampled series (the system sampler's CPU %, RSS, GPU utilisation, ...).
struct TimelineSeries {
  std::string name;   // e.g. "process_cpu_percent", "rss_bytes", "gpu0_utilization_percent"
  std::string unit;   // e.g. "percent", "bytes", "bytes_per_second", "count", "celsius", "watts"
  std::vector<std::int64_t> t_ns;
  std::vector<double> values;
};

// A probe or reader feature that could not run, and why. Reported once.
struct Unavailable {
  std::string what;    // e.g. "gpu_memory", "nvml", "cpu_time"
  std::string reason;  // e.g. "no NVIDIA driver: libnvidia-ml.so.1 not found"
};

// A training/inference step (live: derived by analysis; traces: ProfilerStep#N).
struct StepSpan {
  std::int64_t index = 0;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
};

// GPU activity of one device/stream, from a trace or GPU timing.
struct DeviceActivity {
  int device = 0;
  int stream = -1;                  // -1: whole device
  std::int64_t busy_ns = 0;         // union of kernel/memcpy/memset intervals
  std::int64_t kernel_ns = 0;
  std::int64_t memcpy_ns = 0;
  std::int64_t memset_ns = 0;
  std::uint64_t memcpy_bytes = 0;
  std::uint64_t kernels = 0;
  std::int64_t busy_in_steps_ns = 0;  // busy time inside StepSpans
};

struct GpuDeviceInfo {
  int index = 0;
  std::string name;
  std::uint64_t memory_total_bytes = 0;
};

struct RunInfo {
  std::string source = "live";  // "live", "codeprof-report", "chrome-trace", "kineto"
  std::string source_path;      // file the snapshot was read from, if any
  std::string host;
  std::int64_t pid = 0;
  std::string command;
  int rank = -1;        // distributed rank when known
  int world_size = -1;
  std::int64_t start_unix_ns = 0;  // wall-clock time of the run's origin
  std::int64_t wall_ns = 0;        // how long the run has been profiled (since origin or last reset)
  std::string version;             // codeprof version that produced it
  bool enabled = true;
  std::uint32_t category_mask = kAllCategoriesMask;
  int hardware_threads = 0;
  std::vector<Unavailable> unavailable;
  std::vector<GpuDeviceInfo> gpus;
  std::map<std::string, std::string> metadata;
};

struct Snapshot {
  RunInfo run;
  std::vector<OperationStats> operations;  // ascending by id
  std::vector<CallEdge> call_tree;
  std::vector<ThreadStats> threads;
  std::vector<TimelineSeries> timelines;
  std::vector<TraceEvent> trace_events;    // empty unless trace recording is on
  std::vector<StepSpan> steps;
  std::vector<DeviceActivity> devices;
  std::int64_t sync_ns = 0;                // time in device synchronisation (traces)

  std::uint64_t events_recorded = 0;        // since the last reset
  std::uint64_t events_dropped = 0;         // since the last reset (full buffers)
  std::uint64_t events_recorded_total = 0;  // since the profiler started
  std::uint64_t events_dropped_total = 0;
  std::uint64_t trace_events_dropped = 0;   // over the trace budget
  // Scopes (since the last reset) that ended while not the innermost open scope of their thread,
  // or after an enclosing scope had ended (interleaved asyncio tasks); they count normally.
  std::uint64_t events_misnested = 0;
  // The raw trace's window (trace.policy): "first" (the first events of the run) or "last" (the
  // most recent ones); empty when no trace was kept. trace_events cover [start, end];
  // trace_events_dropped is how many events fell outside the window.
  std::string trace_policy;
  std::int64_t trace_window_start_ns = 0;
  std::int64_t trace_window_end_ns = 0;

  const OperationStats* find(std::string_view name) const noexcept {
    for (const auto& op : operations)
      if (op.name == name) return &op;
    return nullptr;
  }
  const OperationStats* find(std::uint32_t id) const noexcept {
    for (const auto& op : operations)
      if (op.id == id) return &op;
    return nullptr;
  }
  const TimelineSeries* timeline(std::string_view name) const noexcept {
    for (const auto& s : timelines)
      if (s.name == name) return &s;
    return nullptr;
  }
};

}  // namespace codeprof
