#include "analysis/steps.hpp"

#include <algorithm>

#include "analysis/call_tree.hpp"
#include "analysis/operation_facts.hpp"
#include "analysis/robust_stats.hpp"

namespace codeprof::analysis {
namespace {

bool is_training_loop(const Snapshot& s, std::uint32_t id) {
  const OperationStats* op = operation_by_id(s, id);
  return op && op->category == Category::TrainingLoop;
}

bool is_input(const Snapshot& s, std::uint32_t id) {
  const OperationStats* op = operation_by_id(s, id);
  return op && is_input_category(op->category);
}

std::optional<std::uint32_t> choose_step_operation(const Snapshot& s, const Config& c, const CallTree& tree,
                                                   std::string& source) {
  std::string note;
  if (!c.step_operation.empty()) {
    if (const OperationStats* op = s.find(c.step_operation); op && op->count > 0) {
      source = "configured step operation '" + c.step_operation + "'";
      return op->id;
    }
    note = " (configured step operation '" + c.step_operation + "' not seen)";
  }
  // Outermost training_loop operations: none of their callers is a training_loop operation.
  const OperationStats* best = nullptr;
  for (const auto& op : s.operations) {
    if (op.category != Category::TrainingLoop || op.count == 0) continue;
    bool outermost = true;
    for (const CallEdge* e : tree.parents(op.id))
      if (e->parent_id != op.id && e->parent_id != kRootOperation && is_training_loop(s, e->parent_id))
        outermost = false;
    if (outermost && (!best || op.total_ns > best->total_ns)) best = &op;
  }
  if (!best) return std::nullopt;
  // Descend into a training_loop child run >= 2 times per call that covers >= half the time.
  for (int depth = 0; depth < 8; ++depth) {
    const OperationStats* next = nullptr;
    std::uint64_t next_time = 0;
    for (const CallEdge* e : tree.children(best->id)) {
      if (e->child_id == best->id || !is_training_loop(s, e->child_id)) continue;
      if (e->count >= 2 * best->count && 2 * e->total_ns >= best->total_ns && e->total_ns > next_time) {
        next = operation_by_id(s, e->child_id);
        next_time = e->total_ns;
      }
    }
    if (!next) break;
    best = next;
  }
  source = "training_loop operation '" + best->name + "'" + note;
  return best->id;
}

using Interval = std::pair<std::int64_t, std::int64_t>;

std::vector<Interval> merged(std::vector<Interval> v) {
  std::sort(v.begin(), v.end());
  std::vector<Interval> out;
  for (const auto& iv : v) {
    if (iv.second <= iv.first) continue;
    if (!out.empty() && iv.first <= out.back().second) out.back().second = std::max(out.back().second, iv.second);
    else out.push_back(iv);
  }
  return out;
}

std::int64_t overlap(const std::vector<Interval>& a, const std::vector<Interval>& b) {
  std::int64_t total = 0;
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const std::int64_t lo = std::max(a[i].first, b[j].first);
    const std::int64_t hi = std::min(a[i].second, b[j].second);
    if (hi > lo) total += hi - lo;
    if (a[i].second < b[j].second) ++i;
    else ++j;
  }
  return total;
}

// Top-level input time of every input operation (calls whose caller is not itself input).
double top_level_input_ns(const Snapshot& s, const CallTree& tree, const OperationStats& op) {
  const auto& parents = tree.parents(op.id);
  if (parents.empty()) return static_cast<double>(op.total_ns);  // no call tree: treat as top level
  double t = 0.0;
  for (const CallEdge* e : parents)
    if (e->parent_id == kRootOperation || !is_input(s, e->parent_id)) t += static_cast<double>(e->total_ns);
  return t;
}

void steps_from_spans(const Snapshot& s, const CallTree& tree, StepFacts& f) {
  std::vector<Interval> spans;
  std::vector<double> durations;
  for (const StepSpan& st : s.steps) {
    if (st.end_ns <= st.start_ns) continue;
    spans.emplace_back(st.start_ns, st.end_ns);
    durations.push_back(ns_to_s(static_cast<double>(st.end_ns - st.start_ns)));
  }
  if (spans.empty()) return;
  f.count = spans.size();
  for (double d : durations) f.step_time_s += d;
  f.mean_step_s = f.step_time_s / static_cast<double>(f.count);
  f.median_step_s = median(durations);
  const auto steps = merged(spans);
  f.first_start_ns = steps.front().first;
  f.last_end_ns = steps.back().second;
  f.source = "step spans from the " + s.run.source + " input";
  if (has_trace(s)) {
    std::vector<Interval> input;
    for (const TraceEvent& e : s.trace_events)
      if (is_input(s, e.operation_id)) input.emplace_back(e.start_ns, e.start_ns + e.duration_ns);
    f.input_in_steps_s = ns_to_s(static_cast<double>(overlap(merged(std::move(input)), steps)));
  } else {
    // Without events the input calls cannot be placed in time: count them as inside the steps.
    double input_ns = 0.0;
    for (const auto& op : s.operations)
      if (is_input_category(op.category)) input_ns += top_level_input_ns(s, tree, op);
    f.input_in_steps_s = std::min(f.step_time_s, ns_to_s(input_ns));
  }
}

// An operation's call time that falls in [from, to], from its time windows (calls spread evenly
// inside a window); without windows, from its first and last call.
double time_within(const OperationStats& op, std::int64_t from, std::int64_t to) {
  if (to <= from) return 0.0;
  const auto overlap_share = [&](std::int64_t a, std::int64_t b) {
    if (b <= a) return a >= from && a <= to ? 1.0 : 0.0;
    const std::int64_t lo = std::max(a, from), hi = std::min(b, to);
    return hi > lo ? static_cast<double>(hi - lo) / static_cast<double>(b - a) : 0.0;
  };
  if (op.series.empty()) return static_cast<double>(op.total_ns) * overlap_share(op.first_seen_ns, op.last_seen_ns);
  double t = 0.0;
  for (const DurationWindow& w : op.series)
    t += static_cast<double>(w.total_ns) * overlap_share(w.start_ns, w.start_ns + w.width_ns);
  return t;
}

void steps_from_operation(const Snapshot& s, const CallTree& tree, std::uint32_t step_id, StepFacts& f) {
  const OperationStats* step = operation_by_id(s, step_id);
  f.step_operation = step_id;
  f.count = step->count;
  f.step_time_s = ns_to_s(static_cast<double>(step->total_ns));
  f.mean_step_s = ns_to_s(step->mean_ns);
  f.median_step_s = ns_to_s(static_cast<double>(step->p50_ns));
  f.first_start_ns = step->first_seen_ns;
  f.last_end_ns = step->last_seen_ns;
  for (const auto& t : s.threads)
    for (const auto& to : t.operations)
      if (to.operation_id == step_id && to.count > 0) f.step_threads.push_back(t.index);

  // Epochs: the caller of the steps that runs several times, fewer than the steps.
  std::uint64_t best_time = 0;
  for (const CallEdge* e : tree.parents(step_id)) {
    if (e->parent_id == kRootOperation || e->parent_id == step_id) continue;
    const OperationStats* p = operation_by_id(s, e->parent_id);
    if (p && p->count >= 2 && p->count < step->count && e->total_ns > best_time) {
      best_time = e->total_ns;
      f.pass_operation = p->id;
      f.passes = p->count;
    }
  }

  const auto under = tree.time_under(step_id, [&](std::uint32_t id) { return is_input(s, id); });
  const ThreadTimes thread_times(s);
  // Input outside the steps stalls them only when it runs where the steps run: called at the
  // steps' own level (by the epoch loop, or at the top level when the steps are), on the steps'
  // threads, while the steps run. Input for validation or scoring (called inside those), or to
  // prepare before the first step, is other work, not waiting between steps.
  std::vector<std::uint32_t> step_callers;
  for (const CallEdge* e : tree.parents(step_id))
    if (e->parent_id != step_id) step_callers.push_back(e->parent_id);
  if (step_callers.empty()) step_callers.push_back(kRootOperation);
  const auto at_step_level = [&](std::uint32_t parent) {
    return std::find(step_callers.begin(), step_callers.end(), parent) != step_callers.end();
  };
  for (const auto& op : s.operations) {
    if (!is_input_category(op.category) || op.id == step_id) continue;
    const auto it = under.find(op.id);
    const double in_ns = it == under.end() ? 0.0 : std::min(it->second, static_cast<double>(op.total_ns));
    f.input_in_steps_s += ns_to_s(in_ns);
    const auto& parents = tree.parents(op.id);
    double level_ns = 0.0;
    if (parents.empty()) {
      level_ns = static_cast<double>(op.total_ns) - in_ns;  // no call tree: every call outside
    } else {
      for (const CallEdge* e : parents)
        if (at_step_level(e->parent_id)) level_ns += static_cast<double>(e->total_ns);
    }
    double between_ns = 0.0;
    const double rest_total = static_cast<double>(op.total_ns) - in_ns;
    if (level_ns > 0.0 && rest_total > 0.0) {
      const double on_step_threads = thread_times.fraction_on(op.id, f.step_threads) * static_cast<double>(op.total_ns);
      const double on_threads = std::clamp((on_step_threads - in_ns) / rest_total, 0.0, 1.0);
      const double in_span = std::clamp((time_within(op, f.first_start_ns, f.last_end_ns) - in_ns) / rest_total, 0.0, 1.0);
      between_ns = std::min(level_ns, rest_total) * on_threads * in_span;
      f.input_between_steps_s += ns_to_s(between_ns);
    }
    if (in_ns + between_ns > 0.0) f.input_by_operation[op.id] = ns_to_s(in_ns + between_ns);
  }
}

// Outermost time of an operation: its calls whose caller is not of the same category.
double outermost_ns(const Snapshot& s, const CallTree& tree, const OperationStats& op) {
  const auto& parents = tree.parents(op.id);
  if (parents.empty()) return static_cast<double>(op.total_ns);
  double t = 0.0;
  for (const CallEdge* e : parents) {
    const OperationStats* p = e->parent_id == kRootOperation ? nullptr : operation_by_id(s, e->parent_id);
    if (!p || p->category != op.category) t += static_cast<double>(e->total_ns);
  }
  return t;
}

}  // namespace

