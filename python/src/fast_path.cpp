// The hot path of the Python binding, written against the CPython API directly.
//
// `with profiler.profile_operation("load", "data_loading"):` costs: one method call that looks the
// (name, category) pair up in a dict (the call site id, resolved through the C++ registry once per
// name), one small object from a free list, and __enter__/__exit__, which construct and destroy a
// codeprof::Scope in that object: two timestamps and a push into this thread's ring, as in C++.
// A category that is not recording returns a shared inert scope at once.
#include "fast_path.hpp"
#include "bindings.hpp"
#include "python_sampler.hpp"

#include <pybind11/pybind11.h>

#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace codeprof::python {
namespace {

// ---------------------------------------------------------------- categories and call sites

PyObject* g_category_index = nullptr;                   // "data_loading" -> 0, ...
PyObject* g_site_cache[kCategoryCount] = {};            // per category: name -> site id (int)
PyObject* g_current_thread = nullptr;                   // threading.current_thread
PyObject* g_category_members[kCategoryCount] = {};      // codeprof.Category members (strong refs)

PyObject* unknown_category(PyObject* given) {
  std::string names;
  for (std::size_t i = 0; i < kCategoryCount; ++i) names += (i ? ", " : "") + std::string(kCategoryNames[i]);
  PyErr_Format(PyExc_ValueError, "unknown category %R: expected one of %s (or a codeprof.Category)", given, names.c_str());
  return nullptr;
}

}  // namespace

int parse_category(PyObject* category) {
  if (PyUnicode_Check(category)) {
    // A name, or a codeprof.Category member (registered as a key of its own).
    PyObject* index = PyDict_GetItemWithError(g_category_index, category);
    if (index) return static_cast<int>(PyLong_AsLong(index));
    if (PyErr_Occurred()) return -1;
    if (!PyUnicode_CheckExact(category)) {  // another str subclass: by its text
      PyObject* exact = PyUnicode_FromObject(category);
      if (!exact) return -1;
      index = PyDict_GetItemWithError(g_category_index, exact);
      Py_DECREF(exact);
      if (index) return static_cast<int>(PyLong_AsLong(index));
      if (PyErr_Occurred()) return -1;
    }
    unknown_category(category);
    return -1;
  }
  PyErr_Format(PyExc_TypeError, "category must be a str such as 'data_loading' or a codeprof.Category, not %.100s",
               Py_TYPE(category)->tp_name);
  return -1;
}

int register_category_objects(PyObject* members) {
  if (!PyList_Check(members) || PyList_GET_SIZE(members) != static_cast<Py_ssize_t>(kCategoryCount)) {
    PyErr_SetString(PyExc_ValueError, "expected a list of one member per category");
    return -1;
  }
  for (std::size_t i = 0; i < kCategoryCount; ++i) {
    PyObject* member = PyList_GET_ITEM(members, static_cast<Py_ssize_t>(i));
    PyObject* index = PyLong_FromSize_t(i);
    if (!index || PyDict_SetItem(g_category_index, member, index) < 0) {
      Py_XDECREF(index);
      return -1;
    }
    Py_DECREF(index);
    Py_INCREF(member);
    Py_XSETREF(g_category_members[i], member);
  }
  return 0;
}

PyObject* registered_category(Category c) { return g_category_members[index_of(c)]; }

