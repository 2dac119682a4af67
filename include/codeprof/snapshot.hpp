#pragma once
// The Snapshot: one immutable value that live collection and trace readers produce, and that
// analysis, exporters, the dashboard and the CLI consume. Plain data, standard library only.
// Times are nanoseconds relative to the run's origin (RunInfo::start_unix_ns) unless named _unix.
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codeprof/alerts.hpp"
#include "codeprof/category.hpp"
#include "codeprof/custom_metrics.hpp"
#include "codeprof/probe_metrics.hpp"

namespace codeprof {

inline constexpr std::uint32_t kRootOperation = 0xFFFFFFFFu;  // parent id of top-level scopes

// One non-empty bucket of the log-linear duration histogram: values in [lower_ns, upper_ns).
struct HistogramBucket {
  std::uint64_t lower_ns = 0;
  std::uint64_t upper_ns = 0;
  std::uint64_t count = 0;

  bool operator==(const HistogramBucket&) const = default;
};

// Durations aggregated over one time window [start_ns, start_ns + width_ns).
struct DurationWindow {
  std::int64_t start_ns = 0;
  std::int64_t width_ns = 0;
  std::uint64_t count = 0;
  std::uint64_t total_ns = 0;
  std::uint64_t min_ns = 0;
  std::uint64_t max_ns = 0;

  bool operator==(const DurationWindow&) const = default;
};

// One of the slowest calls of an operation, kept with when it happened.
struct SlowCall {
  std::int64_t start_ns = 0;
  std::uint64_t duration_ns = 0;
  std::uint32_t thread_index = 0;

  bool operator==(const SlowCall&) const = default;
};

// Aggregate of one probe metric over the scopes that measured it.
struct ResourceStat {
  std::uint64_t samples = 0;
  std::int64_t total = 0;
  std::int64_t max = 0;
  std::int64_t min = 0;
  double mean() const noexcept { return samples ? static_cast<double>(total) / static_cast<double>(samples) : 0.0; }

  bool operator==(const ResourceStat&) const = default;
};

// A function or source line where an operation's CPU samples were taken: its own code, not the
// code it called (the innermost frame of each sample).
struct HotSpot {
  std::string function;     // demangled name, e.g. "std::basic_regex<char>::_M_compile"
  std::string file;         // source file ("" when unknown)
  std::uint32_t line = 0;   // hot_lines: the sampled line; hot_functions: its most sampled line (0: unknown)
  std::uint64_t samples = 0;
  double share = 0.0;       // samples / the operation's CPU samples, 0..1

  bool operator==(const HotSpot&) const = default;
};

// Where an operation allocates, from the allocation samples: the innermost frame of the
// allocating stack outside operator new and the C++ standard library.
struct AllocSite {
  std::string function;
  std::string file;         // "" when unknown
  std::uint32_t line = 0;   // 0: unknown
  std::uint64_t samples = 0;  // sampled allocations made there (live_at_end too: freed or not)
  std::uint64_t bytes = 0;    // hot_allocations: estimated bytes allocated; live_at_end: still live
  double share = 0.0;         // of the operation's alloc_sampled_bytes (live_at_end: live_sampled_bytes), 0..1

  bool operator==(const AllocSite&) const = default;
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

  // Line-level sampling (empty when sampling was off): samples whose innermost open operation is
  // this one, and where they fell, most samples first (at most kHotSpotsPerOperation each).
  std::uint64_t cpu_samples = 0;
  std::vector<HotSpot> hot_functions;
  std::vector<HotSpot> hot_lines;

  // Allocation sampling (zero and empty when it was off): sampled allocations made while this was
  // the innermost open operation, the bytes they stand for, how many of those were not freed when
  // the snapshot was taken, the highest that estimate reached, and the sites, most bytes first
  // (at most kHotSpotsPerOperation each).
  std::uint64_t alloc_samples = 0;
  std::uint64_t alloc_sampled_bytes = 0;
  std::uint64_t live_sampled_bytes = 0;
  std::int64_t peak_live_sampled_bytes = 0;
  std::vector<AllocSite> hot_allocations;
  std::vector<AllocSite> live_at_end;  // leak suspects: sites whose allocations are still live

  const ResourceStat& resource(ProbeMetric m) const noexcept { return resources[index_of(m)]; }

