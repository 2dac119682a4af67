#include "server/api_json.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace codeprof::server {
namespace {

double seconds(std::uint64_t ns) { return static_cast<double>(ns) * 1e-9; }
double seconds(std::int64_t ns) { return static_cast<double>(ns) * 1e-9; }
double seconds(double ns) { return ns * 1e-9; }

Json category_switches(std::uint32_t mask) {
  Json out = Json::object();
  for (std::size_t i = 0; i < kCategoryCount; ++i)
    out[std::string(kCategoryNames[i])] = (mask & category_bit(static_cast<Category>(i))) != 0;
  return out;
}

// Where the statistics start on the run's time axis: after a reset, later than its origin (the
// recorder notes the reset point in the metadata).
double statistics_since_s(const RunInfo& run) {
  const auto it = run.metadata.find("wall_since_ns");
  if (it == run.metadata.end()) return 0.0;
  try {
    return std::max(0.0, std::stod(it->second) * 1e-9);
  } catch (const std::exception&) {
    return 0.0;
  }
}

Json evidence_json(const Evidence& e) {
  return {{"metric", e.metric}, {"value", e.value}, {"unit", std::string(unit_spelling(e))}, {"operation", e.operation}};
}

}  // namespace

Json status_json(const Snapshot& s, bool read_only) {
  const RunInfo& run = s.run;
  Json unavailable = Json::array();
  for (const auto& u : run.unavailable) unavailable.push_back({{"what", u.what}, {"reason", u.reason}});
  Json gpus = Json::array();
  for (const auto& g : run.gpus)
    gpus.push_back({{"index", g.index}, {"name", g.name}, {"memory_total_bytes", g.memory_total_bytes}});
  return {
      {"source", run.source},
      {"source_path", run.source_path},
      {"read_only", read_only},
      {"version", run.version},
      {"host", run.host},
      {"pid", run.pid},
      {"command", run.command},
      {"rank", run.rank},
      {"world_size", run.world_size},
      {"local_rank", run.local_rank},
      {"job_name", run.job_name},
      {"enabled", run.enabled},
      {"categories", category_switches(run.category_mask)},
      {"start_unix_ns", run.start_unix_ns},
      {"uptime_s", seconds(run.wall_ns)},
      {"statistics_since_s", statistics_since_s(run)},
      {"events_recorded", s.events_recorded},
      {"events_dropped", s.events_dropped},
      {"events_recorded_total", s.events_recorded_total},
      {"events_dropped_total", s.events_dropped_total},
      {"trace_events_dropped", s.trace_events_dropped},
      {"operation_count", s.operations.size()},
      {"thread_count", s.threads.size()},
      {"hardware_threads", run.hardware_threads},
      {"unavailable", std::move(unavailable)},
      {"gpus", std::move(gpus)},
      {"metadata", run.metadata},
      {"alerts", alerts_json(s.alerts)},
      {"alert_delivery",
       {{"target", s.alert_delivery.target},
        {"queued", s.alert_delivery.queued},
        {"sent", s.alert_delivery.sent},
        {"failed", s.alert_delivery.failed},
        {"retries", s.alert_delivery.retries},
        {"dropped", s.alert_delivery.dropped},
        {"last_error", s.alert_delivery.last_error}}},
  };
}

Json alerts_json(const std::vector<Alert>& alerts) {
  Json out = Json::array();
  for (const Alert& a : alerts)
    out.push_back({{"name", a.name},
                   {"state", a.state},
                   {"severity", a.severity},
                   {"summary", a.summary},
                   {"labels", a.labels},
                   {"value", a.value},
                   {"threshold", a.threshold},
                   {"source", a.source},
                   {"active_since_unix_ns", a.active_since_unix_ns},
                   {"fired_unix_ns", a.fired_unix_ns},
                   {"resolved_unix_ns", a.resolved_unix_ns}});
  return out;
}

