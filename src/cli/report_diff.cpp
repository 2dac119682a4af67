#include "cli/report_diff.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/text_table.hpp"
#include "common/number_format.hpp"

namespace codeprof::cli {
namespace {

using Key = std::pair<std::string, std::string>;  // name, type

// Per (name, type); repeated keys (possible in foreign traces) are merged: calls and totals add,
// the mean follows, p95 takes the larger.
std::map<Key, OperationFigures> figures_of(const Snapshot& s) {
  std::map<Key, OperationFigures> out;
  for (const auto& op : s.operations) {
    OperationFigures& f = out[{op.name, std::string(to_string(op.category))}];
    f.calls += op.count;
    f.total_s += static_cast<double>(op.total_ns) / 1e9;
    f.mean_s = f.calls ? f.total_s / static_cast<double>(f.calls) : 0.0;
    f.p95_s = std::max(f.p95_s, static_cast<double>(op.p95_ns) / 1e9);
  }
  return out;
}

std::optional<double> change(double base, double next) {
  if (!(base > 0)) return std::nullopt;
  return (next - base) / base;
}

double metric_of(const OperationFigures& f, const std::string& metric) {
  return metric == "p95" ? f.p95_s : metric == "total" ? f.total_s : f.mean_s;
}

std::optional<double> metric_change(const OperationChange& c, const std::string& metric) {
  return metric == "p95" ? c.p95_change : metric == "total" ? c.total_change : c.mean_change;
}

std::string percent(const std::optional<double>& ratio) {
  if (!ratio) return "";
  std::string s = common::format_percent(*ratio);
  if (*ratio >= 0) s.insert(0, 1, '+');
  return s;
}

std::string before_after(double base, double next, const std::optional<double>& ratio) {
  std::string s = common::format_seconds(base) + " -> " + common::format_seconds(next);
  if (ratio) s += " (" + percent(ratio) + ")";
  return s;
}

}  // namespace

DiffResult diff_snapshots(const Snapshot& base, const Snapshot& next, const DiffOptions& options) {
  const auto a = figures_of(base);
  const auto b = figures_of(next);
  DiffResult result;
  std::vector<OperationChange> common, added, removed;
  for (const auto& [key, fa] : a) {
    OperationChange c;
    c.name = key.first;
    c.type = key.second;
    c.base = fa;
    const auto it = b.find(key);
    if (it == b.end()) {
      removed.push_back(std::move(c));
      continue;
    }
    const OperationFigures& fb = it->second;
    c.next = fb;
    c.calls_change = change(static_cast<double>(fa.calls), static_cast<double>(fb.calls));
    c.mean_change = change(fa.mean_s, fb.mean_s);
    c.p95_change = change(fa.p95_s, fb.p95_s);
    c.total_change = change(fa.total_s, fb.total_s);
    const auto moved = metric_change(c, options.metric);
    const bool big_enough = std::max(metric_of(fa, options.metric), metric_of(fb, options.metric)) >= options.min_duration_s;
    // From nothing to something is an unbounded slowdown: no percentage can allow it.
    const bool from_zero = !(metric_of(fa, options.metric) > 0.0) && metric_of(fb, options.metric) > 0.0;
    c.regressed = options.max_regression && (from_zero || (moved && *moved > *options.max_regression)) && big_enough;
    if (c.regressed) ++result.regressions;
    common.push_back(std::move(c));
  }
  for (const auto& [key, fb] : b) {
    if (a.count(key)) continue;
    OperationChange c;
    c.name = key.first;
    c.type = key.second;
    c.next = fb;
    added.push_back(std::move(c));
  }
  // Biggest effect on the run first.
  std::stable_sort(common.begin(), common.end(), [](const auto& x, const auto& y) {
    return std::fabs(x.next->total_s - x.base->total_s) > std::fabs(y.next->total_s - y.base->total_s);
  });
  std::stable_sort(added.begin(), added.end(), [](const auto& x, const auto& y) { return x.next->total_s > y.next->total_s; });
  std::stable_sort(removed.begin(), removed.end(), [](const auto& x, const auto& y) { return x.base->total_s > y.base->total_s; });
  for (auto* part : {&common, &added, &removed})
    for (auto& c : *part) result.changes.push_back(std::move(c));
  return result;
}

std::string diff_text(const DiffResult& diff, const DiffOptions& options, const std::string& base_name,
                      const std::string& new_name) {
  std::string out = "codeprof diff: " + base_name + " -> " + new_name + "\n\n";
  TextTable table({{"", Align::Left},
                   {"Operation", Align::Left},
                   {"Type", Align::Left},
                   {"Calls", Align::Right},
                   {"Mean", Align::Right},
                   {"p95", Align::Right},
                   {"Total", Align::Right}});
  std::vector<const OperationChange*> added, removed;
  std::size_t listed = 0, left_out = 0;
  for (const auto& c : diff.changes) {
    if (!c.base) {
      added.push_back(&c);
      continue;
    }
    if (!c.next) {
      removed.push_back(&c);
      continue;
    }
    // Changes come largest first: past `top`, only regressions are still listed.
    if (options.top && listed >= options.top && !c.regressed) {
      ++left_out;
      continue;
    }
    ++listed;
    table.add({c.regressed ? "REGRESSED" : "", truncate(c.name, 48), c.type,
               std::to_string(c.base->calls) + " -> " + std::to_string(c.next->calls),
               before_after(c.base->mean_s, c.next->mean_s, c.mean_change),
               before_after(c.base->p95_s, c.next->p95_s, c.p95_change),
               before_after(c.base->total_s, c.next->total_s, c.total_change)});
  }
  if (!table.empty()) out += table.render("  ");
  if (left_out)
    out += "  (" + std::to_string(left_out) + " more in both runs with smaller changes; --top 0 lists them all)\n";
  // Added and removed operations, largest first, at most `top` of each.
  const auto list = [&](const char* title, const std::vector<const OperationChange*>& ops, bool is_added) {
    if (ops.empty()) return;
    out += std::string("\n") + title + "\n";
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (options.top && i >= options.top) {
        out += "  ... and " + std::to_string(ops.size() - i) + " more\n";
        break;
      }
      const OperationChange& c = *ops[i];
      const OperationFigures& f = is_added ? *c.next : *c.base;
      out += std::string(is_added ? "  + " : "  - ") + printable(c.name) + " [" + c.type + "]: " + (is_added ? "" : "was ") +
             common::format_count(f.calls) + " calls, mean " + common::format_seconds(f.mean_s) + ", total " +
             common::format_seconds(f.total_s) + "\n";
    }
  };
  list("Added in the new run", added, true);
  list("Removed in the new run", removed, false);
  out += "\n";
  if (!options.max_regression) {
    out += "No regression limit given (--max-regression PCT): nothing is gated.\n";
  } else if (diff.regressions == 0) {
    out += "No operation's " + options.metric + " duration regressed by more than " +
           common::format_percent(*options.max_regression) + ".\n";
  } else {
    out += std::to_string(diff.regressions) + (diff.regressions == 1 ? " operation" : " operations") + " regressed by more than " +
           common::format_percent(*options.max_regression) + " (" + options.metric + " duration):";
    for (const auto& c : diff.changes)
      if (c.regressed) {
        out += ' ';
        out += printable(c.name);
        out += ' ';
        out += percent(metric_change(c, options.metric));
        out += ';';
      }
    out.back() = '\n';
  }
  return out;
}

