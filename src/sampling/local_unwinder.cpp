#include "sampling/local_unwinder.hpp"

#include <dlfcn.h>

namespace codeprof::sampling {
namespace {

// The local unwinder's own names, spelled out: in a unity build another file may include
// <libunwind.h> first without UNW_LOCAL_ONLY (copied_stack_unwinder.cpp), and the header's
// unw_* macros would then name the generic unwinder.

LocalUnwinder load() {
  LocalUnwinder u;
  void* lib = ::dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = ::dlerror();
    u.error = std::string("libunwind.so.8 (Debian package libunwind8) could not be loaded: ") + (e ? e : "unknown error");
    return u;
  }
  u.init_local2 = reinterpret_cast<decltype(u.init_local2)>(::dlsym(lib, "_ULx86_64_init_local2"));
  u.get_reg = reinterpret_cast<decltype(u.get_reg)>(::dlsym(lib, "_ULx86_64_get_reg"));
  u.step = reinterpret_cast<decltype(u.step)>(::dlsym(lib, "_ULx86_64_step"));
  u.set_caching_policy =
      reinterpret_cast<decltype(u.set_caching_policy)>(::dlsym(lib, "_ULx86_64_set_caching_policy"));
  u.local_addr_space = static_cast<unw_addr_space_t*>(::dlsym(lib, "_ULx86_64_local_addr_space"));
  if (!u.ok()) u.error = "libunwind.so.8 lacks its local unwinder (_ULx86_64_init_local2)";
  return u;
}

}  // namespace

int LocalUnwinder::capture(void* signal_context, std::uintptr_t* pcs, int max) const noexcept {
  if (!ok() || !signal_context || max <= 0) return 0;
  unw_cursor_t cursor;
  if (init_local2(&cursor, static_cast<unw_context_t*>(signal_context), UNW_INIT_SIGNAL_FRAME) < 0) return 0;
  int n = 0;
  do {
    unw_word_t ip = 0;
    if (get_reg(&cursor, UNW_REG_IP, &ip) < 0 || ip == 0) break;
    pcs[n++] = static_cast<std::uintptr_t>(ip);
  } while (n < max && step(&cursor) > 0);
  return n;
}

const LocalUnwinder& LocalUnwinder::get() {
  static const LocalUnwinder u = load();
  return u;
}

}  // namespace codeprof::sampling
