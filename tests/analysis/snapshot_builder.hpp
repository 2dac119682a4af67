#pragma once
// Hand-made Snapshots for the analysis tests: operations with chosen counts and durations, call
// edges, threads, probe resources, timelines and time windows, without running anything.
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "codeprof/snapshot.hpp"

namespace codeprof::testing {

inline std::int64_t ns(double seconds) { return std::llround(seconds * 1e9); }
inline constexpr double MiB = 1024.0 * 1024.0;
// A constant series of n values (window statistics, trend inputs).
inline std::vector<double> repeat(double v, std::size_t n) { return std::vector<double>(n, v); }

class SnapshotBuilder {
 public:
  explicit SnapshotBuilder(double wall_s = 10.0, int hardware_threads = 8) {
    s_.run.wall_ns = ns(wall_s);
    s_.run.hardware_threads = hardware_threads;
  }

  // `count` calls of `mean_s` each (every percentile equal to the mean), spanning the whole run,
  // all on thread 0 and top-level until child()/on_threads() say otherwise.
  std::uint32_t op(const std::string& name, Category category, std::uint64_t count, double mean_s) {
    OperationStats o;
    o.id = static_cast<std::uint32_t>(s_.operations.size());
    o.name = name;
    o.category = category;
    o.count = count;
    const auto d = static_cast<std::uint64_t>(ns(mean_s));
    o.total_ns = d * count;
    o.self_ns = o.total_ns;
    o.min_ns = o.max_ns = o.p50_ns = o.p90_ns = o.p95_ns = o.p99_ns = d;
    o.mean_ns = static_cast<double>(d);
    o.first_seen_ns = 0;
    o.last_seen_ns = s_.run.wall_ns;
    s_.operations.push_back(o);
    threads_of_[o.id] = {0};
    return o.id;
  }

  OperationStats& at(std::uint32_t id) { return s_.operations.at(id); }
  Snapshot& snapshot() { return s_; }

  // Every call of `child` happens inside `parent` (parent's self time drops accordingly).
  void child(std::uint32_t parent, std::uint32_t child_id) {
    OperationStats& c = at(child_id);
    s_.call_tree.push_back({parent, child_id, c.count, c.total_ns});
    OperationStats& p = at(parent);
    p.self_ns = p.self_ns > c.total_ns ? p.self_ns - c.total_ns : 0;
  }
  void top(std::uint32_t id) { s_.call_tree.push_back({kRootOperation, id, at(id).count, at(id).total_ns}); }

  void on_threads(std::uint32_t id, std::vector<std::uint32_t> threads) { threads_of_[id] = std::move(threads); }
  void percentiles(std::uint32_t id, double min_s, double p95_s, double max_s) {
    OperationStats& o = at(id);
    o.min_ns = static_cast<std::uint64_t>(ns(min_s));
    o.p95_ns = o.p99_ns = static_cast<std::uint64_t>(ns(p95_s));
    o.max_ns = static_cast<std::uint64_t>(ns(max_s));
  }
  void seen(std::uint32_t id, double first_s, double last_s) {
    at(id).first_seen_ns = ns(first_s);
    at(id).last_seen_ns = ns(last_s);
  }

  void resource(std::uint32_t id, ProbeMetric m, std::int64_t total, std::uint64_t samples = 0) {
    ResourceStat& r = at(id).resources[index_of(m)];
    r.samples = samples ? samples : at(id).count;
    r.total = total;
    r.min = r.max = r.samples ? total / static_cast<std::int64_t>(r.samples) : 0;
  }
  void cpu_efficiency(std::uint32_t id, double efficiency) {
    resource(id, ProbeMetric::CpuTimeNs, std::llround(efficiency * static_cast<double>(at(id).total_ns)));
  }
  void allocations(std::uint32_t id, double bytes_per_call, double freed_per_call, double allocs_per_call = 1) {
    const double n = static_cast<double>(at(id).count);
    resource(id, ProbeMetric::AllocBytes, std::llround(bytes_per_call * n));
    resource(id, ProbeMetric::FreeBytes, std::llround(freed_per_call * n));
    resource(id, ProbeMetric::AllocCount, std::llround(allocs_per_call * n));
  }

  void timeline(const std::string& name, const std::string& unit, const std::vector<double>& t_s,
                const std::vector<double>& values) {
    TimelineSeries t;
    t.name = name;
    t.unit = unit;
    for (double x : t_s) t.t_ns.push_back(ns(x));
    t.values = values;
    s_.timelines.push_back(std::move(t));
  }
  // Regular samples every `interval_s` from 0.
  void timeline(const std::string& name, const std::string& unit, double interval_s, const std::vector<double>& values) {
    std::vector<double> t;
    for (std::size_t i = 0; i < values.size(); ++i) t.push_back(interval_s * static_cast<double>(i));
    timeline(name, unit, t, values);
  }

  // One window per mean, `width_s` wide, `calls` calls each.
  void windows(std::uint32_t id, const std::vector<double>& means_s, double width_s, std::uint64_t calls = 1) {
    OperationStats& o = at(id);
    o.series.clear();
    for (std::size_t i = 0; i < means_s.size(); ++i) {
      DurationWindow w;
      w.start_ns = ns(width_s * static_cast<double>(i));
      w.width_ns = ns(width_s);
      w.count = calls;
      w.total_ns = static_cast<std::uint64_t>(ns(means_s[i])) * calls;
      w.min_ns = w.max_ns = static_cast<std::uint64_t>(ns(means_s[i]));
      o.series.push_back(w);
    }
  }

  void gpu(int index, std::uint64_t memory_total_bytes) {
    s_.run.gpus.push_back({index, "Test GPU", memory_total_bytes});
  }

  // The Snapshot with per-thread statistics filled from on_threads().
  Snapshot build() {
    Snapshot out = s_;
    std::map<std::uint32_t, ThreadStats> threads;
    for (const auto& o : out.operations) {
      const auto& ts = threads_of_[o.id];
      for (std::uint32_t t : ts) {
        ThreadStats& th = threads[t];
        th.index = t;
        const auto n = static_cast<std::uint64_t>(ts.size());
        th.operations.push_back({o.id, o.count / n, o.total_ns / n, o.self_ns / n});
        th.events += o.count / n;
      }
    }
    for (auto& [i, t] : threads) out.threads.push_back(t);
    return out;
  }

 private:
  Snapshot s_;
  std::map<std::uint32_t, std::vector<std::uint32_t>> threads_of_;
};

}  // namespace codeprof::testing
