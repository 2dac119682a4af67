// Bottlenecks: operations over their category's duration thresholds, and operations that take a
// large share of the run however fast each call is (a 1 ms call made a million times).
#include <algorithm>

#include "analysis/analyze.hpp"
#include "analysis/operation_facts.hpp"
#include "analysis/priority.hpp"
#include "common/number_format.hpp"

namespace codeprof::analysis {
namespace {

// A container scope's cost is in its children, which are ranked on their own: its priority
// drops one level when its self time is under this share of its total time.
constexpr double kContainerSelfShare = 0.10;

}  // namespace

std::vector<Bottleneck> find_bottlenecks(const Snapshot& snapshot, const Config& config, double min_mean_seconds) {
  const double wall_s = run_wall_seconds(snapshot);
  const auto facts = compute_operation_facts(snapshot, wall_s);
  std::vector<Bottleneck> out;
  for (const OperationFacts& f : facts) {
    const OperationStats& op = *f.op;
    if (op.count == 0 || f.mean_s < min_mean_seconds) continue;
    const Thresholds& t = config.thresholds[index_of(op.category)];
    Bottleneck b;
    std::string why;
    const std::string category(to_string(op.category));
    if (f.mean_s >= t.critical_s || f.p95_s >= t.critical_s) {
      b.severity = Severity::Critical;
      b.optimization_priority = Priority::High;
      why = (f.mean_s >= t.critical_s ? "mean " + common::format_seconds(f.mean_s) : "p95 " + common::format_seconds(f.p95_s)) +
            " >= critical " + common::format_seconds(t.critical_s) + " for " + category;
    } else if (f.mean_s >= t.warning_s || f.p95_s >= t.warning_s) {
      b.severity = Severity::Warning;
      b.optimization_priority = Priority::Medium;
      why = (f.mean_s >= t.warning_s ? "mean " + common::format_seconds(f.mean_s) : "p95 " + common::format_seconds(f.p95_s)) +
            " >= warning " + common::format_seconds(t.warning_s) + " for " + category;
    } else if (wall_s > 0.0 && f.self_share >= config.low_priority_share) {
      b.severity = Severity::Share;
      b.optimization_priority = Priority::Low;
      why = "self time " + common::format_percent(f.self_share) + " of the run >= " + common::format_percent(config.low_priority_share) +
            " (calls under the " + category + " warning " + common::format_seconds(t.warning_s) + ")";
    } else {
      continue;
    }
    const bool container = op.total_ns > 0 && b.severity != Severity::Share &&
                           static_cast<double>(op.self_ns) < kContainerSelfShare * static_cast<double>(op.total_ns);
    if (container) b.optimization_priority = lower_priority(b.optimization_priority);

    b.operation = op.name;
    b.type = op.category;
    b.avg_duration = f.mean_s;
    b.p95_duration = f.p95_s;
    b.calls = op.count;
    b.total_time = f.total_s;
    b.self_time = f.self_s;
    b.share_of_wall = f.self_share;
    b.reason = why + ": mean " + common::format_seconds(f.mean_s) + ", p95 " + common::format_seconds(f.p95_s) + " over " +
               common::format_count(op.count) + " calls; self " + common::format_seconds(f.self_s) +
               // Several threads add up their self time, which can exceed the run: the text gives the
               // sum's real ratio (share_of_wall, the rank, stays clamped at 100 %).
               (f.threads > 1 ? " summed over " + std::to_string(f.threads) + " threads" : "") + " = " +
               common::format_percent(wall_s > 0.0 ? f.self_s / wall_s : 0.0) + " of the " + common::format_seconds(wall_s) + " run" +
               (container ? "; its time is mostly in its children, ranked on their own" : "");
    out.push_back(std::move(b));
  }
  std::sort(out.begin(), out.end(), [](const Bottleneck& a, const Bottleneck& b) {
    if (priority_rank(a.optimization_priority) != priority_rank(b.optimization_priority))
      return priority_rank(a.optimization_priority) < priority_rank(b.optimization_priority);
    if (a.share_of_wall != b.share_of_wall) return a.share_of_wall > b.share_of_wall;
    if (a.total_time != b.total_time) return a.total_time > b.total_time;
    return a.operation < b.operation;
  });
  return out;
}

}  // namespace codeprof::analysis
