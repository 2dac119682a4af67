// The rule catalogue: the domains' rules (rules_<domain>.cpp) in one order, and how they are run.
// A rule fires only when the Snapshot holds its evidence; each firing carries the numbers
// (Evidence) and a concrete action computed from them. docs/RULES.md documents every rule:
// trigger, thresholds, text and the source of each threshold.
#include "analysis/rules.hpp"

#include <algorithm>
#include <cmath>

#include "analysis/priority.hpp"
#include "analysis/rule_domains.hpp"
#include "analysis/rule_helpers.hpp"
#include "analysis/text_format.hpp"
#include "common/number_format.hpp"

namespace codeprof::analysis {

const std::vector<Rule>& rule_catalogue() {
  static const std::vector<Rule> catalogue = [] {
    // Domain after domain, each in its own order: this is the catalogue order, which breaks ties
    // between firings of equal priority and impact.
    const std::vector<Rule>* domains[] = {
        &data_loading_rules(),
        &preprocessing_rules(),
        &inference_rules(),
        &training_rules(),
        &system_rules(),
        &network_rules(),
        &custom_metrics_rules(),
    };
    std::vector<Rule> all;
    for (const std::vector<Rule>* rules : domains) all.insert(all.end(), rules->begin(), rules->end());
    return all;
  }();
  return catalogue;
}

std::string evidence_line(const std::vector<Evidence>& evidence) {
  std::string out;
  for (const Evidence& e : evidence) {
    std::string v;
    switch (e.unit) {
      case EvidenceUnit::Seconds: v = common::format_seconds(e.value); break;
      case EvidenceUnit::Ratio: v = common::format_percent(e.value); break;
      case EvidenceUnit::Factor: v = common::format_number(e.value, 2) + "x"; break;
      case EvidenceUnit::Percent: v = common::format_number(e.value, 1) + " %"; break;
      case EvidenceUnit::Bytes: v = common::format_bytes(e.value); break;
      case EvidenceUnit::BytesPerSecond: v = common::format_bytes(e.value) + "/s"; break;
      case EvidenceUnit::PerSecond: v = common::format_number(e.value, 1) + "/s"; break;
      case EvidenceUnit::Count: v = common::format_number(e.value, e.value == std::floor(e.value) ? 0 : 1); break;
      case EvidenceUnit::None: v = common::format_number(e.value, 3); break;
      case EvidenceUnit::Metric: v = common::format_number(e.value, 3) + (e.metric_unit.empty() ? "" : " " + e.metric_unit); break;
    }
    out += (out.empty() ? "" : "; ") + e.metric + " = " + v + (e.operation.empty() ? "" : " (" + e.operation + ")");
  }
  return out;
}

std::vector<Inconclusive> undecided_rules(const Facts& facts) {
  std::vector<Inconclusive> out;
  // batch-size-small, once there are steps at all (without steps, input_bound says so).
  if (facts.steps.count > 0 && facts.steps.count < kManyCalls)
    out.push_back({"batch-size-small", ">= " + std::to_string(kManyCalls) + " steps",
                   common::format_count(facts.steps.count) + " steps"});
  else if (facts.steps.count > 0 && !step_fixed_work(facts).measured)
    out.push_back({"batch-size-small",
                   "the optimizer's time in the steps (an operation of category gradient_accumulation or "
                   "lr_scheduling, or PyTorch's Optimizer.step#...)",
                   "none inside the " + common::format_count(facts.steps.count) + " steps"});
  return out;
}

RecommendationType type_of(const Rule& rule) {
  return recommendation_type_from_string(rule.type).value_or(RecommendationType::System);
}

Priority priority_of(const Rule& rule, const RuleFiring& firing) {
  if (const auto p = priority_from_string(firing.priority)) return *p;
  return priority_from_string(rule.priority).value_or(Priority::Low);
}

std::vector<Recommendation> evaluate_rules(const Facts& facts) {
  struct Fired {
    Recommendation rec;
    double impact;
    std::size_t order;
  };
  std::vector<Fired> fired;
  const std::vector<Rule>& rules = rule_catalogue();
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const Rule& rule = rules[i];
    std::optional<RuleFiring> f = rule.check(facts);
    if (!f || f->evidence.empty()) continue;  // no evidence, no recommendation
    Recommendation r;
    r.id = std::string(rule.id);
    r.type = type_of(rule);
    r.priority = priority_of(rule, *f);
    r.title = render(rule.title, f->values);
    r.evidence = std::move(f->evidence);
    r.evidence_text = evidence_line(r.evidence);
    r.action = render(rule.action, f->values);
    fired.push_back({std::move(r), f->impact, i});
  }
  std::sort(fired.begin(), fired.end(), [](const Fired& a, const Fired& b) {
    const int pa = priority_rank(a.rec.priority), pb = priority_rank(b.rec.priority);
    if (pa != pb) return pa < pb;
    if (a.impact != b.impact) return a.impact > b.impact;
    return a.order < b.order;
  });
  std::vector<Recommendation> out;
  out.reserve(fired.size());
  for (auto& f : fired) out.push_back(std::move(f.rec));
  return out;
}

}  // namespace codeprof::analysis
