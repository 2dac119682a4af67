#include "server/alert_webhook.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <stdexcept>

#include "io/text_output.hpp"

namespace codeprof::server {
namespace {

using OrderedJson = nlohmann::ordered_json;

// Alertmanager's zero time, which its webhook payload uses for "no end yet".
constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";

std::string rfc3339(std::int64_t unix_ns) { return unix_ns > 0 ? io::iso8601_utc(unix_ns) : kZeroTime; }

AlertLabels alert_labels(const Alert& a) {
  AlertLabels labels = a.labels;
  labels["alertname"] = a.name;
  labels["severity"] = a.severity;
  return labels;
}

AlertLabels alert_annotations(const Alert& a) {
  return {{"summary", a.summary},
          {"value", io::format_double(a.value)},
          {"threshold", io::format_double(a.threshold)},
          {"threshold_source", a.source}};
}

// Alertmanager identifies an alert by the hash of its label set; FNV-1a over the sorted labels
// gives a stable 64-bit one here.
std::string fingerprint(const AlertLabels& labels) {
  std::uint64_t h = 1469598103934665603ull;
  const auto mix = [&](std::string_view s) {
    for (const unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;  // separator, so ("ab","c") differs from ("a","bc")
  };
  for (const auto& [k, v] : labels) {
    mix(k);
    mix(v);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<std::size_t>(i)] = kHex[h & 0xf];
  return out;
}

AlertLabels common_of(const std::vector<AlertLabels>& sets) {
  if (sets.empty()) return {};
  AlertLabels common = sets.front();
  for (const auto& s : sets)
    std::erase_if(common, [&](const auto& kv) {
      auto it = s.find(kv.first);
      return it == s.end() || it->second != kv.second;
    });
  return common;
}

std::string dump(const OrderedJson& j) { return j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace); }

}  // namespace

WebhookOptions WebhookOptions::from_config(const Config& config) {
  WebhookOptions o;
  o.url = config.alerts.webhook_url;
  o.format = config.alerts.webhook_format;
  o.queue = config.alerts.webhook_queue;
  o.timeout = std::chrono::milliseconds(config.alerts.webhook_timeout_ms);
  o.retries = config.alerts.webhook_retries;
  o.backoff = std::chrono::milliseconds(config.alerts.webhook_backoff_ms);
  if (config.dashboard_port != 0) o.external_url = "http://" + config.dashboard_host + ":" + std::to_string(config.dashboard_port) + "/";
  return o;
}

std::string webhook_payload(const std::vector<Alert>& alerts, const std::string& external_url) {
  OrderedJson list = OrderedJson::array();
  std::vector<AlertLabels> label_sets, annotation_sets;
  bool any_firing = false;
  for (const Alert& a : alerts) {
    const bool firing = a.state != "resolved";
    any_firing = any_firing || firing;
    const AlertLabels labels = alert_labels(a);
    const AlertLabels annotations = alert_annotations(a);
    label_sets.push_back(labels);
    annotation_sets.push_back(annotations);
    list.push_back({{"status", firing ? "firing" : "resolved"},
                    {"labels", labels},
                    {"annotations", annotations},
                    {"startsAt", rfc3339(a.fired_unix_ns ? a.fired_unix_ns : a.active_since_unix_ns)},
                    {"endsAt", firing ? std::string(kZeroTime) : rfc3339(a.resolved_unix_ns)},
                    {"generatorURL", external_url},
                    {"fingerprint", fingerprint(labels)}});
  }
  const AlertLabels common = common_of(label_sets);
  AlertLabels group;
  if (auto it = common.find("alertname"); it != common.end()) group["alertname"] = it->second;
  std::string group_key = "{}:{";
  for (const auto& [k, v] : group) group_key += k + "=\"" + v + "\"";
  group_key += "}";
  const OrderedJson body = {{"version", "4"},
                     {"groupKey", group_key},
                     {"truncatedAlerts", 0},
                     {"status", any_firing ? "firing" : "resolved"},
                     {"receiver", "codeprof"},
                     {"groupLabels", group},
                     {"commonLabels", common},
                     {"commonAnnotations", common_of(annotation_sets)},
                     {"externalURL", external_url},
                     {"alerts", std::move(list)}};
  return dump(body);
}

std::string alertmanager_payload(const std::vector<Alert>& alerts, const std::string& external_url) {
  OrderedJson list = OrderedJson::array();
  for (const Alert& a : alerts) {
    OrderedJson j = {{"labels", alert_labels(a)},
              {"annotations", alert_annotations(a)},
              {"startsAt", rfc3339(a.fired_unix_ns ? a.fired_unix_ns : a.active_since_unix_ns)}};
    // Without endsAt Alertmanager keeps a firing alert for its resolve_timeout; a resolved one ends now.
    if (a.state == "resolved") j["endsAt"] = rfc3339(a.resolved_unix_ns);
    if (!external_url.empty()) j["generatorURL"] = external_url;
    list.push_back(std::move(j));
  }
  return dump(list);
}

AlertWebhook::AlertWebhook(WebhookOptions options) : options_(std::move(options)) {
  const std::string& url = options_.url;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos || (url.compare(0, scheme_end, "http") != 0 && url.compare(0, scheme_end, "https") != 0))
    throw std::invalid_argument("alerts.webhook.url '" + url + "': expected an http:// or https:// URL");
  const auto path_start = url.find('/', scheme_end + 3);
  scheme_host_port_ = url.substr(0, path_start);
  path_ = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (scheme_host_port_.size() <= scheme_end + 3)
    throw std::invalid_argument("alerts.webhook.url '" + url + "': expected a host after the scheme");
  if (options_.format != "webhook" && options_.format != "alertmanager")
    throw std::invalid_argument("alerts.webhook.format '" + options_.format + "': expected webhook or alertmanager");
  if (options_.queue == 0) throw std::invalid_argument("alerts.webhook.queue: expected at least 1");
  delivery_.target = url;
  thread_ = std::thread([this] { run(); });
}

