// Configuration keys: one table drives TOML reading, environment variables, text get/set,
// validation messages and docs/CONFIG.md.
#include "codeprof/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <mutex>
#include <optional>
#include <cstdlib>
#include <functional>
#include <sstream>

#include "core/config_changes.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): <unistd.h> has it only with _GNU_SOURCE

namespace codeprof {
namespace {

enum class Kind { Bool, Int, Float, String, List };

struct KeyDef {
  std::string name;
  Kind kind;
  std::string description;
  double min = 0, max = 0;  // numeric range (inclusive)
  std::function<void(Config&, const std::string&)> set;  // from already-validated text
  std::function<std::string(const Config&)> get;
  std::vector<std::string> choices = {};  // a string key that takes one of these
  std::function<void(Config&, const Config&)> copy = {};  // the value from one Config to another, exactly
};

// The value of the field `ref` names, copied from one Config to another.
template <typename Get>
KeyDef with_copy(KeyDef k, Get ref) {
  k.copy = [ref](Config& to, const Config& from) { ref(to) = ref(const_cast<Config&>(from)); };
  return k;
}

std::string kind_name(Kind k) {
  switch (k) {
    case Kind::Bool: return "bool";
    case Kind::Int: return "integer";
    case Kind::Float: return "float";
    case Kind::String: return "string";
    case Kind::List: return "list";
  }
  return "?";
}

std::string env_name(std::string_view key) {
  std::string e = "CODEPROF_";
  for (char c : key) e.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return e;
}

std::string format_double(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

const std::vector<std::string> kFormats = {"json", "chrome", "csv", "prometheus", "html", "pprof", "folded", "perfetto"};

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string item(text.substr(start, end - start));
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    start = end + 1;
  }
  return out;
}

std::string join_list(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

template <typename Get>
KeyDef bool_key(std::string name, std::string desc, Get ref) {
  return with_copy(KeyDef{std::move(name), Kind::Bool, std::move(desc), 0, 0,
          [ref](Config& c, const std::string& t) { ref(c) = (t == "true"); },
          [ref](const Config& c) { return std::string(ref(const_cast<Config&>(c)) ? "true" : "false"); }}, ref);
}

template <typename Get>
KeyDef int_key(std::string name, std::string desc, double min, double max, Get ref) {
  return with_copy(KeyDef{std::move(name), Kind::Int, std::move(desc), min, max,
          [ref](Config& c, const std::string& t) {
            using T = std::remove_reference_t<decltype(ref(c))>;
            ref(c) = static_cast<T>(std::stoll(t));
          },
          [ref](const Config& c) { return std::to_string(ref(const_cast<Config&>(c))); }}, ref);
}

template <typename Get>
KeyDef float_key(std::string name, std::string desc, double min, double max, Get ref) {
  return with_copy(KeyDef{std::move(name), Kind::Float, std::move(desc), min, max,
          [ref](Config& c, const std::string& t) { ref(c) = std::stod(t); },
          [ref](const Config& c) { return format_double(ref(const_cast<Config&>(c))); }}, ref);
}

template <typename Get>
KeyDef string_key(std::string name, std::string desc, Get ref) {
  return with_copy(KeyDef{std::move(name), Kind::String, std::move(desc), 0, 0,
          [ref](Config& c, const std::string& t) { ref(c) = t; },
          [ref](const Config& c) { return ref(const_cast<Config&>(c)); }}, ref);
}

// The alert rules' keys (docs/ALERTS.md gives each threshold's source).
void add_alert_keys(std::vector<KeyDef>& k) {
  using A = Config::Alerts;
  const auto alert_float = [&](std::string name, std::string desc, double min, double max, double A::*field) {
    k.push_back(float_key("alerts." + std::move(name), std::move(desc), min, max,
                          [field](Config& c) -> double& { return c.alerts.*field; }));
  };
  k.push_back(bool_key("alerts.enabled", "Evaluate the alert rules inside the profiler (a background thread).",
                       [](Config& c) -> bool& { return c.alerts.enabled; }));
  k.push_back(int_key("alerts.interval_ms", "How often the alert rules are evaluated (milliseconds).", 50, 3'600'000,
                      [](Config& c) -> std::uint32_t& { return c.alerts.interval_ms; }));
  alert_float("window_s", "Seconds over which rates (input share, drops, step time) are measured.", 0.1, 86400, &A::window_s);
  alert_float("keep_firing_for_s", "Seconds an alert's condition must stay false before it resolves.", 0, 86400,
              &A::keep_firing_for_s);
  k.push_back(bool_key("alerts.log", "Write one line on standard error when an alert fires or resolves.",
                       [](Config& c) -> bool& { return c.alerts.log; }));
  alert_float("input_bound.threshold", "Input share of the iteration (0..1) above which InputBound fires (0: off).", 0, 1,
              &A::input_bound_share);
  alert_float("input_bound.for_s", "Seconds the input share must stay above its threshold.", 0, 86400, &A::input_bound_for_s);
  alert_float("gpu_idle.threshold", "Share of a GPU's samples under 5 % utilisation (0..1) above which GpuIdle fires (0: off).",
              0, 1, &A::gpu_idle_share);
  alert_float("gpu_idle.for_s", "Seconds the GPU idle share must stay above its threshold.", 0, 86400, &A::gpu_idle_for_s);
  alert_float("events_dropped.threshold", "Share of scope events dropped (0..1) above which EventsDropped fires (0: off).", 0, 1,
              &A::events_dropped_share);
  alert_float("events_dropped.for_s", "Seconds the drop share must stay above its threshold.", 0, 86400, &A::events_dropped_for_s);
  alert_float("memory_growth.threshold_mib", "RSS growth (MiB) over memory_growth.window_s above which MemoryGrowth fires (0: off).",
              0, 1e9, &A::memory_growth_mib);
  alert_float("memory_growth.window_s", "Seconds over which RSS growth is measured.", 1, 7 * 86400.0, &A::memory_growth_window_s);
  alert_float("memory_growth.for_s", "Seconds the RSS growth must stay above its threshold.", 0, 86400, &A::memory_growth_for_s);
  alert_float("step_time.threshold", "Mean step time (s) over the window above which SlowSteps fires (0: off).", 0, 1e6,
              &A::step_time_s);
  alert_float("step_time.for_s", "Seconds the mean step time must stay above its threshold.", 0, 86400, &A::step_time_for_s);
  k.push_back(string_key("alerts.webhook.url", "POST alerts to this http:// or https:// URL (needs codeprof::dashboard linked; empty: none).",
                         [](Config& c) -> std::string& { return c.alerts.webhook_url; }));
  k.push_back(string_key("alerts.webhook.format",
                         "webhook: Alertmanager's webhook receiver payload; alertmanager: the body of Alertmanager's POST /api/v2/alerts.",
                         [](Config& c) -> std::string& { return c.alerts.webhook_format; }));
  k.push_back(int_key("alerts.webhook.queue", "Notifications waiting to be sent at most; more are dropped and counted.", 1, 100000,
                      [](Config& c) -> std::uint32_t& { return c.alerts.webhook_queue; }));
  k.push_back(int_key("alerts.webhook.timeout_ms", "Connect, read and write timeout of one webhook request (milliseconds).", 10, 600000,
                      [](Config& c) -> std::uint32_t& { return c.alerts.webhook_timeout_ms; }));
  k.push_back(int_key("alerts.webhook.retries", "Retries of a failed webhook request before it is counted as failed.", 0, 100,
                      [](Config& c) -> std::uint32_t& { return c.alerts.webhook_retries; }));
  k.push_back(int_key("alerts.webhook.backoff_ms", "Delay before the first retry (milliseconds); doubled for each further retry.", 1,
                      3'600'000, [](Config& c) -> std::uint32_t& { return c.alerts.webhook_backoff_ms; }));
}

template <typename Get>
KeyDef choice_key(std::string name, std::string desc, std::vector<std::string> choices, Get ref) {
  KeyDef k = string_key(std::move(name), std::move(desc), ref);
  k.choices = std::move(choices);
  return k;
}

std::vector<KeyDef> build_keys() {
  std::vector<KeyDef> k;
  k.push_back(bool_key("enabled", "Global switch: record scopes at all.", [](Config& c) -> bool& { return c.enabled; }));
  for (std::size_t i = 0; i < kCategoryCount; ++i) {
    const std::string cat(kCategoryNames[i]);
    k.push_back(bool_key("categories." + cat, "Record scopes of category " + cat + ".",
                         [i](Config& c) -> bool& { return c.category_enabled[i]; }));
  }
  for (std::size_t i = 0; i < kCategoryCount; ++i) {
    const std::string cat(kCategoryNames[i]);
    k.push_back(float_key("thresholds." + cat + ".warning", "Mean duration (s) above which a " + cat +
                          " operation is a warning (medium priority).", 1e-9, 1e6,
                          [i](Config& c) -> double& { return c.thresholds[i].warning_s; }));
    k.push_back(float_key("thresholds." + cat + ".critical", "Mean duration (s) above which a " + cat +
                          " operation is critical (high priority).", 1e-9, 1e6,
                          [i](Config& c) -> double& { return c.thresholds[i].critical_s; }));
  }
  k.push_back(bool_key("metrics.memory", "Per-scope RSS delta and allocation counters (link codeprof::alloc for the counters).",
                       [](Config& c) -> bool& { return c.metrics.memory; }));
  k.push_back(bool_key("metrics.cpu", "Per-scope thread CPU time and CPU efficiency.", [](Config& c) -> bool& { return c.metrics.cpu; }));
  k.push_back(bool_key("metrics.io", "Per-scope bytes and system calls of reads and writes.", [](Config& c) -> bool& { return c.metrics.io; }));
  k.push_back(bool_key("metrics.gpu", "Per-scope GPU memory delta (NVML / CUDA runtime via dlopen).", [](Config& c) -> bool& { return c.metrics.gpu; }));
  k.push_back(bool_key("metrics.gpu_timing", "GPU time of gpu-category scopes with CUDA events.", [](Config& c) -> bool& { return c.metrics.gpu_timing; }));
  k.push_back(bool_key("metrics.nvtx", "Push every scope as an NVTX range (Nsight Systems).", [](Config& c) -> bool& { return c.metrics.nvtx; }));
  k.push_back(bool_key("metrics.network", "Per-scope socket bytes, calls and time blocked in socket calls (link codeprof::net or preload libcodeprof_net.so).",
                       [](Config& c) -> bool& { return c.metrics.network; }));
  for (std::size_t i = 0; i < kCategoryCount; ++i) {
    const std::string cat(kCategoryNames[i]);
    k.push_back(bool_key("metrics.categories." + cat, "Run the enabled probes on " + cat + " scopes.",
                         [i](Config& c) -> bool& { return c.metrics.categories[i]; }));
  }
  k.push_back(int_key("buffer.events_per_thread", "Raw trace ring slots per thread (rounded up to a power of two); a full ring drops the trace event and counts it (statistics never drop).",
                      64, 1 << 28, [](Config& c) -> std::uint32_t& { return c.buffer_events; }));
  k.push_back(int_key("collector.interval_us", "How long the idle collector waits between drains while the trace is on (microseconds).", 50, 1'000'000,
                      [](Config& c) -> std::uint32_t& { return c.collector_interval_us; }));
  k.push_back(bool_key("sampler.enabled", "Run the background system sampler.", [](Config& c) -> bool& { return c.sampler_enabled; }));
  k.push_back(int_key("sampler.interval_ms", "Sampling interval of the system sampler (milliseconds); early in a run it samples every 1/32 of the time so far (at least 10 ms apart) until that reaches this.", 10, 60'000,
                      [](Config& c) -> std::uint32_t& { return c.sampler_interval_ms; }));
  k.push_back(int_key("sampler.timeline_capacity", "Samples kept per series (older ones are overwritten).", 10, 1'000'000,
                      [](Config& c) -> std::uint32_t& { return c.timeline_capacity; }));
  k.push_back(bool_key("sampling.enabled", "Sample stacks on CPU time and attribute them to the open operations (hot functions and lines).",
                       [](Config& c) -> bool& { return c.sampling.enabled; }));
  k.push_back(int_key("sampling.frequency_hz", "CPU-time samples per second of each sampled thread.", 1, 10'000,
                      [](Config& c) -> std::uint32_t& { return c.sampling.frequency_hz; }));
  k.push_back(bool_key("sampling.all_threads", "Sample every thread of the process, not only the threads that run scopes.",
                       [](Config& c) -> bool& { return c.sampling.all_threads; }));
  k.push_back(string_key("sampling.mechanism", "auto (perf_event, else timer), perf_event (perf_event_open cpu-clock) or timer (timer_create on the thread CPU clock).",
                         [](Config& c) -> std::string& { return c.sampling_mechanism; }));
  k.push_back(string_key("sampling.native", "auto, on or off: whether sampling.enabled runs the native CPU sampler (C/C++ stacks). auto: on, except in a Python process (the codeprof package imported), where the Python sampler takes Python stacks instead.",
                         [](Config& c) -> std::string& { return c.sampling_native; }));
  k.push_back(int_key("sampling.max_frames", "Deepest stack kept per sample (innermost frames).", 4, 256,
                      [](Config& c) -> std::uint32_t& { return c.sampling.max_frames; }));
  k.push_back(int_key("sampling.buffer_samples", "Per-thread sample ring, in full-depth samples; a full ring drops and counts.", 16, 65'536,
                      [](Config& c) -> std::uint32_t& { return c.sampling.buffer_samples; }));
  k.push_back(int_key("sampling.max_stacks", "Distinct stacks kept in the profile; samples of further stacks are dropped and counted.", 100, 10'000'000,
                      [](Config& c) -> std::uint32_t& { return c.sampling.max_stacks; }));
  k.push_back(int_key("sampling.python_frequency_hz", "Samples per second of the Python package's sampler thread (Python stacks).", 1, 10'000,
                      [](Config& c) -> std::uint32_t& { return c.sampling.python_frequency_hz; }));
  k.push_back(bool_key("sampling.alloc_enabled", "Sample allocations with their stacks and operations (needs codeprof::alloc linked).",
                       [](Config& c) -> bool& { return c.sampling.alloc_enabled; }));
  k.push_back(int_key("sampling.alloc_interval_bytes", "Mean bytes allocated between two allocation samples (Poisson over bytes).", 1, 1'073'741'824,
                      [](Config& c) -> std::uint32_t& { return c.sampling.alloc_interval_bytes; }));
  k.push_back(bool_key("trace.enabled", "Keep raw events for the Chrome trace export.", [](Config& c) -> bool& { return c.trace_enabled; }));
  k.push_back(int_key("trace.budget_events", "Raw events kept at most; the others fall outside the window and are counted.", 0, 1e9,
                      [](Config& c) -> std::uint64_t& { return c.trace_budget_events; }));
  k.push_back(choice_key("trace.policy", "Which raw events the trace keeps: last (a ring of the most recent: the end of the run) or first.",
                         {"last", "first"}, [](Config& c) -> std::string& { return c.trace_policy; }));
  k.push_back(int_key("trace.budget_bytes", "Memory the kept raw events may use (32 bytes each, 144 more with probe values; 0: no limit).",
                      0, 1e12, [](Config& c) -> std::uint64_t& { return c.trace_budget_bytes; }));
  k.push_back(string_key("analysis.step_operation", "Name of the operation that marks one step (empty: training_loop scopes).",
                         [](Config& c) -> std::string& { return c.step_operation; }));
  k.push_back(float_key("analysis.low_priority_share", "Share of wall time (0..1) that makes an operation a low-priority bottleneck.",
                        0, 1, [](Config& c) -> double& { return c.low_priority_share; }));
  k.push_back(string_key("output.dir", "Directory the exports are written to.", [](Config& c) -> std::string& { return c.output_dir; }));
  k.push_back({"output.formats", Kind::List, "Formats export_all writes: json, chrome, csv, prometheus, html, pprof, folded, perfetto (pprof and folded: the sampled profile; perfetto: the Perfetto protobuf trace).", 0, 0,
               [](Config& c, const std::string& t) { c.export_formats = split_list(t); },
               [](const Config& c) { return join_list(c.export_formats); }});
  k.push_back(bool_key("output.export_on_exit", "Write every format when the default profiler ends with the process.",
                       [](Config& c) -> bool& { return c.export_on_exit; }));
  k.push_back(string_key("dashboard.host", "Address the dashboard listens on; anything but loopback requires dashboard.token.",
                         [](Config& c) -> std::string& { return c.dashboard_host; }));
  k.push_back(int_key("dashboard.port", "Port of the dashboard started with the profiler (0: none).", 0, 65535,
                      [](Config& c) -> std::uint16_t& { return c.dashboard_port; }));
  k.push_back(string_key("dashboard.token", "Token every dashboard request must carry when it is reachable from elsewhere.",
                         [](Config& c) -> std::string& { return c.dashboard_token; }));
  k.push_back(int_key("run.rank", "Rank of this process in a distributed job (-1: not set; RANK is read when unset).", -1, 1'000'000,
                      [](Config& c) -> int& { return c.rank; }));
  k.push_back(int_key("run.world_size", "Processes in the distributed job (-1: not set; WORLD_SIZE is read when unset).", -1, 1'000'000,
                      [](Config& c) -> int& { return c.world_size; }));
  k.push_back(int_key("run.local_rank", "Rank of this process on its node (-1: not set; LOCAL_RANK is read when unset).", -1, 1'000'000,
                      [](Config& c) -> int& { return c.local_rank; }));
  k.push_back(string_key("job.name", "Name of the job this process belongs to: a label on every metric, shown in reports and traces.",
                         [](Config& c) -> std::string& { return c.job_name; }));
  add_alert_keys(k);
  k.push_back(float_key("analysis.metric_rate_drop",
                        "Share (0..1) by which a counter's rate must fall after a change point to be reported (0: off).", 0, 1,
                        [](Config& c) -> double& { return c.metric_rate_drop; }));
  k.push_back(float_key("alerts.custom_metrics.for_s", "Seconds a custom metric must stay past its threshold before its alert fires.",
                        0, 86400, [](Config& c) -> double& { return c.alerts.custom_metric_for_s; }));
  return k;
}

// ---- per-metric keys: custom_metrics.<name>.warning / .critical / .direction. Their names come
// from the program, so they are made when first asked for (and kept: pointers to them stay valid).
constexpr std::string_view kMetricPrefix = "custom_metrics.";
constexpr std::string_view kMetricFields[] = {"warning", "critical", "direction"};

std::optional<KeyDef> make_metric_key(std::string_view key) {
  if (!key.starts_with(kMetricPrefix)) return std::nullopt;
  const std::string_view rest = key.substr(kMetricPrefix.size());
  const auto dot = rest.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  const std::string metric(rest.substr(0, dot));
  const std::string_view field = rest.substr(dot + 1);
  if (field == "direction") {
    KeyDef k{std::string(key), Kind::String, "Whether the metric is bad above (default) or below its thresholds.", 0, 0,
             [metric](Config& c, const std::string& t) { c.custom_metrics[metric].below = (t == "below"); },
             [metric](const Config& c) {
               const auto it = c.custom_metrics.find(metric);
               return std::string(it != c.custom_metrics.end() && it->second.below ? "below" : "above");
             }};
    k.choices = {"above", "below"};
    return k;
  }
  if (field != "warning" && field != "critical") return std::nullopt;
  const bool warning = field == "warning";
  return KeyDef{std::string(key), Kind::Float, "Threshold on the metric's reading.", -1e300, 1e300,
                [metric, warning](Config& c, const std::string& t) {
                  (warning ? c.custom_metrics[metric].warning : c.custom_metrics[metric].critical) = std::stod(t);
                },
                [metric, warning](const Config& c) {
                  const auto it = c.custom_metrics.find(metric);
                  if (it == c.custom_metrics.end()) return std::string();
                  const std::optional<double>& v = warning ? it->second.warning : it->second.critical;
                  return v ? format_double(*v) : std::string();
                }};
}

// CODEPROF_CUSTOM_METRICS_<NAME>_<FIELD>: the metric is <NAME> in lower case.
std::optional<std::string> metric_key_of_env(std::string_view env) {
  constexpr std::string_view kEnvPrefix = "CODEPROF_CUSTOM_METRICS_";
  if (!env.starts_with(kEnvPrefix)) return std::nullopt;
  const std::string_view rest = env.substr(kEnvPrefix.size());
  for (std::string_view field : kMetricFields) {
    std::string upper = "_";
    for (char ch : field) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
    if (rest.size() > upper.size() && rest.ends_with(upper)) {
      std::string metric(rest.substr(0, rest.size() - upper.size()));
      for (char& ch : metric) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return std::string(kMetricPrefix) + metric + "." + std::string(field);
    }
  }
  return std::nullopt;
}

const std::vector<KeyDef>& keys() {
  static const std::vector<KeyDef> table = build_keys();
  return table;
}

const KeyDef* find_key(std::string_view name) {
  for (const KeyDef& k : keys())
    if (k.name == name) return &k;
  static std::mutex mutex;
  static std::deque<KeyDef> made;  // per-metric keys asked for so far
  std::lock_guard lock(mutex);
  for (const KeyDef& k : made)
    if (k.name == name) return &k;
  if (std::optional<KeyDef> k = make_metric_key(name)) return &made.emplace_back(std::move(*k));
  return nullptr;
}

[[noreturn]] void fail(std::string_view source, std::string_view key, std::string_view expected, std::string_view given) {
  std::string msg(source);
  msg += ": key '";
  msg += key;
  msg += "' expects ";
  msg += expected;
  msg += ", got ";
  msg += given;
  throw ConfigError(msg);
}

std::string expectation(const KeyDef& k) {
  switch (k.kind) {
    case Kind::Bool: return "a bool (true/false)";
    case Kind::Int: return "an integer in [" + format_double(k.min) + ", " + format_double(k.max) + "]";
    case Kind::Float:
      if (k.min <= -1e300 && k.max >= 1e300) return "a finite number";
      return "a number in [" + format_double(k.min) + ", " + format_double(k.max) + "]";
    case Kind::String: {
      if (k.choices.empty()) return "a string";
      std::string one_of = "one of ";
      for (const auto& c : k.choices) one_of += (&c == &k.choices.front() ? "" : ", ") + c;
      return one_of;
    }
    case Kind::List: return "a list of formats from json, chrome, csv, prometheus, html, pprof, folded, perfetto";
  }
  return "?";
}

// Validates `text` for key `k` and returns its canonical form.
std::string canonical(const KeyDef& k, std::string_view text, std::string_view source) {
  std::string given;
  given.reserve(text.size() + 2);
  given.append(1, '\'').append(text).append(1, '\'');
  switch (k.kind) {
    case Kind::Bool: {
      std::string t(text);
      std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (t == "true" || t == "1" || t == "yes" || t == "on") return "true";
      if (t == "false" || t == "0" || t == "no" || t == "off") return "false";
      fail(source, k.name, expectation(k), given);
    }
    case Kind::Int: {
      long long v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size() || text.empty()) fail(source, k.name, expectation(k), given);
      if (static_cast<double>(v) < k.min || static_cast<double>(v) > k.max) fail(source, k.name, expectation(k), given);
      return std::to_string(v);
    }
    case Kind::Float: {
      double v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size() || text.empty() || !(v == v))
        fail(source, k.name, expectation(k), given);
      if (v < k.min || v > k.max) fail(source, k.name, expectation(k), given);
      return std::string(text);
    }
    case Kind::String:
      if (!k.choices.empty() && std::find(k.choices.begin(), k.choices.end(), text) == k.choices.end())
        fail(source, k.name, expectation(k), given);
      return std::string(text);
    case Kind::List: {
      auto items = split_list(text);
      for (const auto& f : items)
        if (std::find(kFormats.begin(), kFormats.end(), f) == kFormats.end())
          fail(source, k.name, expectation(k), "'" + f + "'");
      return join_list(items);
    }
  }
  return std::string(text);
}