namespace {

// The site id of (name, category): a dict lookup after the first call with that name.
bool lookup_site(PyObject* name, int category, SiteId& out) {
  PyObject* cache = g_site_cache[category];
  PyObject* id = PyDict_GetItemWithError(cache, name);
  if (id) {
    out = SiteId{static_cast<std::uint32_t>(PyLong_AsUnsignedLong(id)), static_cast<Category>(category)};
    return true;
  }
  if (PyErr_Occurred()) return false;
  if (!PyUnicode_Check(name)) {
    PyErr_Format(PyExc_TypeError, "operation name must be a str, not %.100s", Py_TYPE(name)->tp_name);
    return false;
  }
  Py_ssize_t size = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(name, &size);
  if (!utf8) return false;
  out = register_site(std::string_view(utf8, static_cast<std::size_t>(size)), static_cast<Category>(category));
  PyObject* value = PyLong_FromUnsignedLong(out.id);
  if (!value) return false;
  const int rc = PyDict_SetItem(cache, name, value);
  Py_DECREF(value);
  return rc == 0;
}

// Reports and traces name a thread the way Python does (threading.current_thread().name), once per
// thread and profiler.
thread_local std::uint64_t t_named_last = 0;
thread_local std::vector<std::uint64_t>* t_named = nullptr;

// Marks the calling thread as named in `profiler`; false when it already was.
bool mark_thread_named(Profiler& profiler) {
  const std::uint64_t id = profiler.state().id;
  t_named_last = id;
  if (!t_named) t_named = new std::vector<std::uint64_t>();  // per thread, tiny; lives as long as the thread
  for (std::uint64_t named : *t_named)
    if (named == id) return false;
  t_named->push_back(id);
  return true;
}

void name_thread_slow(Profiler& profiler) {
  if (!mark_thread_named(profiler)) return;
  PyObject* thread = PyObject_CallNoArgs(g_current_thread);
  if (!thread) {
    PyErr_Clear();
    return;
  }
  PyObject* name = PyObject_GetAttrString(thread, "name");
  Py_DECREF(thread);
  if (!name) {
    PyErr_Clear();
    return;
  }
  if (const char* utf8 = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : nullptr) profiler.set_thread_name(utf8);
  PyErr_Clear();
  Py_DECREF(name);
}

inline void name_thread(Profiler& profiler) {
  if (t_named_last != profiler.state().id) [[unlikely]]
    name_thread_slow(profiler);
}

}  // namespace

void name_thread_as(Profiler& profiler, const std::string& name) {
  mark_thread_named(profiler);
  profiler.set_thread_name(name);
}

