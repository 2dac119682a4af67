#pragma once
// The pybind11 part of the binding: one registration function per concept, called by module.cpp.
#include <pybind11/pybind11.h>

#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof {
class Profiler;
}

namespace codeprof::python {

namespace py = pybind11;

void bind_config(py::module_& m);     // _Config, config_keys(), ConfigError
// Raises codeprof.ConfigError (a ValueError) from code that sets Python errors itself.
void set_config_error(const char* message);
void bind_results(py::module_& m);    // Snapshot and its parts; Findings as Python dicts
void bind_profiler(py::module_& m);   // switches, results, exports, dashboard of a ProfilerCore
void bind_processes(py::module_& m);  // process parts: sender, status, merge
void bind_traces(py::module_& m);     // reading traces and reports, analysis, exports of a Snapshot

// The C++ profiler behind a ProfilerCore object; a TypeError for anything else.
Profiler& core(py::handle self);

// The Python face of a category: the codeprof.Category member once the package registered them,
// else its name.
py::object category_object(Category c);

// Findings as the JSON report spells them (docs/REPORT_SCHEMA.md), as plain dicts and lists.
py::dict to_dict(const Bottleneck& b);
py::dict to_dict(const Recommendation& r);
py::dict to_dict(const Classification& c);
py::dict to_dict(const Trend& t);
py::dict to_dict(const Findings& f);  // bottlenecks, recommendations, classification, trends

}  // namespace codeprof::python
