#include "cli/rank_comparison.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <climits>
#include <set>
#include <unordered_set>

#include "analysis/steps.hpp"
#include "cli/text_table.hpp"
#include "common/number_format.hpp"

namespace codeprof::cli {
namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

std::string signed_percent(double ratio) {
  std::string s = common::format_percent(ratio);
  if (ratio >= 0) s.insert(0, 1, '+');
  return s;
}

}  // namespace

JobComparison compare_ranks(const std::vector<RankInput>& inputs, double threshold) {
  JobComparison job;
  job.threshold = threshold;
  for (const auto& in : inputs) {
    RankFacts r;
    r.path = in.path;
    r.rank = in.snapshot->run.rank;
    r.local_rank = in.snapshot->run.local_rank;
    r.host = in.snapshot->run.host;
    r.job_name = in.snapshot->run.job_name;
    r.steps = in.findings->classification.input.steps;
    r.step_time_s = in.findings->classification.input.step_time;
    r.wall_s = static_cast<double>(in.snapshot->run.wall_ns) / 1e9;
    r.collective_s = collective_seconds(*in.snapshot);
    for (const auto& op : in.snapshot->operations) {
      const double self = static_cast<double>(op.self_ns) / 1e9;
      if (self > r.top_operation_s) {
        r.top_operation_s = self;
        r.top_operation = op.name;
      }
    }
    job.ranks.push_back(std::move(r));
  }
  std::stable_sort(job.ranks.begin(), job.ranks.end(), [](const auto& a, const auto& b) { return a.rank < b.rank; });

  job.per_step = std::all_of(job.ranks.begin(), job.ranks.end(), [](const auto& r) { return r.steps > 0 && r.step_time_s > 0; });
  for (auto& r : job.ranks) {
    if (job.per_step) {
      const auto n = static_cast<double>(r.steps);
      r.step_s = r.step_time_s / n;
      r.collective_per_s = r.collective_s / n;
    } else {
      r.step_s = r.wall_s;
      r.collective_per_s = r.collective_s;
    }
    r.compute_s = std::max(0.0, r.step_s - r.collective_per_s);
  }

  std::set<int> seen;
  bool distinct = job.ranks.size() >= 2;
  for (const auto& r : job.ranks)
    if (r.rank < 0 || !seen.insert(r.rank).second) distinct = false;
  job.one_job = distinct;
  if (!distinct) {
    job.note = job.ranks.size() < 2 ? "one file: nothing to compare"
                                    : "the files do not carry distinct ranks, so they are not read as ranks of one job "
                                      "and no straggler detection ran";
    return job;
  }
  job.note = std::string("each rank against the median of the other ranks, ") +
             (job.per_step ? "per step" : "over the whole run (not every rank has steps)") + ", threshold " +
             common::format_percent(threshold);

  for (std::size_t i = 0; i < job.ranks.size(); ++i) {
    const RankFacts& r = job.ranks[i];
    std::vector<double> steps, compute, collective;
    for (std::size_t k = 0; k < job.ranks.size(); ++k) {
      if (k == i) continue;
      steps.push_back(job.ranks[k].step_s);
      compute.push_back(job.ranks[k].compute_s);
      collective.push_back(job.ranks[k].collective_per_s);
    }
    const double step_median = median(steps), compute_median = median(compute), coll_median = median(collective);
    // Differences under 2 % of a step are noise whatever their ratio.
    const double floor_s = 0.02 * step_median;
    const std::string unit = job.per_step ? " per step" : "";
    const auto flag = [&](const char* measure, double value, double others, const std::string& what) {
      Straggler s;
      s.rank = r.rank;
      s.path = r.path;
      s.measure = measure;
      s.value_s = value;
      s.others_median_s = others;
      s.difference = others > 0 ? (value - others) / others : 0.0;
      s.description = "rank " + std::to_string(r.rank) + " " + what + ": " + common::format_seconds(value) + unit + " vs " +
                      common::format_seconds(others) + " on the other ranks (median), " + signed_percent(s.difference) +
                      " (" + (value >= others ? "+" : "-") + common::format_seconds(std::fabs(value - others)) + ")";
      job.stragglers.push_back(std::move(s));
    };
    if (step_median > 0 && r.step_s > step_median * (1 + threshold) && r.step_s - step_median > floor_s)
      flag("step_time", r.step_s, step_median, job.per_step ? "has slow steps" : "ran longer");
    if (compute_median > 0 && r.compute_s > compute_median * (1 + threshold) && r.compute_s - compute_median > floor_s)
      flag("compute_time", r.compute_s, compute_median, "computes longer outside collectives");
    if (coll_median > 0 && r.collective_per_s < coll_median * (1 - threshold) && coll_median - r.collective_per_s > floor_s)
      flag("collective_time", r.collective_per_s, coll_median,
           "waits less in collectives, so the other ranks wait for it");
  }
  return job;
}

