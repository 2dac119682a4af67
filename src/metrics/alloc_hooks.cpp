// codeprof::alloc: replaces every global operator new/delete so that allocations are counted per
// thread. Link it (target_link_libraries(app PRIVATE codeprof::alloc)) to turn the counters on.
// Memory still comes from malloc; the counters are plain thread-local integers (no lock, no
// atomic). malloc/free called directly (C libraries, Python) are not counted: interposing the
// malloc family needs dlsym(RTLD_NEXT) re-entrancy tricks that fight the sanitizers' own
// interposition, so codeprof leaves it to the RSS probe.
//
// Allocation sampling (metrics/alloc_sampling_hooks.hpp) is a Poisson process over allocated
// bytes, as in tcmalloc and heaptrack: each thread counts down the bytes until its next sample,
// drawn from an exponential distribution with the configured mean. An allocation that crosses
// zero is sampled; every other allocation costs one subtraction and one compare. A free looks
// at one bit of the sampler's address filter and calls the sampler only when it is set.
#include <malloc.h>

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <new>

#include "metrics/alloc_counters.hpp"
#include "metrics/alloc_sampling_hooks.hpp"

namespace {

constinit thread_local codeprof::metrics::AllocCounters tls_counters{};

// ---- allocation sampling

std::atomic<const codeprof::metrics::AllocSamplingHooks*> g_hooks{nullptr};
std::atomic<std::uint64_t> g_mean_interval{0};  // 0: off
std::atomic<std::uint64_t> g_seed{0x2545F4914F6CDD1Dull};
// While sampling is off a thread looks again after this many bytes, so switching it on reaches
// every thread within its next MiB of allocations.
constexpr std::int64_t kIdleRecheckBytes = 1 << 20;

struct SampleCountdown {
  std::int64_t bytes_left = 0;  // <= 0 at first: the first allocation draws the first interval
  std::uint64_t rng = 0;
  bool drawn = false;  // bytes_left came from the distribution (not the idle recheck)
};
constinit thread_local SampleCountdown tls_countdown{};

// Exponential with the given mean (xorshift64* uniform, inverse transform).
double next_interval(SampleCountdown& c, std::uint64_t mean) noexcept {
  if (c.rng == 0) c.rng = g_seed.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed) | 1;
  c.rng ^= c.rng >> 12;
  c.rng ^= c.rng << 25;
  c.rng ^= c.rng >> 27;
  const std::uint64_t r = c.rng * 0x2545F4914F6CDD1Dull;
  const double u = (static_cast<double>(r >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
  return -std::log(u) * static_cast<double>(mean);
}

// The countdown crossed zero: sample this allocation (if sampling is on) and draw the next point.
__attribute__((noinline)) void sample_allocation(void* p, std::int64_t bytes) noexcept {
  SampleCountdown& c = tls_countdown;
  const std::uint64_t mean = g_mean_interval.load(std::memory_order_relaxed);
  const auto* hooks = g_hooks.load(std::memory_order_acquire);
  if (mean == 0 || !hooks) {
    c.bytes_left = kIdleRecheckBytes;
    c.drawn = false;
    return;
  }
  // Memoryless: the next point lies an exponential distance past this one, which may still be
  // inside this allocation (counted once: an allocation is sampled or not).
  if (!c.drawn) {  // the countdown starts now: this allocation was not drawn
    c.drawn = true;
    c.bytes_left = static_cast<std::int64_t>(next_interval(c, mean)) + 1;
    return;
  }
  do c.bytes_left += static_cast<std::int64_t>(next_interval(c, mean)) + 1;
  while (c.bytes_left <= 0);
  hooks->on_sample(p, static_cast<std::size_t>(bytes), codeprof::metrics::alloc_filter_bit(p));
}

void sampled_free(const codeprof::metrics::AllocSamplingHooks* hooks, void* p) noexcept {
  const std::uint32_t bit = codeprof::metrics::alloc_filter_bit(p);
  if (hooks->filter[bit >> 6].load(std::memory_order_relaxed) & (1ull << (bit & 63))) hooks->on_free(p, bit);
}

inline void count_allocation(void* p) noexcept {
  const auto n = static_cast<std::int64_t>(::malloc_usable_size(p));
  auto& c = tls_counters;
  c.allocated_bytes += n;
  c.allocations += 1;
  c.live_bytes += n;
  if (c.live_bytes > c.peak_live_bytes) c.peak_live_bytes = c.live_bytes;
  if ((tls_countdown.bytes_left -= n) <= 0) [[unlikely]]
    sample_allocation(p, n);
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
  // Acquire, as where allocations are sampled: the hooks' fields were written before the pointer
  // was published, by another thread (a plain load on x86).
  if (const auto* hooks = g_hooks.load(std::memory_order_acquire)) [[unlikely]]
    sampled_free(hooks, p);
  std::free(p);
}

constexpr std::size_t kDefault = 0;

}  // namespace

extern "C" codeprof::metrics::AllocCounters* codeprof_alloc_thread_counters() noexcept {
  return &tls_counters;
}

extern "C" void codeprof_alloc_set_sampling(const codeprof::metrics::AllocSamplingHooks* hooks,
                                            std::uint64_t mean_interval_bytes) noexcept {
  const codeprof::metrics::AllocSamplingHooks* none = nullptr;
  if (hooks) g_hooks.compare_exchange_strong(none, hooks, std::memory_order_acq_rel);
  g_mean_interval.store(mean_interval_bytes, std::memory_order_relaxed);
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