double time_outside_steps(const Snapshot& s, const StepFacts& steps, Category c) {
  const CallTree tree(s);
  double outermost = 0.0;
  for (const auto& op : s.operations)
    if (op.category == c) outermost += outermost_ns(s, tree, op);
  if (steps.count == 0) return ns_to_s(outermost);
  if (steps.step_operation) {
    const auto under = tree.time_under(*steps.step_operation, [&](std::uint32_t id) {
      const OperationStats* op = operation_by_id(s, id);
      return op && op->category == c;
    });
    double inside = 0.0;
    for (const auto& [id, t] : under) {
      const OperationStats* op = operation_by_id(s, id);
      if (op && op->category == c) inside += t;
    }
    return ns_to_s(std::max(0.0, outermost - inside));
  }
  if (!has_trace(s)) return 0.0;
  std::vector<Interval> spans, calls;
  for (const StepSpan& st : s.steps) spans.emplace_back(st.start_ns, st.end_ns);
  for (const TraceEvent& e : s.trace_events) {
    const OperationStats* op = operation_by_id(s, e.operation_id);
    if (op && op->category == c) calls.emplace_back(e.start_ns, e.start_ns + e.duration_ns);
  }
  const auto merged_calls = merged(std::move(calls));
  std::int64_t all = 0;
  for (const auto& iv : merged_calls) all += iv.second - iv.first;
  return ns_to_s(static_cast<double>(all - overlap(merged_calls, merged(std::move(spans)))));
}

StepFacts detect_steps(const Snapshot& s, const Config& c) {
  StepFacts f;
  const CallTree tree(s);
  if (!s.steps.empty()) {
    steps_from_spans(s, tree, f);
    if (f.count > 0) return f;
  }
  std::string source;
  if (const auto id = choose_step_operation(s, c, tree, source)) {
    f.source = source;
    steps_from_operation(s, tree, *id, f);
  }
  return f;
}

InputPipelineClass classify_input(const StepFacts& steps) {
  InputPipelineClass c;
  c.steps = steps.count;
  c.step_time = steps.step_time_s;
  c.step_source = steps.source;
  if (steps.count == 0 || steps.iteration_s() <= 0.0) {
    c.level = InputBound::Unknown;
    return c;
  }
  c.input_share = std::clamp(steps.input_share(), 0.0, 1.0);
  c.level = c.input_share >= kHighlyInputBound       ? InputBound::Highly
            : c.input_share >= kModeratelyInputBound ? InputBound::Moderately
                                                     : InputBound::Not;
  return c;
}

}  // namespace codeprof::analysis
