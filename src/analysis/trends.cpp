#include "analysis/trends.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "analysis/call_tree.hpp"
#include "analysis/robust_stats.hpp"
#include "common/number_format.hpp"

namespace codeprof::analysis {
namespace {

constexpr std::size_t kMinWindows = kSlowdownMinWindows;  // windows needed to compare early and late calls
constexpr double kSlowdownMinRatio = 1.25;    // late/early median of the windows' fastest calls
constexpr std::uint64_t kMinCalls = kSlowdownMinCalls;
constexpr double kMinSlowdownS = 100e-6;      // ignore slow-downs of a few microseconds
constexpr double kSteadyShare = 0.75;         // share of late windows that must be slower
constexpr std::uint64_t kMinSpikeCalls = kSpikeMinCalls;  // below this, p99 is one of the few slowest calls
constexpr double kMinSpikeExcessS = 1e-3;
// Operations whose p99 is under 100 us are left out: on a busy machine any call can be preempted
// for a few milliseconds, which makes a 3 us operation look 1000x slower once (seen on every
// libtorch operator in the demo's runs).
constexpr double kMinSpikeP99S = kSpikeMinP99S;
constexpr std::size_t kSpikesPerOperation = 3;
constexpr std::size_t kMaxSpikes = 20;

// Memory growth: RSS after the first quarter of the run (warm-up allocates model and caches).
constexpr double kWarmupShare = 0.25;
constexpr std::size_t kMinRssSamples = kMemoryGrowthMinSamples;
constexpr double kMinKendallTau = 0.6;      // steady: most pairs of samples rise with time
constexpr double kMinRssGrowthBytes = 16.0 * 1024 * 1024;
constexpr double kMinRssGrowthShare = 0.05;
constexpr double kMinLeakBalanceBytes = 1024.0 * 1024;
constexpr double kMinLeakPerCallBytes = 1024.0;
constexpr std::uint64_t kMinLeakCalls = 5;
constexpr double kMinRssPerCallBytes = 64.0 * 1024;
constexpr std::size_t kMaxPairwisePoints = 300;  // bounds the quadratic Theil-Sen and tau

// Steps completed by a time: from the trace's step spans, else from the time windows of the step
// operation (calls spread evenly inside a window). Unknown without steps.
class StepClock {
 public:
  StepClock(const Snapshot& s, const StepFacts& steps) {
    if (!s.steps.empty()) {
      for (const StepSpan& st : s.steps)
        if (st.end_ns > st.start_ns) span_ends_.push_back(st.end_ns);
      std::sort(span_ends_.begin(), span_ends_.end());
    } else if (steps.step_operation) {
      if (const OperationStats* op = operation_by_id(s, *steps.step_operation)) windows_ = op->series;
    }
  }
  bool known() const noexcept { return !span_ends_.empty() || !windows_.empty(); }
  double steps_done(std::int64_t t_ns) const {
    if (!span_ends_.empty())
      return static_cast<double>(std::upper_bound(span_ends_.begin(), span_ends_.end(), t_ns) - span_ends_.begin());
    double done = 0.0;
    for (const DurationWindow& w : windows_) {
      if (t_ns >= w.start_ns + w.width_ns) {
        done += static_cast<double>(w.count);
      } else {
        if (t_ns > w.start_ns && w.width_ns > 0)
          done += static_cast<double>(w.count) * static_cast<double>(t_ns - w.start_ns) / static_cast<double>(w.width_ns);
        break;
      }
    }
    return done;
  }