Json operation_json(const OperationStats& op, std::int64_t wall_ns) {
  Json resources = Json::object();
  for (std::size_t i = 0; i < kProbeMetricCount; ++i) {
    const ResourceStat& r = op.resources[i];
    if (r.samples == 0) continue;
    resources[std::string(kProbeMetricNames[i])] = {
        {"samples", r.samples}, {"total", r.total}, {"mean", r.mean()}, {"min", r.min}, {"max", r.max}};
  }
  return {
      {"id", op.id},
      {"name", op.name},
      {"category", to_string(op.category)},
      {"file", op.file},
      {"line", op.line},
      {"count", op.count},
      {"total_s", seconds(op.total_ns)},
      {"self_s", seconds(op.self_ns)},
      {"mean_s", seconds(op.mean_ns)},
      {"stddev_s", seconds(op.stddev_ns)},
      {"min_s", seconds(op.min_ns)},
      {"max_s", seconds(op.max_ns)},
      {"p50_s", seconds(op.p50_ns)},
      {"p90_s", seconds(op.p90_ns)},
      {"p95_s", seconds(op.p95_ns)},
      {"p99_s", seconds(op.p99_ns)},
      {"first_seen_s", seconds(op.first_seen_ns)},
      {"last_seen_s", seconds(op.last_seen_ns)},
      {"share_of_wall", wall_ns > 0 ? static_cast<double>(op.total_ns) / static_cast<double>(wall_ns) : 0.0},
      {"resources", std::move(resources)},
  };
}

Json operations_json(const Snapshot& s, std::optional<Category> only) {
  Json ops = Json::array();
  for (const auto& op : s.operations)
    if (!only || op.category == *only) ops.push_back(operation_json(op, s.run.wall_ns));
  return {{"operations", std::move(ops)}};
}

Json operation_series_json(const OperationStats& op) {
  Json windows = Json::array();
  for (const auto& w : op.series) {
    windows.push_back({{"t_s", seconds(w.start_ns)},
                       {"width_s", seconds(w.width_ns)},
                       {"count", w.count},
                       {"mean_s", w.count ? seconds(w.total_ns) / static_cast<double>(w.count) : 0.0},
                       {"min_s", seconds(w.min_ns)},
                       {"max_s", seconds(w.max_ns)}});
  }
  return {{"operation", op.name}, {"category", to_string(op.category)}, {"windows", std::move(windows)}};
}

Json bottlenecks_json(const Findings& f) {
  Json out = Json::array();
  for (const auto& b : f.bottlenecks) {
    out.push_back({{"operation", b.operation},
                   {"type", std::string(to_string(b.type))},
                   {"avg_duration", b.avg_duration},
                   {"p95_duration", b.p95_duration},
                   {"calls", b.calls},
                   {"total_time", b.total_time},
                   {"self_time", b.self_time},
                   {"share_of_wall", b.share_of_wall},
                   {"severity", std::string(to_string(b.severity))},
                   {"optimization_priority", std::string(to_string(b.optimization_priority))},
                   {"reason", b.reason}});
  }
  return {{"bottlenecks", std::move(out)}};
}

Json recommendations_json(const Findings& f) {
  Json out = Json::array();
  for (const auto& r : f.recommendations) {
    Json evidence = Json::array();
    for (const auto& e : r.evidence) evidence.push_back(evidence_json(e));
    out.push_back({{"id", r.id},
                   {"type", std::string(to_string(r.type))},
                   {"priority", std::string(to_string(r.priority))},
                   {"title", r.title},
                   {"evidence", std::move(evidence)},
                   {"evidence_text", r.evidence_text},
                   {"action", r.action}});
  }
  return {{"recommendations", std::move(out)}};
}

