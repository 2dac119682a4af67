// codeprof._codeprof_torch: the libtorch operator observer (src/torch, include/codeprof/torch.hpp)
// for codeprof.torch.capture_ops. A separate module so that `import codeprof` never loads libtorch.
// It links the same libtorch as Debian's python3-torch and resolves codeprof from _codeprof, so
// operators nest under the Python scopes of the same profiler, on the same per-thread rings.
#include <pybind11/pybind11.h>

#include <memory>

#include "codeprof/profiler.hpp"
#include "codeprof/torch.hpp"

namespace py = pybind11;

namespace {

struct Observer {
  std::unique_ptr<codeprof::TorchObserver> observer;
  py::object profiler;  // keeps the profiler alive while the callback may fire
};

}  // namespace

PYBIND11_MODULE(_codeprof_torch, m) {
  m.doc() = "libtorch operator capture for codeprof (use codeprof.torch.capture_ops).";
  py::class_<Observer>(m, "_TorchObserver")
      .def(py::init([](py::object profiler, std::uintptr_t address, double sample_rate, bool operators, bool autograd,
                       int category) {
             if (category < 0 || category >= static_cast<int>(codeprof::kCategoryCount))
               throw py::value_error("category index out of range");
             codeprof::TorchObserverOptions options;
             options.sample_rate = sample_rate;
             options.operators = operators;
             options.autograd = autograd;
             options.category = static_cast<codeprof::Category>(category);
             auto o = std::make_unique<Observer>();
             o->profiler = std::move(profiler);
             try {
               o->observer = std::make_unique<codeprof::TorchObserver>(*reinterpret_cast<codeprof::Profiler*>(address), options);
             } catch (const std::invalid_argument& e) {
               throw py::value_error(e.what());
             } catch (const std::logic_error& e) {
               throw py::value_error(e.what());
             }
             return o;
           }),
           py::arg("profiler"), py::arg("address"), py::arg("sample_rate"), py::arg("operators"), py::arg("autograd"),
           py::arg("category"))
      .def_property_readonly("recorded", [](const Observer& o) { return o.observer ? o.observer->recorded() : 0; })
      .def_property_readonly("active", [](const Observer& o) { return o.observer != nullptr; })
      .def("close", [](Observer& o) { o.observer.reset(); });
}
