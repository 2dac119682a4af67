#pragma once
// Per-thread allocation counters, kept by the codeprof::alloc library (alloc_hooks.cpp), which
// replaces the global operator new/delete. The main library only declares the accessor weakly:
// when codeprof::alloc is not linked the symbol resolves to null and the memory probe reports
// the allocation counters as unavailable instead.
#include <cstdint>

namespace codeprof::metrics {

// Owned by one thread, written by its operator new/delete and by its probes; never shared, so no
// atomics. Bytes are the allocator's usable sizes (malloc_usable_size), the same on both sides,
// so live_bytes returns to its level when everything allocated is freed again.
struct AllocCounters {
  std::int64_t allocated_bytes = 0;
  std::int64_t allocations = 0;
  std::int64_t freed_bytes = 0;
  std::int64_t frees = 0;
  std::int64_t live_bytes = 0;       // allocated - freed by this thread (negative if it frees others')
  std::int64_t peak_live_bytes = 0;  // max of live_bytes since the innermost open probe scope began
};

inline constexpr const char* kAllocNotLinkedReason = "link codeprof::alloc to count allocations";

}  // namespace codeprof::metrics

// The calling thread's counters. Defined only in codeprof::alloc.
extern "C" codeprof::metrics::AllocCounters* codeprof_alloc_thread_counters() noexcept
    __attribute__((weak));

namespace codeprof::metrics {

// Null when codeprof::alloc is not linked into the program.
inline AllocCounters* thread_alloc_counters() noexcept {
  return codeprof_alloc_thread_counters ? codeprof_alloc_thread_counters() : nullptr;
}
inline bool alloc_counters_linked() noexcept { return codeprof_alloc_thread_counters != nullptr; }

}  // namespace codeprof::metrics