std::string comparison_text(const JobComparison& job) {
  std::string out = "Ranks\n";
  TextTable table({{"Rank", Align::Right},
                   {"Host", Align::Left},
                   {"File", Align::Left},
                   {"Steps", Align::Right},
                   {job.per_step ? "Mean step" : "Wall", Align::Right},
                   {"Compute", Align::Right},
                   {"Collectives", Align::Right},
                   {"Most self time", Align::Left}});
  for (const auto& r : job.ranks)
    table.add({r.rank >= 0 ? std::to_string(r.rank) : "?", truncate(r.host.empty() ? "-" : r.host, 24), truncate(std::filesystem::path(r.path).filename().string(), 48), common::format_count(r.steps),
               common::format_seconds(r.step_s), common::format_seconds(r.compute_s), common::format_seconds(r.collective_per_s),
               r.top_operation.empty() ? "-" : truncate(r.top_operation, 40) + " (" + common::format_seconds(r.top_operation_s) + ")"});
  out += table.render("  ");
  out += "\nStragglers (" + job.note + ")\n";
  if (!job.one_job) return out;
  if (job.stragglers.empty()) {
    out += "  none: every rank is within " + common::format_percent(job.threshold) + " of the others\n";
    return out;
  }
  for (const auto& s : job.stragglers) out += "  - " + s.description + "\n";
  return out;
}

}  // namespace codeprof::cli

