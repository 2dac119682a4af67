// Snapshot and its parts as read-only Python objects (nanosecond fields as in C++, plus _s
// properties in seconds), and Findings as the dicts of the JSON report.
#include <pybind11/stl.h>

#include <string>

#include "bindings.hpp"
#include "fast_path.hpp"
#include "codeprof/process_parts.hpp"

namespace codeprof::python {
namespace {

// A tuple of references into `parent`'s vector (no copies; each keeps `parent` alive).
template <typename T>
py::tuple refs(const std::vector<T>& v, py::handle parent) {
  py::tuple t(v.size());
  for (std::size_t i = 0; i < v.size(); ++i)
    t[i] = py::cast(&v[i], py::return_value_policy::reference_internal, parent);
  return t;
}

template <typename T>
py::tuple numbers(const std::vector<T>& v) {
  py::tuple t(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) t[i] = py::cast(v[i]);
  return t;
}

double secs(double ns) { return ns * 1e-9; }

template <typename T, typename Get>
void def_ref_tuple(py::class_<T, std::shared_ptr<T>>& c, const char* name, Get get, const char* doc) {
  c.def_property_readonly(name, [get](py::object self) { return refs(get(self.cast<const T&>()), self); }, doc);
}
template <typename T, typename Get>
void def_ref_tuple(py::class_<T>& c, const char* name, Get get, const char* doc) {
  c.def_property_readonly(name, [get](py::object self) { return refs(get(self.cast<const T&>()), self); }, doc);
}

const OperationStats* find_operation(const Snapshot& s, py::handle key) {
  if (py::isinstance<py::str>(key)) return s.find(key.cast<std::string>());
  if (py::isinstance<py::int_>(key)) return s.find(key.cast<std::uint32_t>());
  throw py::type_error("an operation is looked up by name (str) or id (int)");
}

void bind_operation(py::module_& m) {
  py::class_<HistogramBucket>(m, "HistogramBucket", "Calls whose duration lies in [lower_ns, upper_ns).")
      .def_readonly("lower_ns", &HistogramBucket::lower_ns)
      .def_readonly("upper_ns", &HistogramBucket::upper_ns)
      .def_readonly("count", &HistogramBucket::count)
      .def("__repr__", [](const HistogramBucket& b) {
        return "HistogramBucket([" + std::to_string(b.lower_ns) + ", " + std::to_string(b.upper_ns) +
               ") ns: " + std::to_string(b.count) + ")";
      });
  py::class_<DurationWindow>(m, "DurationWindow", "Calls that started in [start_ns, start_ns + width_ns).")
      .def_readonly("start_ns", &DurationWindow::start_ns)
      .def_readonly("width_ns", &DurationWindow::width_ns)
      .def_readonly("count", &DurationWindow::count)
      .def_readonly("total_ns", &DurationWindow::total_ns)
      .def_readonly("min_ns", &DurationWindow::min_ns)
      .def_readonly("max_ns", &DurationWindow::max_ns);
  py::class_<SlowCall>(m, "SlowCall", "One of the slowest calls of an operation.")
      .def_readonly("start_ns", &SlowCall::start_ns)
      .def_readonly("duration_ns", &SlowCall::duration_ns)
      .def_readonly("thread_index", &SlowCall::thread_index);
  py::class_<ResourceStat>(m, "ResourceStat", "A probe metric over the calls that measured it.")
      .def_readonly("samples", &ResourceStat::samples)
      .def_readonly("total", &ResourceStat::total)
      .def_readonly("max", &ResourceStat::max)
      .def_readonly("min", &ResourceStat::min)
      .def_property_readonly("mean", &ResourceStat::mean);

  py::class_<HotSpot>(m, "HotSpot", "A function or line where an operation's samples were.")
      .def_readonly("function", &HotSpot::function)
      .def_readonly("file", &HotSpot::file)
      .def_readonly("line", &HotSpot::line)
      .def_readonly("samples", &HotSpot::samples)
      .def_readonly("share", &HotSpot::share, "samples / the operation's samples, 0..1")
      .def("__repr__", [](const HotSpot& h) {
        return "<HotSpot " + h.function + " " + h.file + ":" + std::to_string(h.line) + " " + std::to_string(h.samples) + " samples>";
      });
  py::class_<AllocSite>(m, "AllocSite", "A site where an operation's sampled allocations were made.")
      .def_readonly("function", &AllocSite::function)
      .def_readonly("file", &AllocSite::file)
      .def_readonly("line", &AllocSite::line)
      .def_readonly("samples", &AllocSite::samples, "sampled allocations made there (freed or not)")
      .def_readonly("bytes", &AllocSite::bytes,
                    "hot_allocations: estimated bytes allocated there; live_at_end: of those, not freed")
      .def_readonly("share", &AllocSite::share,
                    "bytes / the operation's alloc_sampled_bytes (live_at_end: live_sampled_bytes), 0..1")
      .def("__repr__", [](const AllocSite& a) {
        return "<AllocSite " + a.function + " " + a.file + ":" + std::to_string(a.line) + " " + std::to_string(a.bytes) +
               " bytes>";
      });
  py::class_<OperationStats> op(m, "OperationStats",
                                "Statistics of one operation (a name in a category). Durations in nanoseconds; "
                                "the *_s properties give seconds.");
  op.def_readonly("id", &OperationStats::id)
      .def_readonly("name", &OperationStats::name)
      .def_property_readonly("category", [](const OperationStats& o) { return category_object(o.category); })
      .def_readonly("file", &OperationStats::file)
      .def_readonly("line", &OperationStats::line)
      .def_readonly("count", &OperationStats::count)
      .def_readonly("total_ns", &OperationStats::total_ns)
      .def_readonly("self_ns", &OperationStats::self_ns)
      .def_readonly("min_ns", &OperationStats::min_ns)
      .def_readonly("max_ns", &OperationStats::max_ns)
      .def_readonly("mean_ns", &OperationStats::mean_ns)
      .def_readonly("stddev_ns", &OperationStats::stddev_ns)
      .def_readonly("p50_ns", &OperationStats::p50_ns)
      .def_readonly("p90_ns", &OperationStats::p90_ns)
      .def_readonly("p95_ns", &OperationStats::p95_ns)
      .def_readonly("p99_ns", &OperationStats::p99_ns)
      .def_readonly("first_seen_ns", &OperationStats::first_seen_ns)
      .def_readonly("last_seen_ns", &OperationStats::last_seen_ns)
      .def_property_readonly("total_s", [](const OperationStats& o) { return secs(static_cast<double>(o.total_ns)); })
      .def_property_readonly("self_s", [](const OperationStats& o) { return secs(static_cast<double>(o.self_ns)); })
      .def_property_readonly("mean_s", [](const OperationStats& o) { return secs(o.mean_ns); })
      .def_property_readonly("stddev_s", [](const OperationStats& o) { return secs(o.stddev_ns); })
      .def_property_readonly("min_s", [](const OperationStats& o) { return secs(static_cast<double>(o.min_ns)); })
      .def_property_readonly("max_s", [](const OperationStats& o) { return secs(static_cast<double>(o.max_ns)); })
      .def_property_readonly("p50_s", [](const OperationStats& o) { return secs(static_cast<double>(o.p50_ns)); })
      .def_property_readonly("p90_s", [](const OperationStats& o) { return secs(static_cast<double>(o.p90_ns)); })
      .def_property_readonly("p95_s", [](const OperationStats& o) { return secs(static_cast<double>(o.p95_ns)); })
      .def_property_readonly("p99_s", [](const OperationStats& o) { return secs(static_cast<double>(o.p99_ns)); })
      .def_property_readonly(
          "resources",
          [](py::object self) {
            const auto& o = self.cast<const OperationStats&>();
            py::dict d;
            for (std::size_t i = 0; i < kProbeMetricCount; ++i)
              if (o.resources[i].samples)
                d[py::str(std::string(kProbeMetricNames[i]))] =
                    py::cast(&o.resources[i], py::return_value_policy::reference_internal, self);
            return d;
          },
          "Probe metrics that were measured, by name (cpu_time_ns, alloc_bytes, io_read_bytes, ...).")
      .def("__repr__", [](const OperationStats& o) {
        char buf[256];
        std::snprintf(buf, sizeof buf, "<OperationStats %s (%s): %llu calls, mean %.3g s, total %.3g s>", o.name.c_str(),
                      std::string(to_string(o.category)).c_str(), static_cast<unsigned long long>(o.count),
                      secs(o.mean_ns), secs(static_cast<double>(o.total_ns)));
        return std::string(buf);
      });
  op.def_readonly("cpu_samples", &OperationStats::cpu_samples,
                  "Samples taken while this was the innermost open operation (0 when sampling was off).");
  def_ref_tuple(op, "hot_functions", [](const OperationStats& o) -> const auto& { return o.hot_functions; },
                "Where its samples were (innermost frame), by function, most samples first.");
  def_ref_tuple(op, "hot_lines", [](const OperationStats& o) -> const auto& { return o.hot_lines; },
                "Where its samples were (innermost frame), by line, most samples first.");
  op.def_readonly("alloc_samples", &OperationStats::alloc_samples,
                  "Allocations sampled while this was the innermost open operation (0 when allocation sampling was off).")
      .def_readonly("alloc_sampled_bytes", &OperationStats::alloc_sampled_bytes,
                    "The bytes those sampled allocations stand for: the estimate of what this operation allocated itself.")
      .def_readonly("live_sampled_bytes", &OperationStats::live_sampled_bytes,
                    "Of those, the bytes not freed when the snapshot was taken (estimated).")
      .def_readonly("peak_live_sampled_bytes", &OperationStats::peak_live_sampled_bytes,
                    "The highest value live_sampled_bytes reached during the run (estimated).");
  def_ref_tuple(op, "hot_allocations", [](const OperationStats& o) -> const auto& { return o.hot_allocations; },
                "Where its sampled bytes were allocated, by site, most bytes first.");
  def_ref_tuple(op, "live_at_end", [](const OperationStats& o) -> const auto& { return o.live_at_end; },
                "Leak suspects: sites whose sampled allocations were still live, most live bytes first.");
  def_ref_tuple(op, "histogram", [](const OperationStats& o) -> const auto& { return o.histogram; },
                "Non-empty buckets of the log-linear duration histogram, ascending.");
  def_ref_tuple(op, "series", [](const OperationStats& o) -> const auto& { return o.series; },
                "Durations over time, in at most 256 windows.");
  def_ref_tuple(op, "slowest", [](const OperationStats& o) -> const auto& { return o.slowest; },
                "The slowest calls, slowest first.");
}

void bind_run(py::module_& m) {
  py::class_<Unavailable>(m, "Unavailable", "A probe or feature that could not run, and why.")
      .def_readonly("what", &Unavailable::what)
      .def_readonly("reason", &Unavailable::reason)
      .def("__repr__", [](const Unavailable& u) { return "<Unavailable " + u.what + ": " + u.reason + ">"; });
  py::class_<GpuDeviceInfo>(m, "GpuDeviceInfo")
      .def_readonly("index", &GpuDeviceInfo::index)
      .def_readonly("name", &GpuDeviceInfo::name)
      .def_readonly("memory_total_bytes", &GpuDeviceInfo::memory_total_bytes);
  py::class_<RunInfo> run(m, "RunInfo", "What was profiled: process, host, origin, wall time, metadata.");
  run.def_readonly("source", &RunInfo::source)
      .def_readonly("source_path", &RunInfo::source_path)
      .def_readonly("host", &RunInfo::host)
      .def_readonly("pid", &RunInfo::pid)
      .def_readonly("command", &RunInfo::command)
      .def_readonly("rank", &RunInfo::rank)
      .def_readonly("world_size", &RunInfo::world_size)
      .def_readonly("start_unix_ns", &RunInfo::start_unix_ns)
      .def_readonly("wall_ns", &RunInfo::wall_ns)
      .def_property_readonly("wall_s", [](const RunInfo& r) { return secs(static_cast<double>(r.wall_ns)); })
      .def_readonly("version", &RunInfo::version)
      .def_readonly("enabled", &RunInfo::enabled)
      .def_readonly("hardware_threads", &RunInfo::hardware_threads)
      .def_property_readonly("metadata", [](const RunInfo& r) { return py::cast(r.metadata); }, "A copy (dict).");
  def_ref_tuple(run, "unavailable", [](const RunInfo& r) -> const auto& { return r.unavailable; }, "");
  def_ref_tuple(run, "gpus", [](const RunInfo& r) -> const auto& { return r.gpus; }, "");
}

void bind_snapshot(py::module_& m) {
  py::class_<CallEdge>(m, "CallEdge", "Calls of child_id made inside parent_id (parent_id is None at top level).")
      .def_property_readonly("parent_id",
                             [](const CallEdge& e) -> py::object {
                               return e.parent_id == kRootOperation ? py::none() : py::cast(e.parent_id);
                             })
      .def_readonly("child_id", &CallEdge::child_id)
      .def_readonly("count", &CallEdge::count)
      .def_readonly("total_ns", &CallEdge::total_ns);
  py::class_<ThreadOperationStats>(m, "ThreadOperationStats")
      .def_readonly("operation_id", &ThreadOperationStats::operation_id)
      .def_readonly("count", &ThreadOperationStats::count)
      .def_readonly("total_ns", &ThreadOperationStats::total_ns)
      .def_readonly("self_ns", &ThreadOperationStats::self_ns);
  py::class_<ThreadStats> thread(m, "ThreadStats", "One thread (or, for other processes, one of their threads).");
  thread.def_readonly("index", &ThreadStats::index)
      .def_readonly("os_tid", &ThreadStats::os_tid)
      .def_readonly("name", &ThreadStats::name)
      .def_readonly("events", &ThreadStats::events)
      .def_readonly("dropped", &ThreadStats::dropped)
      .def_readonly("busy_ns", &ThreadStats::top_level_ns)
      .def("__repr__", [](const ThreadStats& t) {
        return "<ThreadStats " + std::to_string(t.index) + " '" + t.name + "': " + std::to_string(t.events) + " events>";
      });
  def_ref_tuple(thread, "operations", [](const ThreadStats& t) -> const auto& { return t.operations; }, "");
  py::class_<TraceEvent>(m, "TraceEvent", "A raw event (kept with trace.enabled).")
      .def_readonly("operation_id", &TraceEvent::operation_id)
      .def_readonly("thread_index", &TraceEvent::thread_index)
      .def_readonly("start_ns", &TraceEvent::start_ns)
      .def_readonly("duration_ns", &TraceEvent::duration_ns)
      .def_readonly("depth", &TraceEvent::depth);
  py::class_<TimelineSeries>(m, "TimelineSeries", "A series sampled by the system sampler.")
      .def_readonly("name", &TimelineSeries::name)
      .def_readonly("unit", &TimelineSeries::unit)
      .def_property_readonly("t_ns", [](const TimelineSeries& s) { return numbers(s.t_ns); })
      .def_property_readonly("values", [](const TimelineSeries& s) { return numbers(s.values); });
  py::class_<StepSpan>(m, "StepSpan")
      .def_readonly("index", &StepSpan::index)
      .def_readonly("start_ns", &StepSpan::start_ns)
      .def_readonly("end_ns", &StepSpan::end_ns);
  py::class_<DeviceActivity>(m, "DeviceActivity")
      .def_readonly("device", &DeviceActivity::device)
      .def_readonly("stream", &DeviceActivity::stream)
      .def_readonly("busy_ns", &DeviceActivity::busy_ns)
      .def_readonly("kernel_ns", &DeviceActivity::kernel_ns)
      .def_readonly("memcpy_ns", &DeviceActivity::memcpy_ns)
      .def_readonly("memset_ns", &DeviceActivity::memset_ns)
      .def_readonly("memcpy_bytes", &DeviceActivity::memcpy_bytes)
      .def_readonly("kernels", &DeviceActivity::kernels)
      .def_readonly("busy_in_steps_ns", &DeviceActivity::busy_in_steps_ns);

  py::class_<SamplingSource>(m, "SamplingSource", "A stack sampler that ran: perf_ring, perf_event, timer or python.")
      .def_readonly("name", &SamplingSource::name)
      .def_readonly("frequency_hz", &SamplingSource::frequency_hz)
      .def_readonly("threads", &SamplingSource::threads)
      .def_readonly("inherited_threads", &SamplingSource::inherited_threads)
      .def_readonly("samples", &SamplingSource::samples)
      .def_readonly("dropped", &SamplingSource::dropped);
  py::class_<SamplingInfo> sampling(m, "SamplingInfo", "Line-level sampling: what ran, what it took.");
  sampling.def_readonly("enabled", &SamplingInfo::enabled)
      .def_readonly("unwinder", &SamplingInfo::unwinder)
      .def_readonly("samples", &SamplingInfo::samples)
      .def_readonly("dropped", &SamplingInfo::dropped)
      .def_readonly("alloc_interval_bytes", &SamplingInfo::alloc_interval_bytes,
                    "Mean bytes between allocation samples (0: allocation sampling was off).")
      .def_readonly("alloc_samples", &SamplingInfo::alloc_samples)
      .def_readonly("alloc_peak_live_bytes", &SamplingInfo::alloc_peak_live_bytes)
      .def_readonly("alloc_peak_at_ns", &SamplingInfo::alloc_peak_at_ns)
      .def_readonly("sampler_cpu_ns", &SamplingInfo::sampler_cpu_ns);
  def_ref_tuple(sampling, "sources", [](const SamplingInfo& s) -> const auto& { return s.sources; }, "");
  def_ref_tuple(sampling, "unavailable", [](const SamplingInfo& s) -> const auto& { return s.unavailable; }, "");
  py::class_<MetricWindow>(m, "MetricWindow", "A custom metric within [start_ns, start_ns + width_ns).")
      .def_readonly("start_ns", &MetricWindow::start_ns)
      .def_readonly("width_ns", &MetricWindow::width_ns)
      .def_readonly("count", &MetricWindow::count)
      .def_readonly("sum", &MetricWindow::sum)
      .def_readonly("min", &MetricWindow::min)
      .def_readonly("max", &MetricWindow::max)
      .def_readonly("last", &MetricWindow::last);
  py::class_<CustomMetric> metric(m, "CustomMetric", "A number the program recorded: a counter, a value series or a gauge.");
  metric.def_readonly("name", &CustomMetric::name)
      .def_property_readonly("kind", [](const CustomMetric& c) { return std::string(metric_kind_name(c.kind)); })
      .def_readonly("unit", &CustomMetric::unit)
      .def_readonly("count", &CustomMetric::count)
      .def_readonly("sum", &CustomMetric::sum)
      .def_readonly("last", &CustomMetric::last)
      .def_readonly("min", &CustomMetric::min)
      .def_readonly("max", &CustomMetric::max)
      .def_readonly("mean", &CustomMetric::mean)
      .def_readonly("p50", &CustomMetric::p50)
      .def_readonly("p90", &CustomMetric::p90)
      .def_readonly("p95", &CustomMetric::p95)
      .def_readonly("p99", &CustomMetric::p99)
      .def_readonly("first_ns", &CustomMetric::first_ns)
      .def_readonly("last_ns", &CustomMetric::last_ns)
      .def_readonly("rejected", &CustomMetric::rejected)
      .def("__repr__", [](const CustomMetric& c) {
        return "<CustomMetric " + c.name + " (" + std::string(metric_kind_name(c.kind)) + "): " + std::to_string(c.count) +
               " calls, last " + std::to_string(c.last) + ">";
      });
  def_ref_tuple(metric, "series", [](const CustomMetric& c) -> const auto& { return c.series; }, "Ascending by start.");

  py::class_<Snapshot, std::shared_ptr<Snapshot>> snap(
      m, "Snapshot", "An immutable copy of everything recorded: operations, call tree, threads, timelines, run.");
  snap.def_property_readonly("run", [](py::object self) {
        return py::cast(&self.cast<const Snapshot&>().run, py::return_value_policy::reference_internal, self);
      })
      .def_property_readonly("sampling", [](py::object self) {
        return py::cast(&self.cast<const Snapshot&>().sampling, py::return_value_policy::reference_internal, self);
      }, "Line-level sampling: which samplers ran and what they took.")
      .def_readonly("sync_ns", &Snapshot::sync_ns)
      .def_readonly("events_recorded", &Snapshot::events_recorded)
      .def_readonly("events_dropped", &Snapshot::events_dropped)
      .def_readonly("events_misnested", &Snapshot::events_misnested)
      .def_readonly("events_recorded_total", &Snapshot::events_recorded_total)
      .def_readonly("events_dropped_total", &Snapshot::events_dropped_total)
      .def_readonly("trace_events_dropped", &Snapshot::trace_events_dropped)
      .def(
          "find",
          [](py::object self, py::handle key) -> py::object {
            const OperationStats* op = find_operation(self.cast<const Snapshot&>(), key);
            return op ? py::cast(op, py::return_value_policy::reference_internal, self) : py::none();
          },
          py::arg("operation"), "The operation with this name (str) or id (int), or None.")
      .def("__getitem__",
           [](py::object self, py::handle key) -> py::object {
             const OperationStats* op = find_operation(self.cast<const Snapshot&>(), key);
             if (!op) throw py::key_error(py::repr(key).cast<std::string>());
             return py::cast(op, py::return_value_policy::reference_internal, self);
           })
      .def("__contains__",
           [](const Snapshot& s, py::handle key) {
             return (py::isinstance<py::str>(key) || py::isinstance<py::int_>(key)) && find_operation(s, key) != nullptr;
           })
      .def("__len__", [](const Snapshot& s) { return s.operations.size(); })
      .def("timeline",
           [](py::object self, const std::string& name) -> py::object {
             const TimelineSeries* t = self.cast<const Snapshot&>().timeline(name);
             return t ? py::cast(t, py::return_value_policy::reference_internal, self) : py::none();
           })
      .def("metric",
           [](py::object self, const std::string& name) -> py::object {
             const CustomMetric* c = self.cast<const Snapshot&>().metric(name);
             return c ? py::cast(c, py::return_value_policy::reference_internal, self) : py::none();
           },
           py::arg("name"), "The custom metric with this name, or None.")
      .def("__repr__", [](const Snapshot& s) {
        return "<Snapshot " + s.run.source + ": " + std::to_string(s.operations.size()) + " operations, " +
               std::to_string(s.events_recorded) + " events, " + std::to_string(s.threads.size()) + " threads>";
      });
  def_ref_tuple(snap, "operations", [](const Snapshot& s) -> const auto& { return s.operations; }, "Ascending by id.");
  def_ref_tuple(snap, "call_tree", [](const Snapshot& s) -> const auto& { return s.call_tree; }, "");
  def_ref_tuple(snap, "threads", [](const Snapshot& s) -> const auto& { return s.threads; }, "");
  def_ref_tuple(snap, "timelines", [](const Snapshot& s) -> const auto& { return s.timelines; }, "");
  def_ref_tuple(snap, "trace_events", [](const Snapshot& s) -> const auto& { return s.trace_events; }, "");
  def_ref_tuple(snap, "steps", [](const Snapshot& s) -> const auto& { return s.steps; }, "");
  def_ref_tuple(snap, "devices", [](const Snapshot& s) -> const auto& { return s.devices; }, "");
  def_ref_tuple(snap, "custom_metrics", [](const Snapshot& s) -> const auto& { return s.custom_metrics; }, "Ascending by name.");
}

}  // namespace

py::object category_object(Category c) {
  if (PyObject* member = registered_category(c)) return py::reinterpret_borrow<py::object>(member);
  return py::str(std::string(to_string(c)));
}

py::dict to_dict(const Bottleneck& b) {
  py::dict d;
  d["operation"] = b.operation;
  d["type"] = std::string(to_string(b.type));
  d["avg_duration"] = b.avg_duration;
  d["optimization_priority"] = std::string(to_string(b.optimization_priority));
  d["severity"] = std::string(to_string(b.severity));
  d["p95_duration"] = b.p95_duration;
  d["calls"] = b.calls;
  d["total_time"] = b.total_time;
  d["self_time"] = b.self_time;
  d["share_of_wall"] = b.share_of_wall;
  d["reason"] = b.reason;
  return d;
}

py::dict to_dict(const Recommendation& r) {
  py::list evidence;
  for (const Evidence& e : r.evidence) {
    py::dict x;
    x["metric"] = e.metric;
    x["value"] = e.value;
    x["unit"] = std::string(unit_spelling(e));
    x["operation"] = e.operation;
    evidence.append(x);
  }
  py::dict d;
  d["id"] = r.id;
  d["type"] = std::string(to_string(r.type));
  d["priority"] = std::string(to_string(r.priority));
  d["title"] = r.title;
  d["evidence"] = evidence;
  d["evidence_text"] = r.evidence_text;
  d["action"] = r.action;
  return d;
}

py::dict to_dict(const Classification& c) {
  py::dict input, gpu, cpu, d;
  input["level"] = std::string(to_string(c.input.level));
  input["input_share"] = c.input.input_share;
  input["steps"] = c.input.steps;
  input["step_time"] = c.input.step_time;
  input["step_source"] = c.input.step_source;
  gpu["available"] = c.gpu.available;
  gpu["idle_share"] = c.gpu.idle_share;
  gpu["mean_utilization"] = c.gpu.mean_utilization;
  gpu["peak_memory_fraction"] = c.gpu.peak_memory_fraction;
  gpu["source"] = std::string(to_string(c.gpu.source));
  cpu["mean_efficiency"] = c.cpu.mean_efficiency;
  cpu["involuntary_switches_per_s"] = c.cpu.involuntary_switches_per_s;
  cpu["contention_suspected"] = c.cpu.contention_suspected;
  cpu["waiting_operations"] = py::cast(c.cpu.waiting_operations);
  d["summary"] = c.summary;
  d["input"] = input;
  d["gpu"] = gpu;
  d["cpu"] = cpu;
  return d;
}

py::dict to_dict(const Trend& t) {
  py::dict d;
  d["kind"] = std::string(to_string(t.kind));
  d["operation"] = t.operation;
  d["description"] = t.description;
  d["magnitude"] = t.magnitude;
  d["at"] = t.at_s;
  d["method"] = t.method;
  return d;
}

py::dict to_dict(const Findings& f) {
  py::list bottlenecks, recommendations, trends;
  for (const auto& b : f.bottlenecks) bottlenecks.append(to_dict(b));
  for (const auto& r : f.recommendations) recommendations.append(to_dict(r));
  for (const auto& t : f.trends) trends.append(to_dict(t));
  py::dict d;
  d["bottlenecks"] = bottlenecks;
  d["recommendations"] = recommendations;
  d["classification"] = to_dict(f.classification);
  d["trends"] = trends;
  return d;
}

void bind_results(py::module_& m) {
  bind_operation(m);
  bind_run(m);
  bind_snapshot(m);
  m.def(
      "_register_categories",
      [](py::list members) {
        if (register_category_objects(members.ptr()) < 0) throw py::error_already_set();
      },
      "Internal: the codeprof.Category members, in C++ order.");
  m.def(
      "_category_names", [] {
        py::list names;
        for (auto n : kCategoryNames) names.append(std::string(n));
        return names;
      },
      "The category names, in C++ order.");
}

}  // namespace codeprof::python
