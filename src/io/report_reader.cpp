// Reads the JSON report back into a Snapshot and Findings. Every value is checked for its type
// and range; the first problem becomes one ReportError line naming the file, the key path and
// what was expected. Keys the reader does not know are ignored (newer minor additions).
//
// The document is streamed (nlohmann's SAX parser over the byte source; .json.gz inflates on the
// way): each element of the large top-level arrays (operations, timeline, call_tree, ...) becomes
// a small JSON value of its own, is read, and is dropped, and unknown keys are skipped without
// being kept, so memory follows what the report holds, not how its text is laid out. Nesting
// deeper than 1024 levels (the trace reader's limit; a report needs 5), duplicate keys, and a
// string, number or whitespace run longer than 16 MiB are refused.
#include "io/report_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <streambuf>

#include "codeprof/trace_reader.hpp"
#include "common/number_format.hpp"
#include "common/one_line.hpp"
#include "io/report_schema.hpp"
#include "io/trace/input.hpp"

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
      if (!got->is_structured() && !got->is_null()) {
        std::string shown = got->dump(-1, ' ', false, Json::error_handler_t::replace);
        if (shown.size() > 40) shown = shown.substr(0, 37) + "...";
        msg += " " + shown;
      }
    }
    throw ReportError(common::one_line(msg));
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
  // A share documented as 0..1 (null: not finite).
  double fraction(const Node& n, std::string_view key, bool required = false) const {
    const double v = real(n, key, required);
    if (v < 0.0 || v > 1.0) fail(n.join(key), "a number from 0 to 1", member(n, key, false));
    return v;
  }
  // A count kept as int (hardware threads): u64's checks, then int's range.
  int count32(const Node& n, std::string_view key) const {
    const std::uint64_t v = u64(n, key);
    if (v > static_cast<std::uint64_t>(std::numeric_limits<int>::max()))
      fail(n.join(key), "a non-negative integer up to " + std::to_string(std::numeric_limits<int>::max()), member(n, key, false));
    return static_cast<int>(v);
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

  // ---- seconds in the report, nanoseconds in the Snapshot. null (a value that was not a number)
  // cannot be held in whole nanoseconds: in an optional key it reads as unknown, like an absent
  // key (0); a required key refuses it.
  std::int64_t ns(const Node& n, std::string_view key, bool required = false) const {
    const double s = seconds(n, key, required);
    if (std::isnan(s)) return 0;
    const double v = std::round(s * 1e9);
    if (!(std::fabs(v) < 9.2e18)) fail(n.join(key), "seconds within +-9.2e9", member(n, key, false));
    return static_cast<std::int64_t>(v);
  }
  std::uint64_t uns(const Node& n, std::string_view key, bool required = false) const {
    const double s = seconds(n, key, required);
    if (std::isnan(s)) return 0;
    const double v = std::round(s * 1e9);
    constexpr double kTwoTo64 = 18446744073709551616.0;
    if (v < 0 || v > kTwoTo64 * (1 + 1e-12))
      fail(n.join(key), "non-negative seconds below 1.8e10", member(n, key, false));
    return v >= kTwoTo64 ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(v);
  }
  // A resource value scaled back to its raw integer unit.
  std::int64_t raw(const Node& n, std::string_view key, double scale) const {
    const double r = real(n, key, true);
    if (std::isnan(r)) return 0;  // not known (null)
    const double v = std::round(r / scale);
    if (!(std::fabs(v) < 9.2e18)) fail(n.join(key), "a value within 64 bits", member(n, key, false));
    return static_cast<std::int64_t>(v);
  }

  // One of an enum's spellings (names[i] is the enum value i); `absent` when the key is not there.
  template <typename Enum, std::size_t N>
  Enum one_of(const Node& n, std::string_view key, bool required, const std::array<std::string_view, N>& names,
              Enum absent) const {
    const Json* v = member(n, key, required);
    if (!v) return absent;
    if (v->is_string())
      if (const auto e = detail::enum_from_name<Enum>(names, v->get_ref<const std::string&>())) return *e;
    fail(n.join(key), detail::enum_names_list(names), v);
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
    if (v->is_null() && !required) return std::numeric_limits<double>::quiet_NaN();
    if (!v->is_number()) fail(n.join(key), required ? "a number of seconds (required: null is not enough)" : "a number of seconds", v);
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
  run.local_rank = p.i32(n, "local_rank", false, -1);
  run.job_name = p.str(n, "job_name");
  run.start_unix_ns = p.i64(n, "start_unix_ns");
  run.wall_ns = p.ns(n, "wall_time");
  if (run.wall_ns < 0) p.fail(n.join("wall_time"), "non-negative seconds", p.member(n, "wall_time", false));
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
  run.hardware_threads = p.count32(n, "hardware_threads");
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

// ---- line-level sampling (docs/REPORT_SCHEMA.md: operations[].hot_*, sampling, profile)

std::vector<HotSpot> read_hot_spots(const Parser& p, const Node& n, std::string_view key) {
  std::vector<HotSpot> spots;
  p.each(n, key, false, [&](const Node& h) {
    spots.push_back({p.str(h, "function", true), p.str(h, "file"), p.u32(h, "line"), p.u64(h, "samples", true),
                     p.fraction(h, "share")});
  });
  return spots;
}

std::vector<AllocSite> read_alloc_sites(const Parser& p, const Node& n, std::string_view key) {
  std::vector<AllocSite> sites;
  p.each(n, key, false, [&](const Node& h) {
    sites.push_back({p.str(h, "function", true), p.str(h, "file"), p.u32(h, "line"), p.u64(h, "samples"),
                     p.u64(h, "bytes", true), p.fraction(h, "share")});
  });
  return sites;
}

void read_operation_samples(const Parser& p, const Node& n, OperationStats& op) {
  op.cpu_samples = p.u64(n, "cpu_samples");
  op.hot_functions = read_hot_spots(p, n, "hot_functions");
  op.hot_lines = read_hot_spots(p, n, "hot_lines");
  op.alloc_samples = p.u64(n, "alloc_samples");
  op.alloc_sampled_bytes = p.u64(n, "alloc_sampled_bytes");
  op.live_sampled_bytes = p.u64(n, "live_sampled_bytes");
  op.peak_live_sampled_bytes = p.i64(n, "peak_live_sampled_bytes");
  op.hot_allocations = read_alloc_sites(p, n, "hot_allocations");
  op.live_at_end = read_alloc_sites(p, n, "live_at_end");
}

void read_sampling(const Parser& p, const Node& top, SamplingInfo& info) {
  const Json* v = p.member(top, "sampling", false);
  if (!v) return;
  const Node n{*v, "sampling"};
  info.enabled = p.boolean(n, "enabled", false);
  info.unwinder = p.str(n, "unwinder");
  p.each(n, "sources", false, [&](const Node& src) {
    info.sources.push_back({p.str(src, "name", true), p.real(src, "frequency_hz"), p.u64(src, "threads"), p.u64(src, "samples"),
                            p.u64(src, "dropped"), p.u64(src, "inherited_threads")});
    const SamplingSource& read = info.sources.back();
    if (read.inherited_threads > read.threads)  // counts some of `threads`
      p.fail(src.join("inherited_threads"), "at most threads (" + std::to_string(read.threads) + ")",
             p.member(src, "inherited_threads", false));
  });
  info.samples = p.u64(n, "samples");
  info.dropped = p.u64(n, "dropped");
  info.alloc_interval_bytes = p.u64(n, "alloc_interval_bytes");
  info.alloc_samples = p.u64(n, "alloc_samples");
  info.alloc_peak_live_bytes = p.i64(n, "alloc_peak_live_bytes");
  info.alloc_peak_at_ns = p.ns(n, "alloc_peak_at");
  info.sampler_cpu_ns = p.uns(n, "sampler_cpu");
  p.each(n, "unavailable", false, [&](const Node& u) {
    info.unavailable.push_back({p.str(u, "what", true), p.str(u, "reason")});
  });
}

// An array of non-negative 32-bit integers; each checked by `valid` (message: `expected`).
template <typename Valid>
std::vector<std::uint32_t> read_ids(const Parser& p, const Node& n, std::string_view key, const std::string& expected,
                                    Valid&& valid) {
  std::vector<std::uint32_t> ids;
  p.each(n, key, false, [&](const Node& e) {
    if (!e.value.is_number_unsigned() || e.value.get<std::uint64_t>() > 0xFFFFFFFFull ||
        !valid(static_cast<std::uint32_t>(e.value.get<std::uint64_t>())))
      p.fail(e.path, expected, &e.value);
    ids.push_back(static_cast<std::uint32_t>(e.value.get<std::uint64_t>()));
  });
  return ids;
}

void read_profile(const Parser& p, const Node& top, SampleProfile& profile) {
  const Json* v = p.member(top, "profile", false);
  if (!v) return;
  const Node n{*v, "profile"};
  std::set<std::uint32_t> ops;
  p.each(n, "operations", false, [&](const Node& o) {
    profile.operations.push_back({p.u32(o, "id", true), p.str(o, "name", true), p.category(o, "type")});
    if (!ops.insert(profile.operations.back().id).second)
      p.fail(o.join("id"), "an id not used by another profile operation", &o.value.at("id"));
  });
  p.each(n, "frames", false, [&](const Node& f) {
    profile.frames.push_back({p.str(f, "function", true), p.str(f, "file"), p.u32(f, "line"), p.str(f, "module"),
                              p.boolean(f, "inlined", false)});
  });
  const std::size_t frame_count = profile.frames.size();
  p.each(n, "stacks", false, [&](const Node& st) {
    ProfileStack stack;
    stack.frames = read_ids(p, st, "frames", "an index into profile.frames (below " + std::to_string(frame_count) + ")",
                            [&](std::uint32_t i) { return i < frame_count; });
    stack.operations = read_ids(p, st, "operations", "the id of an operation in profile.operations[]",
                                [&](std::uint32_t id) { return ops.count(id) > 0; });
    stack.thread = p.u64(st, "thread");
    stack.cpu_samples = p.u64(st, "cpu_samples");
    stack.alloc_samples = p.u64(st, "alloc_samples");
    stack.alloc_bytes = p.u64(st, "alloc_bytes");
    stack.live_bytes = p.u64(st, "live_bytes");
    stack.alloc_objects = p.u64(st, "alloc_objects");
    stack.live_objects = p.u64(st, "live_objects");
    profile.stacks.push_back(std::move(stack));
  });
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
  if (op.count > 0 && op.min_ns > op.max_ns && p.member(n, "max_duration", false))
    p.fail(n.join("min_duration"), "at most max_duration (" + common::format_seconds(op.max_ns / 1e9) + ")",
           p.member(n, "min_duration", false));
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
  read_operation_samples(p, n, op);
  return op;
}


// ---------------------------------------------------------------- per element of the top-level arrays

Bottleneck read_bottleneck(const Parser& p, const Node& n) {
  Bottleneck b;
  b.operation = p.str(n, "operation", true);
  b.type = p.category(n, "type");
  b.avg_duration = p.real(n, "avg_duration", true);
  b.optimization_priority = p.one_of(n, "optimization_priority", true, kPriorityNames, Priority::Low);
  b.severity = p.one_of(n, "severity", false, kSeverityNames, Severity::Share);
  b.p95_duration = p.real(n, "p95_duration");
  b.calls = p.u64(n, "calls");
  b.total_time = p.real(n, "total_time");
  b.self_time = p.real(n, "self_time");
  b.share_of_wall = p.fraction(n, "share_of_wall");
  b.reason = p.str(n, "reason");
  return b;
}

Recommendation read_recommendation(const Parser& p, const Node& n) {
  Recommendation r;
  r.id = p.str(n, "id", true);
  r.type = p.one_of(n, "type", false, kRecommendationTypeNames, RecommendationType::System);
  r.priority = p.one_of(n, "priority", true, kPriorityNames, Priority::Low);
  r.title = p.str(n, "title", true);
  p.each(n, "evidence", false, [&](const Node& e) {
    // A spelling of no EvidenceUnit is a custom metric's unit; finish() checks the report has that metric.
    r.evidence.push_back(metric_evidence(p.str(e, "metric", true), p.real(e, "value", true), p.str(e, "unit")));
    r.evidence.back().operation = p.str(e, "operation");
  });
  r.evidence_text = p.str(n, "evidence_text");
  r.action = p.str(n, "action");
  return r;
}

Trend read_trend(const Parser& p, const Node& n) {
  return {p.one_of(n, "kind", true, kTrendKindNames, TrendKind::Slowdown), p.str(n, "operation"), p.str(n, "description"),
          p.real(n, "magnitude"),  p.real(n, "at"),        p.str(n, "method")};
}

void read_classification(const Parser& p, const Node& cn, Classification& cl) {
  p.expect_object(cn);
  cl.summary = p.str(cn, "summary");
  if (const Json* in = p.member(cn, "input", false)) {
    const Node n{*in, cn.join("input")};
    cl.input.level = p.one_of(n, "level", false, kInputBoundNames, InputBound::Unknown);
    cl.input.input_share = p.fraction(n, "input_share");
    cl.input.steps = p.u64(n, "steps");
    cl.input.step_time = p.real(n, "step_time");
    cl.input.step_source = p.str(n, "step_source");
  }
  if (const Json* gpu = p.member(cn, "gpu", false)) {
    const Node n{*gpu, cn.join("gpu")};
    cl.gpu.available = p.boolean(n, "available", false);
    cl.gpu.idle_share = p.fraction(n, "idle_share");
    cl.gpu.mean_utilization = p.real(n, "mean_utilization");
    cl.gpu.peak_memory_fraction = p.real(n, "peak_memory_fraction");
    cl.gpu.source = p.one_of(n, "source", false, kGpuSourceNames, GpuSource::None);
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

TimelineSeries read_timeline(const Parser& p, const Node& n) {
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
  return series;
}

// Operation ids are checked once all operations are known (a report's keys may come in any order).
CallEdge read_call_edge(const Parser& p, const Node& n) {
  CallEdge e;
  const Json* parent = p.member(n, "parent", true);
  e.parent_id = parent->is_null() ? kRootOperation : p.u32(n, "parent", true);
  e.child_id = p.u32(n, "child", true);
  e.count = p.u64(n, "count", true);
  e.total_ns = p.uns(n, "total_time");
  return e;
}

ThreadStats read_thread(const Parser& p, const Node& n) {
  ThreadStats t;
  t.index = p.u32(n, "index", true);
  t.os_tid = p.u64(n, "os_tid");
  t.name = p.str(n, "name");
  t.events = p.u64(n, "events");
  t.dropped = p.u64(n, "dropped");
  t.top_level_ns = p.uns(n, "busy_time");
  p.each(n, "operations", false, [&](const Node& o) {
    t.operations.push_back({p.u32(o, "id", true), p.u64(o, "count", true), p.uns(o, "total_time"), p.uns(o, "self_time")});
  });
  return t;
}

StepSpan read_step(const Parser& p, const Node& n) {
  StepSpan st{p.i64(n, "index", true), p.ns(n, "start", true), p.ns(n, "end", true)};
  if (st.end_ns < st.start_ns) p.fail(n.join("end"), "a time at or after start", p.member(n, "end", false));
  return st;
}

DeviceActivity read_device(const Parser& p, const Node& n) {
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
  return d;
}

// ---------------------------------------------------------------- streaming

// The byte source as a std::streambuf, for nlohmann's stream input.
class SourceBuffer final : public std::streambuf {
 public:
  SourceBuffer(trace::ByteSource& source, const std::string& name) : source_(source), name_(name) {}
  std::uint64_t consumed() const noexcept { return consumed_; }
  bool at_end() const noexcept { return at_end_; }

  // The longest string, number or run of whitespace a report may hold. nlohmann's lexer keeps the
  // whole current token (and the whitespace before it) in memory, so without a bound a few hundred
  // KiB of gzip that inflate to one 600 MB name took 2.5 GB to read. A report's longest texts (a
  // command line, a demangled C++ name) are far shorter.
  static constexpr std::uint64_t kMaxTokenBytes = 16u << 20;

 private:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    const std::size_t got = source_.read(buffer_, sizeof buffer_);
    if (got == 0) {
      at_end_ = true;
      return traits_type::eof();
    }
    check_token_lengths(got);
    consumed_ += got;
    setg(buffer_, buffer_, buffer_ + got);
    return traits_type::to_int_type(*gptr());
  }

  // Follows strings (with their escapes) and the bytes between structural characters across
  // chunks; refuses a run longer than kMaxTokenBytes before the lexer buffers it.
  void check_token_lengths(std::size_t got) {
    for (std::size_t i = 0; i < got; ++i) {
      const char c = buffer_[i];
      if (in_string_) {
        if (escaped_) escaped_ = false;
        else if (c == '\\') escaped_ = true;
        else if (c == '"') {
          in_string_ = false;
          run_ = 0;
        }
      } else if (c == '"') {
        in_string_ = true;
        run_ = 0;
      } else if (c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == ':') {
        run_ = 0;
      }
      if (++run_ > kMaxTokenBytes)
        throw ReportError(name_ + ": " + (in_string_ ? "a string" : "a number, name or run of whitespace") +
                          " longer than 16 MiB at byte " + std::to_string(consumed_ + i) +
                          " (expected the short names and texts of a codeprof report)");
    }
  }

  trace::ByteSource& source_;
  const std::string& name_;
  char buffer_[64 * 1024];
  std::uint64_t consumed_ = 0;
  bool at_end_ = false;
  bool in_string_ = false;
  bool escaped_ = false;
  std::uint64_t run_ = 0;  // bytes since the last quote or structural character
};

// What the report's top level holds, gathered while it streams past.
struct Gathered {
  Json top = Json::object();  // the small top-level values (run, classification, ...), kept whole
  Report report;
  std::set<std::uint32_t> ids;
  bool has_schema_version = false;
  bool has_operations = false;
};

// The arrays read element by element, and what to do with each element.
enum class TopArray {
  None, Operations, Timeline, CallTree, Threads, Steps, Devices, Bottlenecks, Recommendations, Trends, Inconclusive
};

TopArray top_array(std::string_view key) {
  static constexpr std::pair<std::string_view, TopArray> kArrays[] = {
      {"operations", TopArray::Operations},   {"timeline", TopArray::Timeline},
      {"call_tree", TopArray::CallTree},       {"threads", TopArray::Threads},
      {"steps", TopArray::Steps},              {"devices", TopArray::Devices},
      {"bottlenecks", TopArray::Bottlenecks},  {"recommendations", TopArray::Recommendations},
      {"trends", TopArray::Trends},            {"inconclusive", TopArray::Inconclusive}};
  for (const auto& [name, kind] : kArrays)
    if (name == key) return kind;
  return TopArray::None;
}

bool kept_at_top(std::string_view key) {
  for (std::string_view k : {"schema_version", "generated_at", "run", "classification", "event_counts", "sync_time",
                             "dropped_events", "sampling", "profile", "alerts", "step_timing",
                             "custom_metrics"})
    if (k == key) return true;
  return false;
}

// nlohmann SAX handler. Frames: the open objects and arrays. A frame either builds a JSON value
// (`target`), collects the elements of a top-level array, or skips what it holds.
class ReportSax {
 public:
  static constexpr std::size_t kMaxDepth = 1024;

  ReportSax(const Parser& parser, const std::string& name, Gathered& out, const SourceBuffer& input)
      : p_(parser), name_(name), out_(out), input_(input) {}

  bool null() { return scalar(Json(nullptr)); }
  bool boolean(bool v) { return scalar(Json(v)); }
  bool number_integer(std::int64_t v) { return scalar(Json(v)); }
  bool number_unsigned(std::uint64_t v) { return scalar(Json(v)); }
  bool number_float(double v, const std::string&) { return scalar(Json(v)); }
  bool string(std::string& v) { return scalar(Json(std::move(v))); }
  bool binary(Json::binary_t&) { return scalar(Json(nullptr)); }  // not produced by JSON text

  bool start_object(std::size_t) { return open(true); }
  bool start_array(std::size_t) { return open(false); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(std::string& k) {
    Frame& f = frames_.back();
    if (f.role == Role::Top) {
      if (!top_keys_.insert(k).second) fail(k, "one '" + k + "' key, found it twice (duplicate key)");
      if (k == "traceEvents" && !out_.has_schema_version)
        throw ReportError(name_ + ": expected a codeprof report (key schema_version), found a Chrome trace "
                                  "(key traceEvents): read it as a trace");
      if (k == "schema_version") out_.has_schema_version = true;
      if (k == "operations") out_.has_operations = true;
    } else if (f.target && f.target->is_object() && f.target->contains(k)) {
      fail(path_of(frames_.size() - 1, k), "each key once, found '" + common::one_line(k) + "' twice (duplicate key)");
    }
    f.key = std::move(k);
    return true;
  }

  bool parse_error(std::size_t position, const std::string& last_token, const nlohmann::detail::exception& e) {
    const std::size_t offset = position > 0 ? position - 1 : 0;
    std::string what;
    if (e.id == 406) what = "a number too large for a double";
    else if (input_.at_end()) what = "the text ends early (a truncated file?)";
    else what = "unexpected '" + common::one_line(last_token.substr(0, 24)) + "'";
    throw ReportError(name_ + ": not valid JSON at byte " + std::to_string(offset) + ": " + what);
  }

 private:
  enum class Role { Top, Collect, Build, Skip };
  struct Frame {
    Role role;
    bool object = true;
    Json* target = nullptr;  // Build: the object or array being filled
    TopArray array = TopArray::None;  // Collect
    std::string key;         // objects: the key whose value comes next
    std::size_t index = 0;   // arrays: the next element's index
    std::string name;        // how the path names this frame ("operations", "[3]", ".run", ...)
  };

  [[noreturn]] void fail(const std::string& path, const std::string& expected) const {
    throw ReportError(common::one_line(name_ + ": " + path + ": expected " + expected));
  }

  // The key path to a frame; a deep one keeps its first and last steps ("x[0][0] ... 1019 levels
  // ... [0][0]") so that the message stays short.
  std::string path_of(std::size_t frame, const std::string& key = {}) const {
    std::string path;
    const std::size_t last = std::min(frame, frames_.size() - 1);
    for (std::size_t i = 1; i <= last; ++i) {
      if (last > 8 && i == 4) {
        path += " ... " + std::to_string(last - 5) + " levels ... ";
        i = last - 2;
      }
      path += frames_[i].name;
    }
    if (!key.empty()) path += (path.empty() ? "" : ".") + key;
    return path.empty() ? "top level" : path;
  }

  // The name of the value about to start inside the innermost frame.
  std::string next_name() const {
    const Frame& f = frames_.back();
    if (f.role == Role::Top) return f.key;
    return f.object ? "." + f.key : "[" + std::to_string(f.index) + "]";
  }

  bool open(bool object) {
    if (frames_.size() >= kMaxDepth)
      fail(path_of(frames_.size() - 1), "at most " + std::to_string(kMaxDepth) +
                                            " levels of nested objects and arrays (a codeprof report needs 5), found deeper nesting");
    if (frames_.empty()) {
      if (!object) p_.fail("", "a JSON object (a codeprof report)", &kArrayShown);
      frames_.push_back(Frame{Role::Top, true, nullptr, TopArray::None, {}, 0, {}});
      return true;
    }
    Frame& parent = frames_.back();
    Frame f{Role::Skip, object, nullptr, TopArray::None, {}, 0, {}};
    f.name = next_name();
    switch (parent.role) {
      case Role::Top:
        if (const TopArray kind = top_array(parent.key); kind != TopArray::None) {
          if (!object) {
            f.role = Role::Collect;
            f.array = kind;
          } else {
            p_.fail(parent.key, "an array", &kObjectShown);
          }
        } else if (kept_at_top(parent.key)) {
          f.role = Role::Build;
          f.target = &(out_.top[parent.key] = object ? Json::object() : Json::array());
        }
        break;
      case Role::Collect:
        f.role = Role::Build;
        element_ = object ? Json::object() : Json::array();
        f.target = &element_;
        break;
      case Role::Build:
        f.role = Role::Build;
        f.target = &insert(parent, object ? Json::object() : Json::array());
        break;
      case Role::Skip:
        break;
    }
    frames_.push_back(std::move(f));
    return true;
  }

  bool close() {
    const Frame done = std::move(frames_.back());
    frames_.pop_back();
    if (frames_.empty()) return true;
    Frame& parent = frames_.back();
    if (parent.role == Role::Collect) {
      deliver(parent, element_);
      element_ = Json();
    }
    if (!parent.object) ++parent.index;
    return true;
  }

  bool scalar(Json v) {
    if (frames_.empty()) p_.fail("", "a JSON object (a codeprof report)", &v);
    Frame& f = frames_.back();
    switch (f.role) {
      case Role::Top:
        if (top_array(f.key) != TopArray::None) p_.fail(f.key, "an array", &v);
        if (kept_at_top(f.key)) out_.top[f.key] = std::move(v);
        break;
      case Role::Collect:
        deliver(f, v);
        break;
      case Role::Build:
        insert(f, std::move(v));
        break;
      case Role::Skip:
        break;
    }
    if (!f.object) ++f.index;
    return true;
  }

  Json& insert(Frame& f, Json v) {
    if (f.target->is_object()) return (*f.target)[f.key] = std::move(v);
    f.target->push_back(std::move(v));
    return f.target->back();
  }

  // One element of a top-level array, read into the report and then dropped.
  void deliver(const Frame& f, const Json& value) {
    const Node n{value, path_of(frames_.size() - 1) + "[" + std::to_string(f.index) + "]"};
    Report& r = out_.report;
    Snapshot& s = r.snapshot;
    switch (f.array) {
      case TopArray::Operations:
        s.operations.push_back(read_operation(p_, n));
        if (!out_.ids.insert(s.operations.back().id).second)
          p_.fail(n.join("id"), "an id not used by another operation", &value.at("id"));
        break;
      case TopArray::Timeline: s.timelines.push_back(read_timeline(p_, n)); break;
      case TopArray::CallTree: s.call_tree.push_back(read_call_edge(p_, n)); break;
      case TopArray::Threads: s.threads.push_back(read_thread(p_, n)); break;
      case TopArray::Steps: s.steps.push_back(read_step(p_, n)); break;
      case TopArray::Devices: s.devices.push_back(read_device(p_, n)); break;
      case TopArray::Bottlenecks: r.findings.bottlenecks.push_back(read_bottleneck(p_, n)); break;
      case TopArray::Recommendations: r.findings.recommendations.push_back(read_recommendation(p_, n)); break;
      case TopArray::Trends: r.findings.trends.push_back(read_trend(p_, n)); break;
      case TopArray::Inconclusive:
        r.findings.inconclusive.push_back({p_.str(n, "check", true), p_.str(n, "needs"), p_.str(n, "had")});
        break;
      case TopArray::None: break;
    }
  }

  static inline const Json kArrayShown = Json::array();
  static inline const Json kObjectShown = Json::object();

  const Parser& p_;
  const std::string& name_;
  Gathered& out_;
  const SourceBuffer& input_;
  std::vector<Frame> frames_;
  std::set<std::string> top_keys_;
  Json element_;  // the top-level array element being built
};

// An evidence unit that is none of EvidenceUnit's spellings must be the unit of one of the report's
// custom metrics (the custom-metric rules cite readings in the metric's own unit).
void check_evidence_units(const Parser& p, const Report& report) {
  std::set<std::string> metric_units;
  for (const CustomMetric& m : report.snapshot.custom_metrics)
    if (!m.unit.empty()) metric_units.insert(m.unit);
  const auto& recs = report.findings.recommendations;
  for (std::size_t i = 0; i < recs.size(); ++i)
    for (std::size_t k = 0; k < recs[i].evidence.size(); ++k) {
      const Evidence& e = recs[i].evidence[k];
      if (e.unit != EvidenceUnit::Metric || metric_units.count(e.metric_unit)) continue;
      std::array<std::string_view, kEvidenceUnitNames.size() - 1> units{};  // all but Metric's placeholder
      std::copy_n(kEvidenceUnitNames.begin(), units.size(), units.begin());
      std::string expected = "a unit: " + detail::enum_names_list(units);
      expected += metric_units.empty() ? " (no custom metric in this report brings a unit of its own)"
                                       : ", or a custom metric's unit in this report (";
      for (auto it = metric_units.begin(); it != metric_units.end(); ++it)
        expected += (it == metric_units.begin() ? "" : ", ") + *it + (std::next(it) == metric_units.end() ? ")" : "");
      const Json shown(e.metric_unit);
      p.fail("recommendations[" + std::to_string(i) + "].evidence[" + std::to_string(k) + "].unit", expected, &shown);
    }
}

// Checks that need the whole report: required keys, the version, references between parts.
Report finish(const Parser& p, const std::string& name, Gathered& g) {
  const Node top{g.top, ""};
  if (!g.has_schema_version) p.fail("schema_version", "this key (a codeprof report starts with it)", nullptr);
  Report report = std::move(g.report);
  report.schema_version = p.i32(top, "schema_version", true);
  if (report.schema_version < 1 || report.schema_version > kReportSchemaVersion)
    p.fail("schema_version", "a version from 1 to " + std::to_string(kReportSchemaVersion) +
                                 " (a newer codeprof wrote this report?)",
           &g.top.at("schema_version"));
  report.generated_at = p.str(top, "generated_at");

  Snapshot& s = report.snapshot;
  const Node run{*p.member(top, "run", true), "run"};
  s.run = read_run(p, run);
  const std::string original_source = p.str(run, "source");
  s.run.source = "codeprof-report";
  s.run.source_path = name;
  if (!original_source.empty()) s.run.metadata.emplace("report_source", original_source);
  if (!report.generated_at.empty()) s.run.metadata.emplace("report_generated_at", report.generated_at);
  if (!g.has_operations) p.fail("operations", "this key (it is required)", nullptr);
  std::sort(s.operations.begin(), s.operations.end(), [](const auto& a, const auto& b) { return a.id < b.id; });

  const auto unknown = [&](const std::string& path, std::uint32_t id) {
    const Json shown(id);
    p.fail(path, "the id of an operation in operations[]", &shown);
  };
  for (std::size_t i = 0; i < s.call_tree.size(); ++i) {
    const CallEdge& e = s.call_tree[i];
    if (e.parent_id != kRootOperation && !g.ids.count(e.parent_id))
      unknown("call_tree[" + std::to_string(i) + "].parent", e.parent_id);
    if (!g.ids.count(e.child_id)) unknown("call_tree[" + std::to_string(i) + "].child", e.child_id);
  }
  for (std::size_t i = 0; i < s.threads.size(); ++i)
    for (std::size_t k = 0; k < s.threads[i].operations.size(); ++k)
      if (!g.ids.count(s.threads[i].operations[k].operation_id))
        unknown("threads[" + std::to_string(i) + "].operations[" + std::to_string(k) + "].id",
                s.threads[i].operations[k].operation_id);

  s.sync_ns = p.ns(top, "sync_time");
  if (const Json* counts = p.member(top, "event_counts", false)) {
    const Node n{*counts, "event_counts"};
    s.events_recorded = p.u64(n, "recorded");
    s.events_dropped = p.u64(n, "dropped");
    s.events_recorded_total = p.u64(n, "recorded_total");
    s.events_dropped_total = p.u64(n, "dropped_total");
    s.trace_events_dropped = p.u64(n, "trace_dropped");
    s.trace_policy = p.str(n, "trace_policy");
    if (!s.trace_policy.empty() && s.trace_policy != "first" && s.trace_policy != "last")
      p.fail(n.join("trace_policy"), "\"first\", \"last\" or empty", &n.value.at("trace_policy"));
    s.trace_window_start_ns = p.ns(n, "trace_window_start");
    s.trace_window_end_ns = p.ns(n, "trace_window_end");
  }
  p.each(top, "alerts", false, [&](const Node& n) {
    Alert a;
    a.name = p.str(n, "name", true);
    a.state = p.str(n, "state", true);
    if (a.state != "pending" && a.state != "firing" && a.state != "resolved")
      p.fail(n.join("state"), "pending, firing or resolved", &n.value.at("state"));
    a.severity = p.str(n, "severity");
    a.summary = p.str(n, "summary");
    if (const Json* labels = p.member(n, "labels", false)) {
      const Node ln{*labels, n.join("labels")};
      p.expect_object(ln);
      for (const auto& [key, value] : labels->items()) {
        if (!value.is_string()) p.fail(ln.join(key), "a string", &value);
        a.labels[key] = value.get<std::string>();
      }
    }
    a.value = p.real(n, "value");
    a.threshold = p.real(n, "threshold");
    a.source = p.str(n, "source");
    a.active_since_unix_ns = p.i64(n, "active_since_unix_ns");
    a.fired_unix_ns = p.i64(n, "fired_unix_ns");
    a.resolved_unix_ns = p.i64(n, "resolved_unix_ns");
    s.alerts.push_back(std::move(a));
  });
  p.each(top, "custom_metrics", false, [&](const Node& n) {
    CustomMetric m;
    m.name = p.str(n, "name", true);
    const std::string kind = p.str(n, "kind", true);
    const auto k = metric_kind_from_name(kind);
    if (!k) p.fail(n.join("kind"), "counter, value or gauge", &n.value.at("kind"));
    m.kind = *k;
    m.unit = p.str(n, "unit");
    m.count = p.u64(n, "count");
    m.sum = p.real(n, "sum");
    m.last = p.real(n, "last");
    m.min = p.real(n, "min");
    m.max = p.real(n, "max");
    m.mean = p.real(n, "mean");
    m.p50 = p.real(n, "p50");
    m.p90 = p.real(n, "p90");
    m.p95 = p.real(n, "p95");
    m.p99 = p.real(n, "p99");
    m.first_ns = p.ns(n, "first_seen");
    m.last_ns = p.ns(n, "last_seen");
    m.rejected = p.u64(n, "rejected");
    p.each(n, "series", false, [&](const Node& w) {
      m.series.push_back(MetricWindow{p.ns(w, "start"), p.ns(w, "width"), p.u64(w, "count"), p.real(w, "sum"),
                                      p.real(w, "min"), p.real(w, "max"), p.real(w, "last")});
    });
    s.custom_metrics.push_back(std::move(m));
  });
  check_evidence_units(p, report);
  // dropped_events is the report's original key; it wins if both are present and differ.
  if (p.member(top, "dropped_events", false)) s.events_dropped = p.u64(top, "dropped_events");
  read_sampling(p, top, s.sampling);
  read_profile(p, top, s.profile);
  if (const Json* c = p.member(top, "classification", false)) read_classification(p, Node{*c, "classification"}, report.findings.classification);
  if (const Json* st = p.member(top, "step_timing", false)) {
    const Node n{*st, "step_timing"};
    p.expect_object(n);
    StepTiming& t = report.findings.step_timing;
    t.steps = p.u64(n, "steps");
    t.step_time = p.real(n, "step_time");
    t.input_time = p.real(n, "input_time");
    t.iteration_time = p.real(n, "iteration_time");
    t.collective_time = p.real(n, "collective_time");
  }
  return report;
}

Report read_source(trace::ByteSource& source, const std::string& name) {
  const Parser p(name);
  Gathered gathered;
  SourceBuffer buffer(source, name);
  std::istream in(&buffer);
  ReportSax sax(p, name, gathered, buffer);
  try {
    Json::sax_parse(in, &sax, Json::input_format_t::json, true, false);
  } catch (const ReportError&) {
    throw;
  } catch (const TraceReadError& e) {  // from the byte source: a read or gzip error
    throw ReportError(e.what());
  } catch (const std::bad_alloc&) {
    throw ReportError(name + ": not enough memory to read the report");
  }
  return finish(p, name, gathered);
}

// Why open() failed, in words that name the real cause.
std::string open_problem(int error) {
  switch (error) {
    case ENOENT: return "no such file";
    case ELOOP: return "too many levels of symbolic links (a symbolic link loop?)";
    case EACCES: return "permission denied";
    case ENOTDIR: return "a part of the path is not a directory";
    default: return std::strerror(error);
  }
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

Report read_report_source(trace::ByteSource& source, const std::string& name) { return read_source(source, name); }

Report parse_report(std::string_view text, const std::string& name) {
  std::unique_ptr<trace::ByteSource> source;
  try {
    source = trace::open_memory_source(text, name);
  } catch (const TraceReadError& e) {
    throw ReportError(e.what());
  }
  return read_source(*source, name);
}

Report read_report(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ReportError(path + ": cannot open the file for reading: " + open_problem(errno));
  std::unique_ptr<trace::ByteSource> source;
  try {
    source = trace::open_descriptor_source(fd, path);  // .json.gz inflates
  } catch (const TraceReadError& e) {
    throw ReportError(e.what());
  }
  return read_source(*source, path);
}

Snapshot read_json_report(const std::string& path) { return read_report(path).snapshot; }

Snapshot parse_json_report(std::string_view text, const std::string& name) { return parse_report(text, name).snapshot; }

}  // namespace codeprof::io
