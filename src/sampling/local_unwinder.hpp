#pragma once
// libunwind's local unwinder, loaded with dlopen(RTLD_LOCAL) the first time a sampler needs it and
// never linked: libunwind.so also exports the _Unwind_* functions of C++ exception handling, and
// linked into a process beside libgcc_s (which PyTorch loads first into Python's global scope) a
// C++ exception thrown in codeprof's Python module was no longer caught (std::terminate at
// `import torch; import codeprof`). Loaded locally its symbols bind for nobody but us; the
// function pointers are resolved before a signal handler or an allocation hook can use them, so
// those call no dynamic linker.
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
  int (*getcontext)(unw_tdep_context_t*) = nullptr;  // unw_getcontext (a macro over this symbol)
  unw_addr_space_t* local_addr_space = nullptr;
  std::string error;  // why it is not there

  // Resolves once (thread-safe); the library stays loaded for the life of the process.
  static const LocalUnwinder& get();
  bool ok() const noexcept { return init_local2 && get_reg && step; }

  // Program counters of a stack, innermost first, from a signal's context or (context null) from
  // the caller of this function; returns how many (at most `max`). No allocation, no lock.
  // unw_backtrace is not used: its per-thread trace cache is freed by a thread-specific-data
  // destructor that crashed under ThreadSanitizer at thread exit.
  int capture(void* signal_context, std::uintptr_t* pcs, int max) const noexcept;
};

}  // namespace codeprof::sampling
