#pragma once
// Log-linear histogram of durations: exact below 128 ns, then 64 buckets per power of two.
// A percentile is reported as its bucket's midpoint, so its relative error is at most
// 1/128 = 0.78 % (docs/ARCHITECTURE.md).
#include <cstdint>
#include <vector>

#include "codeprof/detail/op_stats.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::core {

class LogHistogram {
 public:
  static constexpr unsigned kSubBits = 6;

  static_assert(kSubBits == detail::kHistogramSubBits);
  // The same index the recording threads use (detail::duration_bucket).
  static std::size_t bucket_index(std::uint64_t v) noexcept { return detail::duration_bucket(v); }
  static std::uint64_t bucket_lower(std::size_t index) noexcept;
  static std::uint64_t bucket_upper(std::size_t index) noexcept;  // exclusive

  void add(std::uint64_t v) noexcept {
    const std::size_t i = bucket_index(v);
    if (i >= counts_.size()) [[unlikely]]
      counts_.resize(i + 1, 0);
    ++counts_[i];
    ++total_;
  }
  void add_bucket(std::size_t index, std::uint64_t count);
  void clear() noexcept {
    counts_.clear();
    total_ = 0;
  }
  std::uint64_t count() const noexcept { return total_; }
  // q in [0, 1]; 0 when empty.
  std::uint64_t percentile(double q) const noexcept;
  std::vector<HistogramBucket> buckets() const;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
};

}  // namespace codeprof::core
