#pragma once
// How codeprof::alloc (alloc_hooks.cpp) hands sampled allocations to the allocation sampler: the
// replaced operator new counts bytes down per thread and, when the count crosses zero, calls
// on_sample; operator delete calls on_free only for addresses whose bit is set in the filter the
// sampler keeps (one load per delete), so unsampled allocations and frees never take a lock.
// Declared weakly like the counters: without codeprof::alloc the installer resolves to null.
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/fibonacci_hash.hpp"

namespace codeprof::metrics {

struct AllocSamplingHooks {
  // On the allocating thread, after malloc; filter_bit = alloc_filter_bit(p). When the sampler
  // records the allocation it sets that bit before returning.
  void (*on_sample)(void* p, std::size_t bytes, std::uint32_t filter_bit) noexcept = nullptr;
  // Before free, for an address whose filter bit is set: forgets it if it was sampled.
  void (*on_free)(void* p, std::uint32_t filter_bit) noexcept = nullptr;
  // Bit i set: a sampled allocation may live at an address with filter_bit(address) == i.
  const std::atomic<std::uint64_t>* filter = nullptr;
};

inline constexpr unsigned kAllocFilterBits = 16;  // 65536 bits, 8 KiB: stays in the L1 cache

inline std::uint32_t alloc_filter_bit(const void* p) noexcept {
  // The address without its alignment bits.
  return static_cast<std::uint32_t>(core::fibonacci_slot(reinterpret_cast<std::uintptr_t>(p) >> 4, kAllocFilterBits));
}

}  // namespace codeprof::metrics

// Installs the hooks (once; later calls only change the interval) and the mean bytes between
// samples (0: sampling off). Defined only in codeprof::alloc.
extern "C" void codeprof_alloc_set_sampling(const codeprof::metrics::AllocSamplingHooks* hooks,
                                            std::uint64_t mean_interval_bytes) noexcept __attribute__((weak));

namespace codeprof::metrics {

inline bool alloc_sampling_linked() noexcept { return codeprof_alloc_set_sampling != nullptr; }

}  // namespace codeprof::metrics
