#pragma once
// Allocation sampling: codeprof::alloc's operator new samples allocations by bytes (a Poisson
// process, mean sampling.alloc_interval_bytes, like tcmalloc and heaptrack) and calls on_sample on
// the allocating thread. The sampler captures the stack (libunwind) and the open operations, and
// weighs the sample by the bytes it stands for: an allocation of s bytes is sampled with
// probability p = 1 - exp(-s / mean), so it counts s / p bytes (an unbiased estimate). Sampled
// addresses stay in a table until operator delete frees them (on_free, reached only through the
// address filter), which gives the bytes still live per stack and the peak of the estimated live
// bytes. Snapshots symbolise the stacks and put them into the SampleStore (alloc_* of each
// ProfileStack). One allocation sampler per process; its state outlives every Profiler because
// operator delete may reach it from any thread at any time.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "codeprof/config.hpp"
#include "codeprof/detail/recorder_state.hpp"
#include "codeprof/snapshot.hpp"
#include "sampling/sample_store.hpp"

namespace codeprof::sampling {

class AllocSampler {
 public:
  // The hooks codeprof::alloc calls (the api layer installs them with the filter below).
  static void on_sample(void* p, std::size_t bytes, std::uint32_t filter_bit) noexcept;
  static void on_free(void* p, std::uint32_t filter_bit) noexcept;
  // Bit i is set while a sampled allocation lives at an address whose filter bit is i.
  static constexpr unsigned kFilterBits = 16;
  static const std::atomic<std::uint64_t>* address_filter() noexcept;

  // Becomes the process's allocation sampler (else notes why not and stays inactive).
  // `allocator_linked`: whether codeprof::alloc's operator new is in the program.
  AllocSampler(const Config& config, const detail::RecorderState& recorder, std::int64_t origin_steady_ns,
               bool allocator_linked);
  ~AllocSampler();  // stops recording; the recorder may go after this
  AllocSampler(const AllocSampler&) = delete;
  AllocSampler& operator=(const AllocSampler&) = delete;

  bool active() const noexcept { return active_; }
  std::uint64_t interval_bytes() const noexcept { return interval_bytes_; }

  // Symbolises the sampled stacks and sets the alloc_* counts of the store's stacks to them.
  void publish(SampleStore& store);
  // After SampleStore::fill: the sampling.alloc_* totals, the peak, and each operation's
  // peak_live_sampled_bytes.
  void fill(Snapshot& s) const;
  // Forgets every sample (times count from the new origin); allocations sampled before stay
  // unreported when they are freed.
  void reset(std::int64_t origin_steady_ns);
  std::vector<Unavailable> unavailable() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  bool active_ = false;
  std::uint64_t interval_bytes_ = 0;
};

}  // namespace codeprof::sampling
