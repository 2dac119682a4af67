#include "python_sampler.hpp"

#include <Python.h>
#include <frameobject.h>
#include <pthread.h>
#include <time.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace codeprof::python {
namespace {

bool interpreter_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing();
#else
  return _Py_IsFinalizing();
#endif
}

// CPU time a thread of this process has used, in ns; -1 when it cannot be read (the thread is
// gone). The clock is named by the OS thread id (the kernel's per-thread CPU clock encoding, as
// glibc's pthread_getcpuclockid builds it), so a thread that already exited gives an error, never
// a read of a pthread structure that may be freed.
std::int64_t thread_cpu_ns(std::uint64_t os_tid) {
  const auto clock = static_cast<clockid_t>((~static_cast<unsigned>(os_tid) << 3) | 6u);  // CPUCLOCK_SCHED | PERTHREAD
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string utf8(PyObject* text) {
  if (!text || !PyUnicode_Check(text)) return "?";
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text, &size);
  if (!data) {
    PyErr_Clear();
    return "?";
  }
  return std::string(data, static_cast<std::size_t>(size));
}

class PythonSampler {
 public:
  PythonSampler(Profiler& profiler, PyInterpreterState* interpreter)
      : profiler_(profiler), interpreter_(interpreter) {
    const Config c = profiler.config();
    frequency_hz_ = c.sampling.python_frequency_hz;
    period_ns_ = 1'000'000'000 / static_cast<std::int64_t>(frequency_hz_);
    max_frames_ = c.sampling.max_frames;
    all_threads_ = c.sampling.all_threads;
  }
  PythonSampler(const PythonSampler&) = delete;
  PythonSampler& operator=(const PythonSampler&) = delete;

  Profiler& profiler() const { return profiler_; }

  void start() {
    // The source shows in reports from now on, before its first sample.
    SampleBatch declare;
    declare.frequency_hz = frequency_hz_;
    profiler_.add_samples(declare);
    thread_ = std::thread([this] { run(); });
  }

