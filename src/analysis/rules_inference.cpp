// Model-inference rules: quantise, prune, compile, batch, reduce precision and memory of the model
// calls outside training steps. docs/RULES.md documents each.
#include "analysis/rule_domains.hpp"

#include <algorithm>

#include "analysis/rule_helpers.hpp"
#include "common/number_format.hpp"

namespace codeprof::analysis {
namespace {

// Calls under 10 ms are where per-call overhead matters (codeprof's own; docs/RULES.md inference-batching).
constexpr double kSmallInferenceS = 10e-3;
// Device-memory growth or allocation peak per call worth acting on (codeprof's own).
constexpr double kLargeInferenceMemory = 256.0 * 1024 * 1024;

// Inference proper: model_inference time outside training steps, as a share of the run.
double inference_share(const Facts& f) {
  return f.wall_s > 0.0 ? std::min(1.0, f.inference_outside_steps_s / f.wall_s) : 0.0;
}

bool used_gpu(const Facts& f) {
  if (f.classification.gpu.available && f.classification.gpu.mean_utilization > 0.0) return true;
  for (const auto& o : f.operations)
    if (o.gpu_time_s && *o.gpu_time_s > 0.0) return true;
  return false;
}

std::optional<RuleFiring> inference_quantize(const Facts& f) {
  const auto ops = f.in_category(Category::ModelInference);
  const double share = inference_share(f);
  if (ops.empty() || share < kLargeShare || used_gpu(f)) return std::nullopt;
  const OperationFacts* top = ops.front();
  if (top->cpu_efficiency && *top->cpu_efficiency < kAsleepCpu) return std::nullopt;
  RuleFiring r;
  r.impact = share;
  r.evidence = {ev("inference_share_of_wall", share, EvidenceUnit::Ratio), ev("mean_duration", top->mean_s, EvidenceUnit::Seconds, top->op->name),
                ev("gpu_used", 0.0, EvidenceUnit::Count)};
  if (top->cpu_efficiency) r.evidence.push_back(ev("cpu_efficiency", *top->cpu_efficiency, EvidenceUnit::Ratio, top->op->name));
  r.values = {{"op", top->op->name}, {"share", common::format_percent(share)}, {"mean", common::format_seconds(top->mean_s)}};
  return r;
}

std::optional<RuleFiring> inference_prune(const Facts& f) {
  const Thresholds& t = f.config.thresholds[index_of(Category::ModelInference)];
  for (const OperationFacts* o : f.in_category(Category::ModelInference)) {
    if (o->mean_s < t.warning_s) continue;
    RuleFiring r;
    r.impact = o->self_share;
    r.evidence = {ev("mean_duration", o->mean_s, EvidenceUnit::Seconds, o->op->name), ev("warning_threshold", t.warning_s, EvidenceUnit::Seconds),
                  ev("calls", static_cast<double>(o->op->count), EvidenceUnit::Count, o->op->name)};
    r.values = {{"op", o->op->name}, {"mean", common::format_seconds(o->mean_s)}, {"warning", common::format_seconds(t.warning_s)}};
    return r;
  }
  return std::nullopt;
}

std::optional<RuleFiring> inference_compile(const Facts& f) {
  const auto ops = f.in_category(Category::ModelInference);
  const double share = inference_share(f);
  if (ops.empty() || share < kNoticeableShare || ops.front()->op->count < kManyCalls) return std::nullopt;
  const OperationFacts* top = ops.front();
  RuleFiring r;
  r.impact = share * 0.5;
  r.evidence = {ev("calls", static_cast<double>(top->op->count), EvidenceUnit::Count, top->op->name),
                ev("inference_share_of_wall", share, EvidenceUnit::Ratio), ev("mean_duration", top->mean_s, EvidenceUnit::Seconds, top->op->name)};
  r.values = {{"op", top->op->name}, {"calls", common::format_count(top->op->count)}, {"share", common::format_percent(share)}};
  return r;
}

std::optional<RuleFiring> inference_batching(const Facts& f) {
  const auto ops = f.in_category(Category::ModelInference);
  const double share = inference_share(f);
  if (ops.empty() || share < kNoticeableShare) return std::nullopt;
  const OperationFacts* top = ops.front();
  if (top->op->count < kManyCalls || top->mean_s >= kSmallInferenceS) return std::nullopt;
  RuleFiring r;
  r.priority = share >= kLargeShare ? "medium" : "low";
  r.impact = share;
  r.evidence = {ev("calls", static_cast<double>(top->op->count), EvidenceUnit::Count, top->op->name),
                ev("mean_duration", top->mean_s, EvidenceUnit::Seconds, top->op->name), ev("inference_share_of_wall", share, EvidenceUnit::Ratio)};
  r.values = {{"op", top->op->name}, {"calls", common::format_count(top->op->count)}, {"mean", common::format_seconds(top->mean_s)},
              {"share", common::format_percent(share)}};
  return r;
}


std::optional<RuleFiring> inference_mixed_precision(const Facts& f) {
  const double share = inference_share(f);
  if (!used_gpu(f) || share < kNoticeableShare || has_mixed_precision(f)) return std::nullopt;
  RuleFiring r;
  r.impact = share * 0.5;
  r.evidence = {ev("inference_share_of_wall", share, EvidenceUnit::Ratio), ev("mixed_precision_operations", 0.0, EvidenceUnit::Count),
                ev("gpu_mean_utilization", f.classification.gpu.mean_utilization, EvidenceUnit::Percent)};
  r.values = {{"share", common::format_percent(share)}};
  return r;
}

std::optional<RuleFiring> inference_memory(const Facts& f) {
  for (const OperationFacts* o : f.in_category(Category::ModelInference)) {
    const double gpu = o->op->resource(ProbeMetric::GpuMemDeltaBytes).mean();
    const double peak = o->op->resource(ProbeMetric::AllocPeakBytes).mean();
    const double grow = std::max(gpu, peak);
    if (grow < kLargeInferenceMemory) continue;
    RuleFiring r;
    r.impact = o->self_share;
    r.evidence = {ev(gpu >= peak ? "gpu_memory_delta_per_call" : "allocation_peak_per_call", grow, EvidenceUnit::Bytes, o->op->name)};
    r.values = {{"op", o->op->name}, {"memory", common::format_bytes(grow)}};
    return r;
  }
  // Device memory near its limit in a run that infers but does not train.
  if (f.steps.count == 0 && f.classification.gpu.peak_memory_fraction >= kGpuMemoryNearLimit &&
      !f.in_category(Category::ModelInference).empty()) {
    RuleFiring r;
    r.impact = f.classification.gpu.peak_memory_fraction;
    const OperationFacts* top = f.in_category(Category::ModelInference).front();
    r.evidence = {ev("gpu_peak_memory_fraction", f.classification.gpu.peak_memory_fraction, EvidenceUnit::Ratio),
                  ev("self_time", top->self_s, EvidenceUnit::Seconds, top->op->name)};
    r.values = {{"op", top->op->name}, {"memory", common::format_percent(f.classification.gpu.peak_memory_fraction) + " of device memory"}};
    return r;
  }
  return std::nullopt;
}

}  // namespace

const std::vector<Rule>& inference_rules() {
  static const std::vector<Rule> rules = {
    {"inference-quantize", "model_inference", "medium", "Quantise the model for CPU inference",
     "inference >= 20 % of the run on the CPU only, not asleep (CPU efficiency >= 5 % when measured)",
     "Quantise {op} to int8 (torch.ao.quantization.quantize_dynamic for Linear/LSTM layers, ONNX Runtime "
     "quantisation): CPU inference takes {share} of the run at {mean} per call.",
     inference_quantize},
    {"inference-prune", "model_inference", "medium", "Shrink the model: {op} exceeds its latency threshold",
     "mean inference duration >= the model_inference warning threshold (default 2 s)",
     "Make {op} cheaper: its mean {mean} is over the {warning} warning threshold. Prune or distil the model "
     "(torch.nn.utils.prune, a smaller student), or lower the input resolution/sequence length.",
     inference_prune},
    {"inference-compile", "model_inference", "low", "Compile the model to cut per-call overhead",
     ">= 100 inference calls taking >= 10 % of the run",
     "Compile {op} (torch.compile, TorchScript + freeze, or ONNX Runtime/TensorRT): {calls} calls take {share} of "
     "the run, and graph compilation removes per-call dispatch and fuses operators.",
     inference_compile},
    {"inference-batching", "model_inference", "medium", "Batch inference requests",
     ">= 100 inference calls under 10 ms each taking >= 10 % of the run",
     "Group inputs into batches before calling {op}: {calls} calls of {mean} each take {share} of the run; one "
     "batched call amortises dispatch and uses vector units and the GPU far better.",
     inference_batching},
    {"inference-mixed-precision", "model_inference", "low", "Run GPU inference in reduced precision",
     "GPU in use, inference >= 10 % of the run, no mixed_precision scopes recorded",
     "Run inference under torch.autocast (float16/bfloat16) or convert the model to half precision: it takes "
     "{share} of the run in full precision on the GPU.",
     inference_mixed_precision},
    {"inference-memory", "model_inference", "medium", "Reduce inference memory in {op}",
     ">= 256 MiB of device-memory growth or allocation peak per call, or device memory >= 90 % in an inference run",
     "Cut the memory {op} needs ({memory}): run it under torch.inference_mode(), free intermediate tensors, use "
     "smaller batches or half precision, and release cached blocks between phases.",
     inference_memory},
  };
  return rules;
}

}  // namespace codeprof::analysis
