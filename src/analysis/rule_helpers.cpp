// Helpers shared by the rule files (see rule_helpers.hpp).
#include "analysis/rule_helpers.hpp"

#include <algorithm>
#include <functional>
#include <utility>

#include "analysis/call_tree.hpp"
#include "common/number_format.hpp"

namespace codeprof::analysis {
namespace {

bool batch_independent(const OperationStats& op) {
  return op.category == Category::GradientAccumulation || op.category == Category::LrScheduling ||
         op.name.starts_with("Optimizer.");
}

}  // namespace

Evidence ev(std::string metric, double value, EvidenceUnit unit, std::string operation) {
  return Evidence{std::move(metric), value, unit, std::move(operation), {}};
}

int hardware_threads(const Facts& f) { return std::max(1, f.snapshot.run.hardware_threads); }

bool has_mixed_precision(const Facts& f) { return !f.in_category(Category::MixedPrecision).empty(); }

StepFixedWork step_fixed_work(const Facts& f) {
  StepFixedWork w;
  std::vector<std::pair<double, std::string>> parts;
  if (f.steps.step_operation) {
    const CallTree tree(f.snapshot);
    const auto is_fixed = [&](std::uint32_t id) {
      const OperationStats* op = operation_by_id(f.snapshot, id);
      return op && batch_independent(*op);
    };
    for (const auto& [id, ns] : tree.time_under(*f.steps.step_operation, is_fixed))
      if (is_fixed(id) && ns > 0.0) parts.emplace_back(ns_to_s(ns), operation_by_id(f.snapshot, id)->name);
    w.measured = !parts.empty();
    if (const OperationStats* step = operation_by_id(f.snapshot, *f.steps.step_operation); step && step->self_ns > 0)
      parts.emplace_back(ns_to_s(static_cast<double>(step->self_ns)), "the step's own code");
  } else {
    // Step spans from a trace: its optimizer operations run inside the steps.
    for (const auto& op : f.snapshot.operations)
      if (batch_independent(op) && op.total_ns > 0) parts.emplace_back(ns_to_s(static_cast<double>(op.total_ns)), op.name);
    w.measured = !parts.empty();
  }
  std::sort(parts.begin(), parts.end(), std::greater<>());
  for (const auto& [seconds, name] : parts) {
    w.seconds += seconds;
    w.parts.push_back(name + " " + common::format_seconds(seconds));
  }
  w.seconds = std::min(w.seconds, f.steps.step_time_s);
  return w;
}

}  // namespace codeprof::analysis