  // GIL released by the caller: the thread takes it once more to clean up.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  struct Code {
    std::string function;
    std::string file;
  };
  struct Frame {
    std::uint32_t code;
    std::uint32_t line;
  };
  struct Taken {  // one thread's stack at one tick
    std::uint64_t os_tid;
    std::uint64_t count;
    std::size_t first_frame, frames;
    std::size_t first_op, ops;
  };
  struct Clock {
    std::int64_t last_ns = 0;
    std::int64_t owed_ns = 0;  // CPU time not yet turned into samples
    bool seen = false;
  };

  static constexpr std::size_t kMaxCodes = 1u << 16;  // distinct code objects kept (with a reference)

  void run() {
    pthread_setname_np(pthread_self(), "codeprof-python");  // as top -H and /proc show it
    PyThreadState* self = PyThreadState_New(interpreter_);
    std::vector<detail::RecordingThread> recording;
    // Each wait is drawn uniformly from [0, 2 periods) plus [0, the last wait for the GIL): the
    // mean rate is at most the frequency, and ticks never lock onto the program's own rhythm.
    // (A sample sees the thread where it lets go of the GIL, after the call running a switch
    // interval (5 ms) after the tick; a tick at a fixed delay after that call would always see the
    // program at the same point of its loop: measured, a line with 74 % of the CPU time got up to
    // 89 % of the samples with fixed ticks.) The weights stay exact: CPU time between ticks.
    std::minstd_rand random(static_cast<std::uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::int64_t gil_wait_ns = 0;
    for (;;) {
      const std::int64_t spread = 2 * period_ns_ + gil_wait_ns;
      const auto next = std::chrono::steady_clock::now() +
                        std::chrono::nanoseconds(std::uniform_int_distribution<std::int64_t>(0, spread - 1)(random));
      {
        std::unique_lock lock(mutex_);
        if (wake_.wait_until(lock, next, [this] { return stop_; })) break;
      }
      if (interpreter_finalizing()) return;  // never enter a dying interpreter (the state is left to it)
      if (!profiler_.enabled()) {
        clocks_.clear();  // a disabled profiler's time is not sampled later
        continue;
      }
      recording = profiler_.recording_threads();  // before the GIL: it may wait for a snapshot
      read_clocks(recording);
      const auto asked = std::chrono::steady_clock::now();
      PyEval_RestoreThread(self);
      gil_wait_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - asked).count();
      // Checked again under the GIL, which disable() holds: once it returns, no sample is taken and
      // none is still on its way (the store's lock is a leaf, never held while waiting for the GIL).
      if (profiler_.enabled()) {
        collect(self, recording);
        send();
      } else {
        clocks_.clear();
      }
      PyEval_SaveThread();
    }
    if (interpreter_finalizing()) return;
    PyEval_RestoreThread(self);
    for (PyObject* code : code_refs_) Py_DECREF(code);
    code_refs_.clear();
    PyThreadState_Clear(self);
    PyThreadState_DeleteCurrent();
  }

  // The threads' CPU clocks at the tick, before waiting for the GIL: a thread inside a long call
  // that holds the GIL is seen when the call returns (at the call's line, which is right), but the
  // CPU time it used while the sampler waited belongs to the next sample, not to that line.
  void read_clocks(const std::vector<detail::RecordingThread>& recording) {
    at_tick_.clear();
    for (const auto& r : recording) at_tick_.emplace(r.os_tid, thread_cpu_ns(r.os_tid));
    if (all_threads_)
      for (const auto& [tid, clock] : clocks_) at_tick_.emplace(tid, thread_cpu_ns(tid));
  }

  // GIL held. Each thread that used CPU time since its last sample gets its stack taken, counted
  // once per sampling period of CPU time it used (so a late tick loses nothing and an idle thread,
  // e.g. one waiting for the GIL or in sleep(), costs one clock read).
  void collect(PyThreadState* self, const std::vector<detail::RecordingThread>& recording) {
    taken_.clear();
    frames_.clear();
    ops_.clear();
    if (code_refs_.size() > kMaxCodes) {
      for (PyObject* code : code_refs_) Py_DECREF(code);
      code_refs_.clear();
      code_ids_.clear();
      codes_.clear();
    }
    for (auto& [tid, clock] : clocks_) clock.seen = false;
    for (PyThreadState* t = PyInterpreterState_ThreadHead(interpreter_); t; t = PyThreadState_Next(t)) {
      if (t == self) continue;
      const std::uint64_t tid = native_id(t);
      if (tid == 0) continue;
      const detail::RecordingThread* rec = nullptr;
      for (const auto& r : recording)
        if (r.os_tid == tid) rec = &r;
      if (!rec && !all_threads_) continue;
      const auto read = at_tick_.find(tid);
      const std::int64_t cpu = read != at_tick_.end() ? read->second : thread_cpu_ns(tid);
      if (cpu < 0) continue;
      const auto [entry, first] = clocks_.try_emplace(tid);
      Clock& clock = entry->second;
      clock.seen = true;
      if (first) {  // its CPU time counts from now
        clock.last_ns = cpu;
        continue;
      }
      clock.owed_ns += cpu - clock.last_ns;
      clock.last_ns = cpu;
      const std::int64_t count = clock.owed_ns / period_ns_;
      if (count <= 0) continue;
      clock.owed_ns -= count * period_ns_;

      Taken taken{tid, static_cast<std::uint64_t>(count), frames_.size(), 0, ops_.size(), 0};
      PyFrameObject* frame = PyThreadState_GetFrame(t);
      while (frame && taken.frames < max_frames_) {
        PyCodeObject* code = PyFrame_GetCode(frame);
        const int line = PyFrame_GetLineNumber(frame);
        frames_.push_back({intern(code), line > 0 ? static_cast<std::uint32_t>(line) : 0u});
        Py_DECREF(code);
        ++taken.frames;
        PyFrameObject* back = PyFrame_GetBack(frame);
        Py_DECREF(frame);
        frame = back;
      }
      Py_XDECREF(frame);
      if (taken.frames == 0) continue;  // no Python code on it (a C thread holding a thread state)
      if (rec) {
        std::uint32_t open[detail::kMaxDepth];
        const int n = detail::read_open_operations(*rec, open, static_cast<int>(detail::kMaxDepth));
        ops_.insert(ops_.end(), open, open + n);
        taken.ops = static_cast<std::size_t>(n);
      }
      taken_.push_back(taken);
    }
    std::erase_if(clocks_, [](const auto& entry) { return !entry.second.seen; });  // exited threads
  }

  // The stacks taken become one batch.
  void send() {
    if (taken_.empty()) return;
    SampleBatch batch;
    batch.frequency_hz = frequency_hz_;
    batch.samples.reserve(taken_.size());
    for (const Taken& t : taken_) {
      ExternalSample s;
      s.os_tid = t.os_tid;
      s.count = t.count;
      s.frames.reserve(t.frames);
      for (std::size_t i = 0; i < t.frames; ++i) {
        const Frame& f = frames_[t.first_frame + i];
        s.frames.push_back({codes_[f.code].function, codes_[f.code].file, f.line, {}});
      }
      s.operations.assign(ops_.begin() + static_cast<std::ptrdiff_t>(t.first_op),
                          ops_.begin() + static_cast<std::ptrdiff_t>(t.first_op + t.ops));
      batch.samples.push_back(std::move(s));
    }
    profiler_.add_samples(batch);
  }

  static std::uint64_t native_id(PyThreadState* t) {
#if PY_VERSION_HEX >= 0x030B0000
    return t->native_thread_id;
#else
    return 0;  // before Python 3.11 a thread state does not record it; the package refuses to start
#endif
  }

  // GIL held. The code object is kept referenced while cached, so its address is never reused.
  std::uint32_t intern(PyCodeObject* code) {
    PyObject* key = reinterpret_cast<PyObject*>(code);
    const auto found = code_ids_.find(key);
    if (found != code_ids_.end()) return found->second;
    PyObject* name = PyObject_GetAttrString(key, "co_qualname");
    if (!name) {
      PyErr_Clear();
      name = PyObject_GetAttrString(key, "co_name");
      if (!name) PyErr_Clear();
    }
    PyObject* file = PyObject_GetAttrString(key, "co_filename");
    if (!file) PyErr_Clear();
    codes_.push_back({utf8(name), utf8(file)});
    Py_XDECREF(name);
    Py_XDECREF(file);
    Py_INCREF(key);
    code_refs_.push_back(key);
    const auto id = static_cast<std::uint32_t>(codes_.size() - 1);
    code_ids_.emplace(key, id);
    return id;
  }

  Profiler& profiler_;
  PyInterpreterState* const interpreter_;
  double frequency_hz_ = 100.0;
  std::int64_t period_ns_ = 10'000'000;
  std::size_t max_frames_ = 64;
  bool all_threads_ = false;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;

  // The sampler thread's own (the code cache changes only with the GIL held).
  std::unordered_map<PyObject*, std::uint32_t> code_ids_;
  std::vector<Code> codes_;
  std::vector<PyObject*> code_refs_;
  std::unordered_map<std::uint64_t, Clock> clocks_;
  std::unordered_map<std::uint64_t, std::int64_t> at_tick_;  // CPU clocks read at the tick
  std::vector<Taken> taken_;
  std::vector<Frame> frames_;
  std::vector<std::uint32_t> ops_;
};