void apply_text(Config& c, std::string_view key, std::string_view value, std::string_view source) {
  const KeyDef* k = find_key(key);
  if (!k) throw ConfigError(std::string(source) + ": unknown key '" + std::string(key) + "' (every key is listed in docs/CONFIG.md)");
  k->set(c, canonical(*k, value, source));
}

// The text form of a TOML leaf, checked against the key's kind.
std::string toml_text(const KeyDef& k, const toml::node& node, const std::string& source) {
  const std::string where = source + " line " + std::to_string(node.source().begin.line);
  auto given = [&] {
    std::ostringstream os;
    os << node.type();
    node.visit([&](const auto& v) {
      if constexpr (toml::is_value<decltype(v)>) os << " " << v;
    });
    return os.str();
  };
  switch (k.kind) {
    case Kind::Bool:
      if (auto v = node.value_exact<bool>()) return *v ? "true" : "false";
      break;
    case Kind::Int:
      if (auto v = node.value_exact<std::int64_t>()) return std::to_string(*v);
      break;
    case Kind::Float:
      if (node.is_floating_point() || node.is_integer()) return format_double(*node.value<double>());
      break;
    case Kind::String:
      if (auto v = node.value_exact<std::string>()) return *v;
      break;
    case Kind::List:
      if (const auto* arr = node.as_array()) {
        std::vector<std::string> items;
        for (const auto& el : *arr) {
          auto s = el.value_exact<std::string>();
          if (!s) fail(where, k.name, expectation(k), given());
          items.push_back(*s);
        }
        return join_list(items);
      }
      break;
  }
  fail(where, k.name, expectation(k), given());
}

