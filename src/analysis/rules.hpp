#pragma once
// The recommendation rules: each is data (id, type, priority, title, where its threshold comes
// from, an action template) plus one small predicate over the Facts. See rules.cpp and docs/RULES.md.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/facts.hpp"
#include "codeprof/findings.hpp"

namespace codeprof::analysis {

// What a predicate returns when its rule fires: the evidence and the values its template needs.
// Priorities are written as the reports spell them ("high", "medium", "low"; see priority_of).
struct RuleFiring {
  std::string priority;                        // empty: the rule's default priority
  std::vector<Evidence> evidence;              // never empty
  std::map<std::string, std::string> values;   // fills {name} in the rule's title and action
  double impact = 0.0;                         // share of the run at stake: orders equal priorities
};

// A finding that says what to look for rather than what to change (an operation that slows down,
// one that mostly waits, memory that grows) weighs half its share when findings of equal priority
// are ordered: a concrete fix of similar size comes first, and the symptoms a problem causes (the
// loader stalls behind an uncached re-read) rank after the finding that names it.
inline constexpr double kOpenCauseWeight = 0.5;

struct Rule {
  std::string_view id;
  std::string_view type;              // category string or "system"
  std::string_view priority;          // default: "high", "medium" or "low"
  std::string_view title;             // template
  std::string_view threshold_source;  // where the trigger's numbers come from
  std::string_view action;            // template
  std::optional<RuleFiring> (*check)(const Facts&);
};

// Every rule, in catalogue order.
const std::vector<Rule>& rule_catalogue();

// The rules that fire, most important first (priority, then impact, then catalogue order).
std::vector<Recommendation> evaluate_rules(const Facts& facts);

// The rule's type: an operation category or "system" (a test checks every rule's is one of them).
RecommendationType type_of(const Rule& rule);

// The firing's priority, else the rule's default (a test checks every default is a priority).
Priority priority_of(const Rule& rule, const RuleFiring& firing);

// Rules that could not decide on this run (their data is partly there): what each needs and had.
std::vector<Inconclusive> undecided_rules(const Facts& facts);

// "metric = value unit (operation); ..." with units formatted for reading.
std::string evidence_line(const std::vector<Evidence>& evidence);

}  // namespace codeprof::analysis