namespace {

bool category_records(Profiler& profiler, int category) {
  return (profiler.state().active_mask.load(std::memory_order_relaxed) & category_bit(static_cast<Category>(category))) != 0;
}

// ---------------------------------------------------------------- OperationScope

struct ScopeObject {
  PyObject_HEAD
  ProfilerObject* owner;  // strong reference: the profiler outlives its scopes
  SiteId site;
  unsigned long thread;   // PyThread_get_thread_ident() of the entering thread
  bool entered;
  alignas(Scope) unsigned char storage[sizeof(Scope)];
  Scope& scope() { return *std::launder(reinterpret_cast<Scope*>(storage)); }
};

// Static types, filled in add_fast_path_types() (value-initialised here: every slot starts empty).
PyTypeObject ScopeType{};
PyTypeObject NullScopeType{};
PyTypeObject FunctionType{};
PyObject* g_null_scope = nullptr;

// Freed scope objects are kept for reuse: a `with` block allocates nothing in the steady state.
constexpr int kFreeListSize = 128;
ScopeObject* g_free_list[kFreeListSize];
int g_free_count = 0;
bool g_warned_migration = false;

PyObject* new_scope(ProfilerObject* owner, SiteId site) {
  ScopeObject* s;
  if (g_free_count > 0) {
    s = g_free_list[--g_free_count];
    Py_SET_REFCNT(s, 1);
  } else {
    s = PyObject_New(ScopeObject, &ScopeType);
    if (!s) return nullptr;
  }
  Py_INCREF(owner);
  s->owner = owner;
  s->site = site;
  s->entered = false;
  return reinterpret_cast<PyObject*>(s);
}

void scope_dealloc(PyObject* self) {
  auto* s = reinterpret_cast<ScopeObject*>(self);
  if (s->entered) {
    // Collected while still open (a generator dropped mid-block): not recorded. Ending it here could
    // be on another thread and would time the collection, not the work. cancel() is safe anywhere.
    s->entered = false;
    s->scope().cancel();
    s->scope().~Scope();
  }
  Py_CLEAR(s->owner);
  if (g_free_count < kFreeListSize) {
    g_free_list[g_free_count++] = s;
    return;
  }
  PyObject_Free(self);
}

PyObject* scope_enter(PyObject* self, PyObject*) {
  auto* s = reinterpret_cast<ScopeObject*>(self);
  if (s->entered) {
    PyErr_SetString(PyExc_RuntimeError,
                    "this codeprof scope is already open: call profile_operation() again for a nested or "
                    "concurrent block of the same operation");
    return nullptr;
  }
  Profiler& profiler = *s->owner->profiler;
  name_thread(profiler);
  s->thread = PyThread_get_thread_ident();
  s->entered = true;
  new (s->storage) Scope(profiler.state(), s->site);
  Py_INCREF(self);
  return self;
}

PyObject* scope_exit(PyObject* self, PyObject* const*, Py_ssize_t) {
  auto* s = reinterpret_cast<ScopeObject*>(self);
  if (s->entered) {
    s->entered = false;
    if (s->thread == PyThread_get_thread_ident()) [[likely]] {
      s->scope().~Scope();
    } else {
      // Ending it here would write into another thread's ring: it is cancelled (not recorded), and
      // the entering thread closes its place when a scope enclosing it ends.
      s->scope().cancel();
      s->scope().~Scope();
      if (g_warned_migration) Py_RETURN_FALSE;
      g_warned_migration = true;
      if (PyErr_WarnEx(PyExc_RuntimeWarning,
                       "codeprof: a scope ended on another thread than the one that entered it; it is not "
                       "recorded (scopes must not migrate between threads)",
                       1) < 0)
        return nullptr;
    }
  }
  Py_RETURN_FALSE;  // exceptions propagate
}

PyObject* scope_active(PyObject* self, void*) {
  auto* s = reinterpret_cast<ScopeObject*>(self);
  return PyBool_FromLong(s->entered && s->scope().active());
}

PyObject* scope_operation(PyObject* self, void*) {
  auto* s = reinterpret_cast<ScopeObject*>(self);
  return PyUnicode_FromString(site_name(s->site.id).c_str());
}

PyMethodDef scope_methods[] = {
    {"__enter__", scope_enter, METH_NOARGS, "Starts timing the operation."},
    {"__exit__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(scope_exit)), METH_FASTCALL,
     "Ends the operation (also when the block raised); never suppresses the exception."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef scope_getset[] = {
    {"active", scope_active, nullptr, "True while the scope is open and recording.", nullptr},
    {"operation", scope_operation, nullptr, "The operation's name.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyObject* null_enter(PyObject* self, PyObject*) {
  Py_INCREF(self);
  return self;
}
PyObject* null_exit(PyObject*, PyObject* const*, Py_ssize_t) { Py_RETURN_FALSE; }
PyObject* null_active(PyObject*, void*) { Py_RETURN_FALSE; }

PyMethodDef null_methods[] = {
    {"__enter__", null_enter, METH_NOARGS, "Does nothing: the category is not recording."},
    {"__exit__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(null_exit)), METH_FASTCALL, "Does nothing."},
    {nullptr, nullptr, 0, nullptr}};
PyGetSetDef null_getset[] = {{"active", null_active, nullptr, "Always False.", nullptr},
                             {nullptr, nullptr, nullptr, nullptr, nullptr}};

// ---------------------------------------------------------------- ProfilerCore

int core_init(PyObject* self, PyObject* args, PyObject* kwargs) {
  auto* p = reinterpret_cast<ProfilerObject*>(self);
  static const char* keywords[] = {"config", "default", nullptr};
  PyObject* config = Py_None;
  int use_default = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O$p", const_cast<char**>(keywords), &config, &use_default)) return -1;
  if (p->profiler) {
    PyErr_SetString(PyExc_RuntimeError, "the profiler is already initialised");
    return -1;
  }
  try {
    if (use_default) {
      p->profiler = &default_profiler();
      p->owned = false;
      return 0;
    }
    Config c = config == Py_None ? Config{} : pybind11::cast<Config>(pybind11::handle(config));
    Profiler* created = nullptr;
    std::exception_ptr failure;
    Py_BEGIN_ALLOW_THREADS  // starts the collector and sampler threads
    try {
      created = new Profiler(std::move(c));
    } catch (...) {
      failure = std::current_exception();
    }
    Py_END_ALLOW_THREADS
    if (failure) std::rethrow_exception(failure);
    p->profiler = created;
    p->owned = true;
    return 0;
  } catch (const pybind11::cast_error&) {
    PyErr_Format(PyExc_TypeError, "config must be a codeprof.Config, not %.100s", Py_TYPE(config)->tp_name);
  } catch (const ConfigError& e) {
    set_config_error(e.what());
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return -1;
}

void core_dealloc(PyObject* self) {
  auto* p = reinterpret_cast<ProfilerObject*>(self);
  if (p->profiler && p->owned) {
    stop_python_sampler(*p->profiler);
    Profiler* doomed = p->profiler;
    p->profiler = nullptr;
    Py_BEGIN_ALLOW_THREADS  // joins the collector and sampler
    delete doomed;
    Py_END_ALLOW_THREADS
  }
  Py_TYPE(self)->tp_free(self);
}

bool ready(ProfilerObject* p) {
  if (p->profiler) [[likely]]
    return true;
  PyErr_SetString(PyExc_RuntimeError, "the profiler is not initialised (CodeProfiler.__init__ was not called)");
  return false;
}

// profile_operation(name, category="custom")
PyObject* core_profile_operation(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* p = reinterpret_cast<ProfilerObject*>(self);
  PyObject* name = nargs > 0 ? args[0] : nullptr;
  PyObject* category = nargs > 1 ? args[1] : nullptr;
  if (nargs > 2) {
    PyErr_SetString(PyExc_TypeError, "profile_operation() takes a name and a category");
    return nullptr;
  }
  if (kwnames) [[unlikely]] {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); ++i) {
      PyObject* key = PyTuple_GET_ITEM(kwnames, i);
      PyObject* value = args[nargs + i];
      if (PyUnicode_CompareWithASCIIString(key, "name") == 0 && !name) {
        name = value;
      } else if (PyUnicode_CompareWithASCIIString(key, "category") == 0 && !category) {
        category = value;
      } else {
        PyErr_Format(PyExc_TypeError, "profile_operation() got an unexpected or repeated keyword argument %R", key);
        return nullptr;
      }
    }
  }
  if (!name) {
    PyErr_SetString(PyExc_TypeError, "profile_operation() needs the operation's name");
    return nullptr;
  }
  if (!ready(p)) return nullptr;
  const int c = category ? parse_category(category) : static_cast<int>(Category::Custom);
  if (c < 0) return nullptr;
  if (!PyUnicode_Check(name)) {
    PyErr_Format(PyExc_TypeError, "operation name must be a str, not %.100s", Py_TYPE(name)->tp_name);
    return nullptr;
  }
  if (!category_records(*p->profiler, c)) {
    Py_INCREF(g_null_scope);
    return g_null_scope;
  }
  SiteId site;
  if (!lookup_site(name, c, site)) return nullptr;
  return new_scope(p, site);
}

// ticks() -> int: the recorder's clock (for record_span).
PyObject* core_ticks(PyObject* self, PyObject*) {
  auto* p = reinterpret_cast<ProfilerObject*>(self);
  if (!ready(p)) return nullptr;
  return PyLong_FromUnsignedLongLong(p->profiler->ticks());
}

// record_span(name, category, start_ticks, end_ticks) -> bool: an operation that already finished.
PyObject* core_record_span(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  auto* p = reinterpret_cast<ProfilerObject*>(self);
  if (nargs != 4) {
    PyErr_SetString(PyExc_TypeError, "record_span() takes a name, a category, start_ticks and end_ticks");
    return nullptr;
  }
  if (!ready(p)) return nullptr;
  const int c = parse_category(args[1]);
  if (c < 0) return nullptr;
  const unsigned long long start = PyLong_AsUnsignedLongLong(args[2]);
  const unsigned long long end = PyLong_AsUnsignedLongLong(args[3]);
  if (PyErr_Occurred()) return nullptr;
  if (!PyUnicode_Check(args[0])) {
    PyErr_Format(PyExc_TypeError, "operation name must be a str, not %.100s", Py_TYPE(args[0])->tp_name);
    return nullptr;
  }
  if (!category_records(*p->profiler, c)) Py_RETURN_FALSE;
  SiteId site;
  if (!lookup_site(args[0], c, site)) return nullptr;
  name_thread(*p->profiler);
  return PyBool_FromLong(p->profiler->record_span(site, start, end));
}

// _site(name, category) -> int: the call site's id (for ProfiledFunction and tests).
PyObject* core_site(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "_site() takes a name and a category");
    return nullptr;
  }
  const int c = parse_category(args[1]);
  if (c < 0) return nullptr;
  SiteId site;
  if (!lookup_site(args[0], c, site)) return nullptr;
  return PyLong_FromUnsignedLong(site.id);
}

PyMethodDef core_methods[] = {
    {"profile_operation", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(core_profile_operation)),
     METH_FASTCALL | METH_KEYWORDS,
     "profile_operation(name, category='custom')\n--\n\n"
     "A context manager that records one call of the operation `name` in `category` (a str such as\n"
     "'data_loading' or a codeprof.Category). Nested blocks nest; exceptions propagate and the block is\n"
     "still recorded."},
    {"ticks", core_ticks, METH_NOARGS,
     "ticks()\n--\n\nThe profiler's clock now (TSC ticks, or steady-clock nanoseconds), for record_span()."},
    {"record_span", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(core_record_span)), METH_FASTCALL,
     "record_span(name, category, start_ticks, end_ticks)\n--\n\n"
     "Records one call of an operation that already finished, timed with ticks(), on the calling\n"
     "thread as a child of its innermost open scope. False when nothing was recorded (category off,\n"
     "or end before start)."},
    {"_site", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(core_site)), METH_FASTCALL,
     "The call-site id of (name, category)."},
    {nullptr, nullptr, 0, nullptr}};

