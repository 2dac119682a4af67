// Reads the JSON report back into a Snapshot and Findings. Every value is checked for its type
// and range; the first problem becomes one ReportError line naming the file, the key path and
// what was expected. Keys the reader does not know are ignored (newer minor additions).
#include "io/report_reader.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "io/report_schema.hpp"

namespace codeprof::io {
namespace {

using Json = nlohmann::json;

// A value in the document with the path that leads to it, for error messages.
struct Node {
  const Json& value;
  std::string path;
  Node at(std::size_t i) const { return {value.at(i), path + "[" + std::to_string(i) + "]"}; }
  std::string join(std::string_view key) const { return path.empty() ? std::string(key) : path + "." + std::string(key); }
};

class Parser {
 public:
  explicit Parser(const std::string& name) : name_(name) {}

  [[noreturn]] void fail(const std::string& path, const std::string& expected, const Json* got) const {
    std::string msg = name_ + ": " + (path.empty() ? "top level" : path) + ": expected " + expected;
    if (got) {
      msg += ", got ";
      msg += got->type_name();
      // Only scalars are shown: dumping a deeply nested value would recurse as deep as it goes.
      if (!got->is_structured()) {
        std::string shown = got->dump(-1, ' ', false, Json::error_handler_t::replace);
        if (shown.size() > 40) shown = shown.substr(0, 37) + "...";
        msg += " " + shown;
      }
    }
    throw ReportError(msg);
  }

  // ---- shape
  void expect_object(const Node& n) const {
    if (!n.value.is_object()) fail(n.path, "an object", &n.value);
  }
  // The member, or nullptr when it is absent (and not required).
  const Json* member(const Node& n, std::string_view key, bool required) const {
    expect_object(n);
    const auto it = n.value.find(std::string(key));
    if (it == n.value.end()) {
      if (required) fail(n.join(key), "this key (it is required)", nullptr);
      return nullptr;
    }
    return &*it;
  }
  // Calls f(Node) for each element of an array member (absent: nothing).
  template <typename F>
  void each(const Node& n, std::string_view key, bool required, F&& f) const {
    const Json* v = member(n, key, required);
    if (!v) return;
    const Node arr{*v, n.join(key)};
    if (!v->is_array()) fail(arr.path, "an array", v);
    for (std::size_t i = 0; i < v->size(); ++i) f(arr.at(i));
  }

  // ---- scalars
  std::uint64_t u64(const Node& n, std::string_view key, bool required = false) const {
    const Json* v = member(n, key, required);
    if (!v) return 0;
    if (v->is_number_unsigned()) return v->get<std::uint64_t>();
    if (v->is_number_integer() && v->get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(v->get<std::int64_t>());
    fail(n.join(key), "a non-negative integer", v);
  }
  std::int64_t i64(const Node& n, std::string_view key, bool required = false, std::int64_t absent = 0) const {
    const Json* v = member(n, key, required);
    if (!v) return absent;
    if (v->is_number_integer() && !v->is_number_unsigned()) return v->get<std::int64_t>();
    if (v->is_number_unsigned() && v->get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX))
      return static_cast<std::int64_t>(v->get<std::uint64_t>());
    fail(n.join(key), "an integer within 64 bits", v);
  }
  int i32(const Node& n, std::string_view key, bool required = false, int absent = 0) const {
    const std::int64_t v = i64(n, key, required, absent);
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
      fail(n.join(key), "an integer within 32 bits", member(n, key, false));
    return static_cast<int>(v);
  }
  std::uint32_t u32(const Node& n, std::string_view key, bool required = false) const {
    const std::uint64_t v = u64(n, key, required);
    if (v > std::numeric_limits<std::uint32_t>::max())
      fail(n.join(key), "a non-negative integer within 32 bits", member(n, key, false));
    return static_cast<std::uint32_t>(v);
  }
  // A number; null stands for a value that was not finite (NaN).
  double real(const Node& n, std::string_view key, bool required = false) const {
    const Json* v = member(n, key, required);
    if (!v) return 0.0;
    if (v->is_null()) return std::numeric_limits<double>::quiet_NaN();
    if (v->is_number()) return v->get<double>();
    fail(n.join(key), "a number", v);
  }
  std::string str(const Node& n, std::string_view key, bool required = false) const {
    const Json* v = member(n, key, required);
    if (!v) return {};
    if (!v->is_string()) fail(n.join(key), "a string", v);
    return v->get<std::string>();
  }
  bool boolean(const Node& n, std::string_view key, bool absent) const {
    const Json* v = member(n, key, false);
    if (!v) return absent;
    if (!v->is_boolean()) fail(n.join(key), "true or false", v);
    return v->get<bool>();
  }

