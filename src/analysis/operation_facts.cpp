#include "analysis/operation_facts.hpp"

#include <algorithm>
#include <limits>

namespace codeprof::analysis {

double run_wall_seconds(const Snapshot& s) {
  if (s.run.wall_ns > 0) return ns_to_s(static_cast<double>(s.run.wall_ns));
  // Hand-made or partial snapshots: the span the operations cover.
  std::int64_t first = std::numeric_limits<std::int64_t>::max();
  std::int64_t last = std::numeric_limits<std::int64_t>::min();
  for (const auto& op : s.operations) {
    if (op.count == 0) continue;
    first = std::min(first, op.first_seen_ns);
    last = std::max(last, op.last_seen_ns);
  }
  return last > first ? ns_to_s(static_cast<double>(last - first)) : 0.0;
}

std::vector<OperationFacts> compute_operation_facts(const Snapshot& s, double wall_s) {
  std::vector<OperationFacts> out;
  out.reserve(s.operations.size());
  const ThreadTimes thread_times(s);
  for (const auto& op : s.operations) {
    OperationFacts f;
    f.op = &op;
    f.mean_s = ns_to_s(op.mean_ns);
    f.p95_s = ns_to_s(static_cast<double>(op.p95_ns));
    f.total_s = ns_to_s(static_cast<double>(op.total_ns));
    f.self_s = ns_to_s(static_cast<double>(op.self_ns));
    f.self_share = wall_s > 0.0 ? std::clamp(f.self_s / wall_s, 0.0, 1.0) : 0.0;

    const ResourceStat& cpu = op.resource(ProbeMetric::CpuTimeNs);
    const double measured_ns = op.mean_ns * static_cast<double>(cpu.samples);
    if (cpu.samples > 0 && measured_ns > 0.0)
      f.cpu_efficiency = std::clamp(static_cast<double>(cpu.total) / measured_ns, 0.0, 1.0);

    const ResourceStat& alloc = op.resource(ProbeMetric::AllocBytes);
    const ResourceStat& freed = op.resource(ProbeMetric::FreeBytes);
    const ResourceStat& allocs = op.resource(ProbeMetric::AllocCount);
    if (alloc.samples > 0) {
      f.alloc_balance_bytes = static_cast<double>(alloc.total) - static_cast<double>(freed.total);
      f.alloc_bytes_per_call = alloc.mean();
    }
    if (allocs.samples > 0) f.allocs_per_call = allocs.mean();
    const ResourceStat& rss = op.resource(ProbeMetric::RssDeltaBytes);
    if (rss.samples > 0) f.rss_delta_bytes = static_cast<double>(rss.total);
    const ResourceStat& rd = op.resource(ProbeMetric::IoReadBytes);
    if (rd.samples > 0) f.io_read_bytes = static_cast<double>(rd.total);
    const ResourceStat& wr = op.resource(ProbeMetric::IoWriteBytes);
    if (wr.samples > 0) f.io_write_bytes = static_cast<double>(wr.total);
    const ResourceStat& gpu = op.resource(ProbeMetric::GpuTimeNs);
    if (gpu.samples > 0) f.gpu_time_s = ns_to_s(static_cast<double>(gpu.total));

    f.threads = thread_times.threads(op.id);
    const std::int64_t span = op.last_seen_ns - op.first_seen_ns;
    if (span > 0) f.concurrency = static_cast<double>(op.total_ns) / static_cast<double>(span);
    out.push_back(f);
  }
  return out;
}

double thread_fraction(const Snapshot& s, std::uint32_t id, const std::vector<std::uint32_t>& threads) {
  std::uint64_t on = 0, all = 0;
  for (const auto& t : s.threads)
    for (const auto& to : t.operations) {
      if (to.operation_id != id) continue;
      all += to.total_ns;
      if (std::find(threads.begin(), threads.end(), t.index) != threads.end()) on += to.total_ns;
    }
  if (all == 0 || threads.empty()) return 1.0;
  return static_cast<double>(on) / static_cast<double>(all);
}

ThreadTimes::ThreadTimes(const Snapshot& s) {
  for (const auto& t : s.threads)
    for (const auto& to : t.operations)
      if (to.count > 0) by_operation_[to.operation_id].emplace_back(t.index, to.total_ns);
}

std::size_t ThreadTimes::threads(std::uint32_t id) const {
  const auto it = by_operation_.find(id);
  return it == by_operation_.end() ? 0 : it->second.size();
}

double ThreadTimes::fraction_on(std::uint32_t id, const std::vector<std::uint32_t>& threads) const {
  const auto it = by_operation_.find(id);
  if (it == by_operation_.end() || threads.empty()) return 1.0;
  std::uint64_t on = 0, all = 0;
  for (const auto& [thread, total] : it->second) {
    all += total;
    if (std::find(threads.begin(), threads.end(), thread) != threads.end()) on += total;
  }
  return all ? static_cast<double>(on) / static_cast<double>(all) : 1.0;
}

const OperationStats* operation_by_id(const Snapshot& s, std::uint32_t id) noexcept {
  const auto it = std::lower_bound(s.operations.begin(), s.operations.end(), id,
                                   [](const OperationStats& op, std::uint32_t v) { return op.id < v; });
  if (it != s.operations.end() && it->id == id) return &*it;
  return s.find(id);  // not sorted after all: look at every one
}

}  // namespace codeprof::analysis
