#include "analysis/classification.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/number_format.hpp"

namespace codeprof::analysis {
namespace {

// Calls in flight on average (total time / active span) for "several threads at once". An unfair
// mutex lets one thread re-acquire many times while the others wait in one long call each, so
// the average stays low even under heavy contention (1.2-2.9 measured for 4 threads).
constexpr double kMinCallsInFlight = 1.1;

// "gpu3_utilization_percent" with suffix "_utilization_percent" -> 3.
std::optional<int> gpu_index(const std::string& name, std::string_view suffix) {
  if (name.size() <= 3 + suffix.size() || name.compare(0, 3, "gpu") != 0) return std::nullopt;
  if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return std::nullopt;
  const std::string digits = name.substr(3, name.size() - 3 - suffix.size());
  if (digits.empty() || digits.size() > 4 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return std::nullopt;
  return std::stoi(digits);
}

// Samples inside the steps' time range when steps are known (and leave at least two samples).
std::vector<double> values_in_steps(const TimelineSeries& s, const StepFacts& steps) {
  std::vector<double> in;
  if (steps.count > 0 && steps.last_end_ns > steps.first_start_ns)
    for (std::size_t i = 0; i < s.values.size() && i < s.t_ns.size(); ++i)
      if (s.t_ns[i] >= steps.first_start_ns && s.t_ns[i] <= steps.last_end_ns) in.push_back(s.values[i]);
  return in.size() >= 2 ? in : s.values;
}

}  // namespace

std::vector<GpuUsage> gpu_usage(const Snapshot& s, const StepFacts& steps, double wall_s) {
  std::map<int, GpuUsage> by_index;
  auto entry = [&](int index) -> GpuUsage& {
    GpuUsage& g = by_index[index];
    g.index = index;
    return g;
  };
  for (const TimelineSeries& series : s.timelines) {
    if (series.values.empty()) continue;
    if (const auto idx = gpu_index(series.name, "_utilization_percent")) {
      const auto v = values_in_steps(series, steps);
      GpuUsage& g = entry(*idx);
      double sum = 0.0;
      std::size_t idle = 0;
      for (double x : v) {
        sum += x;
        if (x < kGpuIdleUtilizationPercent) ++idle;
      }
      g.mean_utilization = sum / static_cast<double>(v.size());
      g.idle_share = static_cast<double>(idle) / static_cast<double>(v.size());
      g.source = GpuSource::Sampler;
    } else if (const auto mi = gpu_index(series.name, "_memory_used_bytes")) {
      GpuUsage& g = entry(*mi);
      if (g.source == GpuSource::None) {
        g.mean_utilization = -1.0;
        g.idle_share = -1.0;
      }
      g.peak_memory_bytes = static_cast<std::uint64_t>(std::max(0.0, *std::max_element(series.values.begin(), series.values.end())));
    }
  }
  // Trace input: device busy time against step time (or the run's wall time).
  // Per device: the whole-device entry (stream -1), else its busiest stream.
  std::map<int, const DeviceActivity*> busiest;
  for (const DeviceActivity& d : s.devices) {
    const DeviceActivity*& b = busiest[d.device];
    const bool whole = d.stream == -1;
    if (!b || (whole && b->stream != -1) || (whole == (b->stream == -1) && d.busy_ns > b->busy_ns)) b = &d;
  }
  for (const auto& [device, pick] : busiest) {
    const DeviceActivity& d = *pick;
    GpuUsage& g = entry(device);
    if (g.source == GpuSource::Sampler) continue;  // sampled utilisation wins
    const bool in_steps = steps.count > 0 && steps.step_time_s > 0.0;
    const double denom = in_steps ? steps.step_time_s : wall_s;
    const double busy = ns_to_s(static_cast<double>(in_steps ? d.busy_in_steps_ns : d.busy_ns));
    if (denom <= 0.0) continue;
    const double util = std::clamp(busy / denom, 0.0, 1.0);
    g.mean_utilization = util * 100.0;
    g.idle_share = 1.0 - util;
    g.source = GpuSource::Trace;
  }
  for (const GpuDeviceInfo& info : s.run.gpus) {
    const auto it = by_index.find(info.index);
    if (it == by_index.end()) continue;
    it->second.memory_total_bytes = info.memory_total_bytes;
    if (info.memory_total_bytes > 0)
      it->second.peak_memory_fraction =
          static_cast<double>(it->second.peak_memory_bytes) / static_cast<double>(info.memory_total_bytes);
  }
  std::vector<GpuUsage> out;
  for (auto& [i, g] : by_index) out.push_back(g);
  return out;
}

GpuClass classify_gpu(const std::vector<GpuUsage>& gpus) {
  GpuClass c;
  double util = 0.0, idle = 0.0;
  std::size_t measured = 0;
  for (const GpuUsage& g : gpus) {
    c.available = true;
    c.peak_memory_fraction = std::max(c.peak_memory_fraction, g.peak_memory_fraction);
    if (g.mean_utilization < 0.0) continue;
    util += g.mean_utilization;
    idle += g.idle_share;
    ++measured;
    if (c.source == GpuSource::None) c.source = g.source;
    else if (c.source != g.source) c.source = GpuSource::SamplerAndTrace;
  }
  if (measured) {
    c.mean_utilization = util / static_cast<double>(measured);
    c.idle_share = idle / static_cast<double>(measured);
  }
  return c;
}

std::vector<ContendedOperation> find_contention(const Snapshot& s, const std::vector<OperationFacts>& ops, double wall_s) {
  (void)s;
  std::vector<ContendedOperation> out;
  for (const OperationFacts& f : ops) {
    const OperationStats& op = *f.op;
    // Many calls, on several threads at once, and calls much slower than the uncontended fastest.
    if (f.threads < 2 || op.count < 20 || f.concurrency < kMinCallsInFlight || op.min_ns == 0) continue;
    const double mean_over_min = op.mean_ns / static_cast<double>(op.min_ns);
    ContendedOperation c;
    c.operation_id = op.id;
    c.threads = f.threads;
    c.concurrency = f.concurrency;
    c.mean_over_min = mean_over_min;
    if (f.cpu_efficiency) {
      if (*f.cpu_efficiency >= 0.5 || mean_over_min < 2.0) continue;
      c.efficiency_measured = true;
      c.wait_fraction = 1.0 - *f.cpu_efficiency;
    } else {
      if (mean_over_min < 3.0) continue;
      c.wait_fraction = 1.0 - 1.0 / mean_over_min;
    }
    const double thread_time = wall_s * static_cast<double>(f.threads);
    c.waiting_share = thread_time > 0.0 ? std::min(1.0, f.total_s * c.wait_fraction / thread_time) : 0.0;
    out.push_back(c);
  }
  std::sort(out.begin(), out.end(), [](const ContendedOperation& a, const ContendedOperation& b) {
    return a.waiting_share != b.waiting_share ? a.waiting_share > b.waiting_share : a.operation_id < b.operation_id;
  });
  return out;
}

std::optional<double> involuntary_switches_per_second(const Snapshot& s) {
  const TimelineSeries* t = s.timeline("ctx_switches_involuntary");
  if (!t) t = s.timeline("ctx_switches_involuntary_per_s");
  if (!t || t->values.size() < 2 || t->t_ns.size() != t->values.size()) return std::nullopt;
  const double span_s = ns_to_s(static_cast<double>(t->t_ns.back() - t->t_ns.front()));
  if (span_s <= 0.0) return std::nullopt;
  if (t->unit.find("per_s") != std::string::npos) {
    double sum = 0.0;
    for (double v : t->values) sum += v;
    return sum / static_cast<double>(t->values.size());
  }
  // A counter since process start (non-decreasing) or counts per sample interval.
  if (std::is_sorted(t->values.begin(), t->values.end())) return (t->values.back() - t->values.front()) / span_s;
  double sum = 0.0;
  for (std::size_t i = 1; i < t->values.size(); ++i) sum += t->values[i];
  return sum / span_s;
}

CpuClass classify_cpu(const Snapshot& s, const std::vector<OperationFacts>& ops,
                      const std::vector<ContendedOperation>& contended) {
  CpuClass c;
  double cpu = 0.0, wall = 0.0;
  for (const OperationFacts& f : ops) {
    if (!f.cpu_efficiency) continue;
    const double measured = f.op->mean_ns * static_cast<double>(f.op->resource(ProbeMetric::CpuTimeNs).samples);
    cpu += *f.cpu_efficiency * measured;
    wall += measured;
  }
  c.mean_efficiency = wall > 0.0 ? cpu / wall : -1.0;
  c.involuntary_switches_per_s = involuntary_switches_per_second(s).value_or(0.0);
  c.contention_suspected = !contended.empty();
  std::vector<const OperationFacts*> waiting;
  for (const OperationFacts& f : ops)
    if (f.cpu_efficiency && *f.cpu_efficiency < 0.5 && f.self_share >= 0.05) waiting.push_back(&f);
  std::sort(waiting.begin(), waiting.end(), [](const OperationFacts* a, const OperationFacts* b) {
    return a->self_share != b->self_share ? a->self_share > b->self_share : a->op->id < b->op->id;
  });
  for (const OperationFacts* f : waiting) c.waiting_operations.push_back(f->op->name);
  return c;
}

std::string summarize(const Classification& c) {
  std::string out;
  if (c.input.level == InputBound::Unknown) out = "input pipeline: unknown (no steps found)";
  else
    out = "input pipeline: " +
          (c.input.level == InputBound::Not ? std::string("not input-bound") : std::string(to_string(c.input.level)) + " input-bound") +
          " (" + common::format_percent(c.input.input_share) + " of step time over " + common::format_count(c.input.steps) + " steps)";
  if (c.gpu.available)
    out += "; GPU: " + common::format_number(c.gpu.mean_utilization, 0) + " % utilised, idle " + common::format_percent(c.gpu.idle_share) +
           (c.gpu.peak_memory_fraction > 0.0 ? ", memory peak " + common::format_percent(c.gpu.peak_memory_fraction) : "");
  else
    out += "; GPU: no data";
  if (c.cpu.mean_efficiency >= 0.0) out += "; CPU efficiency " + common::format_percent(c.cpu.mean_efficiency);
  if (c.cpu.contention_suspected) out += "; lock contention suspected";
  return out;
}

}  // namespace codeprof::analysis
