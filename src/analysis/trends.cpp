#include "analysis/trends.hpp"

#include <algorithm>
#include <map>

#include "analysis/call_tree.hpp"
#include "analysis/robust_stats.hpp"
#include "analysis/text_format.hpp"

namespace codeprof::analysis {
namespace {

constexpr std::size_t kMinWindows = 8;        // windows needed to compare early and late calls
constexpr std::uint64_t kMinCalls = 20;
constexpr double kMinSlowdownS = 100e-6;      // ignore slow-downs of a few microseconds
constexpr double kSteadyShare = 0.75;         // share of late windows that must be slower
constexpr std::uint64_t kMinSpikeCalls = 50;  // below this, p99 is one of the few slowest calls
constexpr double kMinSpikeExcessS = 1e-3;
constexpr std::size_t kSpikesPerOperation = 3;
constexpr std::size_t kMaxSpikes = 20;

// Memory growth: RSS after the first quarter of the run (warm-up allocates model and caches).
constexpr double kWarmupShare = 0.25;
constexpr std::size_t kMinRssSamples = 8;
constexpr double kMinKendallTau = 0.6;      // steady: most pairs of samples rise with time
constexpr double kMinRssGrowthBytes = 16.0 * 1024 * 1024;
constexpr double kMinRssGrowthShare = 0.05;
constexpr double kMinLeakBalanceBytes = 1024.0 * 1024;
constexpr double kMinLeakPerCallBytes = 1024.0;
constexpr std::uint64_t kMinLeakCalls = 5;
constexpr double kMinRssPerCallBytes = 64.0 * 1024;
constexpr std::size_t kMaxPairwisePoints = 300;  // bounds the quadratic Theil-Sen and tau

const char* const kSlowdownMethod =
    "median of window means, first vs last quarter of the operation's time windows";

}  // namespace

std::vector<Trend> find_slowdowns(const Snapshot& s) {
  std::vector<Trend> out;
  for (const auto& op : s.operations) {
    if (op.count < kMinCalls || op.series.size() < kMinWindows) continue;
    std::vector<double> means;
    for (const DurationWindow& w : op.series)
      if (w.count) means.push_back(ns_to_s(static_cast<double>(w.total_ns) / static_cast<double>(w.count)));
    if (means.size() < kMinWindows) continue;
    const std::size_t q = std::max<std::size_t>(2, means.size() / 4);
    const double early = median(std::vector<double>(means.begin(), means.begin() + static_cast<std::ptrdiff_t>(q)));
    const double late = median(std::vector<double>(means.end() - static_cast<std::ptrdiff_t>(q), means.end()));
    if (early <= 0.0 || late < kSlowdownRatio * early || late - early < kMinSlowdownS) continue;
    std::size_t slower = 0;
    for (std::size_t i = means.size() - q; i < means.size(); ++i)
      if (means[i] > early) ++slower;
    if (static_cast<double>(slower) < kSteadyShare * static_cast<double>(q)) continue;
    // Onset: the first window from which >= 75 % of the windows lie above the midpoint.
    const double mid = (early + late) / 2.0;
    std::size_t onset = means.size() - q;
    for (std::size_t i = 0; i < means.size(); ++i) {
      std::size_t above = 0;
      for (std::size_t j = i; j < means.size(); ++j)
        if (means[j] >= mid) ++above;
      if (means[i] >= mid && static_cast<double>(above) >= kSteadyShare * static_cast<double>(means.size() - i)) {
        onset = i;
        break;
      }
    }
    // Map the onset back to the windows that hold calls.
    std::size_t k = 0;
    std::int64_t onset_ns = op.series.front().start_ns;
    for (const DurationWindow& w : op.series)
      if (w.count && k++ == onset) onset_ns = w.start_ns;
    Trend t;
    t.kind = "slowdown";
    t.operation = op.name;
    t.magnitude = late / early;
    t.at_s = ns_to_s(static_cast<double>(onset_ns));
    t.method = kSlowdownMethod;
    t.description = op.name + " slowed down " + format_number(t.magnitude, 2) + "x: median window mean " +
                    format_seconds(early) + " early vs " + format_seconds(late) + " late (" +
                    std::to_string(means.size()) + " windows), from about " + format_seconds(t.at_s) + " into the run";
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<Trend> find_memory_growth(const Snapshot& s, const std::vector<OperationFacts>& ops, const StepFacts& steps) {
  std::vector<Trend> out;
  // Steps per second over the steps' time range converts a rate per second into one per step.
  const double steps_span_s = ns_to_s(static_cast<double>(steps.last_end_ns - steps.first_start_ns));
  const double steps_per_s = steps.count > 0 && steps_span_s > 0.0 ? static_cast<double>(steps.count) / steps_span_s : 0.0;

  // Operations that keep memory call after call. With allocation hooks: the allocation balance,
  // counted only when nobody frees it elsewhere (the outermost scopes' net balance holds at least
  // half of it). Without usable hooks: the sum of the operation's per-call RSS deltas.
  const CallTree tree(s);
  double net_top_level = 0.0;
  for (const OperationFacts& f : ops) {
    if (!f.alloc_balance_bytes) continue;
    bool top = tree.parents(f.op->id).empty();
    for (const CallEdge* e : tree.parents(f.op->id))
      if (e->parent_id == kRootOperation) top = true;
    if (top) net_top_level += *f.alloc_balance_bytes;
  }
  struct Candidate {
    const OperationFacts* f;
    double retained;  // bytes over the run
    double per_call;
  };
  auto alloc_candidates = [&] {
    std::vector<Candidate> found;
    for (const OperationFacts& f : ops) {
      if (!f.alloc_balance_bytes || f.op->count < kMinLeakCalls) continue;
      const double balance = *f.alloc_balance_bytes;
      const double per_call = balance / static_cast<double>(f.op->resource(ProbeMetric::AllocBytes).samples);
      if (balance >= kMinLeakBalanceBytes && per_call >= kMinLeakPerCallBytes && net_top_level >= 0.5 * balance)
        found.push_back({&f, balance, per_call});
    }
    return found;
  };
  auto rss_candidates = [&] {
    std::vector<Candidate> found;
    for (const OperationFacts& f : ops) {
      if (!f.rss_delta_bytes || f.op->count < kMinLeakCalls) continue;
      const double per_call = f.op->resource(ProbeMetric::RssDeltaBytes).mean();
      if (*f.rss_delta_bytes >= kMinRssGrowthBytes && per_call >= kMinRssPerCallBytes)
        found.push_back({&f, *f.rss_delta_bytes, per_call});
    }
    return found;
  };
  std::vector<Candidate> candidates = alloc_candidates();
  const bool by_alloc = !candidates.empty();
  if (!by_alloc) candidates = rss_candidates();
  // Keep the innermost operation that holds the memory: drop one whose direct child explains it.
  std::vector<Candidate> leaking;
  for (const Candidate& c : candidates) {
    bool child_explains = false;
    for (const CallEdge* e : tree.children(c.f->op->id))
      for (const Candidate& d : candidates)
        if (d.f->op->id == e->child_id && d.f != c.f && d.retained >= 0.8 * c.retained) child_explains = true;
    if (!child_explains) leaking.push_back(c);
  }
  std::string leaking_op;
  double leaking_retained = 0.0;
  for (const Candidate& c : leaking) {
    const OperationStats& op = *c.f->op;
    Trend t;
    t.kind = "memory_growth";
    t.operation = op.name;
    t.magnitude = steps.count > 0 ? c.retained / static_cast<double>(steps.count) : c.per_call;
    t.at_s = ns_to_s(static_cast<double>(op.first_seen_ns));
    t.method = std::string(by_alloc ? "allocation balance (allocated - freed)" : "sum of per-call RSS deltas") +
               " of the operation" + (steps.count > 0 ? ", per step" : ", per call (no steps)");
    t.description = op.name + (by_alloc ? " keeps " : " raises RSS by ") + format_bytes(c.per_call) + " per call (" +
                    format_bytes(c.retained) + (by_alloc ? " allocated and not freed" : " in all") + " over " +
                    format_count(op.count) + " calls" +
                    (steps.count > 0 ? ", " + format_bytes(t.magnitude) + " per step" : "") + ")";
    if (c.retained > leaking_retained) {
      leaking_retained = c.retained;
      leaking_op = op.name;
    }
    out.push_back(std::move(t));
  }

  // The process: a steady rise of RSS after warm-up (Theil-Sen slope, Kendall's tau).
  if (const TimelineSeries* rss = s.timeline("rss_bytes");
      rss && rss->values.size() >= kMinRssSamples && rss->t_ns.size() == rss->values.size()) {
    const std::int64_t t0 = rss->t_ns.front(), t1 = rss->t_ns.back();
    const auto from = static_cast<std::int64_t>(static_cast<double>(t0) + kWarmupShare * static_cast<double>(t1 - t0));
    std::vector<double> x, y;
    for (std::size_t i = 0; i < rss->values.size(); ++i)
      if (rss->t_ns[i] >= from) {
        x.push_back(ns_to_s(static_cast<double>(rss->t_ns[i])));
        y.push_back(rss->values[i]);
      }
    if (x.size() >= kMinRssSamples) {
      std::vector<double> xs, ys;
      for (std::size_t i : even_subsample(x.size(), kMaxPairwisePoints)) {
        xs.push_back(x[i]);
        ys.push_back(y[i]);
      }
      const double slope = theil_sen_slope(xs, ys);  // bytes per second
      const double tau = kendall_tau(xs, ys);
      const double span = xs.back() - xs.front();
      const double growth = slope * span;
      const double base = std::max(1.0, ys.front());
      if (tau >= kMinKendallTau && growth >= kMinRssGrowthBytes && growth >= kMinRssGrowthShare * base) {
        Trend t;
        t.kind = "memory_growth";
        t.operation = leaking_op;
        t.magnitude = steps_per_s > 0.0 ? slope / steps_per_s : slope;
        t.at_s = xs.front();
        t.method = std::string("Theil-Sen slope of rss_bytes after the first quarter of the run (Kendall tau ") +
                   format_number(tau, 2) + ")" + (steps_per_s > 0.0 ? ", per step" : ", per second (no steps)");
        t.description = "RSS grew " + format_bytes(growth) + " in " + format_seconds(span) + " (" +
                        format_bytes(slope) + "/s" +
                        (steps_per_s > 0.0 ? ", " + format_bytes(t.magnitude) + " per step" : "") + ") from " +
                        format_bytes(ys.front()) + (leaking_op.empty() ? "" : "; largest retained allocations in " + leaking_op);
        out.push_back(std::move(t));
      }
    }
  }
  return out;
}

std::vector<Trend> find_spikes(const Snapshot& s) {
  std::vector<Trend> out;
  for (const auto& op : s.operations) {
    if (op.count < kMinSpikeCalls || op.p99_ns == 0) continue;
    const double p99 = ns_to_s(static_cast<double>(op.p99_ns));
    std::size_t kept = 0;
    for (const SlowCall& c : op.slowest) {  // slowest first
      const double d = ns_to_s(static_cast<double>(c.duration_ns));
      if (d < kSpikeOverP99 * p99 || d - p99 < kMinSpikeExcessS || kept == kSpikesPerOperation) break;
      ++kept;
      Trend t;
      t.kind = "spike";
      t.operation = op.name;
      t.magnitude = d / p99;
      t.at_s = ns_to_s(static_cast<double>(c.start_ns));
      t.method = "call duration / p99 of the operation (spike: >= 3x and >= 1 ms above)";
      t.description = op.name + " call at " + format_seconds(t.at_s) + " took " + format_seconds(d) + " = " +
                      format_number(t.magnitude, 1) + "x its p99 (" + format_seconds(p99) + ") on thread " +
                      std::to_string(c.thread_index);
      out.push_back(std::move(t));
    }
  }
  std::sort(out.begin(), out.end(), [](const Trend& a, const Trend& b) {
    if (a.magnitude != b.magnitude) return a.magnitude > b.magnitude;
    if (a.at_s != b.at_s) return a.at_s < b.at_s;
    return a.operation < b.operation;
  });
  if (out.size() > kMaxSpikes) out.resize(kMaxSpikes);
  return out;
}

std::vector<Trend> find_trends(const Snapshot& s, const std::vector<OperationFacts>& ops, const StepFacts& steps) {
  std::vector<Trend> memory = find_memory_growth(s, ops, steps);
  std::vector<Trend> slow = find_slowdowns(s);
  std::vector<Trend> spikes = find_spikes(s);
  auto by_magnitude = [](const Trend& a, const Trend& b) {
    if (a.magnitude != b.magnitude) return a.magnitude > b.magnitude;
    return a.operation < b.operation;
  };
  std::stable_sort(memory.begin(), memory.end(), by_magnitude);
  std::stable_sort(slow.begin(), slow.end(), by_magnitude);
  std::vector<Trend> out = std::move(memory);
  out.insert(out.end(), slow.begin(), slow.end());
  out.insert(out.end(), spikes.begin(), spikes.end());
  return out;
}

}  // namespace codeprof::analysis
