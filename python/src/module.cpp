// codeprof._codeprof: the C++ core for the codeprof Python package. The package (python/codeprof/)
// is the API; this module holds the hot path (fast_path.cpp) and the bindings the package calls.
#include "bindings.hpp"
#include "codeprof/version.hpp"
#include "fast_path.hpp"

PYBIND11_MODULE(_codeprof, m) {
  m.doc() = "The C++ core of codeprof (use the codeprof package).";
  m.attr("__version__") = codeprof::kVersion;
  // Python stacks come from the package's own sampler (python_sampler.cpp): with sampling.native =
  // auto, profilers of this process do not also sample the interpreter's C stacks.
  codeprof::set_native_sampling_auto(false);
  if (codeprof::python::add_fast_path_types(m.ptr()) < 0) throw pybind11::error_already_set();
  codeprof::python::bind_config(m);
  codeprof::python::bind_results(m);
  codeprof::python::bind_profiler(m);
  codeprof::python::bind_processes(m);
  codeprof::python::bind_traces(m);
}
