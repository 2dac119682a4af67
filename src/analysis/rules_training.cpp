// Training-loop rules: device memory full (accumulate gradients), full precision on a busy GPU,
// DataParallel imbalance, and the cost of scheduling and early-stopping. docs/RULES.md documents each.
#include "analysis/rule_domains.hpp"

#include <algorithm>

#include "analysis/rule_helpers.hpp"
#include "common/number_format.hpp"

namespace codeprof::analysis {
namespace {

// Utilisation gap between the busiest and the idlest GPU of one process (codeprof's own;
// DataParallel drives every replica from one device, docs/RULES.md ddp-over-dataparallel).
constexpr double kGpuImbalancePoints = 30.0;

std::optional<RuleFiring> gradient_accumulation(const Facts& f) {
  const double peak = f.classification.gpu.peak_memory_fraction;
  if (f.steps.count == 0 || peak < kGpuMemoryNearLimit) return std::nullopt;
  RuleFiring r;
  r.impact = peak;
  r.evidence = {ev("gpu_peak_memory_fraction", peak, EvidenceUnit::Ratio), ev("steps", static_cast<double>(f.steps.count), EvidenceUnit::Count)};
  r.values = {{"peak", common::format_percent(peak)}};
  return r;
}

std::optional<RuleFiring> mixed_precision(const Facts& f) {
  const GpuClass& g = f.classification.gpu;
  if (f.steps.count == 0 || !g.available || g.mean_utilization < kGpuLowUtilization || has_mixed_precision(f))
    return std::nullopt;
  RuleFiring r;
  r.impact = g.mean_utilization / 100.0 * 0.5;
  r.evidence = {ev("gpu_mean_utilization", g.mean_utilization, EvidenceUnit::Percent), ev("mixed_precision_operations", 0.0, EvidenceUnit::Count),
                ev("steps", static_cast<double>(f.steps.count), EvidenceUnit::Count)};
  r.values = {{"utilization", common::format_number(g.mean_utilization, 0) + " %"}};
  return r;
}

std::optional<RuleFiring> ddp_over_dataparallel(const Facts& f) {
  std::vector<const GpuUsage*> measured;
  for (const GpuUsage& g : f.gpus)
    if (g.mean_utilization >= 0.0) measured.push_back(&g);
  if (measured.size() < 2 || f.snapshot.run.world_size > 1) return std::nullopt;
  auto [lo, hi] = std::minmax_element(measured.begin(), measured.end(), [](const GpuUsage* a, const GpuUsage* b) {
    return a->mean_utilization < b->mean_utilization;
  });
  const double gap = (*hi)->mean_utilization - (*lo)->mean_utilization;
  if (gap < kGpuImbalancePoints) return std::nullopt;
  RuleFiring r;
  r.impact = gap / 100.0;
  r.evidence = {ev("gpus", static_cast<double>(measured.size()), EvidenceUnit::Count),
                ev("gpu" + std::to_string((*hi)->index) + "_utilization", (*hi)->mean_utilization, EvidenceUnit::Percent),
                ev("gpu" + std::to_string((*lo)->index) + "_utilization", (*lo)->mean_utilization, EvidenceUnit::Percent),
                ev("world_size", f.snapshot.run.world_size, EvidenceUnit::Count)};
  r.values = {{"gpus", std::to_string(measured.size())}, {"busy", common::format_number((*hi)->mean_utilization, 0) + " %"},
              {"idle", common::format_number((*lo)->mean_utilization, 0) + " %"}};
  return r;
}

// Share of step time (plus the category's own time outside steps) in one training-side category.
std::optional<RuleFiring> training_overhead(const Facts& f, Category c, double threshold) {
  const auto ops = f.in_category(c);
  if (ops.empty() || f.steps.count == 0) return std::nullopt;
  const double t = f.category_total_s(c);
  const double base = f.steps.iteration_s() + t;
  const double share = base > 0.0 ? t / base : 0.0;
  if (share < threshold) return std::nullopt;
  RuleFiring r;
  r.priority = share >= kLargeShare ? "medium" : "low";
  r.impact = share;
  r.evidence = {ev(std::string(to_string(c)) + "_share_of_training", share, EvidenceUnit::Ratio),
                ev("time", t, EvidenceUnit::Seconds, ops.front()->op->name), ev("calls", static_cast<double>(ops.front()->op->count), EvidenceUnit::Count, ops.front()->op->name),
                ev("steps", static_cast<double>(f.steps.count), EvidenceUnit::Count)};
  r.values = {{"op", ops.front()->op->name}, {"share", common::format_percent(share)}, {"calls", common::format_count(ops.front()->op->count)},
              {"steps", common::format_count(f.steps.count)}, {"time", common::format_seconds(t)}};
  return r;
}

std::optional<RuleFiring> lr_scheduling(const Facts& f) { return training_overhead(f, Category::LrScheduling, kSmallShare); }
std::optional<RuleFiring> early_stopping(const Facts& f) { return training_overhead(f, Category::EarlyStopping, kNoticeableShare); }

}  // namespace

const std::vector<Rule>& training_rules() {
  static const std::vector<Rule> rules = {
    {"gradient-accumulation", "gradient_accumulation", "medium", "Device memory is full: accumulate gradients",
     "device memory peak >= 90 % of its total during training",
     "Halve the micro-batch and accumulate gradients over 2 micro-batches (scale the loss by 1/2, step the "
     "optimizer every 2nd backward): device memory peaked at {peak} of its total, and the effective batch stays "
     "the same.",
     gradient_accumulation},
    {"mixed-precision", "mixed_precision", "medium", "Train with mixed precision",
     "GPU utilisation >= 50 % (the GPU bounds the step), no mixed_precision scopes recorded",
     "Train under torch.autocast with a GradScaler (float16) or in bfloat16: the GPU is busy ({utilization} mean "
     "utilisation) in full precision; tensor cores run reduced precision several times faster.",
     mixed_precision},
    {"ddp-over-dataparallel", "multi_gpu", "medium", "Use DistributedDataParallel across the {gpus} GPUs",
     ">= 2 GPUs in one process with utilisation differing by >= 30 points",
     "Replace DataParallel (one process driving {gpus} GPUs, utilisation {busy} vs {idle}) with "
     "DistributedDataParallel, one process per GPU (torchrun --nproc_per_node={gpus}); it avoids the replicate/"
     "gather on one device and the GIL.",
     ddp_over_dataparallel},
    {"lr-scheduling", "lr_scheduling", "low", "Learning-rate scheduling costs {share} of training",
     "lr_scheduling scopes >= 5 % of training time",
     "Make the scheduler step cheap or less frequent: {op} took {time} over {calls} calls ({share} of training, "
     "{steps} steps). Step per epoch where the schedule allows, and avoid recomputing or logging every step.",
     lr_scheduling},
    {"early-stopping", "early_stopping", "low", "Early-stopping checks cost {share} of training",
     "early_stopping scopes >= 10 % of training time",
     "Evaluate the stopping criterion less often or on a smaller validation subset: {op} took {time} over {calls} "
     "calls ({share} of training, {steps} steps).",
     early_stopping},
  };
  return rules;
}

}  // namespace codeprof::analysis