  bool operator==(const OperationStats&) const = default;
};

// Parent -> child edge of the call tree (parent_id == kRootOperation for top-level calls).
struct CallEdge {
  std::uint32_t parent_id = kRootOperation;
  std::uint32_t child_id = 0;
  std::uint64_t count = 0;
  std::uint64_t total_ns = 0;

  bool operator==(const CallEdge&) const = default;
};

struct ThreadOperationStats {
  std::uint32_t operation_id = 0;
  std::uint64_t count = 0;
  std::uint64_t total_ns = 0;
  std::uint64_t self_ns = 0;

  bool operator==(const ThreadOperationStats&) const = default;
};

struct ThreadStats {
  std::uint32_t index = 0;      // dense index used by events
  std::uint64_t os_tid = 0;
  std::string name;
  std::uint64_t events = 0;
  std::uint64_t dropped = 0;
  std::uint64_t top_level_ns = 0;  // time inside outermost scopes: how busy the thread was
  std::vector<ThreadOperationStats> operations;

  bool operator==(const ThreadStats&) const = default;
};

// A raw event, kept when trace recording is on (Chrome trace export).
struct TraceEvent {
  std::uint32_t operation_id = 0;
  std::uint32_t thread_index = 0;
  std::int64_t start_ns = 0;
  std::int64_t duration_ns = 0;
  std::uint16_t depth = 0;
  ProbeDeltas probes;  // valid == 0 when no probe ran

  bool operator==(const TraceEvent&) const = default;
};

// A sampled series (the system sampler's CPU %, RSS, GPU utilisation, ...).
struct TimelineSeries {
  std::string name;   // e.g. "process_cpu_percent", "rss_bytes", "gpu0_utilization_percent"
  std::string unit;   // e.g. "percent", "bytes", "bytes_per_second", "count", "celsius", "watts"
  std::vector<std::int64_t> t_ns;
  std::vector<double> values;

  bool operator==(const TimelineSeries&) const = default;
};

// A probe or reader feature that could not run, and why. Reported once.
struct Unavailable {
  std::string what;    // e.g. "gpu_memory", "nvml", "cpu_time"
  std::string reason;  // e.g. "no NVIDIA driver: libnvidia-ml.so.1 not found"

  bool operator==(const Unavailable&) const = default;
};

// A training/inference step (live: derived by analysis; traces: ProfilerStep#N).
struct StepSpan {
  std::int64_t index = 0;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;

  bool operator==(const StepSpan&) const = default;
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

  bool operator==(const DeviceActivity&) const = default;
};

struct GpuDeviceInfo {
  int index = 0;
  std::string name;
  std::uint64_t memory_total_bytes = 0;

  bool operator==(const GpuDeviceInfo&) const = default;
};

// ---- Sampling profile: stacks sampled on CPU time (and allocations), with the operations that
// were open when each was taken. Enough for pprof, folded stacks and a flame graph.

inline constexpr std::size_t kHotSpotsPerOperation = 20;

// One symbolised code location.
struct ProfileFrame {
  std::string function;    // demangled; for code without symbols "[module+0xoffset]"
  std::string file;        // source file, "" when unknown
  std::uint32_t line = 0;  // 0 when unknown
  std::string module;      // executable or shared object path; "python" for Python frames
  bool inlined = false;    // inlined into the frame after it (its caller)
  bool operator==(const ProfileFrame&) const = default;
};

// One distinct (stack, open operations, thread) and what was counted on it.
struct ProfileStack {
  std::vector<std::uint32_t> frames;      // indexes into SampleProfile::frames, innermost first
  std::vector<std::uint32_t> operations;  // open operation ids, innermost first; empty: outside any
  std::uint64_t thread = 0;               // OS thread id
  std::uint64_t cpu_samples = 0;          // CPU-time samples
  std::uint64_t alloc_samples = 0;        // sampled allocations
  std::uint64_t alloc_bytes = 0;          // bytes allocated, estimated from the samples
  std::uint64_t live_bytes = 0;           // of those, still allocated when the snapshot was taken
  std::uint64_t alloc_objects = 0;        // allocations made, estimated from the samples
  std::uint64_t live_objects = 0;         // of those, not freed when the snapshot was taken

  bool operator==(const ProfileStack&) const = default;
};

// Names of the operations the stacks refer to (also those not finished yet).
struct ProfileOperation {
  std::uint32_t id = 0;
  std::string name;
  Category category = Category::Custom;

