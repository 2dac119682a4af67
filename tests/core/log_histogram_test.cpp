#include "core/log_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using codeprof::core::LogHistogram;

TEST(LogHistogram, SmallValuesAreExact) {
  LogHistogram h;
  for (std::uint64_t v = 0; v < 128; ++v) h.add(v);
  EXPECT_EQ(h.count(), 128u);
  EXPECT_EQ(h.percentile(0.5), 63u);
  EXPECT_EQ(h.percentile(1.0), 127u);
  for (std::uint64_t v = 0; v < 128; ++v) {
    EXPECT_EQ(LogHistogram::bucket_lower(LogHistogram::bucket_index(v)), v);
  }
}

TEST(LogHistogram, BucketsAreContiguousAndContainTheirValues) {
  for (std::size_t i = 0; i < 3000; ++i) {
    EXPECT_EQ(LogHistogram::bucket_upper(i), LogHistogram::bucket_lower(i + 1)) << i;
    EXPECT_EQ(LogHistogram::bucket_index(LogHistogram::bucket_lower(i)), i);
    EXPECT_EQ(LogHistogram::bucket_index(LogHistogram::bucket_upper(i) - 1), i);
  }
  EXPECT_EQ(LogHistogram::bucket_index(UINT64_MAX), LogHistogram::bucket_index(1ull << 63) + 63);
}

TEST(LogHistogram, PercentileRelativeErrorIsBelowOnePercent) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(13.0, 2.0);  // ~0.4 ms median, wide spread
  std::vector<std::uint64_t> values;
  LogHistogram h;
  for (int i = 0; i < 100000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng)) + 1;
    values.push_back(v);
    h.add(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.01, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999}) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
    const double exact = static_cast<double>(values[rank - 1]);
    const double approx = static_cast<double>(h.percentile(q));
    EXPECT_LE(std::abs(approx - exact) / exact, 0.01) << "q=" << q << " exact=" << exact << " approx=" << approx;
  }
}

TEST(LogHistogram, SparseBucketsSumToCount) {
  LogHistogram h;
  h.add(5);
  h.add(1'000);
  h.add(1'000);
  h.add(10'000'000'000ull);
  const auto b = h.buckets();
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].lower_ns, 5u);
  EXPECT_EQ(b[1].count, 2u);
  EXPECT_LE(b[2].lower_ns, 10'000'000'000ull);
  EXPECT_GT(b[2].upper_ns, 10'000'000'000ull);
  EXPECT_EQ(h.percentile(0.0), 5u);
}