// ---------------------------------------------------------------- ProfiledFunction

struct FunctionObject {
  PyObject_HEAD
  ProfilerObject* owner;
  PyObject* function;
  SiteId site;
  vectorcallfunc vectorcall;
  PyObject* dict;
  PyObject* weakrefs;
};

PyObject* function_vectorcall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  auto* f = reinterpret_cast<FunctionObject*>(self);
  Profiler& profiler = *f->owner->profiler;
  if (!category_records(profiler, static_cast<int>(f->site.category)))
    return PyObject_Vectorcall(f->function, args, nargsf, kwnames);
  name_thread(profiler);
  // The scope lives on this C stack frame for the duration of the call: it always ends on the
  // thread that began it, in order, also when the function raises.
  Scope scope(profiler.state(), f->site);
  return PyObject_Vectorcall(f->function, args, nargsf, kwnames);
}

PyObject* function_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"profiler", "function", "name", "category", nullptr};
  PyObject *owner = nullptr, *function = nullptr, *name = nullptr, *category = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!OUO", const_cast<char**>(keywords), &ProfilerCoreType, &owner,
                                   &function, &name, &category))
    return nullptr;
  if (!PyCallable_Check(function)) {
    PyErr_Format(PyExc_TypeError, "profile() decorates a callable, not %.100s", Py_TYPE(function)->tp_name);
    return nullptr;
  }
  if (!ready(reinterpret_cast<ProfilerObject*>(owner))) return nullptr;
  const int c = parse_category(category);
  if (c < 0) return nullptr;
  SiteId site;
  if (!lookup_site(name, c, site)) return nullptr;
  auto* f = reinterpret_cast<FunctionObject*>(type->tp_alloc(type, 0));
  if (!f) return nullptr;
  Py_INCREF(owner);
  Py_INCREF(function);
  f->owner = reinterpret_cast<ProfilerObject*>(owner);
  f->function = function;
  f->site = site;
  f->vectorcall = function_vectorcall;
  return reinterpret_cast<PyObject*>(f);
}

