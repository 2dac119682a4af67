#include "core/log_histogram.hpp"

#include <cmath>

namespace codeprof::core {

std::uint64_t LogHistogram::bucket_lower(std::size_t index) noexcept {
  constexpr std::size_t exact = 1u << (kSubBits + 1);
  if (index < exact) return index;
  const std::size_t e = (index >> kSubBits) + kSubBits - 1;
  const std::uint64_t sub = index & ((1u << kSubBits) - 1);
  return ((1ull << kSubBits) + sub) << (e - kSubBits);
}

std::uint64_t LogHistogram::bucket_upper(std::size_t index) noexcept {
  constexpr std::size_t exact = 1u << (kSubBits + 1);
  if (index < exact) return index + 1;
  const std::size_t e = (index >> kSubBits) + kSubBits - 1;
  const std::uint64_t lower = bucket_lower(index);
  const std::uint64_t width = 1ull << (e - kSubBits);
  return lower > UINT64_MAX - width ? UINT64_MAX : lower + width;
}

void LogHistogram::add_bucket(std::size_t index, std::uint64_t count) {
  if (count == 0) return;
  if (index >= counts_.size()) counts_.resize(index + 1, 0);
  counts_[index] += count;
  total_ += count;
}

std::uint64_t LogHistogram::percentile(double q) const noexcept {
  if (total_ == 0) return 0;
  if (q < 0) q = 0;
  if (q > 1) q = 1;
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
  if (rank == 0) rank = 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::uint64_t lo = bucket_lower(i);
      const std::uint64_t hi = bucket_upper(i);
      return lo + (hi - lo) / 2;
    }
  }
  return bucket_lower(counts_.size() - 1);
}

std::vector<HistogramBucket> LogHistogram::buckets() const {
  std::vector<HistogramBucket> out;
  for (std::size_t i = 0; i < counts_.size(); ++i)
    if (counts_[i]) out.push_back({bucket_lower(i), bucket_upper(i), counts_[i]});
  return out;
}

}  // namespace codeprof::core