void apply_table(Config& c, const toml::table& table, const std::string& prefix, const std::string& source) {
  for (const auto& [name, node] : table) {
    const std::string key = prefix.empty() ? std::string(name.str()) : prefix + "." + std::string(name.str());
    if (const KeyDef* k = find_key(key)) {
      const std::string where = source + " line " + std::to_string(node.source().begin.line);
      k->set(c, canonical(*k, toml_text(*k, node, source), where));
    } else if (const auto* sub = node.as_table()) {
      apply_table(c, *sub, key, source);
    } else {
      throw ConfigError(source + " line " + std::to_string(node.source().begin.line) + ": unknown key '" + key +
                        "' (every key is listed in docs/CONFIG.md)");
    }
  }
}

}  // namespace

Thresholds default_thresholds(Category c) noexcept {
  switch (c) {
    case Category::DataLoading: return {1.0, 5.0};
    case Category::Preprocessing: return {0.5, 2.0};
    case Category::ModelInference: return {2.0, 10.0};
    case Category::TrainingLoop: return {10.0, 30.0};
    case Category::MixedPrecision: return {0.5, 2.0};
    case Category::MultiGpu: return {1.0, 5.0};
    case Category::GradientAccumulation: return {1.0, 5.0};
    case Category::EarlyStopping: return {1.0, 5.0};
    case Category::LrScheduling: return {0.1, 1.0};
    case Category::Memory: return {0.5, 2.0};
    case Category::Gpu: return {1.0, 5.0};
    case Category::Cpu: return {1.0, 5.0};
    case Category::Io: return {1.0, 5.0};
    case Category::Custom: return {1.0, 5.0};
  }
  return {1.0, 5.0};
}