int function_traverse(PyObject* self, visitproc visit, void* arg) {
  auto* f = reinterpret_cast<FunctionObject*>(self);
  Py_VISIT(f->owner);
  Py_VISIT(f->function);
  Py_VISIT(f->dict);
  return 0;
}

int function_clear(PyObject* self) {
  auto* f = reinterpret_cast<FunctionObject*>(self);
  Py_CLEAR(f->function);
  Py_CLEAR(f->dict);
  Py_CLEAR(f->owner);
  return 0;
}

void function_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  auto* f = reinterpret_cast<FunctionObject*>(self);
  if (f->weakrefs) PyObject_ClearWeakRefs(self);
  function_clear(self);
  Py_TYPE(self)->tp_free(self);
}

// As a method: bind like a function does.
PyObject* function_get(PyObject* self, PyObject* instance, PyObject*) {
  if (instance == nullptr || instance == Py_None) {
    Py_INCREF(self);
    return self;
  }
  return PyMethod_New(self, instance);
}

PyObject* function_operation(PyObject* self, void*) {
  return PyUnicode_FromString(site_name(reinterpret_cast<FunctionObject*>(self)->site.id).c_str());
}

PyGetSetDef function_getset[] = {
    {"operation", function_operation, nullptr, "The operation's name.", nullptr},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

}  // namespace

PyTypeObject ProfilerCoreType{};

Profiler& profiler_of(PyObject* object) {
  if (!object || !PyObject_TypeCheck(object, &ProfilerCoreType))
    throw std::invalid_argument("expected a codeprof.CodeProfiler");
  auto* p = reinterpret_cast<ProfilerObject*>(object);
  if (!p->profiler) throw std::invalid_argument("the profiler is not initialised (CodeProfiler.__init__ was not called)");
  return *p->profiler;
}

