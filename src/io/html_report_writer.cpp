// to_html_report: one self-contained page. Tables (classification, recommendations, bottlenecks,
// operations, trends, run facts) are written here as HTML, so they read without JavaScript; the
// charts are drawn by the inline script from a JSON block. A Content-Security-Policy forbids any
// network access, so the page provably needs none.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>

#include "codeprof/exporters.hpp"
#include "codeprof/version.hpp"
#include "common/number_format.hpp"
#include "common/wall_clock.hpp"
#include "io/flame_graph_assets.hpp"
#include "io/html_report_assets.hpp"
#include "io/profile_view.hpp"
#include "io/report_schema.hpp"
#include "io/text_output.hpp"

namespace codeprof::io {
namespace {

using Json = nlohmann::json;

constexpr std::size_t kChartOperations = 15;   // bars in the time-per-operation chart
constexpr std::size_t kSeriesOperations = 5;   // lines in the duration-over-time chart
constexpr std::size_t kTableOperations = 50;   // rows in the operations table
constexpr std::size_t kTimelinePoints = 600;   // points per sampler series in the page

// A duration in nanoseconds, as people read it ("25.0 ms").
template <typename Ns>
std::string duration(Ns ns) {
  return common::format_seconds(static_cast<double>(ns) / 1e9);
}
// A number for the page's data; JSON has no NaN or infinity, so those become null.
Json data_number(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

std::vector<const OperationStats*> by_total_time(const Snapshot& s) {
  std::vector<const OperationStats*> ops;
  for (const auto& op : s.operations) ops.push_back(&op);
  std::stable_sort(ops.begin(), ops.end(), [](const auto* a, const auto* b) { return a->total_ns > b->total_ns; });
  return ops;
}

// At most kTimelinePoints points: long series keep each bucket's minimum and maximum, in time
// order, so spikes survive the thinning.
Json thin_series(const TimelineSeries& series) {
  Json t = Json::array(), v = Json::array();
  const std::size_t n = std::min(series.t_ns.size(), series.values.size());
  const auto emit = [&](std::size_t i) {
    t.push_back(ns_to_seconds(static_cast<double>(series.t_ns[i])));
    v.push_back(data_number(series.values[i]));
  };
  if (n <= kTimelinePoints) {
    for (std::size_t i = 0; i < n; ++i) emit(i);
  } else {
    const std::size_t buckets = kTimelinePoints / 2;
    for (std::size_t b = 0; b < buckets; ++b) {
      const std::size_t lo = b * n / buckets, hi = (b + 1) * n / buckets;
      std::size_t min_i = lo, max_i = lo;
      for (std::size_t i = lo; i < hi; ++i) {
        if (series.values[i] < series.values[min_i]) min_i = i;
        if (series.values[i] > series.values[max_i]) max_i = i;
      }
      emit(std::min(min_i, max_i));
      if (min_i != max_i) emit(std::max(min_i, max_i));
    }
  }
  return {{"name", series.name}, {"unit", series.unit}, {"t", std::move(t)}, {"values", std::move(v)}};
}

std::string chart_data(const Snapshot& s) {
  const auto ops = by_total_time(s);
  Json data;
  Json bars = Json::array();
  for (std::size_t i = 0; i < ops.size() && i < kChartOperations; ++i) {
    const auto& op = *ops[i];
    bars.push_back({{"name", op.name},
                    {"type", to_string(op.category)},
                    {"total", ns_to_seconds(static_cast<double>(op.total_ns))},
                    {"self", ns_to_seconds(static_cast<double>(op.self_ns))},
                    {"mean", data_number(ns_to_seconds(op.mean_ns))},
                    {"count", op.count}});
  }
  data["operations"] = std::move(bars);

  Json lines = Json::array();
  for (const auto* op : ops) {
    if (lines.size() >= kSeriesOperations) break;
    if (op->series.size() < 2) continue;
    Json points = Json::array();
    for (const auto& w : op->series) {
      const double mid = ns_to_seconds(static_cast<double>(w.start_ns) + static_cast<double>(w.width_ns) / 2);
      points.push_back({mid, w.count ? Json(ns_to_seconds(static_cast<double>(w.total_ns) / static_cast<double>(w.count)))
                                     : Json(nullptr)});
    }
    lines.push_back({{"name", op->name}, {"points", std::move(points)}});
  }
  data["operation_series"] = std::move(lines);

  Json timelines = Json::array();
  for (const auto& series : s.timelines) timelines.push_back(thin_series(series));
  data["timelines"] = std::move(timelines);

  // The program's own metrics over time: a counter's rate, a value's mean, a gauge's setting.
  Json metrics = Json::array();
  for (const CustomMetric& m : s.custom_metrics) {
    Json points = Json::array();
    for (const MetricWindow& w : m.series) {
      const double mid = ns_to_seconds(static_cast<double>(w.start_ns) + static_cast<double>(w.width_ns) / 2);
      double v = w.last;
      if (m.kind == MetricKind::Counter) v = w.width_ns > 0 ? w.sum / ns_to_seconds(static_cast<double>(w.width_ns)) : 0.0;
      if (m.kind == MetricKind::Value) v = w.count ? w.sum / static_cast<double>(w.count) : 0.0;
      points.push_back({mid, data_number(v)});
    }
    const std::string unit = m.unit + (m.kind == MetricKind::Counter ? (m.unit.empty() ? "per s" : "/s") : "");
    metrics.push_back({{"name", m.name}, {"kind", metric_kind_name(m.kind)}, {"unit", unit}, {"points", std::move(points)}});
  }
  data["custom_metrics"] = std::move(metrics);

  return data.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// An evidence number in its unit, readable: "72.7 %", "16.3 ms", "1.0 MiB", "1.79 factor".
std::string evidence_value(const Evidence& e) {
  if (e.unit == EvidenceUnit::Seconds) return common::format_seconds(e.value);
  if (e.unit == EvidenceUnit::Bytes) return common::format_bytes(e.value);
  if (e.unit == EvidenceUnit::Ratio) return common::format_percent(e.value);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.4g", e.value);
  const std::string_view unit = unit_spelling(e);
  return unit.empty() || e.unit == EvidenceUnit::Count ? std::string(buf) : std::string(buf) + " " + std::string(unit);
}

class Page {
 public:
  Page& raw(std::string_view s) {
    out_ += s;
    return *this;
  }
  Page& text(std::string_view s) {
    out_ += html_escape(s);
    return *this;
  }
  Page& tag(std::string_view name, std::string_view content, std::string_view cls = "") {
    out_ += '<';
    out_ += name;
    if (!cls.empty()) out_ += " class=\"" + std::string(cls) + "\"";
    out_ += '>';
    text(content);
    out_ += "</";
    out_ += name;
    out_ += '>';
    return *this;
  }
  Page& definition(std::string_view term, std::string_view value) {
    return tag("dt", term).tag("dd", value);
  }
  Page& badge(std::string_view level) {
    return raw("<span class=\"badge ").text(level).raw("\">").text(level).raw("</span>");
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

void header(Page& p, const Snapshot& s) {
  const RunInfo& run = s.run;
  p.raw("<header><h1>codeprof report</h1><p class=\"meta\">");
  std::string meta = run.command.empty() ? "(no command recorded)" : run.command;
  if (!run.host.empty()) meta += " \xC2\xB7 host " + run.host;
  if (run.pid) meta += " \xC2\xB7 pid " + std::to_string(run.pid);
  if (run.rank >= 0) meta += " \xC2\xB7 rank " + std::to_string(run.rank) + (run.world_size > 0 ? " of " + std::to_string(run.world_size) : "");
  meta += " \xC2\xB7 wall time " + duration(run.wall_ns);
  meta += " \xC2\xB7 started " + iso8601_utc(run.start_unix_ns);
  meta += " \xC2\xB7 source " + run.source;
  p.text(meta).raw("</p></header>\n");
}

void classification(Page& p, const Snapshot& s, const Classification& c) {
  p.raw("<section id=\"classification\"><h2>Classification</h2>");
  p.tag("p", c.summary.empty() ? "No classification." : c.summary, "summary");
  p.raw("<div class=\"cards\"><div class=\"card\"><h3>Input pipeline</h3><dl>");
  p.definition("bound", std::string(to_string(c.input.level)))
      .definition("input share", c.input.steps ? common::format_percent(c.input.input_share) : "n/a (no steps)")
      .definition("steps", common::format_count(c.input.steps))
      .definition("step time", common::format_seconds(c.input.step_time))
      .definition("steps from", c.input.step_source.empty() ? "-" : c.input.step_source);
  p.raw("</dl></div><div class=\"card\"><h3>GPU</h3><dl>");
  if (c.gpu.available) {
    p.definition("idle share", common::format_percent(c.gpu.idle_share))
        .definition("mean utilization", common::format_percent(c.gpu.mean_utilization / 100.0))
        .definition("peak memory", common::format_percent(c.gpu.peak_memory_fraction))
        .definition("from", std::string(to_string(c.gpu.source)));
  } else {
    p.definition("data", "none (no GPU seen)");
  }
  p.raw("</dl></div><div class=\"card\"><h3>CPU</h3><dl>");
  p.definition("efficiency", c.cpu.mean_efficiency < 0 ? "unknown (CPU probe off)" : common::format_percent(c.cpu.mean_efficiency))
      .definition("involuntary switches", common::format_count(static_cast<std::uint64_t>(std::max(0.0, c.cpu.involuntary_switches_per_s))) + "/s")
      .definition("contention", c.cpu.contention_suspected ? "suspected" : "not seen");
  if (!c.cpu.waiting_operations.empty()) {
    std::string waiting;
    for (const auto& w : c.cpu.waiting_operations) waiting += (waiting.empty() ? "" : ", ") + w;
    p.definition("waiting", waiting);
  }
  p.raw("</dl></div><div class=\"card\"><h3>Events</h3><dl>");
  p.definition("recorded", common::format_count(s.events_recorded))
      .definition("dropped", common::format_count(s.events_dropped))
      .definition("operations", common::format_count(s.operations.size()))
      .definition("threads", common::format_count(s.threads.size()));
  p.raw("</dl></div></div></section>\n");
}

void recommendations(Page& p, const std::vector<Recommendation>& recs) {
  p.raw("<section id=\"recommendations\"><h2>Recommendations</h2>");
  if (recs.empty()) p.tag("p", "No recommendations: nothing stood out.", "empty");
  p.raw("<div class=\"cards wide\">");
  for (const auto& r : recs) {
    p.raw("<div class=\"card rec ").text(to_string(r.priority)).raw("\"><h3>").badge(to_string(r.priority)).raw(" ").text(r.title).raw("</h3>");
    p.raw("<p><span class=\"label\">Evidence:</span> ").text(r.evidence_text).raw("</p>");
    if (!r.evidence.empty()) {
      p.raw("<details><summary>the numbers</summary><ul>");
      for (const auto& e : r.evidence) {
        std::string line = e.metric + " = " + evidence_value(e);
        if (!e.operation.empty()) line += " (" + e.operation + ")";
        p.tag("li", line);
      }
      p.raw("</ul></details>");
    }
    p.raw("<p><span class=\"label\">Action:</span> ").text(r.action).raw("</p>");
    p.raw("<p class=\"meta\"><code>").text(r.id).raw("</code> \xC2\xB7 ").text(std::string(to_string(r.type))).raw("</p></div>");
  }
  p.raw("</div></section>\n");
}

void bottlenecks(Page& p, const std::vector<Bottleneck>& list) {
  p.raw("<section id=\"bottlenecks\"><h2>Bottlenecks</h2>");
  if (list.empty()) {
    p.tag("p", "No operation crossed its thresholds.", "empty").raw("</section>\n");
    return;
  }
  p.raw("<table><thead><tr><th>Operation</th><th>Type</th><th>Severity</th><th>Priority</th><th class=\"num\">Calls</th>"
        "<th class=\"num\">Mean</th><th class=\"num\">p95</th><th class=\"num\">Total</th><th class=\"num\">Share of wall</th>"
        "<th>Reason</th></tr></thead><tbody>");
  for (const auto& b : list) {
    p.raw("<tr>").tag("td", b.operation).tag("td", std::string(to_string(b.type))).raw("<td>").badge(to_string(b.severity)).raw("</td><td>")
        .badge(to_string(b.optimization_priority)).raw("</td>")
        .tag("td", common::format_count(b.calls), "num").tag("td", common::format_seconds(b.avg_duration), "num")
        .tag("td", common::format_seconds(b.p95_duration), "num").tag("td", common::format_seconds(b.total_time), "num")
        .tag("td", common::format_percent(b.share_of_wall), "num").tag("td", b.reason).raw("</tr>");
  }
  p.raw("</tbody></table></section>\n");
}

void operations(Page& p, const Snapshot& s) {
  const auto ops = by_total_time(s);
  p.raw("<section id=\"operations\"><h2>Operations</h2>");
  if (ops.size() > kTableOperations)
    p.tag("p", "The " + std::to_string(kTableOperations) + " operations with the most total time of " +
                   std::to_string(ops.size()) + ".", "meta");
  p.raw("<table><thead><tr><th>Operation</th><th>Type</th><th class=\"num\">Calls</th><th class=\"num\">Total</th>"
        "<th class=\"num\">Self</th><th class=\"num\">Mean</th><th class=\"num\">p50</th><th class=\"num\">p95</th>"
        "<th class=\"num\">p99</th><th class=\"num\">Max</th></tr></thead><tbody>");
  for (std::size_t i = 0; i < ops.size() && i < kTableOperations; ++i) {
    const auto& op = *ops[i];
    p.raw("<tr>").tag("td", op.name).tag("td", to_string(op.category)).tag("td", common::format_count(op.count), "num")
        .tag("td", duration(op.total_ns), "num").tag("td", duration(op.self_ns), "num")
        .tag("td", duration(op.mean_ns), "num").tag("td", duration(op.p50_ns), "num")
        .tag("td", duration(op.p95_ns), "num").tag("td", duration(op.p99_ns), "num")
        .tag("td", duration(op.max_ns), "num").raw("</tr>");
  }
  p.raw("</tbody></table></section>\n");
}

void custom_metrics(Page& p, const Snapshot& s) {
  if (s.custom_metrics.empty()) return;
  p.raw("<section id=\"custom-metrics\"><h2>The program's metrics</h2>"
        "<table><thead><tr><th>Metric</th><th>Kind</th><th>Unit</th><th class=\"num\">Count</th>"
        "<th class=\"num\">Last</th><th class=\"num\">Min</th><th class=\"num\">Mean</th><th class=\"num\">Max</th>"
        "<th class=\"num\">p99</th></tr></thead><tbody>");
  const auto num = [](double v) { return common::format_number(v, std::fabs(v) >= 100 ? 1 : 4); };
  for (const CustomMetric& m : s.custom_metrics)
    p.raw("<tr>").tag("td", m.name).tag("td", std::string(metric_kind_name(m.kind))).tag("td", m.unit)
        .tag("td", common::format_count(m.count), "num").tag("td", num(m.last), "num").tag("td", num(m.min), "num")
        .tag("td", num(m.mean), "num").tag("td", num(m.max), "num")
        .tag("td", m.kind == MetricKind::Value ? num(m.p99) : std::string(), "num").raw("</tr>");
  p.raw("</tbody></table><div id=\"custom-metric-charts\"></div></section>\n");
}

void trends(Page& p, const std::vector<Trend>& list) {
  p.raw("<section id=\"trends\"><h2>Trends</h2>");
  if (list.empty()) {
    p.tag("p", "No slowdown, memory growth or spike was detected.", "empty").raw("</section>\n");
    return;
  }
  p.raw("<table><thead><tr><th>Kind</th><th>Operation</th><th>Description</th><th class=\"num\">At</th><th>Method</th></tr></thead><tbody>");
  for (const auto& t : list)
    p.raw("<tr>").tag("td", to_string(t.kind)).tag("td", t.operation.empty() ? "(process)" : t.operation).tag("td", t.description)
        .tag("td", common::format_seconds(t.at_s), "num").tag("td", t.method).raw("</tr>");
  p.raw("</tbody></table></section>\n");
}

void inconclusive(Page& p, const std::vector<Inconclusive>& list) {
  if (list.empty()) return;
  p.raw("<section id=\"inconclusive\"><h2>Not concluded</h2>"
        "<p class=\"meta\">Checks this run is too short for, or lacks the data for: what each needs and what it had.</p>"
        "<table><thead><tr><th>Check</th><th>Needs</th><th>Had</th></tr></thead><tbody>");
  for (const auto& i : list) p.raw("<tr>").tag("td", i.check).tag("td", i.needs).tag("td", i.had).raw("</tr>");
  p.raw("</tbody></table></section>\n");
}

void run_facts(Page& p, const Snapshot& s) {
  p.raw("<section id=\"run\"><h2>Run</h2><div class=\"cards\"><div class=\"card\"><h3>Unavailable</h3>");
  if (s.run.unavailable.empty()) {
    p.tag("p", "Every enabled probe ran.", "empty");
  } else {
    p.raw("<dl>");
    for (const auto& u : s.run.unavailable) p.definition(u.what, u.reason);
    p.raw("</dl>");
  }
  p.raw("</div><div class=\"card\"><h3>Devices</h3>");
  if (s.run.gpus.empty() && s.devices.empty()) p.tag("p", "No GPU.", "empty");
  p.raw("<dl>");
  for (const auto& g : s.run.gpus) p.definition("GPU " + std::to_string(g.index), g.name + ", " + common::format_bytes(static_cast<double>(g.memory_total_bytes)));
  for (const auto& d : s.devices) {
    std::string what = "busy " + duration(d.busy_ns) + ", " + common::format_count(d.kernels) + " kernels, memcpy " +
                       common::format_bytes(static_cast<double>(d.memcpy_bytes));
    p.definition("device " + std::to_string(d.device) + (d.stream >= 0 ? " stream " + std::to_string(d.stream) : ""), what);
  }
  if (s.sync_ns) p.definition("synchronisation", duration(s.sync_ns));
  p.raw("</dl></div><div class=\"card\"><h3>Profiler</h3><dl>");
  p.definition("version", s.run.version.empty() ? "-" : s.run.version)
      .definition("steps", common::format_count(s.steps.size()))
      .definition("events dropped since start", common::format_count(s.events_dropped_total))
      .definition("hardware threads", std::to_string(s.run.hardware_threads));
  p.raw("</dl></div></div></section>\n");
}

// A JSON document as the text of a <script> element, for every JSON block of the page. '<', '>'
// and '&' occur only inside JSON strings, where \u003c, \u003e and \u0026 mean the same, so no
// "</script>" can end the element and no "<!--" or "<script" can move the HTML parser into its
// escaped states (which would swallow the page's own scripts). U+2028 and U+2029 are valid in JSON
// strings but end a line in older JavaScript: written as \u2028 and \u2029 as well.
std::string json_in_script(std::string_view json) {
  std::string safe;
  safe.reserve(json.size() + json.size() / 16);
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '<') safe += "\\u003c";
    else if (c == '>') safe += "\\u003e";
    else if (c == '&') safe += "\\u0026";
    else if (c == '\xE2' && i + 2 < json.size() && json[i + 1] == '\x80' && (json[i + 2] == '\xA8' || json[i + 2] == '\xA9')) {
      safe += json[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      safe += c;
    }
  }
  return safe;
}

// Inside <script>: "</script" (any case) would end the element early; "<\/script" means the same
// in JavaScript strings and regular expressions (the bundled scripts; JSON goes through json_in_script).
std::string script_safe(std::string text) {
  for (std::size_t at = 0; (at = text.find("</", at)) != std::string::npos; ++at) {
    std::string tag = text.substr(at + 2, 6);
    std::transform(tag.begin(), tag.end(), tag.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (tag == "script") text.replace(at, 2, "<\\/");
  }
  return text;
}

bool any_allocations(const Snapshot& s) {
  return std::any_of(s.operations.begin(), s.operations.end(), [](const OperationStats& op) { return op.alloc_samples > 0; });
}

// One table of allocation sites per operation, at most `per_operation` rows each.
void alloc_site_table(Page& p, const Snapshot& s, std::string_view cls, std::string_view bytes_heading,
                      const std::vector<AllocSite> OperationStats::*sites, std::size_t per_operation) {
  p.raw("<table class=\"").text(cls).raw("\"><thead><tr><th>Operation</th><th>Function</th><th>Line</th><th class=\"num\">")
      .text(bytes_heading).raw("</th><th class=\"num\">Share</th></tr></thead><tbody>");
  for (const auto& op : s.operations) {
    const std::vector<AllocSite>& list = op.*sites;
    for (std::size_t i = 0; i < list.size() && i < per_operation; ++i) {
      const AllocSite& a = list[i];
      p.raw("<tr><td>").text(i == 0 ? op.name : "").raw("</td><td>").text(a.function).raw("</td><td>");
      p.text(a.file.empty() ? "-" : a.file + ":" + std::to_string(a.line));
      p.raw("</td><td class=\"num\">").text(common::format_bytes(static_cast<double>(a.bytes)));
      p.raw("</td><td class=\"num\">").text(common::format_percent(a.share)).raw("</td></tr>");
    }
  }
  p.raw("</tbody></table>");
}

// Where each operation allocates and what it still held at the end (leak suspects), from the
// allocation samples: written as tables, so they read without the flame graph.
void allocations(Page& p, const Snapshot& s) {
  if (!any_allocations(s)) return;
  constexpr std::size_t kSitesPerOperation = 5;
  p.raw("<section id=\"allocations\"><h2>Where the memory is allocated</h2>");
  p.tag("p", common::format_count(s.sampling.alloc_samples) + " sampled allocations, one per " +
                 common::format_bytes(static_cast<double>(s.sampling.alloc_interval_bytes)) +
                 " allocated on average; bytes are the estimates the samples stand for.", "meta");
  p.tag("h3", "Allocation sites");
  alloc_site_table(p, s, "alloc-sites", "Sampled bytes", &OperationStats::hot_allocations, kSitesPerOperation);
  const bool any_live = std::any_of(s.operations.begin(), s.operations.end(), [](const OperationStats& op) { return !op.live_at_end.empty(); });
  p.tag("h3", "Live at the end (leak suspects)");
  if (any_live) alloc_site_table(p, s, "live-at-end", "Live bytes", &OperationStats::live_at_end, kSitesPerOperation);
  else p.tag("p", "Every sampled allocation was freed.", "empty");
  p.raw("</section>\n");
}

// Where the CPU time goes inside each operation: the hot lines (always) and the interactive flame
// graph (when the dashboard library bundled its scripts into this program).
void sampled_profile(Page& p, const Snapshot& s) {
  if (s.profile.empty()) return;
  p.raw("<section id=\"profile\"><h2>Where the CPU time goes</h2>");
  std::string sources;
  for (const auto& src : s.sampling.sources)
    sources += (sources.empty() ? "" : ", ") + src.name + " at " + common::format_number(src.frequency_hz, 0) + " Hz";
  std::string cost;
  if (s.sampling.sampler_cpu_ns > 0)
    cost = " The sampler's own thread used " + common::format_seconds(static_cast<double>(s.sampling.sampler_cpu_ns) / 1e9) +
           " of CPU.";
  p.tag("p", common::format_count(s.sampling.samples) + " CPU samples (" + sources + "), " +
                 common::format_count(s.sampling.dropped) + " dropped." + cost, "meta");
  const FlameGraphAssets* assets = flame_graph_assets();
  if (assets) {
    p.raw("<style>").raw(assets->style).raw("</style><div id=\"flame-root\"></div>");
    p.raw("<script type=\"application/json\" id=\"codeprof-profile\">").raw(json_in_script(profile_view_json(s))).raw("</script>");
    p.raw("<script>").raw(script_safe(assets->script)).raw("</script>");
    // With allocation samples the graph can weigh the allocating stacks; their sites are listed
    // by the allocations section below, so the graph does not repeat them.
    p.raw("<script>window.codeprofFlameGraph.mount(document.getElementById('flame-root'), "
          "JSON.parse(document.getElementById('codeprof-profile').textContent)")
        .raw(any_allocations(s) ? ", {allocationTables: false});</script>" : ");</script>");
  } else {
    p.tag("p", "The interactive flame graph needs the dashboard library (codeprof::dashboard, as the codeprof command "
               "has); the hot lines follow. The pprof and folded exports hold every stack.", "meta");
    p.raw("<table class=\"hot-lines\"><thead><tr><th>Operation</th><th>Function</th><th>Line</th>"
          "<th class=\"num\">Samples</th><th class=\"num\">Share</th></tr></thead><tbody>");
    for (const auto& op : s.operations)
      for (std::size_t i = 0; i < op.hot_lines.size() && i < 5; ++i) {
        const HotSpot& h = op.hot_lines[i];
        p.raw("<tr><td>").text(i == 0 ? op.name : "").raw("</td><td>").text(h.function).raw("</td><td>");
        p.text(h.file.empty() ? "-" : h.file + ":" + std::to_string(h.line));
        p.raw("</td><td class=\"num\">").text(common::format_count(h.samples)).raw("</td><td class=\"num\">");
        p.text(common::format_percent(h.share)).raw("</td></tr>");
      }
    p.raw("</tbody></table>");
  }
  p.raw("</section>\n");
}

}  // namespace

std::string to_html_report(const Snapshot& s, const Findings& f) {
  Page p;
  p.raw("<!DOCTYPE html>\n<html lang=\"en\" data-codeprof-rendered=\"no\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
  p.text("codeprof report" + (s.run.command.empty() ? std::string() : " \xE2\x80\x94 " + s.run.command));
  p.raw("</title>\n<style>").raw(html_assets::style()).raw("</style>\n</head>\n<body>\n");
  header(p, s);
  classification(p, s, f.classification);
  recommendations(p, f.recommendations);
  bottlenecks(p, f.bottlenecks);
  p.raw("<section id=\"operation-times\"><h2>Time per operation</h2>"
        "<p class=\"meta\">Total time of the busiest operations; the dark part is self time.</p>"
        "<div id=\"operation-chart\" class=\"chart\"></div><div id=\"operation-time-chart\"></div></section>\n");
  p.raw("<section id=\"timeline\"><h2>Timeline</h2><div id=\"timeline-charts\"></div></section>\n");
  operations(p, s);
  custom_metrics(p, s);
  sampled_profile(p, s);
  allocations(p, s);
  trends(p, f.trends);
  inconclusive(p, f.inconclusive);
  run_facts(p, s);
  p.raw("<footer>Generated by codeprof ").text(kVersion).raw(" at ").text(iso8601_utc(common::unix_now_ns())).raw(".</footer>\n");
  p.raw("<script type=\"application/json\" id=\"codeprof-data\">").raw(json_in_script(chart_data(s))).raw("</script>\n");
  p.raw("<script>").raw(html_assets::script()).raw("</script>\n</body>\n</html>\n");
  return p.take();
}

}  // namespace codeprof::io