AlertWebhook::~AlertWebhook() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool AlertWebhook::enqueue(std::string body) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= options_.queue) {
      ++delivery_.dropped;
      return false;
    }
    queue_.push_back(std::move(body));
    ++delivery_.queued;
  }
  wake_.notify_one();
  return true;
}

void AlertWebhook::notify(const std::vector<Alert>& changed, const std::vector<Alert>& firing, std::int64_t now) {
  if (options_.format == "webhook") {
    if (!changed.empty()) enqueue(webhook_payload(changed, options_.external_url));
    return;
  }
  // Alertmanager: what changed now, and every firing alert again each resend interval.
  std::vector<Alert> batch = changed;
  if (!firing.empty() && now - last_resend_ns_ >= std::chrono::nanoseconds(options_.resend).count()) {
    for (const Alert& a : firing)
      if (std::none_of(batch.begin(), batch.end(), [&](const Alert& b) { return b.name == a.name && b.labels == a.labels; }))
        batch.push_back(a);
  }
  if (batch.empty()) return;
  if (!firing.empty()) last_resend_ns_ = now;
  enqueue(alertmanager_payload(batch, options_.external_url));
}

AlertDelivery AlertWebhook::delivery() const {
  std::lock_guard lock(mutex_);
  return delivery_;
}

bool AlertWebhook::post(const std::string& body, std::string& error) {
  httplib::Client client(scheme_host_port_);
  const auto timeout = options_.timeout;
  client.set_connection_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  client.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  client.set_write_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  const auto result = client.Post(path_, {{"User-Agent", "codeprof"}}, body, "application/json");
  if (!result) {
    error = options_.url + ": " + httplib::to_string(result.error());
    return false;
  }
  if (result->status < 200 || result->status >= 300) {
    error = options_.url + ": HTTP " + std::to_string(result->status);
    return false;
  }
  return true;
}

void AlertWebhook::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::string body = std::move(queue_.front());
    queue_.pop_front();
    auto delay = options_.backoff;
    for (unsigned attempt = 0;; ++attempt) {
      lock.unlock();
      std::string error;
      const bool ok = post(body, error);
      lock.lock();
      if (ok) {
        ++delivery_.sent;
        break;
      }
      delivery_.last_error = error;
      if (attempt >= options_.retries || stopping_) {
        ++delivery_.failed;
        break;
      }
      // Wait before retrying; stop() cuts the wait short.
      if (wake_.wait_for(lock, delay, [this] { return stopping_; })) {
        ++delivery_.failed;
        return;
      }
      delay *= 2;
      ++delivery_.retries;
    }
  }
}

std::unique_ptr<detail::AlertSink> make_alert_webhook(const Config& config) {
  return std::make_unique<AlertWebhook>(WebhookOptions::from_config(config));
}

}  // namespace codeprof::server