  // ---- seconds in the report, nanoseconds in the Snapshot
  std::int64_t ns(const Node& n, std::string_view key, bool required = false) const {
    const double s = seconds(n, key, required);
    const double v = std::round(s * 1e9);
    if (!(std::fabs(v) < 9.2e18)) fail(n.join(key), "seconds within +-9.2e9", member(n, key, false));
    return static_cast<std::int64_t>(v);
  }
  std::uint64_t uns(const Node& n, std::string_view key, bool required = false) const {
    const double s = seconds(n, key, required);
    const double v = std::round(s * 1e9);
    constexpr double kTwoTo64 = 18446744073709551616.0;
    if (v < 0 || v > kTwoTo64 * (1 + 1e-12))
      fail(n.join(key), "non-negative seconds below 1.8e10", member(n, key, false));
    return v >= kTwoTo64 ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(v);
  }
  // A resource value scaled back to its raw integer unit.
  std::int64_t raw(const Node& n, std::string_view key, double scale) const {
    const double v = std::round(real(n, key, true) / scale);
    if (!(std::fabs(v) < 9.2e18)) fail(n.join(key), "a value within 64 bits", member(n, key, false));
    return static_cast<std::int64_t>(v);
  }

  Category category(const Node& n, std::string_view key) const {
    const std::string s = str(n, key, true);
    if (const auto c = category_from_string(s)) return *c;
    std::string names;
    for (const auto name : kCategoryNames) names += (names.empty() ? "" : ", ") + std::string(name);
    fail(n.join(key), "a category (" + names + ")", member(n, key, false));
  }

