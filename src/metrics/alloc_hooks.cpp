// codeprof::alloc: replaces every global operator new/delete so that allocations are counted per
// thread. Link it (target_link_libraries(app PRIVATE codeprof::alloc)) to turn the counters on.
// Memory still comes from malloc; the counters are plain thread-local integers (no lock, no
// atomic). malloc/free called directly (C libraries, Python) are not counted: interposing the
// malloc family needs dlsym(RTLD_NEXT) re-entrancy tricks that fight the sanitizers' own
// interposition, so codeprof leaves it to the RSS probe.
#include <malloc.h>

#include <cstddef>
#include <cstdlib>
#include <new>

#include "metrics/alloc_counters.hpp"

namespace {

constinit thread_local codeprof::metrics::AllocCounters tls_counters{};

inline void count_allocation(void* p) noexcept {
  const auto n = static_cast<std::int64_t>(::malloc_usable_size(p));
  auto& c = tls_counters;
  c.allocated_bytes += n;
  c.allocations += 1;
  c.live_bytes += n;
  if (c.live_bytes > c.peak_live_bytes) c.peak_live_bytes = c.live_bytes;
}

inline void count_free(void* p) noexcept {
  const auto n = static_cast<std::int64_t>(::malloc_usable_size(p));
  auto& c = tls_counters;
  c.freed_bytes += n;
  c.frees += 1;
  c.live_bytes -= n;
}

void* raw_allocate(std::size_t size, std::size_t alignment) noexcept {
  if (size == 0) size = 1;  // every new returns a distinct pointer
  if (alignment <= alignof(std::max_align_t)) return std::malloc(size);
  void* p = nullptr;
  // posix_memalign rather than aligned_alloc: no "size must be a multiple" rule.
  if (alignment < sizeof(void*)) alignment = sizeof(void*);
  return ::posix_memalign(&p, alignment, size) == 0 ? p : nullptr;
}

// The standard's loop: call the new-handler until it succeeds or throws.
void* allocate_or_throw(std::size_t size, std::size_t alignment) {
  for (;;) {
    if (void* p = raw_allocate(size, alignment)) {
      count_allocation(p);
      return p;
    }
    std::new_handler handler = std::get_new_handler();
    if (!handler) throw std::bad_alloc();
    handler();
  }
}

void* allocate_nothrow(std::size_t size, std::size_t alignment) noexcept {
  try {
    return allocate_or_throw(size, alignment);
  } catch (...) {
    return nullptr;
  }
}

inline void release(void* p) noexcept {
  if (!p) return;
  count_free(p);
  std::free(p);
}

constexpr std::size_t kDefault = 0;

}  // namespace

extern "C" codeprof::metrics::AllocCounters* codeprof_alloc_thread_counters() noexcept {
  return &tls_counters;
}

void* operator new(std::size_t size) { return allocate_or_throw(size, kDefault); }
void* operator new[](std::size_t size) { return allocate_or_throw(size, kDefault); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return allocate_nothrow(size, kDefault); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return allocate_nothrow(size, kDefault); }
void* operator new(std::size_t size, std::align_val_t al) {
  return allocate_or_throw(size, static_cast<std::size_t>(al));
}
void* operator new[](std::size_t size, std::align_val_t al) {
  return allocate_or_throw(size, static_cast<std::size_t>(al));
}
void* operator new(std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return allocate_nothrow(size, static_cast<std::size_t>(al));
}
void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return allocate_nothrow(size, static_cast<std::size_t>(al));
}

void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