int add_fast_path_types(PyObject* module) {
  ProfilerCoreType.tp_name = "codeprof._codeprof.ProfilerCore";
  ProfilerCoreType.tp_basicsize = sizeof(ProfilerObject);
  ProfilerCoreType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE;
  ProfilerCoreType.tp_doc = "The C++ profiler behind codeprof.CodeProfiler.";
  ProfilerCoreType.tp_new = PyType_GenericNew;
  ProfilerCoreType.tp_init = core_init;
  ProfilerCoreType.tp_dealloc = core_dealloc;
  ProfilerCoreType.tp_methods = core_methods;

  ScopeType.tp_name = "codeprof._codeprof.OperationScope";
  ScopeType.tp_basicsize = sizeof(ScopeObject);
  ScopeType.tp_flags = Py_TPFLAGS_DEFAULT;
  ScopeType.tp_doc = "One open (or ready) call of an operation; use it in a with statement.";
  ScopeType.tp_dealloc = scope_dealloc;
  ScopeType.tp_methods = scope_methods;
  ScopeType.tp_getset = scope_getset;

  NullScopeType.tp_name = "codeprof._codeprof.InactiveScope";
  NullScopeType.tp_basicsize = sizeof(PyObject);
  NullScopeType.tp_flags = Py_TPFLAGS_DEFAULT;
  NullScopeType.tp_doc = "The scope of a category (or profiler) that is not recording: does nothing.";
  NullScopeType.tp_methods = null_methods;
  NullScopeType.tp_getset = null_getset;

  FunctionType.tp_name = "codeprof._codeprof.ProfiledFunction";
  FunctionType.tp_basicsize = sizeof(FunctionObject);
  FunctionType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_METHOD_DESCRIPTOR;
  FunctionType.tp_doc = "ProfiledFunction(profiler, function, name, category): calls `function` inside a scope.";
  FunctionType.tp_new = function_new;
  FunctionType.tp_dealloc = function_dealloc;
  FunctionType.tp_traverse = function_traverse;
  FunctionType.tp_clear = function_clear;
  FunctionType.tp_call = PyVectorcall_Call;
  FunctionType.tp_vectorcall_offset = offsetof(FunctionObject, vectorcall);
  FunctionType.tp_descr_get = function_get;
  FunctionType.tp_dictoffset = offsetof(FunctionObject, dict);
  FunctionType.tp_weaklistoffset = offsetof(FunctionObject, weakrefs);
  FunctionType.tp_getset = function_getset;

  for (PyTypeObject* t : {&ProfilerCoreType, &ScopeType, &NullScopeType, &FunctionType}) {
    Py_SET_REFCNT(t, 1);  // what PyVarObject_HEAD_INIT gives; PyType_Ready sets the metatype
    if (PyType_Ready(t) < 0) return -1;
  }

  g_category_index = PyDict_New();
  if (!g_category_index) return -1;
  for (std::size_t i = 0; i < kCategoryCount; ++i) {
    PyObject* key = PyUnicode_FromStringAndSize(kCategoryNames[i].data(), static_cast<Py_ssize_t>(kCategoryNames[i].size()));
    PyObject* value = PyLong_FromSize_t(i);
    if (!key || !value || PyDict_SetItem(g_category_index, key, value) < 0) return -1;
    PyUnicode_InternInPlace(&key);
    Py_DECREF(key);
    Py_DECREF(value);
    if (!(g_site_cache[i] = PyDict_New())) return -1;
  }
  PyObject* threading = PyImport_ImportModule("threading");
  if (!threading) return -1;
  g_current_thread = PyObject_GetAttrString(threading, "current_thread");
  Py_DECREF(threading);
  if (!g_current_thread) return -1;
  g_null_scope = PyObject_New(PyObject, &NullScopeType);
  if (!g_null_scope) return -1;

  for (auto [name, object] : {std::pair<const char*, PyObject*>{"ProfilerCore", reinterpret_cast<PyObject*>(&ProfilerCoreType)},
                              {"OperationScope", reinterpret_cast<PyObject*>(&ScopeType)},
                              {"InactiveScope", reinterpret_cast<PyObject*>(&NullScopeType)},
                              {"ProfiledFunction", reinterpret_cast<PyObject*>(&FunctionType)}}) {
    Py_INCREF(object);
    if (PyModule_AddObject(module, name, object) < 0) {
      Py_DECREF(object);
      return -1;
    }
  }
  return 0;
}

}  // namespace codeprof::python
