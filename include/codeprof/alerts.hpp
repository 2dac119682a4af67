#pragma once
// Alert rules as data, and the alerts they raise. A rule compares one metric with a threshold;
// its condition must hold for `for_s` seconds before the alert fires (debounce) and be false for
// `keep_firing_for_s` seconds before it resolves, as Prometheus' `for` and `keep_firing_for` do.
// Rules read metric samples by name, so any number (the built-in ones of docs/ALERTS.md, a rank's
// straggler ratio in a job view, a user's own metric) can feed them. Standard library only.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace codeprof {

using AlertLabels = std::map<std::string, std::string>;

enum class AlertComparison : std::uint8_t {
  Above,  // fires while value > threshold
  Below,  // fires while value < threshold
};

struct AlertRule {
  std::string name;    // the alert's name (Prometheus' alertname), e.g. "InputBound"
  std::string metric;  // the samples it reads, e.g. "input_share"
  AlertComparison comparison = AlertComparison::Above;
  double threshold = 0.0;
  double for_s = 0.0;              // the condition holds this long before the alert fires
  double keep_firing_for_s = 0.0;  // and is false this long before it resolves
  std::string severity = "warning";
  // One line for people; "{value}" and "{threshold}" become the numbers (formatted with `unit`),
  // "{label:NAME}" a label of the sample.
  std::string summary;
  std::string unit;    // "ratio" (shown as a percentage), "s", "bytes" or "" (plain number)
  std::string source;  // where the threshold comes from
};

// One value of a metric, with the labels that tell its series apart (e.g. {"gpu": "0"}).
struct AlertSample {
  std::string metric;
  AlertLabels labels;
  double value = 0.0;
};

struct Alert {
  std::string name;
  AlertLabels labels;       // the sample's labels
  std::string state;        // "pending", "firing" or "resolved"
  std::string severity;
  std::string summary;      // with the latest value filled in
  std::string source;
  double value = 0.0;       // latest value seen while the condition held
  double threshold = 0.0;
  std::int64_t active_since_unix_ns = 0;  // when the condition started to hold
  std::int64_t fired_unix_ns = 0;         // 0 while pending
  std::int64_t resolved_unix_ns = 0;      // 0 unless resolved

  bool operator==(const Alert&) const = default;
};

// What happened to the notifications sent to a webhook.
struct AlertDelivery {
  std::string target;           // the URL, empty when no webhook is configured
  std::uint64_t queued = 0;     // notifications accepted into the queue
  std::uint64_t sent = 0;       // delivered (2xx answer)
  std::uint64_t failed = 0;     // given up after the last retry
  std::uint64_t retries = 0;    // requests repeated after a failure
  std::uint64_t dropped = 0;    // refused because the queue was full
  std::string last_error;       // the latest failure, one line

  bool operator==(const AlertDelivery&) const = default;
};

}  // namespace codeprof
