// Snapshots that do not come from a live profiler: traces another profiler wrote (PyTorch's Kineto
// traces included), analysed and exported by the same code as live runs; and a read-only dashboard
// over one.
#include <pybind11/stl.h>

#include <memory>

#include "bindings.hpp"
#include "codeprof/analysis.hpp"
#include "codeprof/dashboard.hpp"
#include "codeprof/exporters.hpp"
#include "codeprof/trace_reader.hpp"

namespace codeprof::python {
namespace {

struct SavedDashboard {
  std::unique_ptr<Dashboard> dashboard;
  ~SavedDashboard() {
    py::gil_scoped_release release;
    dashboard.reset();
  }
};

}  // namespace

void bind_traces(py::module_& m) {
  py::register_exception<io::TraceReadError>(m, "TraceReadError", PyExc_ValueError);

  m.def(
      "read_trace",
      [](const std::string& path, std::uint64_t trace_event_budget, bool gpu_activities_as_operations) {
        io::TraceReadOptions options;
        options.trace_event_budget = trace_event_budget;
        options.gpu_activities_as_operations = gpu_activities_as_operations;
        py::gil_scoped_release release;
        return std::make_shared<Snapshot>(io::read_trace_file(path, options));
      },
      py::arg("path"), py::arg("trace_event_budget") = 100'000, py::arg("gpu_activities_as_operations") = true,
      "Reads a Chrome trace or a PyTorch profiler (Kineto) trace, .json or .json.gz, into a Snapshot.");
  m.def(
      "detect_trace_format", [](const std::string& path) { return std::string(io::to_string(io::detect_trace_format(path))); },
      py::arg("path"));
  m.def(
      "_analyze_snapshot",
      [](const Snapshot& snapshot, const Config& config) {
        Findings f;
        {
          py::gil_scoped_release release;
          f = analyze_snapshot(snapshot, config);
        }
        return to_dict(f);
      },
      py::arg("snapshot"), py::arg("config"));
  m.def(
      "_write_snapshot",
      [](const Snapshot& snapshot, const Config& config, const std::vector<std::string>& formats, const std::string& directory) {
        py::gil_scoped_release release;
        const Findings f = analyze_snapshot(snapshot, config);
        return io::write_exports(formats, directory, snapshot, f);
      },
      py::arg("snapshot"), py::arg("config"), py::arg("formats"), py::arg("directory"));
  m.def(
      "_json_report",
      [](const Snapshot& snapshot, const Config& config) {
        py::gil_scoped_release release;
        return io::to_json_report(snapshot, analyze_snapshot(snapshot, config));
      },
      py::arg("snapshot"), py::arg("config"));
  m.def("export_format_names", [] { return io::export_format_names(); });

  py::class_<SavedDashboard>(m, "_SavedDashboard")
      .def(py::init([](const Snapshot& snapshot, const Config& config, const std::string& host, int port, const std::string& token) {
             if (port < 0 || port > 65535) throw py::value_error("port must be in [0, 65535] (0 picks a free port), got " + std::to_string(port));
             auto handle = std::make_unique<SavedDashboard>();
             DashboardOptions options;
             options.host = host;
             options.port = static_cast<std::uint16_t>(port);
             options.token = token;
             py::gil_scoped_release release;
             handle->dashboard = std::make_unique<Dashboard>(snapshot, analyze_snapshot(snapshot, config), options, config);
             return handle;
           }),
           py::arg("snapshot"), py::arg("config"), py::arg("host"), py::arg("port"), py::arg("token"))
      .def_property_readonly("url", [](const SavedDashboard& d) { return d.dashboard ? d.dashboard->url() : std::string(); })
      .def_property_readonly("port", [](const SavedDashboard& d) { return d.dashboard ? d.dashboard->port() : 0; })
      .def_property_readonly("host", [](const SavedDashboard& d) { return d.dashboard ? d.dashboard->host() : std::string(); })
      .def_property_readonly("running", [](const SavedDashboard& d) { return d.dashboard != nullptr; })
      .def("stop", [](SavedDashboard& d) {
        py::gil_scoped_release release;
        d.dashboard.reset();
      })
      .def("_forget_after_fork", [](SavedDashboard& d) { (void)d.dashboard.release(); });
}

}  // namespace codeprof::python