std::array<Thresholds, kCategoryCount> Config::default_threshold_table() noexcept {
  std::array<Thresholds, kCategoryCount> t{};
  for (std::size_t i = 0; i < kCategoryCount; ++i) t[i] = default_thresholds(static_cast<Category>(i));
  return t;
}

void Config::set(std::string_view key, std::string_view value) {
  Config copy = *this;
  apply_text(copy, key, value, "config");
  copy.validate();
  *this = std::move(copy);
}

std::string Config::get(std::string_view key) const {
  const KeyDef* k = find_key(key);
  if (!k) throw ConfigError("config: unknown key '" + std::string(key) + "' (every key is listed in docs/CONFIG.md)");
  return k->get(*this);
}

void Config::validate() const {
  for (std::size_t i = 0; i < kCategoryCount; ++i) {
    if (thresholds[i].warning_s > thresholds[i].critical_s) {
      const std::string cat(kCategoryNames[i]);
      throw ConfigError("config: key 'thresholds." + cat + ".warning' expects a value <= thresholds." + cat +
                        ".critical (" + format_double(thresholds[i].critical_s) + "), got " +
                        format_double(thresholds[i].warning_s));
    }
  }
  if (output_dir.empty()) throw ConfigError("config: key 'output.dir' expects a non-empty path, got ''");
  if (dashboard_host.empty()) throw ConfigError("config: key 'dashboard.host' expects an address, got ''");
  if (sampling_mechanism != "auto" && sampling_mechanism != "perf_ring" && sampling_mechanism != "perf_event" &&
      sampling_mechanism != "timer")
    throw ConfigError("config: key 'sampling.mechanism' expects auto, perf_ring, perf_event or timer, got '" +
                      sampling_mechanism + "'");
  if (sampling_native != "auto" && sampling_native != "on" && sampling_native != "off")
    throw ConfigError("config: key 'sampling.native' expects auto, on or off, got '" + sampling_native + "'");
  const std::string& url = alerts.webhook_url;
  if (!url.empty() && !url.starts_with("http://") && !url.starts_with("https://"))
    throw ConfigError("config: key 'alerts.webhook.url' expects an http:// or https:// URL, got '" + url + "'");
  if (alerts.webhook_format != "webhook" && alerts.webhook_format != "alertmanager")
    throw ConfigError("config: key 'alerts.webhook.format' expects webhook or alertmanager, got '" + alerts.webhook_format + "'");
  for (const auto& [name, t] : custom_metrics) {
    if (!t.warning || !t.critical) continue;
    if (t.below ? *t.warning < *t.critical : *t.warning > *t.critical)
      throw ConfigError("config: key 'custom_metrics." + name + ".warning' expects a value " + (t.below ? ">=" : "<=") +
                        " custom_metrics." + name + ".critical (" + format_double(*t.critical) + ") when direction is " +
                        (t.below ? "below" : "above") + ", got " + format_double(*t.warning));
  }
  if (trace_policy != "last" && trace_policy != "first")
    throw ConfigError("config: key 'trace.policy' expects one of last, first, got '" + trace_policy + "'");
}

