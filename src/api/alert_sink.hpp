#pragma once
// Where the alert monitor sends alerts that fire or resolve, besides the log. The webhook sender
// needs an HTTP client, which lives in codeprof::dashboard (the server layer); that library
// registers a factory here when it is linked, so the api layer does not depend on it (as with the
// dashboard's autostart, src/api/dashboard_hook.hpp).
#include <cstdint>
#include <memory>
#include <vector>

#include "codeprof/alerts.hpp"
#include "codeprof/config.hpp"

namespace codeprof::detail {

class AlertSink {
 public:
  virtual ~AlertSink() = default;
  // Never blocks the caller: the notification is queued or dropped (and counted). `changed` are
  // the alerts that fired or resolved in this evaluation (may be empty), `firing` all firing now.
  virtual void notify(const std::vector<Alert>& changed, const std::vector<Alert>& firing, std::int64_t now_unix_ns) = 0;
  virtual AlertDelivery delivery() const = 0;
};

// Builds the sink for config.alerts (webhook_url is set). Throws std::invalid_argument on a bad URL.
using AlertSinkFactory = std::unique_ptr<AlertSink> (*)(const Config& config);
void register_alert_sink_factory(AlertSinkFactory factory);
AlertSinkFactory alert_sink_factory();

}  // namespace codeprof::detail
