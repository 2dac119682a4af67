// to_prometheus: text exposition format 0.0.4, following the naming conventions (base units,
// _total for counters, one HELP and TYPE per family, all samples of a family together), so that
// `promtool check metrics` is clean. Operations carry the labels operation and type.
#include <algorithm>
#include <array>
#include <map>
#include <cctype>
#include <set>
#include <utility>
#include <vector>

#include "codeprof/exporters.hpp"
#include "io/report_schema.hpp"
#include "io/text_output.hpp"

namespace codeprof::io {
namespace {

// Histogram bucket bounds in seconds: from microsecond operations to minute-long steps.
constexpr std::array<double, 19> kBucketBounds = {1e-6, 1e-5, 1e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2,
                                                  0.1,  0.25, 0.5,  1.0,  2.5,  5.0,    10.0, 30.0, 60.0};

std::string escape_label_value(std::string_view v) {
  std::string out;
  for (const char c : valid_utf8(v)) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (const char c : valid_utf8(v)) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// A metric name from free text: characters outside [a-zA-Z0-9_:] become '_'.
std::string sanitize_name(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':';
    if (!ok) c = '_';
  }
  return out;
}

// The gauge name of a sampler series: the unit spelled out as a suffix the way the conventions
// want it ("io_read_bytes_per_s" -> "..._bytes_per_second", "page_faults" per second ->
// "page_faults_per_second"), since promtool rejects abbreviated units.
std::string sampler_metric_name(const TimelineSeries& series) {
  std::string name = sanitize_name(series.name);
  const auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with("_per_s")) name += "econd";
  static constexpr std::pair<std::string_view, std::string_view> kUnitSuffix[] = {
      {"bytes_per_second", "_bytes_per_second"}, {"per_second", "_per_second"}, {"bytes", "_bytes"},
      {"percent", "_percent"}, {"celsius", "_celsius"}, {"watts", "_watts"}};
  for (const auto& [unit, suffix] : kUnitSuffix)
    if (series.unit == unit && !ends_with(suffix)) name += suffix;
  return "codeprof_sampler_" + name;
}

using Labels = std::vector<std::pair<std::string, std::string>>;

class Exposition {
 public:
  // Labels every sample carries first: the job identity (job_name, rank, host), so that rules can
  // compare ranks and a server scraping many processes tells them apart.
  explicit Exposition(Labels base) : base_(std::move(base)) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += escape_help(help);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(std::string_view name, const Labels& labels, double value) {
    out_ += name;
    if (!labels.empty() || !base_.empty()) {
      out_ += '{';
      bool first = true;
      for (const Labels* set : std::array<const Labels*, 2>{&base_, &labels}) {
        for (const auto& [key, label_value] : *set) {
          if (!first) out_ += ',';
          first = false;
          out_ += key;
          out_ += "=\"";
          out_ += escape_label_value(label_value);
          out_ += '"';
        }
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += format_double(value);
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }
  const Labels& base() const noexcept { return base_; }

 private:
  Labels base_;
  std::string out_;
};

// Operations keyed by their label values. A (name, type) pair is unique in a live run; readers of
// foreign traces could repeat one, and duplicate label sets are invalid, so repeats are merged.
struct OperationSeries {
  std::uint64_t count = 0;
  double total_s = 0.0;
  double self_s = 0.0;
  double max_s = 0.0;
  std::array<std::uint64_t, kBucketBounds.size()> at_most{};  // cumulative, per bound
  std::array<ResourceStat, kProbeMetricCount> resources{};
};

std::map<std::pair<std::string, std::string>, OperationSeries> merge_operations(const Snapshot& s) {
  std::map<std::pair<std::string, std::string>, OperationSeries> ops;
  for (const auto& op : s.operations) {
    OperationSeries& m = ops[{op.name, std::string(to_string(op.category))}];
    m.count += op.count;
    m.total_s += ns_to_seconds(static_cast<double>(op.total_ns));
    m.self_s += ns_to_seconds(static_cast<double>(op.self_ns));
    m.max_s = std::max(m.max_s, ns_to_seconds(static_cast<double>(op.max_ns)));
    // A histogram bucket [lower, upper) counts under bound b only when all of it is <= b; a bucket
    // that straddles b counts above it, so a bound is never over-filled.
    for (std::size_t i = 0; i < kBucketBounds.size(); ++i) {
      const double bound_ns = kBucketBounds[i] * 1e9;
      std::uint64_t n = 0;
      for (const auto& b : op.histogram)
        if (static_cast<double>(b.upper_ns) - 1.0 <= bound_ns) n += b.count;
      m.at_most[i] += std::min(n, op.count);
    }
    for (std::size_t k = 0; k < kProbeMetricCount; ++k) {
      const ResourceStat& r = op.resources[k];
      if (r.samples == 0) continue;
      ResourceStat& into = m.resources[k];
      into.max = into.samples ? std::max(into.max, r.max) : r.max;
      into.samples += r.samples;
      into.total += r.total;
    }
  }
  return ops;
}

// The job identity on every sample; an unknown part is left out (an empty label is no label).
Labels job_labels(const RunInfo& run) {
  Labels labels;
  if (!run.job_name.empty()) labels.emplace_back("job_name", run.job_name);
  if (run.rank >= 0) labels.emplace_back("rank", std::to_string(run.rank));
  if (!run.host.empty()) labels.emplace_back("host", run.host);
  return labels;
}

void write_alerts(Exposition& e, const Snapshot& s) {
  e.family("codeprof_alerts", "gauge",
           "Alerts the profiler's own rules raise (docs/ALERTS.md): 1 per pending or firing alert, like Prometheus' ALERTS.");
  for (const Alert& a : s.alerts) {
    if (a.state == "resolved") continue;
    Labels labels = {{"alertname", a.name}, {"alertstate", a.state}, {"severity", a.severity}};
    for (const auto& [key, value] : a.labels) {
      const bool in_base = std::any_of(e.base().begin(), e.base().end(), [&](const auto& b) { return b.first == key; });
      const bool taken = std::any_of(labels.begin(), labels.end(), [&](const auto& l) { return l.first == key; });
      if (!in_base && !taken) labels.emplace_back(key, value);
    }
    e.sample("codeprof_alerts", labels, 1);
  }
  const AlertDelivery& d = s.alert_delivery;
  if (d.target.empty()) return;
  e.family("codeprof_alert_notifications_total", "counter",
           "Alert notifications for the webhook, by what became of them: sent, failed (after the last retry) or dropped (queue full).");
  e.sample("codeprof_alert_notifications_total", {{"result", "sent"}}, static_cast<double>(d.sent));
  e.sample("codeprof_alert_notifications_total", {{"result", "failed"}}, static_cast<double>(d.failed));
  e.sample("codeprof_alert_notifications_total", {{"result", "dropped"}}, static_cast<double>(d.dropped));
  e.family("codeprof_alert_notification_retries_total", "counter", "Webhook requests repeated after a failure.");
  e.sample("codeprof_alert_notification_retries_total", {}, static_cast<double>(d.retries));
}

// The program's own metrics: codeprof_custom_<name>[_<unit>] (lower case, [a-z0-9_]), with
// _total for counters; values as summaries (quantiles from the metric's histogram, _sum, _count).
std::string custom_metric_name(const CustomMetric& m) {
  std::string name = "codeprof_custom_" + sanitize_name(m.name);
  std::string unit = sanitize_name(m.unit);
  for (std::string* s : {&name, &unit})
    for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!unit.empty() && !name.ends_with("_" + unit)) name += "_" + unit;
  if (m.kind == MetricKind::Counter && !name.ends_with("_total")) name += "_total";
  if (m.kind != MetricKind::Counter)
    while (name.ends_with("_total")) name.resize(name.size() - 6);  // reserved for counters
  return name;
}

void write_custom_metrics(Exposition& e, const Snapshot& s) {
  std::set<std::string> names;  // two metrics may sanitize to one name: keep the first
  for (const CustomMetric& m : s.custom_metrics) {
    if (m.count == 0) continue;
    const std::string name = custom_metric_name(m);
    const std::string base = m.kind == MetricKind::Counter ? name.substr(0, name.size() - 6) : name;
    if (!names.insert(base).second || !names.insert(base + "_sum").second || !names.insert(base + "_count").second) continue;
    const std::string unit = m.unit.empty() ? "" : " (" + m.unit + ")";
    switch (m.kind) {
      case MetricKind::Counter:
        e.family(name, "counter", "The program's counter " + m.name + unit + ", since the profiler started or was reset.");
        e.sample(name, {}, m.sum);
        break;
      case MetricKind::Gauge:
        e.family(name, "gauge", "The program's gauge " + m.name + unit + ": its latest setting.");
        e.sample(name, {}, m.last);
        break;
      case MetricKind::Value:
        e.family(name, "summary", "The program's observations of " + m.name + unit +
                                      " (quantiles from a log-linear histogram, relative error <= 0.78 %).");
        for (const auto& [q, v] : {std::pair{"0.5", m.p50}, {"0.9", m.p90}, {"0.95", m.p95}, {"0.99", m.p99}})
          e.sample(name, {{"quantile", q}}, v);
        e.sample(name + "_sum", {}, m.sum);
        e.sample(name + "_count", {}, static_cast<double>(m.count));
        break;
    }
  }
}

void write_step_timing(Exposition& e, const StepTiming& t) {
  e.family("codeprof_steps_total", "counter", "Training or inference steps seen.");
  e.sample("codeprof_steps_total", {}, static_cast<double>(t.steps));
  e.family("codeprof_step_seconds_total", "counter", "Time inside the steps.");
  e.sample("codeprof_step_seconds_total", {}, t.step_time);
  e.family("codeprof_step_input_seconds_total", "counter",
           "Time the steps' threads spent loading and preprocessing input, inside and between steps.");
  e.sample("codeprof_step_input_seconds_total", {}, t.input_time);
  e.family("codeprof_iteration_seconds_total", "counter",
           "Step time plus input time between steps; the input share is the rate of the input counter over this one.");
  e.sample("codeprof_iteration_seconds_total", {}, t.iteration_time);
  e.family("codeprof_collective_seconds_total", "counter",
           "Time in collective communication (all-reduce, broadcast, barrier, ...): step time minus it is the time a rank needs on its own.");
  e.sample("codeprof_collective_seconds_total", {}, t.collective_time);
}

}  // namespace

std::string to_prometheus(const Snapshot& s, const Findings& f) {
  Exposition e(job_labels(s.run));
  const auto ops = merge_operations(s);
  const auto op_labels = [](const auto& key) { return Labels{{"operation", key.first}, {"type", key.second}}; };

  e.family("codeprof_info", "gauge", "Information about the profiled run; the value is always 1.");
  Labels run_info = {{"version", s.run.version}, {"source", s.run.source}, {"pid", std::to_string(s.run.pid)}};
  if (s.run.local_rank >= 0) run_info.emplace_back("local_rank", std::to_string(s.run.local_rank));
  if (s.run.world_size >= 0) run_info.emplace_back("world_size", std::to_string(s.run.world_size));
  e.sample("codeprof_info", run_info, 1);
  if (s.run.world_size >= 0) {
    e.family("codeprof_world_size", "gauge", "Processes in the distributed job.");
    e.sample("codeprof_world_size", {}, s.run.world_size);
  }
  e.family("codeprof_run_wall_seconds", "gauge", "Wall time covered by these statistics.");
  e.sample("codeprof_run_wall_seconds", {}, ns_to_seconds(static_cast<double>(s.run.wall_ns)));

  e.family("codeprof_operation_calls_total", "counter", "Completed calls of an operation.");
  for (const auto& [key, m] : ops) e.sample("codeprof_operation_calls_total", op_labels(key), static_cast<double>(m.count));

  e.family("codeprof_operation_duration_seconds", "histogram", "Duration of the calls of an operation.");
  for (const auto& [key, m] : ops) {
    Labels labels = op_labels(key);
    labels.emplace_back("le", "");
    for (std::size_t i = 0; i < kBucketBounds.size(); ++i) {
      labels.back().second = format_double(kBucketBounds[i]);
      e.sample("codeprof_operation_duration_seconds_bucket", labels, static_cast<double>(m.at_most[i]));
    }
    labels.back().second = "+Inf";
    e.sample("codeprof_operation_duration_seconds_bucket", labels, static_cast<double>(m.count));
    e.sample("codeprof_operation_duration_seconds_sum", op_labels(key), m.total_s);
    e.sample("codeprof_operation_duration_seconds_count", op_labels(key), static_cast<double>(m.count));
  }

  e.family("codeprof_operation_self_seconds_total", "counter",
           "Time spent in an operation itself, outside the operations it called.");
  for (const auto& [key, m] : ops) e.sample("codeprof_operation_self_seconds_total", op_labels(key), m.self_s);

  e.family("codeprof_operation_duration_max_seconds", "gauge", "Longest call of an operation.");
  for (const auto& [key, m] : ops) e.sample("codeprof_operation_duration_max_seconds", op_labels(key), m.max_s);

  for (const auto& info : kResourceMetrics) {
    const std::size_t k = index_of(info.metric);
    const bool measured = std::any_of(ops.begin(), ops.end(), [&](const auto& o) { return o.second.resources[k].samples > 0; });
    if (!measured) continue;
    const std::string name = "codeprof_operation_" + std::string(info.prometheus_name);
    e.family(name, info.prometheus_kind == PrometheusKind::CounterOfTotal ? "counter" : "gauge", info.help);
    for (const auto& [key, m] : ops) {
      const ResourceStat& r = m.resources[k];
      if (r.samples == 0) continue;
      const auto raw = info.prometheus_kind == PrometheusKind::GaugeOfMax ? r.max : r.total;
      e.sample(name, op_labels(key), static_cast<double>(raw) * info.scale);
    }
  }

  e.family("codeprof_recorded_events_total", "counter", "Scope events recorded since the profiler started.");
  e.sample("codeprof_recorded_events_total", {}, static_cast<double>(s.events_recorded_total));
  e.family("codeprof_dropped_events_total", "counter",
           "Scope events dropped because a thread's buffer was full, since the profiler started.");
  e.sample("codeprof_dropped_events_total", {}, static_cast<double>(s.events_dropped_total));
  e.family("codeprof_trace_dropped_events_total", "counter", "Trace events left out over the trace budget.");
  e.sample("codeprof_trace_dropped_events_total", {}, static_cast<double>(s.trace_events_dropped));

  std::set<std::string> sampler_names;  // two series may sanitize to one name: keep the first
  for (const auto& series : s.timelines) {
    const std::string name = sampler_metric_name(series);
    if (series.values.empty() || !sampler_names.insert(name).second) continue;
    e.family(name, "gauge", "Latest sample of the system sampler's " + series.name + " series (" + series.unit + ").");
    e.sample(name, {}, series.values.back());
  }

  write_step_timing(e, f.step_timing);

  // ---- what the analysis concluded
  e.family("codeprof_bottleneck_wall_share_ratio", "gauge",
           "Share of the run's wall time spent in a bottleneck operation (self time), 0 to 1.");
  for (const auto& b : f.bottlenecks)
    e.sample("codeprof_bottleneck_wall_share_ratio",
             {{"operation", b.operation}, {"type", std::string(to_string(b.type))}, {"severity", std::string(to_string(b.severity))}, {"priority", std::string(to_string(b.optimization_priority))}},
             b.share_of_wall);
  const auto& input = f.classification.input;
  if (input.steps > 0) {
    e.family("codeprof_input_pipeline_share_ratio", "gauge",
             "Share of step time spent loading and preprocessing input, 0 to 1.");
    e.sample("codeprof_input_pipeline_share_ratio", {}, input.input_share);
  }
  if (f.classification.gpu.available) {
    e.family("codeprof_gpu_idle_share_ratio", "gauge", "Share of step (or run) time the GPU was idle, 0 to 1.");
    e.sample("codeprof_gpu_idle_share_ratio", {}, f.classification.gpu.idle_share);
  }
  e.family("codeprof_recommendations", "gauge", "Recommendations the analysis made, by priority.");
  for (const Priority priority : {Priority::High, Priority::Medium, Priority::Low}) {
    const auto n = std::count_if(f.recommendations.begin(), f.recommendations.end(),
                                 [&](const Recommendation& r) { return r.priority == priority; });
    e.sample("codeprof_recommendations", {{"priority", std::string(to_string(priority))}}, static_cast<double>(n));
  }
  write_alerts(e, s);
  write_custom_metrics(e, s);
  return e.take();
}

}  // namespace codeprof::io