  bool operator==(const ProfileOperation&) const = default;
};

struct SampleProfile {
  std::vector<ProfileOperation> operations;  // ascending by id
  std::vector<ProfileFrame> frames;          // distinct frames
  std::vector<ProfileStack> stacks;          // distinct stacks
  bool empty() const noexcept { return stacks.empty(); }

  bool operator==(const SampleProfile&) const = default;
};

// One sampling mechanism that ran: "perf_ring" (perf_event_open cpu-clock, samples written by the
// kernel into a ring, no signal), "perf_event" (the same event, a signal per sample), "timer"
// (timer_create on the thread CPU clock) or "python" (a sampler thread reading Python stacks).
struct SamplingSource {
  std::string name;
  double frequency_hz = 0.0;
  std::uint64_t threads = 0;   // threads it sampled
  std::uint64_t samples = 0;   // samples kept
  std::uint64_t dropped = 0;   // samples lost (full per-thread ring, stack table full, ...)
  // perf_ring: of `threads`, those sampled through one inherited event per CPU (started after the
  // sampler, by a thread under its events) rather than an event of their own. Last, so that code
  // that lists the fields above in order keeps meaning what it meant.
  std::uint64_t inherited_threads = 0;

  bool operator==(const SamplingSource&) const = default;
};

struct SamplingInfo {
  bool enabled = false;                  // CPU sampling was switched on
  std::string unwinder;                  // how native stacks were unwound ("libunwind" or "frame pointers"); empty: none
  std::vector<SamplingSource> sources;   // what actually ran
  std::uint64_t samples = 0;             // kept, all sources
  std::uint64_t dropped = 0;             // lost, all sources
  std::uint64_t alloc_interval_bytes = 0;  // mean bytes between allocation samples (0: off)
  std::uint64_t alloc_samples = 0;
  std::int64_t alloc_peak_live_bytes = 0;  // highest estimated live bytes seen
  std::int64_t alloc_peak_at_ns = 0;       // when (origin-relative)
  std::vector<Unavailable> unavailable;    // what could not run and why (also in run.unavailable)
  // CPU time the native sampler's own thread spent since sampling started (reading the rings,
  // unwinding, symbolising, the store; not cleared by reset). Drains run by a snapshot on its
  // caller's thread and the kernel's part are not in it.
  std::uint64_t sampler_cpu_ns = 0;

  bool operator==(const SamplingInfo&) const = default;
};

struct RunInfo {
  std::string source = "live";  // "live", "codeprof-report", "chrome-trace", "kineto"
  std::string source_path;      // file the snapshot was read from, if any
  std::string host;
  std::int64_t pid = 0;
  std::string command;
  int rank = -1;        // distributed rank when known
  int world_size = -1;
  int local_rank = -1;  // rank on its node when known
  std::string job_name; // the job the process belongs to (job.name), empty when not set
  std::int64_t start_unix_ns = 0;  // wall-clock time of the run's origin
  std::int64_t wall_ns = 0;        // how long the run has been profiled (since origin or last reset)
  std::string version;             // codeprof version that produced it
  bool enabled = true;
  std::uint32_t category_mask = kAllCategoriesMask;
  int hardware_threads = 0;
  std::vector<Unavailable> unavailable;
  std::vector<GpuDeviceInfo> gpus;
  std::map<std::string, std::string> metadata;

  bool operator==(const RunInfo&) const = default;
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
  SamplingInfo sampling;                   // line-level sampling: what ran
  SampleProfile profile;                   // sampled stacks (empty when sampling was off)

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
  // The categories (category_bit mask) whose events trace_events holds: all of them, except in the
  // alert monitor's own snapshots, which copy only those its analysis reads from the trace (the
  // window fields still cover every event of the window).
  std::uint32_t trace_categories = kAllCategoriesMask;

  std::vector<Alert> alerts;     // live alerts: pending, firing and recently resolved (docs/ALERTS.md)
  AlertDelivery alert_delivery;  // the alert webhook's counters

  std::vector<CustomMetric> custom_metrics;  // the program's own numbers, ascending by name
  const CustomMetric* metric(std::string_view name) const noexcept {
    for (const auto& m : custom_metrics)
      if (m.name == name) return &m;
    return nullptr;
  }

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

  bool operator==(const Snapshot&) const = default;
};

}  // namespace codeprof
