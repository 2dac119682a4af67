// to_json_report: the versioned JSON report (docs/REPORT_SCHEMA.md). Keys keep the order written
// here so that a person reading the file meets schema_version and run first. All times are seconds.
#include <cmath>
#include <nlohmann/json.hpp>

#include "codeprof/exporters.hpp"
#include "codeprof/version.hpp"
#include "common/wall_clock.hpp"
#include "io/report_schema.hpp"
#include "io/text_output.hpp"

namespace codeprof::io {
namespace {

using OrderedJson = nlohmann::ordered_json;

// Seconds from nanoseconds; the reader converts back with llround, exactly below 26 days.
double secs(double ns) { return ns_to_seconds(ns); }

// JSON has no NaN or infinity: write null, which the reader takes back as NaN.
OrderedJson number(double v) { return std::isfinite(v) ? OrderedJson(v) : OrderedJson(nullptr); }

OrderedJson run_json(const RunInfo& run) {
  OrderedJson j;
  j["source"] = run.source;
  j["source_path"] = run.source_path;
  j["host"] = run.host;
  j["pid"] = run.pid;
  j["command"] = run.command;
  if (run.rank >= 0) j["rank"] = run.rank;
  if (run.world_size >= 0) j["world_size"] = run.world_size;
  if (run.local_rank >= 0) j["local_rank"] = run.local_rank;
  if (!run.job_name.empty()) j["job_name"] = run.job_name;
  j["start_time"] = iso8601_utc(run.start_unix_ns);
  j["start_unix_ns"] = run.start_unix_ns;
  j["wall_time"] = secs(static_cast<double>(run.wall_ns));
  j["version"] = run.version;
  j["enabled"] = run.enabled;
  OrderedJson categories = OrderedJson::array();
  for (std::size_t i = 0; i < kCategoryCount; ++i)
    if (run.category_mask & (1u << i)) categories.push_back(kCategoryNames[i]);
  j["categories_enabled"] = std::move(categories);
  j["hardware_threads"] = run.hardware_threads;
  OrderedJson unavailable = OrderedJson::array();
  for (const auto& u : run.unavailable) unavailable.push_back({{"what", u.what}, {"reason", u.reason}});
  j["unavailable"] = std::move(unavailable);
  OrderedJson gpus = OrderedJson::array();
  for (const auto& g : run.gpus)
    gpus.push_back({{"index", g.index}, {"name", g.name}, {"memory_total_bytes", g.memory_total_bytes}});
  j["gpus"] = std::move(gpus);
  j["metadata"] = OrderedJson(run.metadata);
  return j;
}

OrderedJson custom_metric_json(const CustomMetric& m) {
  OrderedJson series = OrderedJson::array();
  for (const auto& w : m.series)
    series.push_back({{"start", secs(static_cast<double>(w.start_ns))},
                      {"width", secs(static_cast<double>(w.width_ns))},
                      {"count", w.count},
                      {"sum", number(w.sum)},
                      {"min", number(w.min)},
                      {"max", number(w.max)},
                      {"last", number(w.last)}});
  OrderedJson j{{"name", m.name},
         {"kind", metric_kind_name(m.kind)},
         {"unit", m.unit},
         {"count", m.count},
         {"sum", number(m.sum)},
         {"last", number(m.last)},
         {"min", number(m.min)},
         {"max", number(m.max)},
         {"mean", number(m.mean)}};
  if (m.kind == MetricKind::Value) {
    j["p50"] = number(m.p50);
    j["p90"] = number(m.p90);
    j["p95"] = number(m.p95);
    j["p99"] = number(m.p99);
  }
  j["first_seen"] = secs(static_cast<double>(m.first_ns));
  j["last_seen"] = secs(static_cast<double>(m.last_ns));
  j["rejected"] = m.rejected;
  j["series"] = std::move(series);
  return j;
}

OrderedJson hot_spots_json(const std::vector<HotSpot>& spots) {
  OrderedJson a = OrderedJson::array();
  for (const auto& h : spots)
    a.push_back({{"function", h.function}, {"file", h.file}, {"line", h.line}, {"samples", h.samples}, {"share", number(h.share)}});
  return a;
}

OrderedJson alloc_sites_json(const std::vector<AllocSite>& sites) {
  OrderedJson a = OrderedJson::array();
  for (const auto& h : sites)
    a.push_back({{"function", h.function}, {"file", h.file}, {"line", h.line}, {"samples", h.samples}, {"bytes", h.bytes},
                 {"share", number(h.share)}});
  return a;
}

OrderedJson operation_json(const OperationStats& op) {
  OrderedJson j;
  j["id"] = op.id;
  j["name"] = op.name;
  j["type"] = to_string(op.category);
  j["file"] = op.file;
  j["line"] = op.line;
  j["count"] = op.count;
  j["total_time"] = secs(static_cast<double>(op.total_ns));
  j["self_time"] = secs(static_cast<double>(op.self_ns));
  j["avg_duration"] = number(secs(op.mean_ns));
  j["min_duration"] = secs(static_cast<double>(op.min_ns));
  j["max_duration"] = secs(static_cast<double>(op.max_ns));
  j["stddev_duration"] = number(secs(op.stddev_ns));
  j["p50_duration"] = secs(static_cast<double>(op.p50_ns));
  j["p90_duration"] = secs(static_cast<double>(op.p90_ns));
  j["p95_duration"] = secs(static_cast<double>(op.p95_ns));
  j["p99_duration"] = secs(static_cast<double>(op.p99_ns));
  j["first_seen"] = secs(static_cast<double>(op.first_seen_ns));
  j["last_seen"] = secs(static_cast<double>(op.last_seen_ns));

  OrderedJson histogram = OrderedJson::array();
  for (const auto& b : op.histogram)
    histogram.push_back({{"lower", secs(static_cast<double>(b.lower_ns))},
                         {"upper", secs(static_cast<double>(b.upper_ns))},
                         {"count", b.count}});
  j["histogram"] = std::move(histogram);

  OrderedJson series = OrderedJson::array();
  for (const auto& w : op.series)
    series.push_back({{"start", secs(static_cast<double>(w.start_ns))},
                      {"width", secs(static_cast<double>(w.width_ns))},
                      {"count", w.count},
                      {"total", secs(static_cast<double>(w.total_ns))},
                      {"min", secs(static_cast<double>(w.min_ns))},
                      {"max", secs(static_cast<double>(w.max_ns))}});
  j["series"] = std::move(series);

  OrderedJson slowest = OrderedJson::array();
  for (const auto& c : op.slowest)
    slowest.push_back({{"start", secs(static_cast<double>(c.start_ns))},
                       {"duration", secs(static_cast<double>(c.duration_ns))},
                       {"thread", c.thread_index}});
  j["slowest"] = std::move(slowest);

  OrderedJson resources = OrderedJson::object();
  for (const auto& info : kResourceMetrics) {
    const ResourceStat& r = op.resource(info.metric);
    if (r.samples == 0) continue;
    const auto scaled = [&](double v) { return v * info.scale; };
    resources[std::string(info.key)] = {{"unit", info.unit},
                                        {"samples", r.samples},
                                        {"total", scaled(static_cast<double>(r.total))},
                                        {"mean", scaled(r.mean())},
                                        {"min", scaled(static_cast<double>(r.min))},
                                        {"max", scaled(static_cast<double>(r.max))}};
  }
  j["resources"] = std::move(resources);
  j["cpu_samples"] = op.cpu_samples;
  j["hot_functions"] = hot_spots_json(op.hot_functions);
  j["hot_lines"] = hot_spots_json(op.hot_lines);
  j["alloc_samples"] = op.alloc_samples;
  j["alloc_sampled_bytes"] = op.alloc_sampled_bytes;
  j["live_sampled_bytes"] = op.live_sampled_bytes;
  j["peak_live_sampled_bytes"] = op.peak_live_sampled_bytes;
  j["hot_allocations"] = alloc_sites_json(op.hot_allocations);
  j["live_at_end"] = alloc_sites_json(op.live_at_end);
  return j;
}

OrderedJson sampling_json(const SamplingInfo& info) {
  OrderedJson sources = OrderedJson::array();
  for (const auto& src : info.sources)
    sources.push_back({{"name", src.name},
                       {"frequency_hz", number(src.frequency_hz)},
                       {"threads", src.threads},
                       {"inherited_threads", src.inherited_threads},
                       {"samples", src.samples},
                       {"dropped", src.dropped}});
  OrderedJson unavailable = OrderedJson::array();
  for (const auto& u : info.unavailable) unavailable.push_back({{"what", u.what}, {"reason", u.reason}});
  return {{"enabled", info.enabled},
          {"unwinder", info.unwinder},
          {"sources", std::move(sources)},
          {"samples", info.samples},
          {"dropped", info.dropped},
          {"alloc_interval_bytes", info.alloc_interval_bytes},
          {"alloc_samples", info.alloc_samples},
          {"alloc_peak_live_bytes", info.alloc_peak_live_bytes},
          {"alloc_peak_at", secs(static_cast<double>(info.alloc_peak_at_ns))},
          {"sampler_cpu", secs(static_cast<double>(info.sampler_cpu_ns))},
          {"unavailable", std::move(unavailable)}};
}

OrderedJson profile_json(const SampleProfile& p) {
  OrderedJson operations = OrderedJson::array();
  for (const auto& o : p.operations)
    operations.push_back({{"id", o.id}, {"name", o.name}, {"type", to_string(o.category)}});
  OrderedJson frames = OrderedJson::array();
  for (const auto& f : p.frames)
    frames.push_back({{"function", f.function}, {"file", f.file}, {"line", f.line}, {"module", f.module}, {"inlined", f.inlined}});
  OrderedJson stacks = OrderedJson::array();
  for (const auto& st : p.stacks)
    stacks.push_back({{"frames", st.frames},
                      {"operations", st.operations},
                      {"thread", st.thread},
                      {"cpu_samples", st.cpu_samples},
                      {"alloc_samples", st.alloc_samples},
                      {"alloc_bytes", st.alloc_bytes},
                      {"live_bytes", st.live_bytes},
                      {"alloc_objects", st.alloc_objects},
                      {"live_objects", st.live_objects}});
  return {{"operations", std::move(operations)}, {"frames", std::move(frames)}, {"stacks", std::move(stacks)}};
}

OrderedJson bottleneck_json(const Bottleneck& b) {
  return {{"operation", b.operation},
          {"type", std::string(to_string(b.type))},
          {"avg_duration", number(b.avg_duration)},
          {"optimization_priority", std::string(to_string(b.optimization_priority))},
          {"severity", std::string(to_string(b.severity))},
          {"p95_duration", number(b.p95_duration)},
          {"calls", b.calls},
          {"total_time", number(b.total_time)},
          {"self_time", number(b.self_time)},
          {"share_of_wall", number(b.share_of_wall)},
          {"reason", b.reason}};
}

OrderedJson recommendation_json(const Recommendation& r) {
  OrderedJson evidence = OrderedJson::array();
  for (const auto& e : r.evidence)
    evidence.push_back(
        {{"metric", e.metric}, {"value", number(e.value)}, {"unit", std::string(unit_spelling(e))}, {"operation", e.operation}});
  return {{"id", r.id},
          {"type", std::string(to_string(r.type))},
          {"priority", std::string(to_string(r.priority))},
          {"title", r.title},
          {"evidence", std::move(evidence)},
          {"evidence_text", r.evidence_text},
          {"action", r.action}};
}

OrderedJson classification_json(const Classification& c) {
  return {{"summary", c.summary},
          {"input",
           {{"level", std::string(to_string(c.input.level))},
            {"input_share", number(c.input.input_share)},
            {"steps", c.input.steps},
            {"step_time", number(c.input.step_time)},
            {"step_source", c.input.step_source}}},
          {"gpu",
           {{"available", c.gpu.available},
            {"idle_share", number(c.gpu.idle_share)},
            {"mean_utilization", number(c.gpu.mean_utilization)},
            {"peak_memory_fraction", number(c.gpu.peak_memory_fraction)},
            {"source", std::string(to_string(c.gpu.source))}}},
          {"cpu",
           {{"mean_efficiency", number(c.cpu.mean_efficiency)},
            {"involuntary_switches_per_s", number(c.cpu.involuntary_switches_per_s)},
            {"contention_suspected", c.cpu.contention_suspected},
            {"waiting_operations", c.cpu.waiting_operations}}}};
}

OrderedJson trend_json(const Trend& t) {
  return {{"kind", std::string(to_string(t.kind))},
          {"operation", t.operation},
          {"description", t.description},
          {"magnitude", number(t.magnitude)},
          {"at", number(t.at_s)},
          {"method", t.method}};
}

OrderedJson timeline_json(const TimelineSeries& s) {
  OrderedJson t = OrderedJson::array();
  for (const auto v : s.t_ns) t.push_back(secs(static_cast<double>(v)));
  OrderedJson values = OrderedJson::array();
  for (const auto v : s.values) values.push_back(number(v));
  return {{"name", s.name}, {"unit", s.unit}, {"t", std::move(t)}, {"values", std::move(values)}};
}

OrderedJson call_edge_json(const CallEdge& e) {
  return {{"parent", e.parent_id == kRootOperation ? OrderedJson(nullptr) : OrderedJson(e.parent_id)},
          {"child", e.child_id},
          {"count", e.count},
          {"total_time", secs(static_cast<double>(e.total_ns))}};
}

OrderedJson thread_json(const ThreadStats& t) {
  OrderedJson ops = OrderedJson::array();
  for (const auto& o : t.operations)
    ops.push_back({{"id", o.operation_id},
                   {"count", o.count},
                   {"total_time", secs(static_cast<double>(o.total_ns))},
                   {"self_time", secs(static_cast<double>(o.self_ns))}});
  return {{"index", t.index},       {"os_tid", t.os_tid},
          {"name", t.name},         {"events", t.events},
          {"dropped", t.dropped},   {"busy_time", secs(static_cast<double>(t.top_level_ns))},
          {"operations", std::move(ops)}};
}

OrderedJson device_json(const DeviceActivity& d) {
  return {{"device", d.device},
          {"stream", d.stream},
          {"busy_time", secs(static_cast<double>(d.busy_ns))},
          {"kernel_time", secs(static_cast<double>(d.kernel_ns))},
          {"memcpy_time", secs(static_cast<double>(d.memcpy_ns))},
          {"memset_time", secs(static_cast<double>(d.memset_ns))},
          {"memcpy_bytes", d.memcpy_bytes},
          {"kernels", d.kernels},
          {"busy_in_steps_time", secs(static_cast<double>(d.busy_in_steps_ns))}};
}

template <typename T, typename F>
OrderedJson array_of(const std::vector<T>& items, F&& to_json) {
  OrderedJson a = OrderedJson::array();
  for (const auto& item : items) a.push_back(to_json(item));
  return a;
}

}  // namespace

std::string to_json_report(const Snapshot& s, const Findings& f) {
  OrderedJson j;
  j["schema_version"] = kReportSchemaVersion;
  j["generated_at"] = iso8601_utc(common::unix_now_ns());
  j["generator"] = std::string("codeprof ") + kVersion;
  j["run"] = run_json(s.run);
  j["operations"] = array_of(s.operations, operation_json);
  j["bottlenecks"] = array_of(f.bottlenecks, bottleneck_json);
  j["recommendations"] = array_of(f.recommendations, recommendation_json);
  j["classification"] = classification_json(f.classification);
  j["step_timing"] = {{"steps", f.step_timing.steps},
                      {"step_time", number(f.step_timing.step_time)},
                      {"input_time", number(f.step_timing.input_time)},
                      {"iteration_time", number(f.step_timing.iteration_time)},
                      {"collective_time", number(f.step_timing.collective_time)}};
  j["trends"] = array_of(f.trends, trend_json);
  j["inconclusive"] = array_of(f.inconclusive, [](const Inconclusive& i) {
    return OrderedJson{{"check", i.check}, {"needs", i.needs}, {"had", i.had}};
  });
  j["timeline"] = array_of(s.timelines, timeline_json);
  j["call_tree"] = array_of(s.call_tree, call_edge_json);
  j["threads"] = array_of(s.threads, thread_json);
  j["steps"] = array_of(s.steps, [](const StepSpan& st) {
    return OrderedJson{{"index", st.index},
                {"start", secs(static_cast<double>(st.start_ns))},
                {"end", secs(static_cast<double>(st.end_ns))}};
  });
  j["devices"] = array_of(s.devices, device_json);
  j["sync_time"] = secs(static_cast<double>(s.sync_ns));
  j["event_counts"] = {{"recorded", s.events_recorded},
                       {"dropped", s.events_dropped},
                       {"recorded_total", s.events_recorded_total},
                       {"dropped_total", s.events_dropped_total},
                       {"trace_recorded", s.trace_events.size()},
                       {"trace_dropped", s.trace_events_dropped},
                       {"trace_policy", s.trace_policy},
                       {"trace_window_start", secs(static_cast<double>(s.trace_window_start_ns))},
                       {"trace_window_end", secs(static_cast<double>(s.trace_window_end_ns))},
                       {"misnested", s.events_misnested}};
  j["dropped_events"] = s.events_dropped;
  j["sampling"] = sampling_json(s.sampling);
  j["profile"] = profile_json(s.profile);
  j["alerts"] = array_of(s.alerts, [](const Alert& a) {
    return OrderedJson{{"name", a.name},
                {"state", a.state},
                {"severity", a.severity},
                {"summary", a.summary},
                {"labels", OrderedJson(a.labels)},
                {"value", number(a.value)},
                {"threshold", number(a.threshold)},
                {"source", a.source},
                {"active_since_unix_ns", a.active_since_unix_ns},
                {"fired_unix_ns", a.fired_unix_ns},
                {"resolved_unix_ns", a.resolved_unix_ns}};
  });
  j["custom_metrics"] = array_of(s.custom_metrics, custom_metric_json);
  return j.dump(1, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
}

}  // namespace codeprof::io
