// What CodeProfiler does besides the hot path: switches, results, exports, the dashboard. Each
// function takes the ProfilerCore object; anything that may take milliseconds (snapshot, analysis,
// exports, flush) runs without the GIL, so other Python threads keep going.
#include <pybind11/stl.h>

#include <memory>

#include "bindings.hpp"
#include "codeprof/analysis.hpp"
#include "codeprof/dashboard.hpp"
#include "codeprof/exporters.hpp"
#include "fast_path.hpp"
#include "python_sampler.hpp"

namespace codeprof::python {
namespace {

Category category_arg(py::handle category) {
  const int c = parse_category(category.ptr());
  if (c < 0) throw py::error_already_set();
  return static_cast<Category>(c);
}


// A live dashboard that keeps its profiler object alive and stops before it goes.
struct DashboardHandle {
  py::object profiler;  // keeps the ProfilerCore alive
  std::unique_ptr<Dashboard> dashboard;
  ~DashboardHandle() {
    py::gil_scoped_release release;
    dashboard.reset();
  }
};

}  // namespace

Profiler& core(py::handle self) {
  try {
    return profiler_of(self.ptr());
  } catch (const std::invalid_argument& e) {
    throw py::type_error(e.what());
  }
}

void bind_profiler(py::module_& m) {
  py::register_exception<DashboardError>(m, "DashboardError", PyExc_OSError);
  py::register_exception<io::WriteError>(m, "WriteError", PyExc_OSError);

  m.def("_set_enabled", [](py::handle self, bool on) { core(self).set_enabled(on); });
  m.def("_enabled", [](py::handle self) { return core(self).enabled(); });
  m.def("_set_category_enabled",
        [](py::handle self, py::handle category, bool on) { core(self).set_category_enabled(category_arg(category), on); });
  m.def("_category_enabled", [](py::handle self, py::handle category) { return core(self).category_enabled(category_arg(category)); });
  m.def("_set_thresholds", [](py::handle self, py::handle category, double warning, double critical) {
    core(self).set_thresholds(category_arg(category), Thresholds{warning, critical});
  });
  m.def("_update_config", [](py::handle self, const Config& config) { core(self).update_config(config); });
  m.def("_config", [](py::handle self) { return core(self).config(); });
  m.def("_profiler_address", [](py::handle self) { return reinterpret_cast<std::uintptr_t>(&core(self)); },
        "Internal: the C++ Profiler's address, for codeprof._codeprof_torch (same process only).");
  m.def("_set_metadata", [](py::handle self, const std::string& key, const std::string& value) {
    core(self).set_metadata(key, value);
  });
  // The program's own metrics: no lock once the thread has used the name (the GIL stays held:
  // a call takes well under a microsecond).
  m.def("_add_counter", [](py::handle self, std::string_view name, double n, std::string_view unit) {
    core(self).add_counter(name, n, unit);
  });
  m.def("_record_value", [](py::handle self, std::string_view name, double x, std::string_view unit) {
    core(self).record_value(name, x, unit);
  });
  m.def("_set_gauge", [](py::handle self, std::string_view name, double v, std::string_view unit) {
    core(self).set_gauge(name, v, unit);
  });
  m.def("_set_thread_name", [](py::handle self, const std::string& name) { name_thread_as(core(self), name); });

  m.def("_start_python_sampler", [](py::handle self) { start_python_sampler(core(self)); }, "Starts the Python sampler (sampling.python_frequency_hz) of this profiler; nothing when it runs.");
  m.def("_stop_python_sampler", [](py::handle self) { stop_python_sampler(core(self)); });
  m.def("_python_sampler_running", [](py::handle self) { return python_sampler_running(core(self)); });
  m.def("_stop_python_samplers", &stop_python_samplers, "Stops every profiler's Python sampler (at exit).");
  m.def("_forget_python_samplers", &forget_python_samplers, "In a fork()ed child: the sampler threads are not there.");

  m.def("_snapshot", [](py::handle self) {
    Profiler& p = core(self);
    py::gil_scoped_release release;
    return std::make_shared<Snapshot>(p.snapshot());
  });
  m.def("_analyze", [](py::handle self) {
    Profiler& p = core(self);
    Findings f;
    {
      py::gil_scoped_release release;
      f = p.analyze();
    }
    return to_dict(f);
  });
  m.def("_bottlenecks", [](py::handle self, double threshold) {
    Profiler& p = core(self);
    std::vector<Bottleneck> found;
    {
      py::gil_scoped_release release;
      found = p.get_bottlenecks(threshold);
    }
    py::list out;
    for (const auto& b : found) out.append(to_dict(b));
    return out;
  });
  m.def("_recommendations", [](py::handle self) {
    Profiler& p = core(self);
    std::vector<Recommendation> found;
    {
      py::gil_scoped_release release;
      found = p.get_performance_recommendations();
    }
    py::list out;
    for (const auto& r : found) out.append(to_dict(r));
    return out;
  });
  m.def("_export_profiling_data", [](py::handle self, const std::string& path) {
    Profiler& p = core(self);
    py::gil_scoped_release release;
    return p.export_profiling_data(path);
  });
  m.def("_export_all", [](py::handle self, const std::string& directory) {
    Profiler& p = core(self);
    py::gil_scoped_release release;
    return p.export_all(directory);
  });
  // One snapshot analysed once and written in the given formats (the run's extra metadata and
  // notes included): what a program's final report needs.
  m.def("_export_formats", [](py::handle self, const std::vector<std::string>& formats, const std::string& directory,
                              const std::map<std::string, std::string>& metadata,
                              const std::map<std::string, std::string>& unavailable) {
    Profiler& p = core(self);
    py::gil_scoped_release release;
    Snapshot s = p.snapshot();
    for (const auto& [k, v] : metadata) s.run.metadata[k] = v;
    for (const auto& [what, why] : unavailable) s.run.unavailable.push_back({what, why});
    const Config cfg = p.config();
    const Findings f = analyze_snapshot(s, cfg);
    return io::write_exports(formats, directory.empty() ? cfg.output_dir : directory, s, f);
  });
  m.def("_reset", [](py::handle self) {
    Profiler& p = core(self);
    py::gil_scoped_release release;
    p.reset();
  });
  m.def("_flush", [](py::handle self) {
    Profiler& p = core(self);
    py::gil_scoped_release release;
    p.flush();
  });

  py::class_<DashboardHandle>(m, "_Dashboard")
      .def(py::init([](py::object profiler, const std::string& host, int port, const std::string& token) {
             if (port < 0 || port > 65535) throw py::value_error("port must be in [0, 65535] (0 picks a free port), got " + std::to_string(port));
             auto handle = std::make_unique<DashboardHandle>();
             Profiler& p = core(profiler);
             handle->profiler = profiler;
             DashboardOptions options;
             options.host = host;
             options.port = static_cast<std::uint16_t>(port);
             options.token = token;
             py::gil_scoped_release release;
             handle->dashboard = std::make_unique<Dashboard>(p, options);
             return handle;
           }),
           py::arg("profiler"), py::arg("host"), py::arg("port"), py::arg("token"))
      .def_property_readonly("url", [](const DashboardHandle& d) { return d.dashboard ? d.dashboard->url() : std::string(); })
      .def_property_readonly("port", [](const DashboardHandle& d) { return d.dashboard ? d.dashboard->port() : 0; })
      .def_property_readonly("host", [](const DashboardHandle& d) { return d.dashboard ? d.dashboard->host() : std::string(); })
      .def_property_readonly("running", [](const DashboardHandle& d) { return d.dashboard != nullptr; })
      .def("stop", [](DashboardHandle& d) {
        py::gil_scoped_release release;
        d.dashboard.reset();
      })
      .def("_forget_after_fork", [](DashboardHandle& d) {
        // In a fork()ed child the server threads do not exist: never join them.
        (void)d.dashboard.release();
      });
}

}  // namespace codeprof::python
