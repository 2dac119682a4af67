// codeprof::Config for the Python Config class (python/codeprof/_config.py), which gives every key
// of docs/CONFIG.md as an attribute. Values cross as the keys' text forms, so Python, TOML and the
// environment go through the same checks and the same error messages.
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "codeprof/config.hpp"

namespace codeprof::python {

namespace {
PyObject* g_config_error = nullptr;  // codeprof.ConfigError, kept for the CPython paths
}  // namespace

void set_config_error(const char* message) { PyErr_SetString(g_config_error ? g_config_error : PyExc_ValueError, message); }

void bind_config(py::module_& m) {
  // A bad key or value: the message names the key, what was expected and what was given.
  const auto& error = py::register_exception<ConfigError>(m, "ConfigError", PyExc_ValueError);
  g_config_error = error.ptr();
  Py_INCREF(g_config_error);  // lives as long as the module

  py::class_<Config>(m, "_Config", "The C++ configuration (use codeprof.Config).")
      .def(py::init<>())
      .def_static("load", &Config::load, py::arg("path"), "Defaults, then the TOML file, then CODEPROF_* variables.")
      .def_static("from_env", &Config::from_env, "Defaults, then CODEPROF_CONFIG's file, then CODEPROF_* variables.")
      .def("apply_env", &Config::apply_env)
      .def("set", &Config::set, py::arg("key"), py::arg("value"), "Sets one key from its text form; nothing on error.")
      .def("get", &Config::get, py::arg("key"), "The text form of one key.")
      .def("validate", &Config::validate)
      .def("copy", [](const Config& c) { return Config(c); })
      .def("__eq__", [](const Config& a, const Config& b) { return a == b; });

  m.def(
      "config_keys",
      [] {
        py::list out;
        for (const ConfigKey& k : codeprof::config_keys()) {
          py::dict d;
          d["name"] = k.name;
          d["env"] = k.env;
          d["type"] = k.type;
          d["default"] = k.default_value;
          d["description"] = k.description;
          out.append(d);
        }
        return out;
      },
      "Every configuration key: name, env, type, default (text form) and description.");
}

}  // namespace codeprof::python