 private:
  double seconds(const Node& n, std::string_view key, bool required) const {
    const Json* v = member(n, key, required);
    if (!v) return 0.0;
    if (!v->is_number()) fail(n.join(key), "a number of seconds", v);
    return v->get<double>();
  }
  const std::string& name_;
};

RunInfo read_run(const Parser& p, const Node& n) {
  RunInfo run;
  p.expect_object(n);
  run.host = p.str(n, "host");
  run.pid = p.i64(n, "pid");
  run.command = p.str(n, "command");
  run.rank = p.i32(n, "rank", false, -1);
  run.world_size = p.i32(n, "world_size", false, -1);
  run.start_unix_ns = p.i64(n, "start_unix_ns");
  run.wall_ns = p.ns(n, "wall_time");
  run.version = p.str(n, "version");
  run.enabled = p.boolean(n, "enabled", true);
  if (p.member(n, "categories_enabled", false)) {
    run.category_mask = 0;
    p.each(n, "categories_enabled", false, [&](const Node& c) {
      if (!c.value.is_string()) p.fail(c.path, "a category name", &c.value);
      const auto cat = category_from_string(c.value.get<std::string>());
      if (!cat) p.fail(c.path, "a category name such as data_loading", &c.value);
      run.category_mask |= category_bit(*cat);
    });
  }
  run.hardware_threads = p.i32(n, "hardware_threads");
  p.each(n, "unavailable", false, [&](const Node& u) {
    run.unavailable.push_back({p.str(u, "what", true), p.str(u, "reason")});
  });
  p.each(n, "gpus", false, [&](const Node& g) {
    run.gpus.push_back({p.i32(g, "index"), p.str(g, "name"), p.u64(g, "memory_total_bytes")});
  });
  if (const Json* meta = p.member(n, "metadata", false)) {
    const Node m{*meta, n.join("metadata")};
    p.expect_object(m);
    for (const auto& [key, value] : meta->items()) {
      if (!value.is_string()) p.fail(m.join(key), "a string", &value);
      run.metadata[key] = value.get<std::string>();
    }
  }
  return run;
}

OperationStats read_operation(const Parser& p, const Node& n) {
  OperationStats op;
  op.id = p.u32(n, "id", true);
  op.name = p.str(n, "name", true);
  op.category = p.category(n, "type");
  op.file = p.str(n, "file");
  op.line = p.u32(n, "line");
  op.count = p.u64(n, "count", true);
  op.total_ns = p.uns(n, "total_time", true);
  op.self_ns = p.uns(n, "self_time");
  op.mean_ns = p.real(n, "avg_duration") * 1e9;
  op.min_ns = p.uns(n, "min_duration");
  op.max_ns = p.uns(n, "max_duration");
  op.stddev_ns = p.real(n, "stddev_duration") * 1e9;
  op.p50_ns = p.uns(n, "p50_duration");
  op.p90_ns = p.uns(n, "p90_duration");
  op.p95_ns = p.uns(n, "p95_duration");
  op.p99_ns = p.uns(n, "p99_duration");
  op.first_seen_ns = p.ns(n, "first_seen");
  op.last_seen_ns = p.ns(n, "last_seen");
  p.each(n, "histogram", false, [&](const Node& b) {
    op.histogram.push_back({p.uns(b, "lower", true), p.uns(b, "upper", true), p.u64(b, "count", true)});
  });
  p.each(n, "series", false, [&](const Node& w) {
    op.series.push_back({p.ns(w, "start", true), p.ns(w, "width", true), p.u64(w, "count", true),
                         p.uns(w, "total", true), p.uns(w, "min"), p.uns(w, "max")});
  });
  p.each(n, "slowest", false, [&](const Node& c) {
    op.slowest.push_back({p.ns(c, "start", true), p.uns(c, "duration", true), p.u32(c, "thread")});
  });
  if (const Json* res = p.member(n, "resources", false)) {
    const Node r{*res, n.join("resources")};
    p.expect_object(r);
    for (const auto& info : kResourceMetrics) {
      const Json* m = p.member(r, info.key, false);
      if (!m) continue;
      const Node mn{*m, r.join(info.key)};
      ResourceStat& stat = op.resources[index_of(info.metric)];
      stat.samples = p.u64(mn, "samples", true);
      stat.total = p.raw(mn, "total", info.scale);
      stat.min = p.raw(mn, "min", info.scale);
      stat.max = p.raw(mn, "max", info.scale);
    }
  }
  return op;
}

void read_findings(const Parser& p, const Node& top, Findings& f) {
  p.each(top, "bottlenecks", false, [&](const Node& n) {
    Bottleneck b;
    b.operation = p.str(n, "operation", true);
    b.type = p.str(n, "type", true);
    b.avg_duration = p.real(n, "avg_duration", true);
    b.optimization_priority = p.str(n, "optimization_priority", true);
    b.severity = p.str(n, "severity");
    b.p95_duration = p.real(n, "p95_duration");
    b.calls = p.u64(n, "calls");
    b.total_time = p.real(n, "total_time");
    b.self_time = p.real(n, "self_time");
    b.share_of_wall = p.real(n, "share_of_wall");
    b.reason = p.str(n, "reason");
    f.bottlenecks.push_back(std::move(b));
  });
  p.each(top, "recommendations", false, [&](const Node& n) {
    Recommendation r;
    r.id = p.str(n, "id", true);
    r.type = p.str(n, "type");
    r.priority = p.str(n, "priority", true);
    r.title = p.str(n, "title", true);
    p.each(n, "evidence", false, [&](const Node& e) {
      r.evidence.push_back({p.str(e, "metric", true), p.real(e, "value", true), p.str(e, "unit"), p.str(e, "operation")});
    });
    r.evidence_text = p.str(n, "evidence_text");
    r.action = p.str(n, "action");
    f.recommendations.push_back(std::move(r));
  });
  if (const Json* c = p.member(top, "classification", false)) {
    const Node cn{*c, "classification"};
    Classification& cl = f.classification;
    cl.summary = p.str(cn, "summary");
    if (const Json* in = p.member(cn, "input", false)) {
      const Node n{*in, cn.join("input")};
      cl.input.level = p.str(n, "level");
      cl.input.input_share = p.real(n, "input_share");
      cl.input.steps = p.u64(n, "steps");
      cl.input.step_time = p.real(n, "step_time");
      cl.input.step_source = p.str(n, "step_source");
    }
    if (const Json* gpu = p.member(cn, "gpu", false)) {
      const Node n{*gpu, cn.join("gpu")};
      cl.gpu.available = p.boolean(n, "available", false);
      cl.gpu.idle_share = p.real(n, "idle_share");
      cl.gpu.mean_utilization = p.real(n, "mean_utilization");
      cl.gpu.peak_memory_fraction = p.real(n, "peak_memory_fraction");
      cl.gpu.source = p.str(n, "source");
    }
    if (const Json* cpu = p.member(cn, "cpu", false)) {
      const Node n{*cpu, cn.join("cpu")};
      cl.cpu.mean_efficiency = p.real(n, "mean_efficiency");
      cl.cpu.involuntary_switches_per_s = p.real(n, "involuntary_switches_per_s");
      cl.cpu.contention_suspected = p.boolean(n, "contention_suspected", false);
      p.each(n, "waiting_operations", false, [&](const Node& w) {
        if (!w.value.is_string()) p.fail(w.path, "an operation name", &w.value);
        cl.cpu.waiting_operations.push_back(w.value.get<std::string>());
      });
    }
  }
  p.each(top, "trends", false, [&](const Node& n) {
    f.trends.push_back({p.str(n, "kind", true), p.str(n, "operation"), p.str(n, "description"),
                        p.real(n, "magnitude"), p.real(n, "at"), p.str(n, "method")});
  });
}

void read_snapshot_parts(const Parser& p, const Node& top, Snapshot& s) {
  std::set<std::uint32_t> ids;
  p.each(top, "operations", true, [&](const Node& n) {
    s.operations.push_back(read_operation(p, n));
    if (!ids.insert(s.operations.back().id).second) p.fail(n.join("id"), "an id not used by another operation", &n.value.at("id"));
  });
  std::sort(s.operations.begin(), s.operations.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  const auto known = [&](const Node& n, std::string_view key) {
    const std::uint32_t id = p.u32(n, key, true);
    if (!ids.count(id)) p.fail(n.join(key), "the id of an operation in operations[]", &n.value.at(std::string(key)));
    return id;
  };

  p.each(top, "timeline", false, [&](const Node& n) {
    TimelineSeries series;
    series.name = p.str(n, "name", true);
    series.unit = p.str(n, "unit");
    p.each(n, "t", true, [&](const Node& t) {
      if (!t.value.is_number()) p.fail(t.path, "a number of seconds", &t.value);
      const double v = std::round(t.value.get<double>() * 1e9);
      if (!(std::fabs(v) < 9.2e18)) p.fail(t.path, "seconds within +-9.2e9", &t.value);
      series.t_ns.push_back(static_cast<std::int64_t>(v));
    });
    p.each(n, "values", true, [&](const Node& v) {
      if (v.value.is_null()) series.values.push_back(std::numeric_limits<double>::quiet_NaN());
      else if (v.value.is_number()) series.values.push_back(v.value.get<double>());
      else p.fail(v.path, "a number", &v.value);
    });
    if (series.t_ns.size() != series.values.size())
      p.fail(n.join("values"), "as many values as times (" + std::to_string(series.t_ns.size()) + ")", nullptr);
    s.timelines.push_back(std::move(series));
  });
  p.each(top, "call_tree", false, [&](const Node& n) {
    CallEdge e;
    const Json* parent = p.member(n, "parent", true);
    e.parent_id = parent->is_null() ? kRootOperation : known(n, "parent");
    e.child_id = known(n, "child");
    e.count = p.u64(n, "count", true);
    e.total_ns = p.uns(n, "total_time");
    s.call_tree.push_back(e);
  });
  p.each(top, "threads", false, [&](const Node& n) {
    ThreadStats t;
    t.index = p.u32(n, "index", true);
    t.os_tid = p.u64(n, "os_tid");
    t.name = p.str(n, "name");
    t.events = p.u64(n, "events");
    t.dropped = p.u64(n, "dropped");
    t.top_level_ns = p.uns(n, "busy_time");
    p.each(n, "operations", false, [&](const Node& o) {
      t.operations.push_back({known(o, "id"), p.u64(o, "count", true), p.uns(o, "total_time"), p.uns(o, "self_time")});
    });
    s.threads.push_back(std::move(t));
  });
  p.each(top, "steps", false, [&](const Node& n) {
    s.steps.push_back({p.i64(n, "index", true), p.ns(n, "start", true), p.ns(n, "end", true)});
  });
  p.each(top, "devices", false, [&](const Node& n) {
    DeviceActivity d;
    d.device = p.i32(n, "device", true);
    d.stream = p.i32(n, "stream", false, -1);
    d.busy_ns = p.ns(n, "busy_time");
    d.kernel_ns = p.ns(n, "kernel_time");
    d.memcpy_ns = p.ns(n, "memcpy_time");
    d.memset_ns = p.ns(n, "memset_time");
    d.memcpy_bytes = p.u64(n, "memcpy_bytes");
    d.kernels = p.u64(n, "kernels");
    d.busy_in_steps_ns = p.ns(n, "busy_in_steps_time");
    s.devices.push_back(d);
  });
  s.sync_ns = p.ns(top, "sync_time");
  if (const Json* counts = p.member(top, "event_counts", false)) {
    const Node n{*counts, "event_counts"};
    s.events_recorded = p.u64(n, "recorded");
    s.events_dropped = p.u64(n, "dropped");
    s.events_recorded_total = p.u64(n, "recorded_total");
    s.events_dropped_total = p.u64(n, "dropped_total");
    s.trace_events_dropped = p.u64(n, "trace_dropped");
  }
  // dropped_events is the seed's key; it wins if both are present and differ.
  if (p.member(top, "dropped_events", false)) s.events_dropped = p.u64(top, "dropped_events");
}

std::string strip_nlohmann_prefix(std::string msg) {
  // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> "parse error at ..."
  if (!msg.empty() && msg.front() == '[') {
    const auto end = msg.find("] ");
    if (end != std::string::npos) msg.erase(0, end + 2);
  }
  return msg;
}

}  // namespace

bool looks_like_json_report(std::string_view head) noexcept {
  std::size_t i = 0;
  if (head.substr(0, 3) == "\xEF\xBB\xBF") i = 3;  // UTF-8 byte order mark
  const auto skip_space = [&] {
    while (i < head.size() && (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' || head[i] == '\t')) ++i;
  };
  skip_space();
  if (i >= head.size() || head[i] != '{') return false;
  ++i;
  skip_space();
  return head.substr(i, 16) == "\"schema_version\"";
}

Report parse_report(std::string_view text, const std::string& name) {
  const Parser p(name);
  Json doc;
  try {
    doc = Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    // nlohmann counts bytes from 1; offsets here count from 0 (the byte where parsing stopped).
    const std::size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    throw ReportError(name + ": not valid JSON at byte " + std::to_string(offset) + ": " +
                      strip_nlohmann_prefix(e.what()));
  } catch (const Json::out_of_range& e) {  // e.g. a number too large for a double: 1e606
    throw ReportError(name + ": not valid JSON: " + strip_nlohmann_prefix(e.what()));
  }
  const Node top{doc, ""};
  if (!doc.is_object()) p.fail("", "a JSON object (a codeprof report)", &doc);
  if (!doc.contains("schema_version")) {
    if (doc.contains("traceEvents"))
      throw ReportError(name + ": expected a codeprof report (key schema_version), found a Chrome trace "
                               "(key traceEvents): read it as a trace");
    p.fail("schema_version", "this key (a codeprof report starts with it)", nullptr);
  }
  Report report;
  report.schema_version = p.i32(top, "schema_version", true);
  if (report.schema_version < 1 || report.schema_version > kReportSchemaVersion)
    p.fail("schema_version", "a version from 1 to " + std::to_string(kReportSchemaVersion) +
                                 " (a newer codeprof wrote this report?)",
           &doc.at("schema_version"));
  report.generated_at = p.str(top, "generated_at");

  Snapshot& s = report.snapshot;
  const Node run{*p.member(top, "run", true), "run"};
  s.run = read_run(p, run);
  const std::string original_source = p.str(run, "source");
  s.run.source = "codeprof-report";
  s.run.source_path = name;
  if (!original_source.empty()) s.run.metadata.emplace("report_source", original_source);
  if (!report.generated_at.empty()) s.run.metadata.emplace("report_generated_at", report.generated_at);
  read_snapshot_parts(p, top, s);
  read_findings(p, top, report.findings);
  return report;
}

Report read_report(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ReportError(path + ": cannot open the file for reading");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw ReportError(path + ": read error");
  const std::string text = std::move(buffer).str();
  if (text.size() >= 2 && static_cast<unsigned char>(text[0]) == 0x1f && static_cast<unsigned char>(text[1]) == 0x8b)
    throw ReportError(path + ": byte 0: expected a plain JSON codeprof report, found gzip data (a compressed trace?)");
  return parse_report(text, path);
}

Snapshot read_json_report(const std::string& path) { return read_report(path).snapshot; }

Snapshot parse_json_report(std::string_view text, const std::string& name) { return parse_report(text, name).snapshot; }

}  // namespace codeprof::io
