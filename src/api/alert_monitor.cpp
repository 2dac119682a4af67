#include "api/alert_monitor.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <new>

#include "analysis/analyze.hpp"
#include "codeprof/profiler.hpp"
#include "common/wall_clock.hpp"

namespace codeprof::detail {
namespace {

std::atomic<AlertSinkFactory> g_sink_factory{nullptr};

// The job identity every alert carries, as the Prometheus metrics do.
AlertLabels identity_labels(const RunInfo& run) {
  AlertLabels labels;
  if (!run.job_name.empty()) labels["job_name"] = run.job_name;
  if (run.rank >= 0) labels["rank"] = std::to_string(run.rank);
  if (!run.host.empty()) labels["host"] = run.host;
  return labels;
}

std::string where(const AlertLabels& labels) {
  std::string out;
  for (const char* key : {"job_name", "rank", "gpu"}) {
    auto it = labels.find(key);
    if (it == labels.end()) continue;
    out += out.empty() ? " (" : ", ";
    out += std::string(key == std::string_view("job_name") ? "job" : key) + " " + it->second;
  }
  return out.empty() ? out : out + ")";
}

}  // namespace

void register_alert_sink_factory(AlertSinkFactory factory) { g_sink_factory.store(factory); }
AlertSinkFactory alert_sink_factory() { return g_sink_factory.load(); }

AlertMonitor::AlertMonitor(Profiler& profiler, std::unique_ptr<AlertSink> sink)
    : profiler_(profiler), sink_(std::move(sink)) {
  core::register_fork_aware(this);
}

AlertMonitor::~AlertMonitor() {
  core::unregister_fork_aware(this);
  stop();
}

// Taken in the order evaluation nests them (an evaluation takes a snapshot, which reads alerts()).
void AlertMonitor::before_fork() noexcept {
  evaluate_mutex_.lock();
  alerts_mutex_.lock();
  wake_mutex_.lock();
}

void AlertMonitor::after_fork_parent() noexcept {
  wake_mutex_.unlock();
  alerts_mutex_.unlock();
  evaluate_mutex_.unlock();
}

void AlertMonitor::after_fork_child() noexcept {
  // The monitor thread was not copied: forget its handle without joining it, and give the
  // condition variable (whose waiter was that thread) a fresh state, or destroying it would wait
  // for a waiter that does not exist here. The webhook sender's thread is gone too: its sink is
  // left alone, never destroyed in the child.
  new (&thread_) std::thread();
  new (&wake_) std::condition_variable();
  stopping_ = true;
  (void)sink_.release();
  wake_mutex_.unlock();
  alerts_mutex_.unlock();
  evaluate_mutex_.unlock();
}

void AlertMonitor::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void AlertMonitor::stop() {
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AlertMonitor::run() {
  for (;;) {
    const auto interval = std::chrono::milliseconds(profiler_.config().alerts.interval_ms);
    {
      std::unique_lock lock(wake_mutex_);
      if (wake_.wait_for(lock, interval, [this] { return stopping_; })) return;
    }
    try {
      evaluate_once();
    } catch (const std::exception& e) {
      // An evaluation that fails (e.g. out of memory) must not end the program; the next one retries.
      std::fprintf(stderr, "codeprof: alert evaluation failed: %s\n", e.what());
    }
  }
}

void AlertMonitor::evaluate_once() {
  std::lock_guard lock(evaluate_mutex_);
  const Config config = profiler_.config();
  if (!rules_set_ || !(config.alerts == rules_config_) || !(config.custom_metrics == rules_metrics_)) {
    std::vector<AlertRule> rules = analysis::builtin_alert_rules(config.alerts);
    for (AlertRule& r : analysis::custom_metric_alert_rules(config)) rules.push_back(std::move(r));
    engine_.set_rules(std::move(rules));
    rules_metrics_ = config.custom_metrics;
    metrics_.set_windows(config.alerts.window_s, config.alerts.memory_growth_window_s);
    rules_config_ = config.alerts;
    rules_set_ = true;
  }
  Snapshot snapshot = snapshot_without_profile(profiler_, &trace_buffer_);
  const Findings findings = analysis::analyze(snapshot, config);
  const std::int64_t now = common::unix_now_ns();
  metrics_.add(snapshot, findings, now);
  std::vector<AlertSample> samples = metrics_.samples(snapshot, config.alerts);
  const AlertLabels identity = identity_labels(snapshot.run);
  for (auto& sample : samples) sample.labels.insert(identity.begin(), identity.end());
  trace_buffer_ = std::move(snapshot.trace_events);  // read no further: the next copy goes there

  const std::vector<Alert> changed = engine_.evaluate(samples, now);
  std::vector<Alert> current = engine_.alerts();
  if (config.alerts.log) {
    for (const Alert& a : changed) {
      if (a.state == "firing")
        std::fprintf(stderr, "codeprof: alert %s firing%s: %s\n", a.name.c_str(), where(a.labels).c_str(), a.summary.c_str());
      else
        std::fprintf(stderr, "codeprof: alert %s resolved%s\n", a.name.c_str(), where(a.labels).c_str());
    }
  }
  if (sink_) {
    std::vector<Alert> firing;
    for (const Alert& a : current)
      if (a.state == "firing") firing.push_back(a);
    sink_->notify(changed, firing, now);
  }
  std::lock_guard alerts_lock(alerts_mutex_);
  alerts_ = std::move(current);
}

std::vector<Alert> AlertMonitor::alerts() const {
  std::lock_guard lock(alerts_mutex_);
  return alerts_;
}

AlertDelivery AlertMonitor::delivery() const { return sink_ ? sink_->delivery() : AlertDelivery{}; }

}  // namespace codeprof::detail