std::string diff_json(const DiffResult& diff, const DiffOptions& options, const std::string& base_name,
                      const std::string& new_name) {
  using Json = nlohmann::ordered_json;
  const auto figures = [](const std::optional<OperationFigures>& f) -> Json {
    if (!f) return nullptr;
    return {{"calls", f->calls}, {"mean", f->mean_s}, {"p95", f->p95_s}, {"total", f->total_s}};
  };
  const auto ratio = [](const std::optional<double>& r) -> Json { return r ? Json(*r) : Json(nullptr); };
  Json ops = Json::array();
  for (const auto& c : diff.changes) {
    ops.push_back({{"name", c.name},
                   {"type", c.type},
                   {"status", !c.base ? "added" : !c.next ? "removed" : "common"},
                   {"base", figures(c.base)},
                   {"new", figures(c.next)},
                   {"change", {{"calls", ratio(c.calls_change)}, {"mean", ratio(c.mean_change)},
                               {"p95", ratio(c.p95_change)}, {"total", ratio(c.total_change)}}},
                   {"regressed", c.regressed}});
  }
  Json j = {{"base", base_name},
            {"new", new_name},
            {"metric", options.metric},
            {"max_regression", options.max_regression ? Json(*options.max_regression) : Json(nullptr)},
            {"min_duration", options.min_duration_s},
            {"regressions", diff.regressions},
            {"operations", std::move(ops)}};
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace codeprof::cli
