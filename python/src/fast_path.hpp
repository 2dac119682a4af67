#pragma once
// The hot path of the Python binding as plain CPython types (pybind11's dispatch costs more than a
// whole scope): ProfilerCore.profile_operation(), the scope it returns (__enter__/__exit__), and
// ProfiledFunction, the callable that @profiler.profile puts around a function.
#include <Python.h>

#include <string>

#include "codeprof/profiler.hpp"

namespace codeprof::python {

struct ProfilerObject {
  PyObject_HEAD
  Profiler* profiler;  // null until __init__ ran
  bool owned;          // false for the process-wide default profiler (never destroyed)
};

extern PyTypeObject ProfilerCoreType;

// Adds ProfilerCore, OperationScope, ProfiledFunction and the site cache to `module`. -1 on error.
int add_fast_path_types(PyObject* module);

// The profiler behind a ProfilerCore (or subclass) instance; throws std::invalid_argument otherwise.
Profiler& profiler_of(PyObject* object);

// "data_loading" or a Category (int) -> index; sets a ValueError/TypeError and returns -1 otherwise.
int parse_category(PyObject* category);

// The package's codeprof.Category members (a list in C++ order): parsed like their names, and
// returned for OperationStats.category. -1 on error.
int register_category_objects(PyObject* members);
PyObject* registered_category(Category c);  // borrowed; null before registration

// Names the calling thread in `profiler`'s reports: the name set here wins over the one a first
// scope would take from threading.current_thread().name, also when it is set before that scope.
void name_thread_as(Profiler& profiler, const std::string& name);

}  // namespace codeprof::python
