#pragma once
// Configuration: defaults < TOML file < environment variables CODEPROF_<KEY>.
// Every key, its type, range and default is listed in docs/CONFIG.md (and by config_keys()).
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "codeprof/category.hpp"

namespace codeprof {

// A bad key, type or value. The message names the key, what was expected and what was given.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Thresholds {
  double warning_s = 1.0;
  double critical_s = 5.0;
  bool operator==(const Thresholds&) const = default;
};

// The default thresholds per category (docs/CONFIG.md says where each comes from).
Thresholds default_thresholds(Category c) noexcept;

struct Config {
  // --- switches
  bool enabled = true;
  std::array<bool, kCategoryCount> category_enabled = filled(true);
  std::array<Thresholds, kCategoryCount> thresholds = default_threshold_table();

  // --- per-operation probes: a metric runs for a scope when its switch is on and the scope's
  // category has probes on. Each costs more than a timestamp (docs/PROBES.md).
  struct Metrics {
    bool memory = false;      // RSS delta + allocation counters (allocation hooks need codeprof::alloc)
    bool cpu = false;         // thread CPU time -> CPU efficiency
    bool io = false;          // /proc/thread-self/io bytes and syscalls
    bool gpu = false;         // device memory delta (NVML / CUDA runtime, loaded with dlopen)
    bool gpu_timing = false;  // CUDA events around GPU-category scopes
    bool nvtx = false;        // push every scope as an NVTX range
    bool network = false;     // socket bytes, calls and blocked time (needs codeprof::net)
    std::array<bool, kCategoryCount> categories = filled(true);
    bool operator==(const Metrics&) const = default;
  } metrics;

  // --- event path
  std::uint32_t buffer_events = 1u << 16;  // ring slots per thread (power of two)
  std::uint32_t collector_interval_us = 1000;

  // --- background system sampler
  bool sampler_enabled = true;
  std::uint32_t sampler_interval_ms = 100;
  std::uint32_t timeline_capacity = 3000;  // samples kept per series (ring)

  // --- line-level sampling: CPU-time stack samples attributed to the
  // open operations (docs/PROBES.md "Line-level sampling"). Fixed when the profiler is constructed.
  struct Sampling {
    bool enabled = false;                 // sample native stacks on CPU time
    std::uint32_t frequency_hz = 999;     // per thread, of CPU time
    bool all_threads = false;             // every thread of the process, not only threads that run scopes
    std::uint32_t max_frames = 64;        // deepest stack kept (innermost frames)
    std::uint32_t buffer_samples = 256;   // per-thread ring, in full-depth samples
    std::uint32_t max_stacks = 100'000;   // distinct stacks kept; more are counted as dropped
    std::uint32_t python_frequency_hz = 100;  // the Python package's sampler thread
    bool alloc_enabled = false;               // sample allocations (needs codeprof::alloc linked)
    std::uint32_t alloc_interval_bytes = 524'288;  // mean bytes between allocation samples
    bool operator==(const Sampling&) const = default;
  } sampling;
  // "auto" (perf_ring, else perf_event, else timer), "perf_ring", "perf_event" or "timer" (key
  // sampling.mechanism; src/sampling/cpu_sampler.hpp says what each is). Kept outside
  // Sampling: g++ 12 reports a false maybe-uninitialized for a string in a nested member struct.
  std::string sampling_mechanism = "auto";
  // "auto", "on" or "off" (key sampling.native): whether sampling.enabled runs the native CPU
  // sampler. auto: on, except in a process that imported the Python package (Python stacks come
  // from its own sampler there).
  std::string sampling_native = "auto";

  // --- raw trace recording (Chrome trace export)
  bool trace_enabled = false;
  std::uint64_t trace_budget_events = 1'000'000;
  std::string trace_policy = "last";        // "last": the most recent events (a ring); "first"
  std::uint64_t trace_budget_bytes = 0;     // 0: no limit in bytes

  // --- analysis
  std::string step_operation;              // name of the step operation; empty = training_loop category
  double low_priority_share = 0.10;        // share of wall time that makes a fast operation a bottleneck
  // A counter whose rate falls by this share (0..1) after a change point is reported (0: off).
  double metric_rate_drop = 0.33;

