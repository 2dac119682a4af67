#pragma once
// The Python sampler: a thread that, sampling.python_frequency_hz times a second, takes the GIL,
// reads the Python stack (function qualname, file, line) of every thread that used CPU time since
// its previous sample, and hands the stacks, with the operations open on each thread at that
// moment, to Profiler::add_samples. Runs when sampling.enabled is on (docs/PYTHON.md).
#include "codeprof/profiler.hpp"

namespace codeprof::python {

// All of these are called with the GIL held (it also guards the set of running samplers).
// Starts the sampler of `profiler`; does nothing when it runs already.
void start_python_sampler(Profiler& profiler);
// Stops and joins it (the GIL is released while joining); does nothing when none runs.
void stop_python_sampler(Profiler& profiler);
bool python_sampler_running(const Profiler& profiler);
// Every profiler's, at interpreter exit (before the interpreter can no longer be entered).
void stop_python_samplers();
// In a fork()ed child the sampler threads do not exist: forget them without joining.
void forget_python_samplers();

}  // namespace codeprof::python