namespace codeprof::cli {
namespace {

// Time spent in some activity, spread over [start, start + width) on the job's clock.
struct Spread {
  std::int64_t start_ns = 0;
  std::int64_t width_ns = 0;
  double count = 0.0;  // calls (steps) in it
  double total_ns = 0.0;
};

// The share of [a, a + w) that falls into [lo, hi); a zero-width span counts where it starts.
double overlap_share(std::int64_t a, std::int64_t w, std::int64_t lo, std::int64_t hi) {
  if (w <= 0) return a >= lo && a < hi ? 1.0 : 0.0;
  const std::int64_t from = std::max(a, lo), to = std::min(a + w, hi);
  return to > from ? static_cast<double>(to - from) / static_cast<double>(w) : 0.0;
}

struct RankTimeline {
  std::vector<Spread> steps;
  std::vector<Spread> collectives;
};

// Steps from the snapshot's step spans when it has them (traces), else from the step operation's
// time windows (live runs and their reports); collectives from their operations' time windows.
RankTimeline rank_timeline(const Snapshot& s, const Config& config) {
  RankTimeline t;
  const std::int64_t origin = s.run.start_unix_ns;
  if (!s.steps.empty()) {
    for (const auto& st : s.steps)
      t.steps.push_back({origin + st.start_ns, st.end_ns - st.start_ns, 1.0, static_cast<double>(st.end_ns - st.start_ns)});
  } else if (const auto facts = analysis::detect_steps(s, config); facts.step_operation) {
    if (const OperationStats* op = s.find(*facts.step_operation))
      for (const auto& w : op->series)
        t.steps.push_back({origin + w.start_ns, w.width_ns, static_cast<double>(w.count), static_cast<double>(w.total_ns)});
  }
  std::unordered_set<std::uint32_t> collective_ids;
  for (const auto& op : s.operations)
    if (is_collective(op)) collective_ids.insert(op.id);
  std::unordered_set<std::uint32_t> nested;  // called from another collective: already in its time
  for (const auto& e : s.call_tree)
    if (e.parent_id != kRootOperation && collective_ids.count(e.parent_id) && collective_ids.count(e.child_id))
      nested.insert(e.child_id);
  for (const auto& op : s.operations) {
    if (!collective_ids.count(op.id) || nested.count(op.id)) continue;
    for (const auto& w : op.series)
      t.collectives.push_back({origin + w.start_ns, w.width_ns, static_cast<double>(w.count), static_cast<double>(w.total_ns)});
  }
  return t;
}

}  // namespace

StepSkew step_skew(const std::vector<RankInput>& inputs, const Config& config, std::size_t intervals) {
  StepSkew out;
  std::vector<std::pair<int, RankTimeline>> ranks;
  for (const auto& in : inputs) ranks.emplace_back(in.snapshot->run.rank, rank_timeline(*in.snapshot, config));
  std::stable_sort(ranks.begin(), ranks.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  if (ranks.size() < 2) {
    out.note = "one rank: nothing to compare";
    return out;
  }
  std::int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (const auto& [rank, t] : ranks) {
    if (t.steps.empty()) {
      out.note = "rank " + std::to_string(rank) + " has no steps, so step-time skew over time was not measured";
      return out;
    }
    for (const auto& sp : t.steps) {
      lo = std::min(lo, sp.start_ns);
      hi = std::max(hi, sp.start_ns + std::max<std::int64_t>(sp.width_ns, 1));
    }
  }
  // At least about five steps per interval, so that one step's edge does not make the skew.
  double fewest_steps = 1e300;
  for (const auto& [rank, t] : ranks) {
    double n = 0;
    for (const auto& sp : t.steps) n += sp.count;
    fewest_steps = std::min(fewest_steps, n);
  }
  intervals = std::clamp<std::size_t>(static_cast<std::size_t>(fewest_steps / 5), 1, std::max<std::size_t>(intervals, 1));
  const double width = static_cast<double>(hi - lo) / static_cast<double>(intervals);
  for (std::size_t i = 0; i < intervals; ++i) {
    const auto a = lo + static_cast<std::int64_t>(width * static_cast<double>(i));
    const auto b = i + 1 == intervals ? hi : lo + static_cast<std::int64_t>(width * static_cast<double>(i + 1));
    SkewInterval interval;
    interval.start_s = static_cast<double>(a - lo) / 1e9;
    interval.end_s = static_cast<double>(b - lo) / 1e9;
    for (const auto& [rank, t] : ranks) {
      SkewCell cell;
      cell.rank = rank;
      double step_ns = 0, collective_ns = 0;
      for (const auto& sp : t.steps) {
        const double share = overlap_share(sp.start_ns, sp.width_ns, a, b);
        cell.steps += share * sp.count;
        step_ns += share * sp.total_ns;
      }
      for (const auto& sp : t.collectives) collective_ns += overlap_share(sp.start_ns, sp.width_ns, a, b) * sp.total_ns;
      // Under half a step is an edge effect, not a measurement.
      if (cell.steps >= 0.5) {
        cell.measured = true;
        cell.compute_per_step_s = std::max(0.0, step_ns - collective_ns) / cell.steps / 1e9;
      }
      interval.ranks.push_back(cell);
    }
    for (auto& cell : interval.ranks) {
      if (!cell.measured) continue;
      std::vector<double> others;
      for (const auto& o : interval.ranks)
        if (o.measured && o.rank != cell.rank) others.push_back(o.compute_per_step_s);
      const double m = median(others);
      cell.skew = m > 0 ? (cell.compute_per_step_s - m) / m : 0.0;
    }
    out.intervals.push_back(std::move(interval));
  }
  out.available = true;
  out.note = "compute per step (step minus collectives) vs the other ranks' median; " + std::to_string(intervals) +
             (intervals == 1 ? " interval of " : " intervals of ") + common::format_seconds(width / 1e9) +
             ", ranks aligned on their start times";
  return out;
}

std::string skew_text(const StepSkew& skew) {
  std::string out = "Step-time skew over time (" + skew.note + ")\n";
  if (!skew.available) return out;
  std::vector<Column> columns = {{"From", Align::Right}, {"To", Align::Right}};
  for (const auto& cell : skew.intervals.front().ranks)
    columns.push_back({"rank " + (cell.rank >= 0 ? std::to_string(cell.rank) : std::string("?")), Align::Right});
  TextTable table(columns);
  for (const auto& interval : skew.intervals) {
    std::vector<std::string> row = {common::format_seconds(interval.start_s), common::format_seconds(interval.end_s)};
    for (const auto& cell : interval.ranks)
      row.push_back(cell.measured ? signed_percent(cell.skew) + " (" + common::format_seconds(cell.compute_per_step_s) + ")"
                                  : "-");
    table.add(row);
  }
  out += table.render("  ");
  return out;
}

}  // namespace codeprof::cli
