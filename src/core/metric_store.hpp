#pragma once
// The program's own metrics (counters, values, gauges), kept like operation statistics: each
// thread aggregates what it records into its own cells (written by that thread only, read by
// snapshots while it keeps recording), so nothing depends on another thread getting CPU time and
// the statistics are exact at any load. collect() merges the threads' cells (and those of threads
// that exited) into CustomMetrics.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "codeprof/custom_metrics.hpp"
#include "codeprof/detail/recorder_state.hpp"
#include "core/fork_safety.hpp"

namespace codeprof::core {

struct MetricThread;  // one thread's cells (metric_store.cpp)
struct MergedMetric;  // a metric merged over threads (metric_store.cpp)

// Distinct metric names per store; later names are refused and counted (names_refused()).
inline constexpr std::uint32_t kMaxMetrics = 1024;
// Windows of a metric's time series: their width (initially kMetricWindowNs) doubles when the run
// outgrows them, so a metric's series takes at most kMetricWindows windows per thread.
inline constexpr std::uint32_t kMetricWindows = 256;
inline constexpr std::int64_t kMetricWindowNs = 10'000'000;

class MetricStore final : private ForkAware {
 public:
  // `origin_steady_ns`: the run's zero (steady_clock ns) that series and first/last times count
  // from. With `clock`, calls are timed with that recorder's clock (the TSC where it is invariant:
  // a few ns instead of clock_gettime's ~20), on the same time axis as its scopes.
  explicit MetricStore(std::int64_t origin_steady_ns, const detail::RecorderState* clock = nullptr);
  ~MetricStore();
  MetricStore(const MetricStore&) = delete;
  MetricStore& operator=(const MetricStore&) = delete;

  // Records one call from the calling thread. No lock once the thread has used `name` (a
  // thread-local lookup); never blocks on readers. A call that does not fit the metric (another
  // kind than its first use, a negative counter increment, NaN or infinity) is counted as rejected.
  void record(MetricKind kind, std::string_view name, double value, std::string_view unit) noexcept;

  // Fresh statistics: every thread clears its own cells at its next call; snapshots skip them
  // until then.
  void reset();

  // Every metric with a call since the last reset, ascending by name.
  std::vector<CustomMetric> collect();

  // Calls for names beyond kMaxMetrics (or that could not be registered), since the start.
  std::uint64_t names_refused() const noexcept { return names_refused_.load(std::memory_order_relaxed); }

 private:
  friend struct MetricThread;
  struct Info {
    std::string name;
    MetricKind kind;
    std::string unit;
  };

  MetricThread* attach_current_thread();
  MetricThread* calling_thread() noexcept;
  void fold_closed_locked();

  void before_fork() noexcept override;
  void after_fork_parent() noexcept override;
  void after_fork_child() noexcept override;

  const std::uint64_t id_;
  const std::int64_t origin_ns_;
  const detail::RecorderState* const clock_;
  std::atomic<std::uint32_t> epoch_{0};  // resets so far; threads compare it at every call
  std::atomic<std::uint64_t> names_refused_{0};

  std::mutex mutex_;  // everything below
  std::vector<Info> infos_;  // index = metric id
  std::unordered_map<std::string, std::uint32_t> ids_;
  std::vector<std::shared_ptr<MetricThread>> threads_;
  std::vector<MergedMetric> base_;  // threads that exited, this epoch; index = metric id
  bool forked_ = false;  // set in a forked child until the parent's threads are forgotten
};

}  // namespace codeprof::core
