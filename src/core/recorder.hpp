#pragma once
// The live event path. Each thread aggregates its own scopes into its own statistics table
// (detail::ThreadBuffer), so no statistic depends on another thread getting CPU time; snapshots
// merge the tables without stopping anyone. A collector thread only moves raw trace events (when
// the trace is on) into the trace window and folds the tables of exited threads into `base_`.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "codeprof/detail/recorder_state.hpp"
#include "codeprof/detail/recording_thread.hpp"
#include "codeprof/detail/ticks.hpp"
#include "codeprof/snapshot.hpp"
#include "core/aggregator.hpp"
#include "core/fork_safety.hpp"
#include "core/tick_converter.hpp"
#include "core/trace_window.hpp"

namespace codeprof::core {

struct RecorderOptions {
  std::uint32_t buffer_events = 1u << 16;  // trace ring slots per thread: rounded up to a power of two, >= 64
  std::uint32_t collector_interval_us = 1000;
  bool keep_trace = false;
  std::uint64_t trace_budget = 1'000'000;
  TracePolicy trace_policy = TracePolicy::Last;
  std::uint64_t trace_budget_bytes = 0;  // 0: no limit in bytes
  bool enabled = true;
  std::uint32_t category_mask = kAllCategoriesMask;
  bool force_steady_clock = false;  // for tests: pretend the TSC is not invariant
  // False: no collector thread until start_collector() (or a trace ring fills), so that a CPU
  // sampler started in between can have it inherit its per-CPU events.
  bool start_collector = true;
};

// Usable in a child made by fork(): the child starts with empty statistics (its data is its own,
// nothing of the parent's is counted twice), keeps the forking thread's open scopes and forgets the
// other threads. flush/fill/reset work on the calling thread; a collector thread starts in the
// child only when a trace ring fills.
class Recorder final : private ForkAware {
 public:
  explicit Recorder(const RecorderOptions& options);
  ~Recorder();  // stops the collector; everything recorded stays readable until then
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  detail::RecorderState& state() noexcept { return state_; }

  void set_enabled(bool on);
  bool enabled() const;
  void set_category_enabled(Category c, bool on);
  bool category_enabled(Category c) const;
  std::uint32_t category_mask() const;
  void set_probe_categories(std::uint32_t mask);  // categories whose scopes run probes
  void set_trace(bool keep, std::uint64_t budget);  // keeps the policy and byte budget
  void set_trace(bool keep, TraceBudget budget);

  void set_thread_name(std::string name);  // names the calling thread
  void flush();                            // moves pending trace events and exited threads' statistics
  void reset();                            // fresh statistics; nothing stops
  // Operations, call tree, threads, trace, counters and run.wall_ns/start_unix_ns.
  // `trace_categories` (a category_bit mask): the categories whose trace events are copied, and
  // what out.trace_categories says (the window fields cover every event either way).
  void fill(Snapshot& out, std::uint32_t trace_categories = kAllCategoriesMask);

  std::int64_t origin_steady_ns() const noexcept { return ticks_.origin_steady_ns(); }
  std::int64_t origin_unix_ns() const noexcept { return origin_unix_ns_; }
  bool uses_tsc() const noexcept { return ticks_.use_tsc(); }

  // The threads that record here and have not exited (for a sampler on another thread).
  std::vector<detail::RecordingThread> recording_threads();

  // Slow path of detail::thread_buffer(): registers the calling thread.
  detail::ThreadBuffer* attach_current_thread();
  // Starts the collector where none runs: deferred at construction, or in a forked child (a
  // producer's trace ring filled up).
  void revive_collector();

 private:
  struct Attached {
    std::shared_ptr<detail::ThreadBuffer> buffer;
    std::uint64_t dropped_seen = 0;  // trace drops already counted
    bool retire = false;             // the thread had exited and its statistics are in base_
  };

  void before_fork() noexcept override;
  void after_fork_parent() noexcept override;
  void after_fork_child() noexcept override;
  void adopt_fork();         // in a forked child, on the first call: see the class comment
  void adopt_fork_locked();  // drain_mutex_ held

  void publish_mask();
  void publish_control();  // drain_mutex_ held
  void refine_ticks();     // drain_mutex_ held
  void collector_loop();
  std::size_t drain_locked();  // drain_mutex_ held; returns the trace events moved
  void collect_dropped(Attached& a);

  detail::RecorderState state_;
  TickConverter ticks_;
  std::int64_t origin_unix_ns_;
  std::uint32_t capacity_;
  std::chrono::microseconds interval_;

  mutable std::mutex switch_mutex_;  // enabled_ / categories_ writers
  bool enabled_;
  std::uint32_t categories_;
  std::uint32_t probe_categories_ = 0;

  std::mutex threads_mutex_;  // attach/detach and names
  std::vector<std::shared_ptr<detail::ThreadBuffer>> new_buffers_;
  std::vector<std::pair<std::uint32_t, std::string>> pending_names_;
  std::uint32_t next_thread_index_ = 0;

  std::mutex drain_mutex_;  // the reading side: everything below
  std::vector<Attached> attached_;
  Aggregator base_;             // thread names, trace drops, and the statistics of exited threads
  TraceWindow window_;
  bool keep_trace_;
  std::uint32_t epoch_ = 0;     // resets so far
  std::uint64_t lifetime_retired_ = 0;  // calls of exited threads since the start
  std::uint64_t dropped_total_ = 0;     // trace events lost to full rings since the start
  std::int64_t reset_at_ns_ = 0;        // origin-relative time of the last reset
  std::chrono::steady_clock::time_point last_refine_;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> trace_switched_on_{false};  // wakes a collector that waits the untraced interval
  std::thread collector_;

  // Set in a forked child until adopt_fork() ran; the forking thread's buffer and its trace drops
  // at the fork (the parent's).
  std::atomic<bool> forked_{false};
  detail::ThreadBuffer* fork_ring_ = nullptr;
  std::uint64_t fork_dropped_ = 0;
};

}  // namespace codeprof::core
