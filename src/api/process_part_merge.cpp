// merge_process_part: another process's statistics added into a Snapshot exactly. Everything
// additive adds (counts, totals, self times, histogram buckets, probe sums, call edges, per-thread
// counters); mean and standard deviation combine through their moments (Chan, Golub and LeVeque's
// pairwise update); percentiles are read again from the merged histogram, as the Aggregator reads
// them, so a merged p99 has the same 0.78 % bound as a live one.
#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "codeprof/call_site.hpp"
#include "codeprof/process_parts.hpp"
#include "core/log_histogram.hpp"

namespace codeprof {
namespace {

// Sample variance's sum of squared deviations, back from the reported standard deviation.
double moment2(const OperationStats& op) {
  return op.count > 1 ? op.stddev_ns * op.stddev_ns * static_cast<double>(op.count - 1) : 0.0;
}

std::vector<HistogramBucket> merge_histograms(const std::vector<HistogramBucket>& a,
                                              const std::vector<HistogramBucket>& b, core::LogHistogram& out) {
  for (const auto* list : {&a, &b})
    for (const HistogramBucket& bucket : *list) out.add_bucket(core::LogHistogram::bucket_index(bucket.lower_ns), bucket.count);
  return out.buckets();
}

// Windows of both series on one grid whose width is the larger of the two, doubled until the
// merged series fits the live series' bound. A window lands where its start falls.
std::vector<DurationWindow> merge_series(const std::vector<DurationWindow>& a, const std::vector<DurationWindow>& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  constexpr std::size_t kMaxWindows = 256;
  std::int64_t width = std::max<std::int64_t>({a.front().width_ns, b.front().width_ns, 1});
  const std::int64_t first = std::min(a.front().start_ns, b.front().start_ns);
  const std::int64_t last = std::max(a.back().start_ns, b.back().start_ns);
  auto floor_to = [](std::int64_t v, std::int64_t w) { return v - ((v % w) + w) % w; };
  while ((floor_to(last, width) - floor_to(first, width)) / width + 1 > static_cast<std::int64_t>(kMaxWindows)) width *= 2;
  std::map<std::int64_t, DurationWindow> grid;
  for (const auto* list : {&a, &b}) {
    for (const DurationWindow& w : *list) {
      if (w.count == 0) continue;
      const std::int64_t start = floor_to(w.start_ns, width);
      DurationWindow& m = grid[start];
      if (m.count == 0) {
        m.start_ns = start;
        m.width_ns = width;
        m.min_ns = w.min_ns;
      }
      m.min_ns = std::min(m.min_ns, w.min_ns);
      m.max_ns = std::max(m.max_ns, w.max_ns);
      m.count += w.count;
      m.total_ns += w.total_ns;
    }
  }
  std::vector<DurationWindow> out;
  out.reserve(grid.size());
  for (auto& [start, w] : grid) out.push_back(w);
  return out;
}

void merge_operation(OperationStats& into, const OperationStats& part) {
  const double n1 = static_cast<double>(into.count), n2 = static_cast<double>(part.count);
  const double m2 = moment2(into) + moment2(part) +
                    (n1 + n2 > 0 ? (part.mean_ns - into.mean_ns) * (part.mean_ns - into.mean_ns) * n1 * n2 / (n1 + n2) : 0.0);
  const std::uint64_t count = into.count + part.count;
  into.mean_ns = count ? (into.mean_ns * n1 + part.mean_ns * n2) / static_cast<double>(count) : 0.0;
  into.stddev_ns = count > 1 ? std::sqrt(std::max(0.0, m2) / static_cast<double>(count - 1)) : 0.0;
  into.min_ns = into.count ? std::min(into.min_ns, part.min_ns) : part.min_ns;
  into.max_ns = std::max(into.max_ns, part.max_ns);
  into.first_seen_ns = into.count ? std::min(into.first_seen_ns, part.first_seen_ns) : part.first_seen_ns;
  into.last_seen_ns = into.count ? std::max(into.last_seen_ns, part.last_seen_ns) : part.last_seen_ns;
  into.count = count;
  into.total_ns += part.total_ns;
  into.self_ns += part.self_ns;

  core::LogHistogram histogram;
  into.histogram = merge_histograms(into.histogram, part.histogram, histogram);
  auto pct = [&](double q) { return std::clamp(histogram.percentile(q), into.min_ns, into.max_ns); };
  into.p50_ns = pct(0.50);
  into.p90_ns = pct(0.90);
  into.p95_ns = pct(0.95);
  into.p99_ns = pct(0.99);

  into.series = merge_series(into.series, part.series);

  const std::size_t kept = std::max<std::size_t>({into.slowest.size(), part.slowest.size(), 8});
  into.slowest.insert(into.slowest.end(), part.slowest.begin(), part.slowest.end());
  std::stable_sort(into.slowest.begin(), into.slowest.end(),
                   [](const SlowCall& x, const SlowCall& y) { return x.duration_ns > y.duration_ns; });
  if (into.slowest.size() > kept) into.slowest.resize(kept);

  for (std::size_t m = 0; m < kProbeMetricCount; ++m) {
    ResourceStat& r = into.resources[m];
    const ResourceStat& p = part.resources[m];
    if (p.samples == 0) continue;
    r.min = r.samples ? std::min(r.min, p.min) : p.min;
    r.max = r.samples ? std::max(r.max, p.max) : p.max;
    r.samples += p.samples;
    r.total += p.total;
  }
}

}  // namespace

void merge_process_part(Snapshot& into, const Snapshot& part, std::string_view label) {
  // Times of the part are relative to its own origin.
  const std::int64_t shift =
      into.run.start_unix_ns && part.run.start_unix_ns ? part.run.start_unix_ns - into.run.start_unix_ns : 0;

  // Operation ids: the receiving side's, by (name, category).
  std::map<std::pair<std::string, Category>, std::size_t> by_key;
  for (std::size_t i = 0; i < into.operations.size(); ++i)
    by_key.emplace(std::make_pair(into.operations[i].name, into.operations[i].category), i);
  std::map<std::uint32_t, std::uint32_t> id_of;  // part id -> into id

  // Threads of the part become threads of their own after the receiver's.
  std::uint32_t next_thread = 0;
  for (const ThreadStats& t : into.threads) next_thread = std::max(next_thread, t.index + 1);
  std::map<std::uint32_t, std::uint32_t> thread_of;
  for (const ThreadStats& t : part.threads) thread_of[t.index] = next_thread++;
  auto map_thread = [&](std::uint32_t index) {
    const auto it = thread_of.find(index);
    if (it != thread_of.end()) return it->second;
    return thread_of[index] = next_thread++;
  };

  for (const OperationStats& source : part.operations) {
    OperationStats op = source;
    op.first_seen_ns += shift;
    op.last_seen_ns += shift;
    for (DurationWindow& w : op.series) w.start_ns += shift;
    for (SlowCall& c : op.slowest) {
      c.start_ns += shift;
      c.thread_index = map_thread(c.thread_index);
    }
    const auto key = std::make_pair(op.name, op.category);
    const auto found = by_key.find(key);
    if (found != by_key.end()) {
      id_of[source.id] = into.operations[found->second].id;
      merge_operation(into.operations[found->second], op);
    } else {
      op.id = register_site(op.name, op.category, op.file.c_str(), op.line).id;
      id_of[source.id] = op.id;
      by_key.emplace(key, into.operations.size());
      into.operations.push_back(std::move(op));
    }
  }
  std::sort(into.operations.begin(), into.operations.end(),
            [](const OperationStats& a, const OperationStats& b) { return a.id < b.id; });

  auto map_op = [&](std::uint32_t id) {
    if (id == kRootOperation) return kRootOperation;
    const auto it = id_of.find(id);
    return it == id_of.end() ? id : it->second;
  };
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::size_t> edge_at;
  for (std::size_t i = 0; i < into.call_tree.size(); ++i)
    edge_at.emplace(std::make_pair(into.call_tree[i].parent_id, into.call_tree[i].child_id), i);
  for (const CallEdge& e : part.call_tree) {
    const auto key = std::make_pair(map_op(e.parent_id), map_op(e.child_id));
    const auto it = edge_at.find(key);
    if (it != edge_at.end()) {
      into.call_tree[it->second].count += e.count;
      into.call_tree[it->second].total_ns += e.total_ns;
    } else {
      edge_at.emplace(key, into.call_tree.size());
      into.call_tree.push_back({key.first, key.second, e.count, e.total_ns});
    }
  }
  std::sort(into.call_tree.begin(), into.call_tree.end(), [](const CallEdge& a, const CallEdge& b) {
    return a.parent_id != b.parent_id ? a.parent_id < b.parent_id : a.child_id < b.child_id;
  });

  // A worker's main thread carries the worker's name; its other threads add their own.
  std::size_t busiest = 0;
  for (std::size_t i = 0; i < part.threads.size(); ++i)
    if (part.threads[i].events > part.threads[busiest].events) busiest = i;
  for (std::size_t i = 0; i < part.threads.size(); ++i) {
    ThreadStats t = part.threads[i];
    t.index = map_thread(t.index);
    const bool main_thread = part.threads.size() == 1 || t.os_tid == static_cast<std::uint64_t>(part.run.pid) ||
                             (i == busiest && std::none_of(part.threads.begin(), part.threads.end(), [&](const ThreadStats& x) {
                                return x.os_tid == static_cast<std::uint64_t>(part.run.pid);
                              }));
    t.name = main_thread || t.name.empty() ? std::string(label) : std::string(label) + " / " + t.name;
    for (ThreadOperationStats& o : t.operations) o.operation_id = map_op(o.operation_id);
    into.threads.push_back(std::move(t));
  }

  for (const TraceEvent& source : part.trace_events) {
    TraceEvent e = source;
    e.operation_id = map_op(e.operation_id);
    e.thread_index = map_thread(e.thread_index);
    e.start_ns += shift;
    into.trace_events.push_back(e);
  }

  for (const Unavailable& u : part.run.unavailable) {
    const bool known = std::any_of(into.run.unavailable.begin(), into.run.unavailable.end(),
                                   [&](const Unavailable& x) { return x.what == u.what; });
    if (!known) into.run.unavailable.push_back({u.what, u.reason + " (in " + std::string(label) + ")"});
  }

  into.events_recorded += part.events_recorded;
  into.events_dropped += part.events_dropped;
  into.events_recorded_total += part.events_recorded_total;
  into.events_dropped_total += part.events_dropped_total;
  into.trace_events_dropped += part.trace_events_dropped;
  into.events_misnested += part.events_misnested;
}

}  // namespace codeprof
