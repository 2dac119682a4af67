#include "analysis/robust_stats.hpp"

#include <algorithm>
#include <cmath>

namespace codeprof::analysis {

double median(std::vector<double> values) { return quantile(std::move(values), 0.5); }

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

double theil_sen_slope(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = std::min(x.size(), y.size());
  std::vector<double> slopes;
  slopes.reserve(n * (n > 0 ? n - 1 : 0) / 2);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j)
      if (x[j] != x[i]) slopes.push_back((y[j] - y[i]) / (x[j] - x[i]));
  return median(std::move(slopes));
}

double kendall_tau(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = std::min(x.size(), y.size());
  if (n < 2) return 0.0;
  long long concordant_minus_discordant = 0, tied_x = 0, tied_y = 0, pairs = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      ++pairs;
      const double dx = x[j] - x[i], dy = y[j] - y[i];
      if (dx == 0) ++tied_x;
      if (dy == 0) ++tied_y;
      if (dx * dy > 0) ++concordant_minus_discordant;
      else if (dx * dy < 0) --concordant_minus_discordant;
    }
  const double denom = std::sqrt(static_cast<double>(pairs - tied_x)) * std::sqrt(static_cast<double>(pairs - tied_y));
  return denom > 0.0 ? static_cast<double>(concordant_minus_discordant) / denom : 0.0;
}

std::vector<std::size_t> even_subsample(std::size_t n, std::size_t max_points) {
  std::vector<std::size_t> idx;
  if (n == 0) return idx;
  if (n <= max_points || max_points < 2) {
    for (std::size_t i = 0; i < n; ++i) idx.push_back(i);
    return idx;
  }
  for (std::size_t k = 0; k < max_points; ++k)
    idx.push_back(k * (n - 1) / (max_points - 1));
  return idx;
}

}  // namespace codeprof::analysis
