#pragma once
// libunwind's local unwinder, loaded with dlopen(RTLD_LOCAL) the first time a sampler needs it and
// never linked: libunwind.so also exports the _Unwind_* functions of C++ exception handling, and
// linked into a process beside libgcc_s (which PyTorch loads first into Python's global scope) a
// C++ exception thrown in codeprof's Python module was no longer caught (std::terminate at
// `import torch; import codeprof`). Loaded locally its symbols bind for nobody but us; the
// function pointers are resolved before a signal handler can use them, so it calls no dynamic
// linker.
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <cstdint>
#include <string>

namespace codeprof::sampling {

struct LocalUnwinder {
  decltype(&unw_init_local2) init_local2 = nullptr;
  decltype(&unw_get_reg) get_reg = nullptr;
  decltype(&unw_step) step = nullptr;
  decltype(&unw_set_caching_policy) set_caching_policy = nullptr;
  unw_addr_space_t* local_addr_space = nullptr;
  std::string error;  // why it is not there

  // Resolves once (thread-safe); the library stays loaded for the life of the process.
  static const LocalUnwinder& get();
  bool ok() const noexcept { return init_local2 && get_reg && step; }

  // Program counters of the interrupted stack, innermost first, from a signal's context; returns
  // how many (at most `max`). No allocation, no lock: async-signal-safe.
  int capture(void* signal_context, std::uintptr_t* pcs, int max) const noexcept;
};

}  // namespace codeprof::sampling