 private:
  std::vector<std::int64_t> span_ends_;
  std::vector<DurationWindow> windows_;
};

// Rise of y over the samples with x in [from, to]: median of the last fifth - median of the first.
double half_rise(const std::vector<double>& x, const std::vector<double>& y, double from, double to) {
  std::vector<double> part;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (x[i] >= from && x[i] <= to) part.push_back(y[i]);
  if (part.size() < 2) return 0.0;
  const std::size_t fifth = std::max<std::size_t>(1, part.size() / 5);
  return median(std::vector<double>(part.end() - static_cast<std::ptrdiff_t>(fifth), part.end())) -
         median(std::vector<double>(part.begin(), part.begin() + static_cast<std::ptrdiff_t>(fifth)));
}

// Names as the findings show them: an operation whose name another operation shares (the same
// name in another category, or from another call site) is told apart by its category and site.
class DisplayNames {
 public:
  explicit DisplayNames(const Snapshot& s) : s_(s) {
    for (const auto& op : s.operations) ++count_[op.name];
  }
  std::string operator()(const OperationStats& op) const {
    if (count_.at(op.name) < 2) return op.name;
    std::size_t same_category = 0;
    for (const auto& other : s_.operations) same_category += other.name == op.name && other.category == op.category;
    std::string out = op.name + " [" + std::string(to_string(op.category));
    if (same_category > 1 && !op.file.empty()) out += " at " + op.file + ":" + std::to_string(op.line);
    return out + "]";
  }

