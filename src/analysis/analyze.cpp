// analyze(): facts from the Snapshot, then bottlenecks, classification, trends and the rules.
#include "analysis/analyze.hpp"

#include "analysis/facts.hpp"
#include "analysis/hot_code.hpp"
#include "analysis/rules.hpp"

namespace codeprof::analysis {

Findings analyze(const Snapshot& snapshot, const Config& config) {
  Facts facts = build_facts(snapshot, config);
  Findings out;
  out.recommendations = evaluate_rules(facts);
  out.bottlenecks = std::move(facts.bottlenecks);
  out.classification = std::move(facts.classification);
  out.trends = std::move(facts.trends);
  out.inconclusive = std::move(facts.inconclusive);
  for (Inconclusive& i : undecided_rules(facts)) out.inconclusive.push_back(std::move(i));
  cite_hot_code(snapshot, out);
  return out;
}

}  // namespace codeprof::analysis
