// Preprocessing rules: a costly per-element stage (vectorise, parallelise, reuse buffers) and
// many tiny stages (fuse them). docs/RULES.md documents each.
#include "analysis/rule_domains.hpp"

#include <algorithm>

#include "analysis/rule_helpers.hpp"
#include "common/number_format.hpp"

namespace codeprof::analysis {
namespace {

// An allocation costs ~50-100 ns, so 100 per call is microseconds per call; 1 MiB per call is
// page-fault territory (codeprof's own; docs/RULES.md preprocessing-memory-reuse).
constexpr double kManyAllocsPerCall = 100.0;
constexpr double kLargeAllocPerCall = 1024.0 * 1024;
// Stages this short and this frequent pay call and hand-off overhead on every item (codeprof's own).
constexpr double kTinyStageS = 100e-6;
constexpr std::uint64_t kTinyStageCalls = 1000;

std::string efficiency_text(const std::optional<double>& e) {
  if (!e) return "its CPU efficiency was not measured (enable metrics.cpu to confirm)";
  return common::format_percent(*e) + " of its wall time on the CPU";
}

std::optional<RuleFiring> preprocessing_vectorize(const Facts& f) {
  for (const OperationFacts* o : f.in_category(Category::Preprocessing)) {
    if (o->self_share < kNoticeableShare || o->op->count < 10) continue;
    if (o->cpu_efficiency && *o->cpu_efficiency < kAsleepCpu) continue;  // waiting, not computing
    // Off the critical path: it runs on other threads than the steps and the steps do not wait
    // for input, so making it faster does not shorten the run.
    const bool off_critical_path = f.steps.count > 0 && !f.steps.step_threads.empty() &&
                                   f.classification.input.level == InputBound::Not &&
                                   thread_fraction(f.snapshot, o->op->id, f.steps.step_threads) < 0.5;
    RuleFiring r;
    r.priority = o->self_share >= 0.30 && !off_critical_path ? "high" : "medium";
    // On the steps' threads, its share of the iterations: the same base as the input rules', so
    // the operation's own cost ranks before hiding it behind workers.
    const bool on_step_threads = f.steps.count > 0 && f.steps.iteration_s() > 0.0 &&
                                 thread_fraction(f.snapshot, o->op->id, f.steps.step_threads) >= 0.5;
    r.impact = on_step_threads ? std::min(1.0, o->self_s / f.steps.iteration_s()) : o->self_share;
    r.evidence = {ev("self_time_share", o->self_share, EvidenceUnit::Ratio, o->op->name), ev("self_time", o->self_s, EvidenceUnit::Seconds, o->op->name),
                  ev("mean_duration", o->mean_s, EvidenceUnit::Seconds, o->op->name), ev("calls", static_cast<double>(o->op->count), EvidenceUnit::Count, o->op->name)};
    if (o->cpu_efficiency) r.evidence.push_back(ev("cpu_efficiency", *o->cpu_efficiency, EvidenceUnit::Ratio, o->op->name));
    r.values = {{"op", o->op->name},
                {"self", common::format_seconds(o->self_s)},
                {"share", common::format_percent(o->self_share)},
                {"mean", common::format_seconds(o->mean_s)},
                {"calls", common::format_count(o->op->count)},
                {"efficiency", efficiency_text(o->cpu_efficiency)}};
    return r;
  }
  return std::nullopt;
}

std::optional<RuleFiring> preprocessing_parallelize(const Facts& f) {
  const auto ops = f.in_category(Category::Preprocessing);
  if (ops.empty() || f.wall_s <= 0.0) return std::nullopt;
  const double share = std::min(1.0, f.category_self_s(Category::Preprocessing) / f.wall_s);
  const int hw = hardware_threads(f);
  std::size_t max_threads = 0;
  for (const OperationFacts* o : ops) max_threads = std::max(max_threads, o->threads);
  const OperationFacts* top = ops.front();
  if (share < kLargeShare || hw < 2 || max_threads > 1) return std::nullopt;
  if (top->cpu_efficiency && *top->cpu_efficiency < kAsleepCpu) return std::nullopt;
  RuleFiring r;
  r.impact = share * 0.9;
  r.evidence = {ev("preprocessing_share_of_wall", share, EvidenceUnit::Ratio), ev("preprocessing_threads", static_cast<double>(max_threads), EvidenceUnit::Count),
                ev("hardware_threads", hw, EvidenceUnit::Count), ev("self_time", top->self_s, EvidenceUnit::Seconds, top->op->name)};
  r.values = {{"op", top->op->name}, {"share", common::format_percent(share)}, {"hw", std::to_string(hw)},
              {"workers", std::to_string(hw - 1)}};
  return r;
}

std::optional<RuleFiring> preprocessing_memory_reuse(const Facts& f) {
  for (const OperationFacts* o : f.in_category(Category::Preprocessing)) {
    if (o->self_share < kSmallShare) continue;
    const double allocs = o->allocs_per_call.value_or(0.0), bytes = o->alloc_bytes_per_call.value_or(0.0);
    if (allocs < kManyAllocsPerCall && bytes < kLargeAllocPerCall) continue;
    RuleFiring r;
    r.priority = o->self_share >= kLargeShare ? "medium" : "low";
    r.impact = o->self_share;
    r.evidence = {ev("allocations_per_call", allocs, EvidenceUnit::Count, o->op->name), ev("bytes_allocated_per_call", bytes, EvidenceUnit::Bytes, o->op->name),
                  ev("self_time_share", o->self_share, EvidenceUnit::Ratio, o->op->name)};
    r.values = {{"op", o->op->name}, {"allocs", common::format_number(allocs, 0)}, {"bytes", common::format_bytes(bytes)},
                {"share", common::format_percent(o->self_share)}};
    return r;
  }
  return std::nullopt;
}

std::optional<RuleFiring> pipeline_streamline(const Facts& f) {
  std::vector<const OperationFacts*> tiny;
  double share = 0.0;
  for (const OperationFacts* o : f.in_category(Category::Preprocessing))
    if (o->op->count >= kTinyStageCalls && o->mean_s < kTinyStageS) {
      tiny.push_back(o);
      share += o->self_share;
    }
  if (tiny.size() < 3 || share < kNoticeableShare) return std::nullopt;
  RuleFiring r;
  r.impact = share;
  std::string names;
  for (const OperationFacts* o : tiny) {
    names += (names.empty() ? "" : ", ") + o->op->name;
    r.evidence.push_back(ev("mean_duration", o->mean_s, EvidenceUnit::Seconds, o->op->name));
  }
  r.evidence.push_back(ev("stages", static_cast<double>(tiny.size()), EvidenceUnit::Count));
  r.evidence.push_back(ev("stages_share_of_wall", share, EvidenceUnit::Ratio));
  r.values = {{"stages", names}, {"count", std::to_string(tiny.size())}, {"share", common::format_percent(share)}};
  return r;
}

}  // namespace

const std::vector<Rule>& preprocessing_rules() {
  static const std::vector<Rule> rules = {
    {"preprocessing-vectorize", "preprocessing", "medium", "{op} takes {share} of the run: vectorise it",
     "self time >= 10 % of the run (high from 30 % unless off the critical path), >= 10 calls, not asleep (CPU efficiency >= 5 % when measured)",
     "Replace the per-element loop in {op} with bulk operations: it spends {self} ({share} of the run), {mean} per "
     "call over {calls} calls, and {efficiency}. Process whole strings or batches at once (lookup tables, "
     "string_view scanning, one regex pass, tensor ops) instead of one character or item at a time.",
     preprocessing_vectorize},
    {"preprocessing-parallelize", "preprocessing", "medium", "Parallelise preprocessing across cores",
     "preprocessing >= 20 % of the run on one thread with >= 2 hardware threads",
     "Run {op} and the other preprocessing stages on {workers} more threads (of {hw} hardware threads), e.g. in the "
     "loader workers or a thread pool over items: it takes {share} of the run on a single thread.",
     preprocessing_parallelize},
    {"preprocessing-memory-reuse", "preprocessing", "low", "Reuse buffers in {op}",
     ">= 100 allocations or >= 1 MiB allocated per call, in an operation with >= 5 % of the run (allocation probe)",
     "Reuse buffers across calls of {op} (reserve once, clear() instead of reallocating, preallocated tensors): "
     "it makes {allocs} allocations ({bytes}) per call and takes {share} of the run.",
     preprocessing_memory_reuse},
    {"pipeline-streamline", "preprocessing", "low", "Fuse {count} tiny preprocessing stages",
     ">= 3 preprocessing stages of >= 1000 calls under 100 us each, >= 10 % of the run together",
     "Fuse the per-item stages {stages} into one pass over each item (or batch them): each call is tiny, so call "
     "and hand-off overhead is a large part of their {share} of the run.",
     pipeline_streamline},
  };
  return rules;
}

}  // namespace codeprof::analysis
