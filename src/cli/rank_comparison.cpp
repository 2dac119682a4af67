#include "cli/rank_comparison.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <set>
#include <unordered_set>

#include "analysis/text_format.hpp"
#include "cli/text_table.hpp"

namespace codeprof::cli {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_nccl_kernel(const std::string& lowered) {
  return lowered.rfind("ncclkernel", 0) == 0 || lowered.rfind("nccldevkernel", 0) == 0;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

std::string signed_percent(double ratio) {
  std::string s = analysis::format_percent(ratio);
  if (ratio >= 0) s.insert(0, 1, '+');
  return s;
}

}  // namespace

bool is_collective(const OperationStats& op) {
  if (op.category == Category::MultiGpu) return true;
  const std::string n = lower(op.name);
  if (n.rfind("nccl:", 0) == 0 || n.rfind("gloo:", 0) == 0 || n.rfind("c10d::", 0) == 0 || is_nccl_kernel(n))
    return true;
  static constexpr std::string_view kWords[] = {"allreduce", "all_reduce", "allgather", "all_gather", "reduce_scatter",
                                                "reducescatter", "alltoall", "all_to_all", "broadcast", "barrier"};
  return std::any_of(std::begin(kWords), std::end(kWords), [&](std::string_view w) { return n.find(w) != std::string::npos; });
}

double collective_seconds(const Snapshot& s) {
  std::unordered_set<std::uint32_t> cpu_side;
  double kernels_ns = 0;
  for (const auto& op : s.operations) {
    if (!is_collective(op)) continue;
    if (is_nccl_kernel(lower(op.name))) kernels_ns += static_cast<double>(op.total_ns);
    else cpu_side.insert(op.id);
  }
  double cpu_ns = 0;
  for (const auto& op : s.operations)
    if (cpu_side.count(op.id)) cpu_ns += static_cast<double>(op.total_ns);
  // Calls of a collective made inside another collective are already in the outer one's time.
  for (const auto& edge : s.call_tree)
    if (edge.parent_id != kRootOperation && cpu_side.count(edge.parent_id) && cpu_side.count(edge.child_id))
      cpu_ns -= static_cast<double>(edge.total_ns);
  return std::max(0.0, cpu_ns > 0 ? cpu_ns : kernels_ns) / 1e9;
}

JobComparison compare_ranks(const std::vector<RankInput>& inputs, double threshold) {
  JobComparison job;
  job.threshold = threshold;
  for (const auto& in : inputs) {
    RankFacts r;
    r.path = in.path;
    r.rank = in.snapshot->run.rank;
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
             analysis::format_percent(threshold);

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
      s.description = "rank " + std::to_string(r.rank) + " " + what + ": " + analysis::format_seconds(value) + unit + " vs " +
                      analysis::format_seconds(others) + " on the other ranks (median), " + signed_percent(s.difference) +
                      " (" + (value >= others ? "+" : "-") + analysis::format_seconds(std::fabs(value - others)) + ")";
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
                   {"File", Align::Left},
                   {"Steps", Align::Right},
                   {job.per_step ? "Mean step" : "Wall", Align::Right},
                   {"Compute", Align::Right},
                   {"Collectives", Align::Right},
                   {"Most self time", Align::Left}});
  for (const auto& r : job.ranks)
    table.add({r.rank >= 0 ? std::to_string(r.rank) : "?", truncate(std::filesystem::path(r.path).filename().string(), 48), analysis::format_count(r.steps),
               analysis::format_seconds(r.step_s), analysis::format_seconds(r.compute_s), analysis::format_seconds(r.collective_per_s),
               r.top_operation.empty() ? "-" : truncate(r.top_operation, 40) + " (" + analysis::format_seconds(r.top_operation_s) + ")"});
  out += table.render("  ");
  out += "\nStragglers (" + job.note + ")\n";
  if (!job.one_job) return out;
  if (job.stragglers.empty()) {
    out += "  none: every rank is within " + analysis::format_percent(job.threshold) + " of the others\n";
    return out;
  }
  for (const auto& s : job.stragglers) out += "  - " + s.description + "\n";
  return out;
}

}  // namespace codeprof::cli