Config Config::load(const std::string& toml_path) {
  Config c;
  toml::table table;
  try {
    table = toml::parse_file(toml_path);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << toml_path << " line " << e.source().begin.line << " column " << e.source().begin.column
       << ": invalid TOML: " << e.description();
    throw ConfigError(os.str());
  }
  apply_table(c, table, "", toml_path);
  c.apply_env();
  return c;
}

Config Config::from_env() {
  if (const char* path = std::getenv("CODEPROF_CONFIG"); path && *path) return load(path);
  Config c;
  c.apply_env();
  return c;
}

void Config::apply_env() {
  Config copy = *this;
  // Unknown CODEPROF_* variables are errors too: a typo must not pass silently.
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    if (!entry.starts_with("CODEPROF_")) continue;
    const auto eq = entry.find('=');
    const std::string_view name = entry.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : entry.substr(eq + 1);
    if (name == "CODEPROF_CONFIG") continue;
    const KeyDef* match = nullptr;
    for (const KeyDef& k : keys())
      if (env_name(k.name) == name) match = &k;
    if (!match)
      if (const std::optional<std::string> key = metric_key_of_env(name)) match = find_key(*key);
    if (!match)
      throw ConfigError("environment: unknown variable '" + std::string(name) +
                        "' (CODEPROF_<KEY> names are listed in docs/CONFIG.md)");
    match->set(copy, canonical(*match, value, "environment variable " + std::string(name)));
  }
  auto from_plain = [](const char* var, int& field) {
    if (field != -1) return;
    if (const char* v = std::getenv(var); v && *v) {
      int x = 0;
      auto [p, ec] = std::from_chars(v, v + std::char_traits<char>::length(v), x);
      if (ec == std::errc() && *p == '\0' && x >= 0) field = x;
    }
  };
  from_plain("RANK", copy.rank);
  from_plain("WORLD_SIZE", copy.world_size);
  from_plain("LOCAL_RANK", copy.local_rank);
  copy.validate();
  *this = std::move(copy);
}

