#pragma once
// Everything analysis derives from one Snapshot, computed once, read by the rule catalogue.
#include <vector>

#include "analysis/classification.hpp"
#include "analysis/operation_facts.hpp"
#include "analysis/steps.hpp"
#include "codeprof/config.hpp"
#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::analysis {

struct Facts {
  Facts(const Snapshot& s, const Config& c) : snapshot(s), config(c) {}
  const Snapshot& snapshot;
  const Config& config;
  double wall_s = 0.0;
  std::vector<OperationFacts> operations;  // same order as snapshot.operations
  StepFacts steps;
  std::vector<GpuUsage> gpus;
  std::vector<ContendedOperation> contended;
  Classification classification;
  std::vector<Trend> trends;
  std::vector<Bottleneck> bottlenecks;
  double inference_outside_steps_s = 0.0;  // model_inference time that is not a training forward pass
  std::vector<Inconclusive> inconclusive;  // checks that could not conclude, and why

  const OperationFacts* operation(std::uint32_t id) const;
  const OperationFacts* operation(std::string_view name) const;
  // Operations of a category, largest self time first (ties: lower id).
  std::vector<const OperationFacts*> in_category(Category c) const;
  double category_self_s(Category c) const;
  double category_total_s(Category c) const;  // top-level calls only: no double counting of nesting
};

Facts build_facts(const Snapshot& snapshot, const Config& config);

}  // namespace codeprof::analysis
