// System rules: GPU idle, busy or full; memory growth, slow-downs and spikes (from the trends);
// lock contention, I/O and other waiting; preemption, device synchronisation, and the profiler's
// own dropped events. docs/RULES.md documents each.
#include "analysis/rule_domains.hpp"

#include <algorithm>

#include "analysis/rule_helpers.hpp"
#include "common/number_format.hpp"

namespace codeprof::analysis {
namespace {

constexpr double kGpuIdleShare = 0.30;          // HTA / TF overview: idle time worth acting on
constexpr double kSyncShare = 0.10;             // HTA cuda_sync: synchronisation worth removing
// Involuntary switches per second per hardware thread: with CFS time slices of a few ms, an
// oversubscribed core sees a few hundred preemptions per second, an idle-enough one nearly none.
constexpr double kSwitchesPerHwThread = 100.0;
constexpr double kLargeLeakBytes = 64.0 * 1024 * 1024;  // growth over the run that is high priority on its own

std::optional<RuleFiring> gpu_idle(const Facts& f) {
  const GpuClass& g = f.classification.gpu;
  if (!g.available || g.source == GpuSource::None || g.idle_share < kGpuIdleShare) return std::nullopt;
  RuleFiring r;
  r.priority = g.idle_share >= 0.5 ? "high" : "medium";
  r.impact = g.idle_share;
  r.evidence = {ev("gpu_idle_share", g.idle_share, EvidenceUnit::Ratio), ev("gpu_mean_utilization", g.mean_utilization, EvidenceUnit::Percent)};
  const InputPipelineClass& in = f.classification.input;
  const bool input = in.level == InputBound::Highly || in.level == InputBound::Moderately;
  if (input) r.evidence.push_back(ev("input_share_of_step_time", in.input_share, EvidenceUnit::Ratio));
  r.values = {{"idle", common::format_percent(g.idle_share)},
              {"source", std::string(to_string(g.source))},
              {"cause", input ? "the steps wait for input (" + common::format_percent(in.input_share) +
                                    " of step time): fix the input pipeline first (input-bound-workers, input-prefetch)"
                              : "the host does not keep it fed: overlap host work with device work (non_blocking copies, "
                                "pinned memory), launch fewer, larger kernels (bigger batches, CUDA graphs, torch.compile)"}};
  return r;
}

std::optional<RuleFiring> gpu_low_utilization(const Facts& f) {
  const GpuClass& g = f.classification.gpu;
  if (!g.available || g.source == GpuSource::None || g.mean_utilization >= kGpuLowUtilization || g.idle_share >= kGpuIdleShare)
    return std::nullopt;
  RuleFiring r;
  r.impact = 1.0 - g.mean_utilization / 100.0;
  r.evidence = {ev("gpu_mean_utilization", g.mean_utilization, EvidenceUnit::Percent), ev("gpu_idle_share", g.idle_share, EvidenceUnit::Ratio)};
  r.values = {{"utilization", common::format_number(g.mean_utilization, 0) + " %"}};
  return r;
}

std::optional<RuleFiring> gpu_memory_near_limit(const Facts& f) {
  const GpuUsage* worst = nullptr;
  for (const GpuUsage& g : f.gpus)
    if (g.peak_memory_fraction >= kGpuMemoryNearLimit && (!worst || g.peak_memory_fraction > worst->peak_memory_fraction))
      worst = &g;
  if (!worst) return std::nullopt;
  RuleFiring r;
  r.impact = worst->peak_memory_fraction;
  r.evidence = {ev("gpu" + std::to_string(worst->index) + "_peak_memory", static_cast<double>(worst->peak_memory_bytes), EvidenceUnit::Bytes),
                ev("gpu" + std::to_string(worst->index) + "_memory_total", static_cast<double>(worst->memory_total_bytes), EvidenceUnit::Bytes),
                ev("gpu_peak_memory_fraction", worst->peak_memory_fraction, EvidenceUnit::Ratio)};
  r.values = {{"gpu", std::to_string(worst->index)}, {"peak", common::format_bytes(static_cast<double>(worst->peak_memory_bytes))},
              {"total", common::format_bytes(static_cast<double>(worst->memory_total_bytes))},
              {"fraction", common::format_percent(worst->peak_memory_fraction)}};
  return r;
}

std::optional<RuleFiring> memory_leak_suspected(const Facts& f) {
  const Trend* op_trend = nullptr;
  const Trend* rss_trend = nullptr;
  for (const Trend& t : f.trends) {
    if (t.kind != TrendKind::MemoryGrowth) continue;
    if (t.method.rfind("Theil-Sen", 0) == 0) {
      if (!rss_trend) rss_trend = &t;
    } else if (!op_trend) {
      op_trend = &t;
    }
  }
  if (!op_trend && !rss_trend) return std::nullopt;
  RuleFiring r;
  const bool rss_per_step = rss_trend && rss_trend->method.find("against steps") != std::string::npos;
  const std::string per = op_trend ? (f.steps.count > 0 ? "per step" : "per call") : (rss_per_step ? "per step" : "per second");
  std::string op;
  double total = 0.0;
  if (op_trend) {
    op = op_trend->operation;
    const OperationFacts* o = f.operation(op);
    const double balance = o && o->alloc_balance_bytes ? *o->alloc_balance_bytes : o && o->rss_delta_bytes ? *o->rss_delta_bytes : 0.0;
    total = balance;
    r.evidence.push_back(ev(f.steps.count > 0 ? "retained_bytes_per_step" : "retained_bytes_per_call", op_trend->magnitude, EvidenceUnit::Bytes, op));
    r.evidence.push_back(ev("retained_bytes", balance, EvidenceUnit::Bytes, op));
  }
  if (rss_trend) {
    if (op.empty()) op = rss_trend->operation;
    r.evidence.push_back(ev(rss_per_step ? "rss_growth_per_step" : "rss_growth_per_second", rss_trend->magnitude, EvidenceUnit::Bytes));
    total = std::max(total, rss_trend->magnitude * (rss_per_step ? static_cast<double>(f.steps.count) : f.wall_s));
  }
  r.priority = (rss_trend && op_trend) || total >= kLargeLeakBytes ? "high" : "medium";
  r.impact = 0.5 * kOpenCauseWeight;
  const Trend& lead = op_trend ? *op_trend : *rss_trend;
  r.values = {{"op", op.empty() ? "the process" : op},
              {"rate", common::format_bytes(lead.magnitude) + " " + per},
              {"description", lead.description}};
  return r;
}

std::optional<RuleFiring> slowdown_detected(const Facts& f) {
  for (const Trend& t : f.trends) {
    if (t.kind != TrendKind::Slowdown) continue;  // largest ratio first
    const OperationFacts* o = f.operation(t.operation);
    const double share = o ? o->self_share : 0.0;
    RuleFiring r;  // medium: the cause is open, and load from other processes can be one
    r.impact = share * kOpenCauseWeight;
    r.evidence = {ev("late_over_early_duration", t.magnitude, EvidenceUnit::Factor, t.operation), ev("onset", t.at_s, EvidenceUnit::Seconds, t.operation),
                  ev("self_time_share", share, EvidenceUnit::Ratio, t.operation)};
    r.values = {{"op", t.operation}, {"ratio", common::format_number(t.magnitude, 2) + "x"}, {"at", common::format_seconds(t.at_s)},
                {"description", t.description}};
    return r;
  }
  return std::nullopt;
}

std::optional<RuleFiring> latency_spikes(const Facts& f) {
  std::vector<const Trend*> spikes;
  for (const Trend& t : f.trends)
    if (t.kind == TrendKind::Spike) spikes.push_back(&t);
  if (spikes.empty()) return std::nullopt;
  const Trend& worst = *spikes.front();  // largest ratio first
  RuleFiring r;
  // Medium for a stall a user notices: >= 10x the p99 and >= 10 ms lost in one call.
  const OperationFacts* o = f.operation(worst.operation);
  const double p99_s = o ? ns_to_s(static_cast<double>(o->op->p99_ns)) : 0.0;
  const double lost_s = p99_s * (worst.magnitude - 1.0);
  r.priority = worst.magnitude >= 10.0 && lost_s >= 10e-3 ? "medium" : "low";
  r.impact = 0.0;
  std::string when;
  for (std::size_t i = 0; i < spikes.size() && i < 3; ++i) {
    r.evidence.push_back(ev("spike_over_p99", spikes[i]->magnitude, EvidenceUnit::Factor, spikes[i]->operation));
    when += (when.empty() ? "" : ", ") + common::format_seconds(spikes[i]->at_s);
  }
  r.evidence.push_back(ev("spikes", static_cast<double>(spikes.size()), EvidenceUnit::Count));
  r.values = {{"op", worst.operation}, {"count", std::to_string(spikes.size())}, {"when", when}, {"description", worst.description}};
  return r;
}

std::optional<RuleFiring> lock_contention(const Facts& f) {
  if (f.contended.empty()) return std::nullopt;
  const ContendedOperation& c = f.contended.front();
  const OperationFacts* o = f.operation(c.operation_id);
  if (!o) return std::nullopt;
  RuleFiring r;
  r.priority = c.efficiency_measured && c.waiting_share >= kLargeShare ? "high" : c.waiting_share >= kSmallShare ? "medium" : "low";
  r.impact = c.waiting_share;
  r.evidence = {ev("threads", static_cast<double>(c.threads), EvidenceUnit::Count, o->op->name),
                ev("calls_in_flight", c.concurrency, EvidenceUnit::Count, o->op->name),
                ev(c.efficiency_measured ? "waiting_fraction" : "waiting_fraction_estimated", c.wait_fraction, EvidenceUnit::Ratio, o->op->name),
                ev("mean_over_fastest_call", c.mean_over_min, EvidenceUnit::Factor, o->op->name),
                ev("waiting_share_of_thread_time", c.waiting_share, EvidenceUnit::Ratio, o->op->name)};
  r.values = {{"op", o->op->name}, {"threads", std::to_string(c.threads)}, {"wait", common::format_percent(c.wait_fraction)},
              {"mean", common::format_seconds(o->mean_s)}, {"min", common::format_seconds(static_cast<double>(o->op->min_ns) * 1e-9)},
              {"inflight", common::format_number(c.concurrency, 1)}};
  return r;
}

std::optional<RuleFiring> io_bound(const Facts& f) {
  const OperationFacts* best = nullptr;
  for (const auto& o : f.operations) {
    const double bytes = o.io_read_bytes.value_or(0.0) + o.io_write_bytes.value_or(0.0);
    if (bytes < kMinIoBytes || o.self_share < kSmallShare) continue;
    const bool waiting = o.cpu_efficiency ? *o.cpu_efficiency < kWaitingCpu
                                          : o.op->category == Category::Io && o.self_share >= kLargeShare;
    if (waiting && (!best || o.self_share > best->self_share)) best = &o;
  }
  if (!best) return std::nullopt;
  const double bytes = best->io_read_bytes.value_or(0.0) + best->io_write_bytes.value_or(0.0);
  RuleFiring r;
  r.priority = best->self_share >= 0.30 ? "high" : "medium";
  r.impact = best->self_share;
  r.evidence = {ev("io_bytes", bytes, EvidenceUnit::Bytes, best->op->name), ev("throughput", best->total_s > 0 ? bytes / best->total_s : 0.0, EvidenceUnit::BytesPerSecond, best->op->name),
                ev("self_time_share", best->self_share, EvidenceUnit::Ratio, best->op->name)};
  if (best->cpu_efficiency) r.evidence.push_back(ev("cpu_efficiency", *best->cpu_efficiency, EvidenceUnit::Ratio, best->op->name));
  r.values = {{"op", best->op->name}, {"bytes", common::format_bytes(bytes)}, {"time", common::format_seconds(best->total_s)},
              {"rate", common::format_bytes(best->total_s > 0 ? bytes / best->total_s : 0.0) + "/s"},
              {"share", common::format_percent(best->self_share)}};
  return r;
}

std::optional<RuleFiring> cpu_waiting(const Facts& f) {
  for (const auto& name : f.classification.cpu.waiting_operations) {  // largest self share first
    const OperationFacts* o = f.operation(name);
    if (!o || !o->cpu_efficiency || *o->cpu_efficiency >= kMostlyWaitingCpu || o->self_share < kNoticeableShare) continue;
    if (o->io_read_bytes.value_or(0.0) + o->io_write_bytes.value_or(0.0) >= kMinIoBytes) continue;  // io-bound
    bool contended = false;
    for (const auto& c : f.contended) contended = contended || c.operation_id == o->op->id;
    if (contended) continue;
    RuleFiring r;
    r.impact = o->self_share * (1.0 - *o->cpu_efficiency) * kOpenCauseWeight;
    r.evidence = {ev("cpu_efficiency", *o->cpu_efficiency, EvidenceUnit::Ratio, o->op->name), ev("self_time_share", o->self_share, EvidenceUnit::Ratio, o->op->name),
                  ev("mean_duration", o->mean_s, EvidenceUnit::Seconds, o->op->name)};
    r.values = {{"op", o->op->name}, {"efficiency", common::format_percent(*o->cpu_efficiency)}, {"share", common::format_percent(o->self_share)},
                {"waiting", common::format_seconds(o->total_s * (1.0 - *o->cpu_efficiency))}};
    return r;
  }
  return std::nullopt;
}

std::optional<RuleFiring> high_context_switches(const Facts& f) {
  const auto rate = involuntary_switches_per_second(f.snapshot);
  const int hw = hardware_threads(f);
  if (!rate || *rate < kSwitchesPerHwThread * hw) return std::nullopt;
  RuleFiring r;
  r.evidence = {ev("involuntary_context_switches", *rate, EvidenceUnit::PerSecond), ev("hardware_threads", hw, EvidenceUnit::Count)};
  std::size_t busy_threads = 0;
  for (const ThreadStats& t : f.snapshot.threads)
    if (f.wall_s > 0 && ns_to_s(static_cast<double>(t.top_level_ns)) >= 0.5 * f.wall_s) ++busy_threads;
  r.evidence.push_back(ev("busy_profiled_threads", static_cast<double>(busy_threads), EvidenceUnit::Count));
  r.values = {{"rate", common::format_number(*rate, 0)}, {"hw", std::to_string(hw)}, {"busy", std::to_string(busy_threads)}};
  return r;
}

std::optional<RuleFiring> excessive_synchronization(const Facts& f) {
  if (f.snapshot.sync_ns <= 0) return std::nullopt;
  const double sync_s = ns_to_s(static_cast<double>(f.snapshot.sync_ns));
  const double base = f.steps.count > 0 ? f.steps.step_time_s : f.wall_s;
  const double share = base > 0.0 ? sync_s / base : 0.0;
  if (share < kSyncShare) return std::nullopt;
  RuleFiring r;
  r.priority = share >= 0.30 ? "high" : "medium";
  r.impact = share;
  r.evidence = {ev("synchronization_time", sync_s, EvidenceUnit::Seconds), ev(f.steps.count > 0 ? "share_of_step_time" : "share_of_wall_time", share, EvidenceUnit::Ratio)};
  r.values = {{"time", common::format_seconds(sync_s)}, {"share", common::format_percent(share)}};
  return r;
}

std::optional<RuleFiring> profiler_events_dropped(const Facts& f) {
  const std::uint64_t dropped = f.snapshot.events_dropped;
  if (dropped == 0) return std::nullopt;
  const double all = static_cast<double>(dropped + f.snapshot.events_recorded);
  const double share = all > 0 ? static_cast<double>(dropped) / all : 1.0;
  RuleFiring r;
  r.priority = share >= 0.01 ? "medium" : "low";
  r.evidence = {ev("events_dropped", static_cast<double>(dropped), EvidenceUnit::Count), ev("dropped_share", share, EvidenceUnit::Ratio)};
  r.values = {{"dropped", common::format_count(dropped)}, {"share", common::format_percent(share)},
              {"buffer", std::to_string(f.config.buffer_events * 4)}};
  return r;
}

}  // namespace

const std::vector<Rule>& system_rules() {
  static const std::vector<Rule> rules = {
    {"gpu-idle", "system", "high", "The GPU is idle {idle} of the time",
     "GPU idle (utilisation < 5 % in a sample, or no kernel in a trace) >= 30 % of step time; Holistic Trace "
     "Analysis idle-time breakdown",
     "Keep the GPU fed: it was idle {idle} of the time ({source}); {cause}.", gpu_idle},
    {"gpu-low-utilization", "system", "medium", "GPU utilisation is low ({utilization})",
     "mean GPU utilisation < 50 % (codeprof's bound: below it the GPU waits more than it computes)",
     "Give the GPU more work per launch: larger batches, fused operators (torch.compile), CUDA graphs for small "
     "kernels, fewer host-device synchronisations; mean utilisation was {utilization}.",
     gpu_low_utilization},
    {"gpu-memory-near-limit", "system", "high", "GPU {gpu} memory is near its limit",
     "device memory used > 90 % of its total (codeprof's bound: under 10 % headroom for the caching allocator's peaks)",
     "Reduce device memory before it runs out: GPU {gpu} peaked at {peak} of {total} ({fraction}). Use smaller or "
     "accumulated batches, mixed precision, activation checkpointing, and free cached tensors.",
     gpu_memory_near_limit},
    {"memory-leak-suspected", "system", "high", "Memory grows steadily: leak suspected in {op}",
     "allocation balance >= 1 MiB and >= 1 KiB per call kept by the outermost scopes, or RSS rising with Kendall "
     "tau-b >= 0.6 by >= 16 MiB and >= 5 % after warm-up, still rising in the second half",
     "Find what {op} keeps: memory grows {rate} ({description}). Look for containers that only grow (history, "
     "caches without bounds), tensors kept with their graphs (loss instead of loss.item()), and objects captured "
     "across steps.",
     memory_leak_suspected},
    {"slowdown-detected", "system", "medium", "{op} slows down over the run ({ratio})",
     "median of window means in the last quarter >= 1.5x the first quarter, >= 75 % of late windows slower",
     "Find what accumulates in {op}: {description}. Typical causes are growing data structures, fragmentation, "
     "caches that stop fitting, thermal throttling or a leak.",
     slowdown_detected},
    {"latency-spikes", "system", "low", "{count} latency spikes, worst in {op}",
     "a call >= 3x its operation's p99 and >= 1 ms above it (>= 50 calls, p99 >= 100 us); medium from 10x and 10 ms lost",
     "Look at what happened at {when} into the run: {description}. Typical causes are garbage collection, page "
     "faults, checkpoint writes, other processes, or one-off lazy initialisation.",
     latency_spikes},
    {"lock-contention", "system", "high", "{threads} threads contend in {op}",
     ">= 2 threads, >= 20 calls, >= 1.1 calls in flight on average, mean >= 2x the fastest call and < 50 % CPU "
     "efficiency (or mean >= 3x the fastest without the CPU probe)",
     "Shorten or split the critical section in {op}: {threads} threads run it with {inflight} calls in flight, "
     "waiting {wait} of the time (mean {mean} vs fastest {min}). Hold the lock only around the shared update, "
     "shard the state per thread and merge, or use a lock-free queue.",
     lock_contention},
    {"io-bound", "io", "medium", "{op} waits on I/O",
     ">= 1 MiB of I/O, >= 5 % of the run, < 50 % CPU efficiency (io and cpu probes)",
     "Make I/O in {op} cheaper or overlap it: {bytes} in {time} ({rate}), {share} of the run mostly waiting. Read "
     "larger sequential blocks, read ahead asynchronously, keep data on local SSD or in memory, and compress less "
     "randomly accessed formats.",
     io_bound},
    {"cpu-waiting", "cpu", "medium", "{op} is mostly waiting, not computing",
     "CPU efficiency < 10 % in an operation with >= 10 % of the run, not I/O or lock bound",
     "Find what {op} waits for: only {efficiency} of its time is on the CPU, so {waiting} is spent blocked (sleep, "
     "network, a child process, a condition variable); make it asynchronous or overlap it with other work. It "
     "takes {share} of the run.",
     cpu_waiting},
    {"high-context-switches", "system", "low", "Threads are preempted often ({rate}/s)",
     ">= 100 involuntary context switches per second per hardware thread",
     "Use fewer busy threads than the {hw} hardware threads (set OMP_NUM_THREADS / torch.set_num_threads, loader "
     "workers) or move other load off the machine: {rate} involuntary switches per second; busy profiled "
     "threads: {busy}.",
     high_context_switches},
    {"excessive-synchronization", "system", "medium", "Device synchronisation takes {share} of step time",
     "device synchronisation >= 10 % of step (or run) time; Holistic Trace Analysis cuda_sync",
     "Remove host-device synchronisation from the step ({time}, {share}): avoid .item(), .cpu(), print of tensors "
     "and torch.cuda.synchronize() in the loop; accumulate metrics on the device and read them once per epoch.",
     excessive_synchronization},
    {"profiler-events-dropped", "system", "low", "The profiler dropped {dropped} events",
     "any dropped event (buffers full); medium from 1 %",
     "Events were lost to full buffers ({dropped} events, {share} dropped). The live recorder keeps every "
     "statistic and loses only raw trace events (the Chrome trace misses them); reports of versions that "
     "aggregated in a collector have incomplete numbers. Raise buffer.events_per_thread (e.g. to {buffer}) or "
     "the collector frequency, or trace fewer, coarser scopes.",
     profiler_events_dropped},
  };
  return rules;
}

}  // namespace codeprof::analysis
