#pragma once
// The profiler: records scopes from any thread, samples the system, analyses and exports.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codeprof/call_site.hpp"
#include "codeprof/category.hpp"
#include "codeprof/config.hpp"
#include "codeprof/detail/recording_thread.hpp"
#include "codeprof/findings.hpp"
#include "codeprof/process_parts.hpp"
#include "codeprof/samples.hpp"
#include "codeprof/scope.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof {

class Profiler {
 public:
  explicit Profiler(Config config = Config{});
  ~Profiler();
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  // A scope for an operation named at run time (interned; a thread-local hash lookup).
  [[nodiscard]] Scope profile_operation(std::string_view name, Category category) {
    return Scope(*state_, intern_site(name, category));
  }
  // A scope for a registered call site (what CODEPROF_SCOPE uses): no lookup at all.
  [[nodiscard]] Scope scope(SiteId site) noexcept { return Scope(*state_, site); }

  // Records an operation that already finished on the calling thread, as a child of the thread's
  // innermost open scope. start_ticks/end_ticks come from ticks(). False when nothing was
  // recorded (category off, or end before start).
  bool record_span(SiteId site, std::uint64_t start_ticks, std::uint64_t end_ticks) noexcept {
    return detail::record_span(*state_, site, start_ticks, end_ticks);
  }
  // The recorder's clock (TSC ticks, or steady_clock nanoseconds where the TSC is not invariant).
  std::uint64_t ticks() const noexcept { return detail::read_ticks(*state_); }

  // ---- run-time switches (safe while other threads record)
  void set_enabled(bool on);
  bool enabled() const;
  void set_category_enabled(Category c, bool on);
  bool category_enabled(Category c) const;
  void set_thresholds(Category c, Thresholds t);
  // Applies the switches, thresholds and analysis keys of `config` (buffer sizes and the
  // sampler interval stay as they were at construction).
  void update_config(const Config& config);
  Config config() const;

  // ---- the program's own numbers (docs/METRICS.md), from any thread: aggregated by the calling
  // thread like scopes (no lock once the thread has used the name), exact at any load. A metric's
  // kind is that of its first call; `unit` ("pages", "tokens", "s") is kept from the first call
  // that gives one. Nothing is recorded while profiling is off (set_enabled(false)).
  // A monotonic counter: adds n (>= 0) to it.
  void add_counter(std::string_view name, double n = 1.0, std::string_view unit = {}) noexcept;
  // One observation of a series (loss, tokens per batch): count/min/max/mean/last/percentiles.
  void record_value(std::string_view name, double x, std::string_view unit = {}) noexcept;
  // Sets a level (queue depth, cache hit rate): the most recent setting, from any thread, wins.
  void set_gauge(std::string_view name, double v, std::string_view unit = {}) noexcept;

  // Names the calling thread in reports and traces.
  void set_thread_name(std::string name);

  // ---- line-level sampling
  // Adds stacks sampled and symbolised elsewhere (e.g. the Python package's sampler thread) to this
  // profiler's profile; they are attributed to operations and counted exactly like native samples
  // (per-operation hot_functions / hot_lines, the profile, sampling.sources). Thread-safe; one lock
  // per batch. Kept whether or not sampling.enabled is on; reset() forgets them.
  void add_samples(const SampleBatch& batch);
  // The threads recording to this profiler, for a sampler on another thread that attributes its
  // stacks to their open operations (detail::read_open_operations; lock-free once listed). Takes
  // the recorder's locks: list again when a new thread may have started recording.
  std::vector<detail::RecordingThread> recording_threads() const;

  // ---- notes about the run, carried by every snapshot from now on (so they reach the reports
  // and the live dashboard, not just a report written at the end)
  // Something that could not run here and why, e.g. ("multi_gpu", "one GPU visible"). A second
  // note about the same `what` replaces the first.
  void add_unavailable(std::string what, std::string reason);
  // A fact about the run, e.g. ("batch_size", "32"): the analysis reads "batch_size".
  void set_metadata(std::string key, std::string value);

  // ---- results
  Snapshot snapshot() const;  // consistent, immutable copy; flushes pending events first
  Findings analyze() const;   // analysis of snapshot()
  // Operations whose mean is at least `threshold_seconds`, ranked; see docs/RULES.md.
  std::vector<Bottleneck> get_bottlenecks(double threshold_seconds = 0.0) const;
  std::vector<Recommendation> get_performance_recommendations() const;

  // Writes the JSON report. A directory or "" gives profiling_report_YYYYMMDD_HHMMSS.json in it
  // ("" = the configured output_dir). Returns the path written. Atomic (temp file + rename).
  std::string export_profiling_data(const std::string& path = "") const;
  // Writes every configured export format into `directory` ("" = output_dir), which is created when
  // missing (also when its name has a dot); a path that exists and is not a directory is refused
  // with io::WriteError before anything is written. Returns the paths.
  std::vector<std::string> export_all(const std::string& directory = "") const;

  // Starts fresh statistics without stopping anything (threads, sampler and dashboard keep running).
  void reset();
  // Waits until every event published so far is aggregated.
  void flush() const;

  // ---- statistics recorded in other processes (include/codeprof/process_parts.hpp)
  // The address child processes send their parts to (ProcessPartSender); opens the channel, and a
  // thread that receives on it, on the first call. snapshot() merges what arrived, per process.
  std::string process_channel();
  // Adds another process's part directly (newer sequence from the same source replaces older).
  void absorb_process_part(ProcessPart part);
  ProcessPartsStatus process_parts_status() const;

  // Internal: the hot-path state (used by Scope and integrations).
  detail::RecorderState& state() noexcept { return *state_; }

  struct Impl;
  Impl& impl() noexcept { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
  detail::RecorderState* state_;
};

// How sampling.native = "auto" resolves for profilers constructed from now on: true (the default)
// runs the native CPU sampler. The Python package sets false when imported: its own sampler takes
// Python stacks, and native ones would show the interpreter's C functions instead of Python lines.
void set_native_sampling_auto(bool on) noexcept;

// The process-wide profiler used by the macros without a profiler argument. Created on first use
// from Config::from_env(); flushed (and exported when export_on_exit) at normal process exit.
Profiler& default_profiler();

}  // namespace codeprof