// The running samplers; guarded by the GIL (every caller holds it).
std::vector<std::unique_ptr<PythonSampler>>& samplers() {
  static auto* running = new std::vector<std::unique_ptr<PythonSampler>>();  // never destroyed: used at exit
  return *running;
}

std::unique_ptr<PythonSampler> take(const Profiler& profiler) {
  auto& all = samplers();
  for (auto it = all.begin(); it != all.end(); ++it)
    if (&(*it)->profiler() == &profiler) {
      std::unique_ptr<PythonSampler> s = std::move(*it);
      all.erase(it);
      return s;
    }
  return nullptr;
}

void join(std::unique_ptr<PythonSampler> sampler) {
  if (!sampler) return;
  Py_BEGIN_ALLOW_THREADS
  sampler->stop();
  Py_END_ALLOW_THREADS
}

}  // namespace

void start_python_sampler(Profiler& profiler) {
  if (python_sampler_running(profiler)) return;
#if PY_VERSION_HEX < 0x030B0000
  throw std::runtime_error("Python-level sampling needs Python 3.11 or newer (thread states name their OS thread there)");
#endif
  auto sampler = std::make_unique<PythonSampler>(profiler, PyThreadState_GetInterpreter(PyThreadState_Get()));
  sampler->start();
  samplers().push_back(std::move(sampler));
}

void stop_python_sampler(Profiler& profiler) { join(take(profiler)); }

bool python_sampler_running(const Profiler& profiler) {
  for (const auto& s : samplers())
    if (&s->profiler() == &profiler) return true;
  return false;
}

void stop_python_samplers() {
  while (!samplers().empty()) join(take(samplers().back()->profiler()));
}

void forget_python_samplers() {
  // Leaked on purpose: a joinable std::thread must never be destroyed, and the sampler's mutex may
  // have been held by the thread that is gone.
  for (auto& s : samplers()) (void)s.release();
  samplers().clear();
}

}  // namespace codeprof::python
