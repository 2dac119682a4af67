#include "analysis/alert_engine.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "analysis/text_format.hpp"
#include "common/number_format.hpp"

namespace codeprof::analysis {

AlertEngine::AlertEngine(std::vector<AlertRule> rules, std::size_t resolved_kept)
    : rules_(std::move(rules)), resolved_kept_(resolved_kept) {}

void AlertEngine::set_rules(std::vector<AlertRule> rules) {
  rules_ = std::move(rules);
  std::set<std::string> names;
  for (const auto& r : rules_) names.insert(r.name);
  // Alerts of rules that are gone end without a resolve notification: nothing decided they ended.
  std::erase_if(active_, [&](const auto& entry) { return !names.count(entry.first.first); });
}

bool alert_condition(const AlertRule& rule, double value) noexcept {
  if (!std::isfinite(value)) return false;
  return rule.comparison == AlertComparison::Above ? value > rule.threshold : value < rule.threshold;
}

std::string format_alert_value(const std::string& unit, double value) {
  if (unit == "ratio") return common::format_percent(value);
  if (unit == "s") return common::format_seconds(value);
  if (unit == "bytes") return common::format_bytes(value);
  if (unit == "factor") return common::format_number(value, 2) + "x";
  return common::format_number(value, 3);
}

std::string alert_summary(const AlertRule& rule, double value, const AlertLabels& labels) {
  std::map<std::string, std::string> values = {{"value", format_alert_value(rule.unit, value)},
                                               {"threshold", format_alert_value(rule.unit, rule.threshold)}};
  for (const auto& [k, v] : labels) values["label:" + k] = v;
  return render(rule.summary.empty() ? rule.name + " {value} (threshold {threshold})" : rule.summary, values);
}

std::vector<Alert> AlertEngine::evaluate(const std::vector<AlertSample>& samples, std::int64_t now) {
  std::vector<Alert> transitions;
  std::set<std::pair<std::string, AlertLabels>> holding;
  const auto seconds_since = [now](std::int64_t t) { return static_cast<double>(now - t) / 1e9; };

  for (const AlertRule& rule : rules_) {
    for (const AlertSample& sample : samples) {
      if (sample.metric != rule.metric || !alert_condition(rule, sample.value)) continue;
      auto key = std::make_pair(rule.name, sample.labels);
      holding.insert(key);
      auto [it, inserted] = active_.try_emplace(key);
      Tracked& t = it->second;
      if (inserted) {
        t.alert.name = rule.name;
        t.alert.labels = sample.labels;
        t.alert.state = "pending";
        t.alert.active_since_unix_ns = now;
      }
      t.false_since_ns = 0;
      t.alert.severity = rule.severity;
      t.alert.source = rule.source;
      t.alert.threshold = rule.threshold;
      t.alert.value = sample.value;
      t.alert.summary = alert_summary(rule, sample.value, sample.labels);
      if (t.alert.state == "pending" && seconds_since(t.alert.active_since_unix_ns) >= rule.for_s) {
        t.alert.state = "firing";
        t.alert.fired_unix_ns = now;
        transitions.push_back(t.alert);
      }
    }
  }

  for (auto it = active_.begin(); it != active_.end();) {
    Tracked& t = it->second;
    if (holding.count(it->first)) {
      ++it;
      continue;
    }
    if (t.alert.state == "pending") {  // never fired: it just ends
      it = active_.erase(it);
      continue;
    }
    const auto rule = std::find_if(rules_.begin(), rules_.end(), [&](const AlertRule& r) { return r.name == t.alert.name; });
    const double keep = rule == rules_.end() ? 0.0 : rule->keep_firing_for_s;
    if (t.false_since_ns == 0) t.false_since_ns = now;
    if (seconds_since(t.false_since_ns) >= keep) {
      t.alert.state = "resolved";
      t.alert.resolved_unix_ns = now;
      transitions.push_back(t.alert);
      resolved_.insert(resolved_.begin(), t.alert);
      if (resolved_.size() > resolved_kept_) resolved_.resize(resolved_kept_);
      it = active_.erase(it);
      continue;
    }
    ++it;
  }
  return transitions;
}

std::vector<Alert> AlertEngine::alerts() const {
  std::vector<Alert> out;
  for (const auto& [key, t] : active_)
    if (t.alert.state == "firing") out.push_back(t.alert);
  for (const auto& [key, t] : active_)
    if (t.alert.state == "pending") out.push_back(t.alert);
  out.insert(out.end(), resolved_.begin(), resolved_.end());
  return out;
}

}  // namespace codeprof::analysis