namespace core {
namespace {

// When each key may change (core/config_changes.hpp): an entry ending in '.' covers every key under
// it, another one key; the first entry that matches decides, and a key none matches is fixed at
// start. Fixed: what threads, buffers and probes were built from (buffer, collector, sampler,
// sampling, metrics), the dashboard's address, the alert thread and its webhook, the node's rank
// and the job's name.
struct KeyChangeEntry {
  std::string_view key;
  KeyChange change;
};
constexpr KeyChangeEntry kKeyChanges[] = {
    {"enabled", KeyChange::Live},
    {"categories.", KeyChange::Live},
    {"thresholds.", KeyChange::Live},
    {"trace.", KeyChange::Live},
    {"analysis.", KeyChange::Live},
    {"custom_metrics.", KeyChange::Live},  // per-metric thresholds (the alert monitor follows them)
    {"alerts.enabled", KeyChange::AtStart},
    {"alerts.interval_ms", KeyChange::AtStart},
    {"alerts.webhook.", KeyChange::AtStart},
    {"alerts.", KeyChange::Live},
    {"output.", KeyChange::ByProgram},
    {"run.rank", KeyChange::ByProgram},
    {"run.world_size", KeyChange::ByProgram},
};

}  // namespace

KeyChange key_change(std::string_view key) {
  for (const KeyChangeEntry& e : kKeyChanges)
    if (e.key.ends_with('.') ? key.starts_with(e.key) : key == e.key) return e.change;
  return KeyChange::AtStart;
}

void keep_start_only_keys(Config& to, const Config& from) {
  for (const KeyDef& k : keys()) {
    if (key_change(k.name) != KeyChange::AtStart) continue;
    if (k.copy) k.copy(to, from);
    else k.set(to, k.get(from));
  }
}

}  // namespace core

const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> list = [] {
    std::vector<ConfigKey> out;
    const Config defaults;
    for (const KeyDef& k : keys()) out.push_back({k.name, env_name(k.name), kind_name(k.kind), k.get(defaults), k.description});
    return out;
  }();
  return list;
}

}  // namespace codeprof
