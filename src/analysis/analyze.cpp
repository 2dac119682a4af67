// analyze(): facts from the Snapshot, then bottlenecks, classification, trends and the rules.
#include "analysis/analyze.hpp"

#include "analysis/collectives.hpp"
#include "analysis/facts.hpp"
#include "analysis/hot_code.hpp"
#include "analysis/leak_sites.hpp"
#include "analysis/rules.hpp"

namespace codeprof::analysis {

Findings analyze(const Snapshot& snapshot, const Config& config) {
  Facts facts = build_facts(snapshot, config);
  Findings out;
  out.recommendations = evaluate_rules(facts);
  out.bottlenecks = std::move(facts.bottlenecks);
  out.classification = std::move(facts.classification);
  out.step_timing.steps = facts.steps.count;
  out.step_timing.step_time = facts.steps.step_time_s;
  out.step_timing.input_time = facts.steps.input_s();
  out.step_timing.iteration_time = facts.steps.iteration_s();
  out.step_timing.collective_time = collective_seconds(snapshot);
  out.trends = std::move(facts.trends);
  out.inconclusive = std::move(facts.inconclusive);
  for (Inconclusive& i : undecided_rules(facts)) out.inconclusive.push_back(std::move(i));
  cite_hot_code(snapshot, out);
  cite_leak_sites(snapshot, out);
  return out;
}

}  // namespace codeprof::analysis
