#pragma once
// Per-thread ring of 64-bit words. The producer is the sampling signal handler running on the
// sampled thread; the consumer is the sampler's own thread. Same rule as the event rings: never
// block, a sample that does not fit is dropped and counted. The producer uses only atomics and
// plain stores, so it is async-signal-safe.
//
// One record: a header word (operations count in bits 0..15, frame count in bits 16..31, weight
// in bits 32..63: how many sampling periods the record stands for), then
// one word per open operation id (innermost first), then one word per program counter
// (innermost first; the first is the interrupted instruction, the others return addresses).
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace codeprof::sampling {

class SampleRing {
 public:
  explicit SampleRing(std::uint32_t min_words) {
    std::uint32_t cap = 64;
    while (cap < min_words) cap <<= 1;
    capacity_ = cap;
    mask_ = cap - 1;
    words_ = std::make_unique<std::uint64_t[]>(cap);
  }

  // Producer (signal handler on the owning thread). False when the ring is full (counted).
  bool push(std::span<const std::uint32_t> operations, std::span<const std::uintptr_t> pcs, std::uint32_t weight) noexcept {
    const std::uint64_t need = 1 + operations.size() + pcs.size();
    const std::uint64_t h = head_.load(std::memory_order_relaxed);
    if (h + need - tail_.load(std::memory_order_acquire) > capacity_) {
      dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return false;
    }
    std::uint64_t i = h;
    words_[i++ & mask_] = operations.size() | (static_cast<std::uint64_t>(pcs.size()) << 16) |
                          (static_cast<std::uint64_t>(weight) << 32);
    for (const std::uint32_t op : operations) words_[i++ & mask_] = op;
    for (const std::uintptr_t pc : pcs) words_[i++ & mask_] = pc;
    head_.store(i, std::memory_order_release);
    return true;
  }

  // Consumer: calls f(operations, pcs, weight) for every complete record; returns how many.
  template <typename F>
  std::size_t drain(F&& f) {
    const std::uint64_t h = head_.load(std::memory_order_acquire);
    std::uint64_t t = tail_.load(std::memory_order_relaxed);
    std::size_t records = 0;
    while (t < h) {
      const std::uint64_t header = words_[t++ & mask_];
      const std::size_t n_ops = header & 0xFFFF, n_pcs = (header >> 16) & 0xFFFF;
      ops_.resize(n_ops);
      pcs_.resize(n_pcs);
      for (auto& op : ops_) op = static_cast<std::uint32_t>(words_[t++ & mask_]);
      for (auto& pc : pcs_) pc = static_cast<std::uintptr_t>(words_[t++ & mask_]);
      f(std::span<const std::uint32_t>(ops_), std::span<const std::uintptr_t>(pcs_), static_cast<std::uint32_t>(header >> 32));
      ++records;
    }
    tail_.store(t, std::memory_order_release);
    return records;
  }

  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  std::uint32_t capacity_words() const noexcept { return capacity_; }

 private:
  std::uint32_t capacity_ = 0;
  std::uint32_t mask_ = 0;
  std::unique_ptr<std::uint64_t[]> words_;
  alignas(64) std::atomic<std::uint64_t> head_{0};
  std::atomic<std::uint64_t> dropped_{0};  // written by the producer only
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  std::vector<std::uint32_t> ops_;  // consumer scratch
  std::vector<std::uintptr_t> pcs_;
};

}  // namespace codeprof::sampling