Json classification_json(const Findings& f) {
  const Classification& c = f.classification;
  Json trends = Json::array();
  for (const auto& t : f.trends) {
    trends.push_back({{"kind", std::string(to_string(t.kind))},
                      {"operation", t.operation},
                      {"description", t.description},
                      {"magnitude", t.magnitude},
                      {"at_s", t.at_s},
                      {"method", t.method}});
  }
  Json inconclusive = Json::array();
  for (const auto& i : f.inconclusive) inconclusive.push_back({{"check", i.check}, {"needs", i.needs}, {"had", i.had}});
  return {
      {"inconclusive", std::move(inconclusive)},
      {"classification",
       {{"summary", c.summary},
        {"input",
         {{"level", std::string(to_string(c.input.level))},
          {"input_share", c.input.input_share},
          {"steps", c.input.steps},
          {"step_time_s", c.input.step_time},
          {"step_source", c.input.step_source}}},
        {"gpu",
         {{"available", c.gpu.available},
          {"idle_share", c.gpu.idle_share},
          {"mean_utilization", c.gpu.mean_utilization},
          {"peak_memory_fraction", c.gpu.peak_memory_fraction},
          {"source", std::string(to_string(c.gpu.source))}}},
        {"cpu",
         {{"mean_efficiency", c.cpu.mean_efficiency},
          {"involuntary_switches_per_s", c.cpu.involuntary_switches_per_s},
          {"contention_suspected", c.cpu.contention_suspected},
          {"waiting_operations", c.cpu.waiting_operations}}}}},
      {"trends", std::move(trends)},
  };
}

Json timelines_json(const Snapshot& s, std::size_t max_points) {
  max_points = std::max<std::size_t>(max_points, 2);
  Json series = Json::array();
  for (const auto& t : s.timelines) {
    const std::size_t n = std::min(t.t_ns.size(), t.values.size());
    const std::size_t step = (n + max_points - 1) / max_points;  // >= 1 when n > 0
    Json times = Json::array();
    Json values = Json::array();
    for (std::size_t i = 0; i < n; i += std::max<std::size_t>(step, 1)) {
      if (i + step >= n) break;  // the last sample is appended below
      times.push_back(seconds(t.t_ns[i]));
      values.push_back(t.values[i]);
    }
    if (n > 0) {
      times.push_back(seconds(t.t_ns[n - 1]));
      values.push_back(t.values[n - 1]);
    }
    series.push_back({{"name", t.name}, {"unit", t.unit}, {"t_s", std::move(times)}, {"values", std::move(values)}});
  }
  return {{"series", std::move(series)}};
}

Json custom_metrics_json(const Snapshot& s) {
  Json out = Json::array();
  for (const CustomMetric& m : s.custom_metrics) {
    // Per window: a counter's rate, a value's mean, a gauge's setting.
    Json times = Json::array();
    Json values = Json::array();
    for (const MetricWindow& w : m.series) {
      times.push_back(seconds(static_cast<double>(w.start_ns) + static_cast<double>(w.width_ns) / 2));
      double v = w.last;
      if (m.kind == MetricKind::Counter) v = w.width_ns > 0 ? w.sum / seconds(w.width_ns) : 0.0;
      if (m.kind == MetricKind::Value) v = w.count ? w.sum / static_cast<double>(w.count) : 0.0;
      values.push_back(v);
    }
    const std::string per = m.kind == MetricKind::Counter ? (m.unit.empty() ? "per s" : m.unit + "/s")
                          : m.kind == MetricKind::Value   ? "mean" + (m.unit.empty() ? "" : " (" + m.unit + ")")
                                                          : (m.unit.empty() ? "setting" : m.unit);
    out.push_back({{"name", m.name},
                   {"kind", metric_kind_name(m.kind)},
                   {"unit", m.unit},
                   {"count", m.count},
                   {"last", m.last},
                   {"min", m.min},
                   {"max", m.max},
                   {"mean", m.mean},
                   {"p50", m.p50},
                   {"p99", m.p99},
                   {"rejected", m.rejected},
                   {"series_label", per},
                   {"t_s", std::move(times)},
                   {"values", std::move(values)}});
  }
  return out;
}

Json state_json(const Snapshot& s, const Findings& f, bool read_only) {
  Json out = {{"status", status_json(s, read_only)}};
  out.update(operations_json(s));
  out.update(bottlenecks_json(f));
  out.update(recommendations_json(f));
  out.update(classification_json(f));
  out["timelines"] = timelines_json(s)["series"];
  out["custom_metrics"] = custom_metrics_json(s);
  return out;
}

}  // namespace codeprof::server
