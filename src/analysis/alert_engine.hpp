#pragma once
// Evaluates alert rules (include/codeprof/alerts.hpp) over metric samples, one evaluation at a time,
// with Prometheus' semantics: a condition that holds is pending until it has held for `for_s`,
// then fires; a firing alert whose condition is false (or whose series is gone) resolves once it
// has stayed false for `keep_firing_for_s`. Each (rule, labels) pair is its own alert. Not
// thread-safe: one caller evaluates (the alert monitor's thread, the job view's poller).
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "codeprof/alerts.hpp"

namespace codeprof::analysis {

class AlertEngine {
 public:
  explicit AlertEngine(std::vector<AlertRule> rules = {}, std::size_t resolved_kept = 20);

  // Replaces the rules; alerts of rules that keep their name keep their state.
  void set_rules(std::vector<AlertRule> rules);
  const std::vector<AlertRule>& rules() const noexcept { return rules_; }

  // One evaluation at `now_unix_ns`. Returns the alerts that fired or resolved in it.
  std::vector<Alert> evaluate(const std::vector<AlertSample>& samples, std::int64_t now_unix_ns);

  // Pending and firing alerts, then the latest resolved ones (newest first).
  std::vector<Alert> alerts() const;

 private:
  struct Tracked {
    Alert alert;
    std::int64_t false_since_ns = 0;  // firing, condition false since then (0: it holds)
  };
  std::vector<AlertRule> rules_;
  std::size_t resolved_kept_;
  std::map<std::pair<std::string, AlertLabels>, Tracked> active_;
  std::vector<Alert> resolved_;  // newest first
};

bool alert_condition(const AlertRule& rule, double value) noexcept;

// The rule's summary with {value}, {threshold} and {label:NAME} filled in.
std::string alert_summary(const AlertRule& rule, double value, const AlertLabels& labels);

// A value in the rule's unit: "42.0 %" (ratio), "1.25 s", "16.0 MiB", or a plain number.
std::string format_alert_value(const std::string& unit, double value);

}  // namespace codeprof::analysis
