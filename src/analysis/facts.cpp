#include "analysis/facts.hpp"

#include <algorithm>

#include "analysis/analyze.hpp"
#include "analysis/call_tree.hpp"
#include "analysis/trends.hpp"

namespace codeprof::analysis {

const OperationFacts* Facts::operation(std::uint32_t id) const {
  for (const auto& f : operations)
    if (f.op->id == id) return &f;
  return nullptr;
}

const OperationFacts* Facts::operation(std::string_view name) const {
  for (const auto& f : operations)
    if (f.op->name == name) return &f;
  return nullptr;
}

std::vector<const OperationFacts*> Facts::in_category(Category c) const {
  std::vector<const OperationFacts*> out;
  for (const auto& f : operations)
    if (f.op->category == c && f.op->count > 0) out.push_back(&f);
  std::sort(out.begin(), out.end(), [](const OperationFacts* a, const OperationFacts* b) {
    return a->self_s != b->self_s ? a->self_s > b->self_s : a->op->id < b->op->id;
  });
  return out;
}

double Facts::category_self_s(Category c) const {
  double t = 0.0;
  for (const auto& f : operations)
    if (f.op->category == c) t += f.self_s;
  return t;
}

double Facts::category_total_s(Category c) const {
  const CallTree tree(snapshot);
  double t = 0.0;
  for (const auto& f : operations) {
    if (f.op->category != c) continue;
    const auto& parents = tree.parents(f.op->id);
    if (parents.empty()) {
      t += f.total_s;
      continue;
    }
    for (const CallEdge* e : parents) {
      const OperationStats* p = e->parent_id == kRootOperation ? nullptr : operation_by_id(snapshot, e->parent_id);
      if (!p || p->category != c) t += ns_to_s(static_cast<double>(e->total_ns));
    }
  }
  return t;
}

Facts build_facts(const Snapshot& snapshot, const Config& config) {
  Facts f(snapshot, config);
  f.wall_s = run_wall_seconds(snapshot);
  f.operations = compute_operation_facts(snapshot, f.wall_s);
  f.steps = detect_steps(snapshot, config);
  f.gpus = gpu_usage(snapshot, f.steps, f.wall_s);
  f.contended = find_contention(snapshot, f.operations, f.wall_s);
  f.classification.input = classify_input(f.steps);
  f.classification.gpu = classify_gpu(f.gpus);
  f.classification.cpu = classify_cpu(snapshot, f.operations, f.contended);
  f.classification.summary = summarize(f.classification);
  f.trends = find_trends(snapshot, f.operations, f.steps, &f.inconclusive);
  if (f.classification.input.level == InputBound::Unknown)
    f.inconclusive.push_back({"input_bound",
                              "steps: ProfilerStep# spans in a trace, the operation analysis.step_operation names, or "
                              "a training_loop scope",
                              f.steps.source.empty() ? "none found" : "steps with no time (" + f.steps.source + ")"});
  if (f.classification.cpu.mean_efficiency < 0.0)
    f.inconclusive.push_back({"cpu_efficiency", "thread CPU time measured in the scopes (metrics.cpu)",
                              "no operation measured it"});
  f.bottlenecks = find_bottlenecks(snapshot, config, 0.0);
  f.inference_outside_steps_s = time_outside_steps(snapshot, f.steps, Category::ModelInference);
  return f;
}

}  // namespace codeprof::analysis