 private:
  const Snapshot& s_;
  std::map<std::string, std::size_t> count_;
};

// ---------------------------------------------------------------- memory growth, in phases

// An operation that keeps memory call after call.
struct LeakCandidate {
  const OperationFacts* f;
  double retained;  // bytes over the run
  double per_call;
};

struct LeakingOperations {
  std::vector<LeakCandidate> leaking;
  bool by_alloc = false;  // from the allocation balance (else from per-call RSS deltas)
};

// Operations that keep memory call after call. With allocation hooks: the allocation balance,
// counted only when nobody frees it elsewhere (the outermost scopes' net balance holds at least
// half of it). Without usable hooks: the sum of the operation's per-call RSS deltas. Of nested
// candidates the innermost that holds the memory is kept.
LeakingOperations leaking_operations(const CallTree& tree, const std::vector<OperationFacts>& ops,
                                     std::vector<Inconclusive>* inconclusive) {
  double net_top_level = 0.0;
  for (const OperationFacts& f : ops) {
    if (!f.alloc_balance_bytes) continue;
    bool top = tree.parents(f.op->id).empty();
    for (const CallEdge* e : tree.parents(f.op->id))
      if (e->parent_id == kRootOperation) top = true;
    if (top) net_top_level += *f.alloc_balance_bytes;
  }
  auto alloc_candidates = [&] {
    std::vector<LeakCandidate> found;
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
    std::vector<LeakCandidate> found;
    for (const OperationFacts& f : ops) {
      if (!f.rss_delta_bytes || f.op->count < kMinLeakCalls) continue;
      const double per_call = f.op->resource(ProbeMetric::RssDeltaBytes).mean();
      if (*f.rss_delta_bytes >= kMinRssGrowthBytes && per_call >= kMinRssPerCallBytes)
        found.push_back({&f, *f.rss_delta_bytes, per_call});
    }
    return found;
  };
  if (inconclusive && std::none_of(ops.begin(), ops.end(), [](const OperationFacts& f) {
        return f.alloc_balance_bytes.has_value() || f.rss_delta_bytes.has_value();
      }))
    inconclusive->push_back({"memory_growth_per_operation",
                             "allocation or RSS-delta probes on the operations (metrics.memory)", "none measured"});
  LeakingOperations out;
  std::vector<LeakCandidate> candidates = alloc_candidates();
  out.by_alloc = !candidates.empty();
  if (!out.by_alloc) candidates = rss_candidates();
  // Keep the innermost operation that holds the memory: drop one whose direct child explains it.
  for (const LeakCandidate& c : candidates) {
    bool child_explains = false;
    for (const CallEdge* e : tree.children(c.f->op->id))
      for (const LeakCandidate& d : candidates)
        if (d.f->op->id == e->child_id && d.f != c.f && d.retained >= 0.8 * c.retained) child_explains = true;
    if (!child_explains) out.leaking.push_back(c);
  }
  return out;
}

// One memory_growth trend per leaking operation, per step when steps are known, else per call.
Trend operation_growth_trend(const LeakCandidate& c, bool by_alloc, const StepFacts& steps, std::size_t other_threads) {
  const OperationStats& op = *c.f->op;
  Trend t;
  t.kind = TrendKind::MemoryGrowth;
  t.operation = op.name;
  t.magnitude = steps.count > 0 ? c.retained / static_cast<double>(steps.count) : c.per_call;
  t.at_s = ns_to_s(static_cast<double>(op.first_seen_ns));
  t.method = std::string(by_alloc ? "allocation balance (allocated - freed)"
                                  : "sum of per-call RSS deltas (process-wide: memory other threads touch during "
                                    "the call counts too)") +
             " of the operation" + (steps.count > 0 ? ", per step" : ", per call (no steps)");
  t.description = op.name + (by_alloc ? " keeps " : " raises RSS by ") + common::format_bytes(c.per_call) + " per call (" +
                  common::format_bytes(c.retained) + (by_alloc ? " allocated and not freed" : " in all") + " over " +
                  common::format_count(op.count) + " calls" +
                  (steps.count > 0 ? ", " + common::format_bytes(t.magnitude) + " per step" : "") + ")";
  // An RSS delta is the whole process's: with other threads running, part of it may be theirs.
  if (!by_alloc && other_threads > 0)
    t.description += "; RSS is process-wide and " + std::to_string(other_threads) +
                     " other thread" + (other_threads > 1 ? "s" : "") +
                     " recorded meanwhile, so part of it may be theirs (link codeprof::alloc for per-call allocations)";
  return t;
}

// rss_bytes samples after warm-up (the first quarter of the steps, else of the run), against the
// steps done when steps are known, else against time. Empty when there are too few.
struct RssSeries {
  std::vector<double> x, y, t_s;
  bool per_step = false;
};

// The process: a steady rise of RSS after warm-up (Theil-Sen slope, Kendall's tau-b), against
// the number of steps done when steps are known (a thread preempted for a while then adds no
// flat stretch, and the slope is directly bytes per step), else against time. Says in
// `inconclusive` what was missing when it cannot look.
std::optional<RssSeries> rss_after_warmup(const Snapshot& s, const StepFacts& steps, std::vector<Inconclusive>* inconclusive) {
  const TimelineSeries* rss = s.timeline("rss_bytes");
  const auto need = [&](const std::string& had) {
    if (inconclusive)
      inconclusive->push_back({"memory_growth",
                               std::to_string(kMinRssSamples) +
                                   " rss_bytes samples after the first quarter of the run (the system sampler's timeline)",
                               had});
  };
  if (!rss || rss->t_ns.size() != rss->values.size()) {
    need(rss ? "an rss_bytes series whose times and values differ in number"
             : "no rss_bytes timeline (" + (s.run.source == "live" ? std::string("sampler.enabled is off")
                                                                   : "a " + s.run.source + " input has none") + ")");
    return std::nullopt;
  }
  if (rss->values.size() < kMinRssSamples) {
    need(std::to_string(rss->values.size()) + " samples in all");
    return std::nullopt;
  }
  const StepClock clock(s, steps);
  RssSeries out;
  out.per_step = clock.known();
  const std::int64_t t0 = rss->t_ns.front(), t1 = rss->t_ns.back();
  const auto from_ns = static_cast<std::int64_t>(static_cast<double>(t0) + kWarmupShare * static_cast<double>(t1 - t0));
  const double from_steps = kWarmupShare * static_cast<double>(steps.count);
  for (std::size_t i = 0; i < rss->values.size(); ++i) {
    const double xi = clock.known() ? clock.steps_done(rss->t_ns[i]) : ns_to_s(static_cast<double>(rss->t_ns[i]));
    if (clock.known() ? xi < from_steps : rss->t_ns[i] < from_ns) continue;
    out.x.push_back(xi);
    out.y.push_back(rss->values[i]);
    out.t_s.push_back(ns_to_s(static_cast<double>(rss->t_ns[i])));
  }
  if (out.x.size() < kMinRssSamples || !(out.x.back() > out.x.front())) {
    need(std::to_string(out.x.size()) + " after the first quarter (" + std::to_string(rss->values.size()) + " in all over " +
         common::format_seconds(ns_to_s(static_cast<double>(t1 - t0))) + (clock.known() ? ", counted against steps done" : "") +
         ")");
    return std::nullopt;
  }
  return out;
}

// A memory_growth trend for the process when RSS rises steadily and still rises in its second half.
std::optional<Trend> process_growth_trend(const RssSeries& rss, const std::string& leaking_op) {
  std::vector<double> xs, ys;
  for (std::size_t i : even_subsample(rss.x.size(), kMaxPairwisePoints)) {
    xs.push_back(rss.x[i]);
    ys.push_back(rss.y[i]);
  }
  const double slope = theil_sen_slope(xs, ys);  // bytes per step (or per second)
  const double tau = kendall_tau(xs, ys);
  const double span = xs.back() - xs.front();
  const double growth = slope * span;
  const double base = std::max(1.0, ys.front());
  // Still rising in the second half: a level that climbs for a while (a cache filling up) and
  // then stays is not a leak. Each half's rise is the median of its last fifth minus the
  // median of its first fifth (medians: robust to single samples).
  const double mid = (xs.front() + xs.back()) / 2.0;
  const double first_half_rise = half_rise(xs, ys, xs.front(), mid);
  const double second_half_rise = half_rise(xs, ys, mid, xs.back());
  const bool steady = tau >= kMinKendallTau && growth >= kMinRssGrowthBytes && growth >= kMinRssGrowthShare * base &&
                      second_half_rise > 0.0 && second_half_rise >= 0.25 * first_half_rise;
  if (!steady) return std::nullopt;
  Trend t;
  t.kind = TrendKind::MemoryGrowth;
  t.operation = leaking_op;
  t.magnitude = slope;
  t.at_s = rss.t_s.front();
  const std::string per = rss.per_step ? " per step" : "/s";
  t.method = std::string("Theil-Sen slope of rss_bytes ") +
             (rss.per_step ? "against steps done, after the first quarter of the steps"
                           : "against time, after the first quarter of the run (no steps)") +
             " (Kendall tau-b " + common::format_number(tau, 2) + ")";
  t.description = "RSS grew " + common::format_bytes(growth) + " over " +
                  (rss.per_step ? common::format_number(span, 0) + " steps" : common::format_seconds(span)) + " (" +
                  common::format_bytes(slope) + per + ") from " + common::format_bytes(ys.front()) +
                  (leaking_op.empty() ? "" : "; largest retained allocations in " + leaking_op);
  return t;
}

const char* const kSlowdownMethod =
    "median of window means, first vs last quarter of the operation's time windows (fastest calls slower too)";

}  // namespace

std::vector<Trend> find_slowdowns(const Snapshot& s, std::vector<Inconclusive>* inconclusive) {
  std::vector<Trend> out;
  const DisplayNames shown(s);
  bool looked = false;
  const OperationStats* busiest = nullptr;  // for "had": the operation closest to qualifying
  std::size_t busiest_windows = 0;
  for (const auto& op : s.operations) {
    std::size_t windows = 0;
    for (const DurationWindow& w : op.series) windows += w.count > 0;
    if (!busiest || op.count > busiest->count) {
      busiest = &op;
      busiest_windows = windows;
    }
    if (op.count < kMinCalls || windows < kMinWindows) continue;
    looked = true;
    std::vector<double> means, mins;
    for (const DurationWindow& w : op.series)
      if (w.count) {
        means.push_back(ns_to_s(static_cast<double>(w.total_ns) / static_cast<double>(w.count)));
        mins.push_back(ns_to_s(static_cast<double>(w.min_ns)));
      }
    const std::size_t q = std::max<std::size_t>(2, means.size() / 4);
    auto first_quarter = [&](const std::vector<double>& v) {
      return median(std::vector<double>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(q)));
    };
    auto last_quarter = [&](const std::vector<double>& v) {
      return median(std::vector<double>(v.end() - static_cast<std::ptrdiff_t>(q), v.end()));
    };
    const double early = first_quarter(means), late = last_quarter(means);
    if (early <= 0.0 || late < kSlowdownRatio * early || late - early < kMinSlowdownS) continue;
    // The fastest call of each window must have slowed too: preemption by other processes makes
    // some calls slower (and the means with them) but leaves the fastest ones alone.
    const double early_min = first_quarter(mins), late_min = last_quarter(mins);
    if (early_min > 0.0 && late_min < kSlowdownMinRatio * early_min) continue;
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
    t.kind = TrendKind::Slowdown;
    t.operation = op.name;
    t.magnitude = late / early;
    t.at_s = ns_to_s(static_cast<double>(onset_ns));
    t.method = kSlowdownMethod;
    t.description = shown(op) + " slowed down " + common::format_number(t.magnitude, 2) + "x: median window mean " +
                    common::format_seconds(early) + " early vs " + common::format_seconds(late) + " late (" +
                    std::to_string(means.size()) + " windows), from about " + common::format_seconds(t.at_s) + " into the run";
    out.push_back(std::move(t));
  }
  if (!looked && inconclusive)
    inconclusive->push_back(
        {"slowdown",
         "an operation with >= " + std::to_string(kMinCalls) + " calls spread over >= " + std::to_string(kMinWindows) +
             " time windows",
         busiest ? "the busiest operation, " + busiest->name + ", has " + common::format_count(busiest->count) + " calls in " +
                       std::to_string(busiest_windows) + " windows"
                 : "no operations"});
  return out;
}

