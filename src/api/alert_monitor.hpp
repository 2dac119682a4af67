#pragma once
// Evaluates the alert rules inside the profiled program: a background thread takes a snapshot every
// alerts.interval_ms, measures the alert metrics over their windows, runs the rules and logs and
// sends (through the AlertSink) each alert that fires or resolves, once. The profiled threads never
// wait for it: it only takes snapshots (without the sampled profile, which no rule reads).
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "analysis/alert_engine.hpp"
#include "analysis/alert_metrics.hpp"
#include "api/alert_sink.hpp"
#include "codeprof/alerts.hpp"
#include "codeprof/snapshot.hpp"
#include "core/fork_safety.hpp"

namespace codeprof {
class Profiler;
namespace detail {

// Fork-aware: a fork()ed child (a DataLoader worker) has no monitor thread; it neither evaluates nor
// waits for that thread when its profiler ends.
class AlertMonitor final : public core::ForkAware {
 public:
  // `sink` may be null (no webhook). Does not start the thread: call start().
  AlertMonitor(Profiler& profiler, std::unique_ptr<AlertSink> sink);
  ~AlertMonitor();  // stops the thread
  AlertMonitor(const AlertMonitor&) = delete;
  AlertMonitor& operator=(const AlertMonitor&) = delete;

  void start();
  void stop();
  // One evaluation now, on the calling thread (the monitor's thread calls it every interval).
  void evaluate_once();

  std::vector<Alert> alerts() const;
  AlertDelivery delivery() const;

  void before_fork() noexcept override;
  void after_fork_parent() noexcept override;
  void after_fork_child() noexcept override;

 private:
  void run();

  Profiler& profiler_;
  std::unique_ptr<AlertSink> sink_;
  std::mutex evaluate_mutex_;  // one evaluation at a time
  analysis::AlertEngine engine_;
  analysis::AlertMetrics metrics_;
  Config::Alerts rules_config_{};
  std::map<std::string, Config::MetricThreshold, std::less<>> rules_metrics_;  // custom_metrics.* the rules were made from
  bool rules_set_ = false;

  mutable std::mutex alerts_mutex_;
  std::vector<Alert> alerts_;

  // The last evaluation's copy of the raw trace (up to trace.budget_events events of ~180 bytes,
  // every interval): reused, so each copy writes into memory already mapped.
  std::vector<TraceEvent> trace_buffer_;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// Stops the profiler's alert monitor, if it has one (the default profiler at exit).
void stop_alert_monitor(Profiler& profiler);

// Profiler::snapshot() without the sampled profile (stacks, hot code, the sampling section) and
// with only the trace events the analysis reads (analysis::kTraceCategoriesRead; in the demo a
// quarter of the raw trace): what the monitor evaluates each interval, which reads nothing else.
// `trace_buffer` (may be null): a previous snapshot's trace_events, whose memory the new copy of
// the raw trace reuses.
Snapshot snapshot_without_profile(Profiler& profiler, std::vector<TraceEvent>* trace_buffer = nullptr);

}  // namespace detail
}  // namespace codeprof
