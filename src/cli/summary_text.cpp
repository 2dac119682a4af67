#include "cli/summary_text.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "cli/text_table.hpp"
#include "common/number_format.hpp"

// Every text that comes from the input (names, the command line, the findings that quote them) goes
// through printable(): a report or trace is untrusted, and its control bytes must not reach the
// terminal (escape sequences, carriage returns that overwrite the line).
namespace codeprof::cli {
namespace {
// A duration in nanoseconds, as people read it ("25.0 ms").
template <typename Ns>
std::string duration(Ns ns) {
  return common::format_seconds(static_cast<double>(ns) / 1e9);
}

std::string run_line(const Snapshot& s) {
  const RunInfo& run = s.run;
  // Traces carry no command line: name the file instead.
  std::string line = !run.command.empty()     ? run.command
                     : !run.source_path.empty() ? std::filesystem::path(run.source_path).filename().string()
                                                : std::string("(no command recorded)");
  std::string where;
  if (!run.host.empty()) where += "host " + run.host;
  if (run.pid) where += (where.empty() ? "" : ", ") + std::string("pid ") + std::to_string(run.pid);
  if (run.rank >= 0)
    where += (where.empty() ? "" : ", ") + std::string("rank ") + std::to_string(run.rank) +
             (run.world_size > 0 ? " of " + std::to_string(run.world_size) : "");
  if (run.local_rank >= 0) where += (where.empty() ? "" : ", ") + std::string("local rank ") + std::to_string(run.local_rank);
  if (!run.job_name.empty()) where += (where.empty() ? "" : ", ") + std::string("job ") + run.job_name;
  if (!where.empty()) line += " (" + where + ")";
  return printable(line);
}

void classification(std::string& out, const Snapshot& s, const Classification& c) {
  out += "\nClassification\n";
  if (!c.summary.empty()) out += "  " + printable(c.summary) + "\n";
  // The summary gives the verdicts; these lines give the numbers behind them.
  if (c.input.steps > 0)
    out += "  steps: " + common::format_count(c.input.steps) + ", mean " +
           common::format_seconds(c.input.step_time / static_cast<double>(c.input.steps)) + ", input " +
           common::format_percent(c.input.input_share) + " of step time (" + std::string(to_string(c.input.level)) + " input-bound)" +
           (c.input.step_source.empty() ? "" : "; steps from " + printable(c.input.step_source)) + "\n";
  else
    out += "  steps: none found, so no input-bound verdict\n";
  if (c.gpu.available)
    out += "  GPU: idle " + common::format_percent(c.gpu.idle_share) + (s.steps.empty() ? " of the run" : " of step time") +
           (c.gpu.mean_utilization > 0 ? ", mean utilization " + common::format_percent(c.gpu.mean_utilization / 100.0) : "") +
           (c.gpu.source == GpuSource::None ? "" : " (from the " + std::string(to_string(c.gpu.source)) + ")") + "\n";
  if (c.cpu.mean_efficiency >= 0) {
    out += "  CPU: efficiency " + common::format_percent(c.cpu.mean_efficiency) +
           (c.cpu.contention_suspected ? ", contention suspected" : "");
    if (!c.cpu.waiting_operations.empty()) {
      out += "; waiting:";
      for (const auto& w : c.cpu.waiting_operations) out += " " + printable(w);
    }
    out += "\n";
  }
}

void top_operations(std::string& out, const Snapshot& s, std::size_t top) {
  std::vector<const OperationStats*> ops;
  for (const auto& op : s.operations) ops.push_back(&op);
  std::stable_sort(ops.begin(), ops.end(), [](const auto* a, const auto* b) { return a->total_ns > b->total_ns; });
  out += "\nTop operations by total time";
  if (ops.size() > top) out += " (" + std::to_string(top) + " of " + std::to_string(ops.size()) + ")";
  out += "\n";
  if (ops.empty()) {
    out += "  none recorded\n";
    return;
  }
  const double wall = static_cast<double>(s.run.wall_ns);
  TextTable table({{"Operation", Align::Left},
                   {"Type", Align::Left},
                   {"Calls", Align::Right},
                   {"Total", Align::Right},
                   {"Self", Align::Right},
                   {"Mean", Align::Right},
                   {"p95", Align::Right},
                   {"Self/wall", Align::Right}});
  for (std::size_t i = 0; i < ops.size() && i < top; ++i) {
    const auto& op = *ops[i];
    table.add({truncate(op.name, 48), std::string(to_string(op.category)), common::format_count(op.count),
               duration(op.total_ns), duration(op.self_ns),
               duration(op.mean_ns), duration(op.p95_ns),
               wall > 0 ? common::format_percent(static_cast<double>(op.self_ns) / wall) : "-"});
  }
  out += table.render("  ");
}

void bottlenecks(std::string& out, const std::vector<Bottleneck>& list, std::size_t top) {
  out += "\nBottlenecks\n";
  if (list.empty()) {
    out += "  none: no operation crossed its thresholds\n";
    return;
  }
  for (std::size_t i = 0; i < list.size() && i < top; ++i) {
    const auto& b = list[i];
    out += "  " + std::to_string(i + 1) + ". [" + std::string(to_string(b.optimization_priority)) + "] " + printable(b.operation) + " (" + std::string(to_string(b.type)) + ", " +
           std::string(to_string(b.severity)) + "): mean " + common::format_seconds(b.avg_duration) + ", p95 " + common::format_seconds(b.p95_duration) +
           ", " + common::format_count(b.calls) + " calls, " + common::format_percent(b.share_of_wall) + " of wall time\n";
    if (!b.reason.empty()) out += "     " + printable(b.reason) + "\n";
  }
  if (list.size() > top) out += "  ... and " + std::to_string(list.size() - top) + " more\n";
}

void recommendations(std::string& out, const std::vector<Recommendation>& list, std::size_t top) {
  out += "\nRecommendations\n";
  if (list.empty()) {
    out += "  none: nothing stood out\n";
    return;
  }
  for (std::size_t i = 0; i < list.size() && i < top; ++i) {
    const auto& r = list[i];
    out += "  " + std::to_string(i + 1) + ". [" + std::string(to_string(r.priority)) + "] " + printable(r.title) + "  (" + printable(r.id) + ")\n";
    if (!r.evidence_text.empty()) out += "     evidence: " + printable(r.evidence_text) + "\n";
    if (!r.action.empty()) out += "     action:   " + printable(r.action) + "\n";
  }
  if (list.size() > top) out += "  ... and " + std::to_string(list.size() - top) + " more\n";
}

}  // namespace

std::string summary_text(const Snapshot& s, const Findings& f, std::size_t top) {
  std::string out = "codeprof analyze: " + run_line(s) + "\n";
  if (!s.run.source_path.empty()) out += "  source: " + printable(s.run.source_path) + " (" + printable(s.run.source) + ")\n";
  out += "  wall time " + duration(s.run.wall_ns) + ", " +
         common::format_count(s.operations.size()) + " operations";
  if (s.events_recorded) out += ", " + common::format_count(s.events_recorded) + " events";
  if (s.events_dropped) out += " (" + common::format_count(s.events_dropped) + " dropped: buffers were full)";
  out += "\n";
  classification(out, s, f.classification);
  top_operations(out, s, top);
  bottlenecks(out, f.bottlenecks, top);
  recommendations(out, f.recommendations, top);
  if (!f.trends.empty()) {
    out += "\nTrends\n";
    for (const auto& t : f.trends)
      out += "  - " + std::string(to_string(t.kind)) + (t.operation.empty() ? "" : " " + printable(t.operation)) + ": " + printable(t.description) + "\n";
  }
  if (!f.inconclusive.empty()) {
    out += "\nNot concluded (this run is too short or lacks the data)\n";
    for (const auto& i : f.inconclusive) out += "  - " + printable(i.check) + ": needs " + printable(i.needs) + "; had " + printable(i.had) + "\n";
  }
  if (!s.run.unavailable.empty()) {
    out += "\nUnavailable\n";
    for (const auto& u : s.run.unavailable) out += "  - " + printable(u.what) + ": " + printable(u.reason) + "\n";
  }
  return out;
}

}  // namespace codeprof::cli