std::vector<Trend> find_memory_growth(const Snapshot& s, const std::vector<OperationFacts>& ops, const StepFacts& steps,
                                      std::vector<Inconclusive>* inconclusive) {
  std::vector<Trend> out;
  const CallTree tree(s);
  const LeakingOperations found = leaking_operations(tree, ops, inconclusive);
  std::size_t threads_with_events = 0;
  for (const ThreadStats& th : s.threads) threads_with_events += th.events > 0;
  const std::size_t other_threads = threads_with_events > 1 ? threads_with_events - 1 : 0;
  std::string leaking_op;  // the one that retained most: the process trend names it
  double leaking_retained = 0.0;
  for (const LeakCandidate& c : found.leaking) {
    out.push_back(operation_growth_trend(c, found.by_alloc, steps, other_threads));
    if (c.retained > leaking_retained) {
      leaking_retained = c.retained;
      leaking_op = c.f->op->name;
    }
  }
  if (const auto rss = rss_after_warmup(s, steps, inconclusive))
    if (auto t = process_growth_trend(*rss, leaking_op)) out.push_back(std::move(*t));
  return out;
}

std::vector<Trend> find_spikes(const Snapshot& s, std::vector<Inconclusive>* inconclusive) {
  struct Found {
    Trend trend;
    std::string name;  // as shown
    std::uint32_t thread;
    std::int64_t start_ns, end_ns;
  };
  std::vector<Found> found;
  const DisplayNames shown(s);
  bool looked = false;
  std::uint64_t most_calls = 0;
  for (const auto& op : s.operations) {
    most_calls = std::max(most_calls, op.count);
    if (op.count < kMinSpikeCalls || op.p99_ns == 0) continue;
    looked = true;
    const double p99 = ns_to_s(static_cast<double>(op.p99_ns));
    if (p99 < kMinSpikeP99S) continue;
    std::vector<const SlowCall*> kept;
    for (const SlowCall& c : op.slowest) {  // slowest first
      const double d = ns_to_s(static_cast<double>(c.duration_ns));
      if (d < kSpikeOverP99 * p99 || d - p99 < kMinSpikeExcessS || kept.size() == kSpikesPerOperation) break;
      // A call inside a slow call already reported is the same spike: the operation called itself
      // (e.g. aten::addmm under autocast dispatching to aten::addmm).
      const bool nested = std::any_of(kept.begin(), kept.end(), [&](const SlowCall* k) {
        return k->thread_index == c.thread_index && c.start_ns >= k->start_ns &&
               c.start_ns + static_cast<std::int64_t>(c.duration_ns) <= k->start_ns + static_cast<std::int64_t>(k->duration_ns);
      });
      if (nested) continue;
      kept.push_back(&c);
      Found f{{}, shown(op), c.thread_index, c.start_ns, c.start_ns + static_cast<std::int64_t>(c.duration_ns)};
      Trend& t = f.trend;
      t.kind = TrendKind::Spike;
      t.operation = op.name;
      t.magnitude = d / p99;
      t.at_s = ns_to_s(static_cast<double>(c.start_ns));
      t.method = "call duration / p99 of the operation (spike: >= 3x and >= 1 ms above; p99 >= 100 us)";
      t.description = f.name + " call at " + common::format_seconds(t.at_s) + " took " + common::format_seconds(d) + " = " +
                      common::format_number(t.magnitude, 1) + "x its p99 (" + common::format_seconds(p99) + ") on thread " +
                      std::to_string(c.thread_index);
      found.push_back(std::move(f));
    }
  }
  // One stall shows in every operation that was open during it (aten::zero_ and the aten::fill_
  // it calls): a spike that holds another one for at least 90 % of its time is the same stall,
  // reported once, at the innermost operation, naming its callers.
  std::vector<bool> outer(found.size(), false);
  for (std::size_t i = 0; i < found.size(); ++i)
    for (std::size_t j = 0; j < found.size(); ++j) {
      if (i == j || found[i].thread != found[j].thread) continue;
      const Found& a = found[i];
      const Found& b = found[j];
      const bool inside = b.start_ns >= a.start_ns && b.end_ns <= a.end_ns && !(b.start_ns == a.start_ns && b.end_ns == a.end_ns && j > i);
      if (inside && static_cast<double>(b.end_ns - b.start_ns) >= 0.9 * static_cast<double>(a.end_ns - a.start_ns))
        outer[i] = true;
    }
  std::vector<Trend> out;
  for (std::size_t j = 0; j < found.size(); ++j) {
    if (outer[j]) continue;
    Trend t = found[j].trend;
    std::vector<std::string> callers;
    for (std::size_t i = 0; i < found.size(); ++i)
      if (outer[i] && found[i].thread == found[j].thread && found[j].start_ns >= found[i].start_ns &&
          found[j].end_ns <= found[i].end_ns && found[i].name != found[j].name &&
          std::find(callers.begin(), callers.end(), found[i].name) == callers.end())
        callers.push_back(found[i].name);
    if (!callers.empty()) {
      t.description += " (the same stall shows in its caller";
      t.description += callers.size() > 1 ? "s " : " ";
      for (std::size_t k = 0; k < callers.size(); ++k) t.description += (k ? ", " : "") + callers[k];
      t.description += ")";
    }
    out.push_back(std::move(t));
  }
  std::sort(out.begin(), out.end(), [](const Trend& a, const Trend& b) {
    if (a.magnitude != b.magnitude) return a.magnitude > b.magnitude;
    if (a.at_s != b.at_s) return a.at_s < b.at_s;
    return a.operation < b.operation;
  });
  if (out.size() > kMaxSpikes) out.resize(kMaxSpikes);
  if (!looked && inconclusive)
    inconclusive->push_back({"spike", "an operation with >= " + std::to_string(kMinSpikeCalls) +
                                          " calls (so that its p99 is not one of its few slowest calls)",
                             "at most " + common::format_count(most_calls) + " calls per operation"});
  return out;
}

std::vector<Trend> find_trends(const Snapshot& s, const std::vector<OperationFacts>& ops, const StepFacts& steps,
                               std::vector<Inconclusive>* inconclusive) {
  std::vector<Trend> memory = find_memory_growth(s, ops, steps, inconclusive);
  std::vector<Trend> slow = find_slowdowns(s, inconclusive);
  std::vector<Trend> spikes = find_spikes(s, inconclusive);
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
