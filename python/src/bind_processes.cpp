// Statistics recorded in other processes (include/codeprof/process_parts.hpp) for the package's
// worker support (python/codeprof/_processes.py): the parent's channel and status, the child's
// sender. A child's update is its profiler's snapshot, encoded and sent without the GIL.
#include <pybind11/stl.h>

#include <mutex>

#include "bindings.hpp"
#include "codeprof/process_parts.hpp"
#include "fast_path.hpp"

namespace codeprof::python {
namespace {

// One sender per child-side profiler; the periodic flusher and a per-batch flush may both send.
struct PartSender {
  explicit PartSender(std::string address) : sender(std::move(address)) {}
  std::mutex mutex;
  ProcessPartSender sender;
};

}  // namespace

void bind_processes(py::module_& m) {
  m.def("_process_channel", [](py::handle self) { return core(self).process_channel(); });
  m.def("_process_parts_status", [](py::handle self) {
    const ProcessPartsStatus s = core(self).process_parts_status();
    py::dict d;
    d["address"] = s.address;
    d["processes"] = s.sources;
    d["updates_received"] = s.updates_received;
    d["updates_dropped"] = s.updates_dropped;
    d["updates_malformed"] = s.updates_malformed;
    d["generation"] = s.generation;
    return d;
  });

  py::class_<PartSender>(m, "_PartSender")
      .def(py::init([](const std::string& address) {
             try {
               return std::make_unique<PartSender>(address);
             } catch (const std::runtime_error& e) {
               throw py::value_error(e.what());
             }
           }),
           py::arg("address"))
      .def(
          "send",
          [](PartSender& s, py::handle profiler, const std::string& source, const std::string& label,
             std::uint64_t generation, int wait_ms) {
            Profiler& p = core(profiler);
            py::gil_scoped_release release;
            std::lock_guard lock(s.mutex);
            ProcessPart part;
            part.source = source;
            part.label = label;
            part.generation = generation;
            part.snapshot = p.snapshot();
            return wait_ms > 0 ? s.sender.send_final(part, std::chrono::milliseconds(wait_ms)) : s.sender.send(part);
          },
          py::arg("profiler"), py::arg("source"), py::arg("label"), py::arg("generation"), py::arg("wait_ms") = 0,
          "Sends the profiler's statistics as one cumulative update; with wait_ms > 0 waits that long for room. "
          "False when the update was dropped.")
      .def("poll_generation",
           [](PartSender& s) {
             std::lock_guard lock(s.mutex);
             return s.sender.poll_generation();
           })
      .def("fileno", [](PartSender& s) { return s.sender.fd(); })
      .def_property_readonly("sent", [](PartSender& s) { return s.sender.sent(); })
      .def_property_readonly("dropped", [](PartSender& s) { return s.sender.dropped(); })
      .def_property_readonly("address", [](PartSender& s) { return s.sender.address(); });
}

}  // namespace codeprof::python