  // --- thresholds on the program's own metrics (docs/METRICS.md): custom_metrics.<name>.warning,
  // .critical and .direction. A metric's reading is its rate per second (counter), its mean
  // (value) or its latest setting (gauge).
  struct MetricThreshold {
    std::optional<double> warning;
    std::optional<double> critical;
    bool below = false;  // "below": bad when the reading falls under the threshold (throughput)
    bool operator==(const MetricThreshold&) const = default;
  };
  std::map<std::string, MetricThreshold, std::less<>> custom_metrics;

  // --- output
  std::string output_dir = "codeprof_output";
  std::vector<std::string> export_formats = {"json", "chrome", "csv", "prometheus", "html"};
  bool export_on_exit = false;

  // --- dashboard
  std::string dashboard_host = "127.0.0.1";
  std::uint16_t dashboard_port = 0;  // 0: no dashboard is started with the profiler
  std::string dashboard_token;

  // --- run metadata (distributed jobs)
  int rank = -1;
  int world_size = -1;
  int local_rank = -1;   // rank on this node (LOCAL_RANK, as torchrun sets it)
  std::string job_name;  // names the job in metrics, reports and traces (job.name)

  // --- alert rules evaluated inside the profiler (docs/ALERTS.md). A threshold of 0 turns a rule off.
  struct Alerts {
    bool enabled = true;
    std::uint32_t interval_ms = 1000;   // evaluation period
    double window_s = 60.0;             // rates (input share, drops, step time) over this window
    double keep_firing_for_s = 30.0;    // a firing alert resolves after its condition was false this long
    bool log = true;                    // one line on stderr when an alert fires or resolves
    double input_bound_share = 0.20;    // input share of the iteration
    double input_bound_for_s = 300.0;
    double gpu_idle_share = 0.30;       // share of GPU samples under 5 % utilisation
    double gpu_idle_for_s = 600.0;
    double events_dropped_share = 0.01; // dropped / made
    double events_dropped_for_s = 60.0;
    double memory_growth_mib = 16.0;    // RSS growth over memory_growth_window_s, MiB
    double memory_growth_window_s = 1800.0;
    double memory_growth_for_s = 0.0;
    double step_time_s = 0.0;           // mean step time (off by default: no universal value)
    double step_time_for_s = 60.0;
    std::string webhook_url;            // POST alerts here (http:// or https://); empty: none
    std::string webhook_format = "webhook";  // "webhook" (Alertmanager's receiver payload) or "alertmanager" (its API)
    std::uint32_t webhook_queue = 64;   // notifications waiting at most; more are dropped and counted
    std::uint32_t webhook_timeout_ms = 2000;
    std::uint32_t webhook_retries = 3;
    std::uint32_t webhook_backoff_ms = 500;  // first retry delay, doubled each retry
    double custom_metric_for_s = 0.0;   // seconds a custom metric stays past its threshold before firing
    bool operator==(const Alerts&) const = default;
  } alerts;

  // Defaults, then the TOML file, then the environment.
  static Config load(const std::string& toml_path);
  // Defaults, then the environment (CODEPROF_CONFIG names a TOML file to read first).
  static Config from_env();
  // Applies CODEPROF_<KEY> environment variables over this config.
  void apply_env();
  // Sets one key from its text form, as in the environment ("1.5", "true", "json,csv").
  void set(std::string_view key, std::string_view value);
  // The text form of one key's current value.
  std::string get(std::string_view key) const;
  // Throws ConfigError when a value is out of range.
  void validate() const;

  bool operator==(const Config&) const = default;

 private:
  template <typename T>
  static constexpr std::array<T, kCategoryCount> filled(T v) {
    std::array<T, kCategoryCount> a{};
    for (auto& x : a) x = v;
    return a;
  }
  static std::array<Thresholds, kCategoryCount> default_threshold_table() noexcept;
};

// Description of one configuration key (for docs, the dashboard and error messages).
struct ConfigKey {
  std::string name;         // dotted TOML path, e.g. "thresholds.data_loading.warning"
  std::string env;          // e.g. "CODEPROF_THRESHOLDS_DATA_LOADING_WARNING"
  std::string type;         // "bool", "integer", "float", "string", "list"
  std::string default_value;
  std::string description;
};
const std::vector<ConfigKey>& config_keys();

}  // namespace codeprof
