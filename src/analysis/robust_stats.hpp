#pragma once
// Robust statistics for trend detection: medians and rank-based slopes, so that one spike or a
// garbage-collection pause does not make a trend (or hide one).
#include <cstddef>
#include <vector>

namespace codeprof::analysis {

// Median of the values; 0 for none.
double median(std::vector<double> values);

// Linear-interpolated quantile q in [0, 1]; 0 for none.
double quantile(std::vector<double> values, double q);

// Theil–Sen estimator: the median of the slopes between all pairs of points with distinct x.
// Stays correct with up to ~29 % of the points being outliers. 0 when fewer than two distinct x.
double theil_sen_slope(const std::vector<double>& x, const std::vector<double>& y);

// Kendall's tau-b in [-1, 1]: +1 when y never falls as x rises, 0 when unrelated. Ties do not
// count against it (tau-b), so a staircase (memory that grows in steps) still reads near +1.
double kendall_tau(const std::vector<double>& x, const std::vector<double>& y);

// Every k-th index so that at most max_points remain (first and last always kept), to bound
// the quadratic pairwise statistics above.
std::vector<std::size_t> even_subsample(std::size_t n, std::size_t max_points);

}  // namespace codeprof::analysis
