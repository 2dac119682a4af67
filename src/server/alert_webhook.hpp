#pragma once
// Sends the alerts that fire or resolve to a webhook, as Alertmanager-compatible JSON, without ever
// making the caller wait: notify() builds the body and puts it in a bounded queue (a full queue
// drops it and counts the drop); one thread sends, with a timeout per request and retries after
// an exponentially growing delay. Two formats:
//   "webhook"       the payload Alertmanager itself POSTs to webhook receivers (version 4), so
//                   receivers written for Alertmanager (chat bridges, incident tools) take it;
//   "alertmanager"  the body of Alertmanager's POST /api/v2/alerts, to hand the alerts to an
//                   Alertmanager (firing alerts are re-sent every resend interval, as Prometheus
//                   does, so that Alertmanager does not time them out).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/alert_sink.hpp"
#include "codeprof/alerts.hpp"

namespace codeprof::server {

struct WebhookOptions {
  std::string url;                          // http:// or https://
  std::string format = "webhook";           // "webhook" or "alertmanager"
  std::size_t queue = 64;                   // bodies waiting at most
  std::chrono::milliseconds timeout{2000};  // connect, read and write, per request
  unsigned retries = 3;
  std::chrono::milliseconds backoff{500};   // before the first retry; doubled for each next one
  std::chrono::milliseconds resend{60000};  // alertmanager format: firing alerts are sent again this often
  std::string external_url;                 // where the alerts can be seen (externalURL / generatorURL)

  static WebhookOptions from_config(const Config& config);
};

// The "webhook" format for alerts of one notification (status "firing" when any of them fires).
std::string webhook_payload(const std::vector<Alert>& alerts, const std::string& external_url);
// The "alertmanager" format: a JSON array of postable alerts.
std::string alertmanager_payload(const std::vector<Alert>& alerts, const std::string& external_url);

class AlertWebhook final : public detail::AlertSink {
 public:
  // Throws std::invalid_argument when the URL or format is not usable. Starts the sender thread.
  explicit AlertWebhook(WebhookOptions options);
  ~AlertWebhook() override;  // stops after the request in flight (queued bodies are abandoned)
  AlertWebhook(const AlertWebhook&) = delete;
  AlertWebhook& operator=(const AlertWebhook&) = delete;

  void notify(const std::vector<Alert>& changed, const std::vector<Alert>& firing, std::int64_t now_unix_ns) override;
  AlertDelivery delivery() const override;

  // Queues one body as notify() does; false when the queue was full (the body is dropped).
  bool enqueue(std::string body);

 private:
  void run();
  bool post(const std::string& body, std::string& error);

  WebhookOptions options_;
  std::string scheme_host_port_;
  std::string path_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  AlertDelivery delivery_;
  std::int64_t last_resend_ns_ = 0;
  std::thread thread_;
};

// The factory the api layer's alert monitor calls (registered by src/server/autostart.cpp).
std::unique_ptr<detail::AlertSink> make_alert_webhook(const Config& config);

}  // namespace codeprof::server
