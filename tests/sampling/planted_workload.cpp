#include "sampling/planted_workload.hpp"

#include <time.h>

namespace codeprof::test {
namespace {

double thread_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

[[gnu::always_inline]] inline double inlined_helper(double x, long n) {
  for (long i = 0; i < n; ++i) x = x * 0.9999999 + 3e-9;
  return x;
}

}  // namespace

const std::uint32_t kHotLine = __LINE__ + 6;
const std::uint32_t kHelperCallLine = __LINE__ + 10;

[[gnu::noinline]] PlantedTimes planted_round(long n_hot, long n_helper, PlantedTimes t) {
  volatile double acc = t.result;
  const double t0 = thread_cpu_s();
  for (long i = 0; i < n_hot; ++i) acc = acc * 1.0000001 + 1e-9;
  const double t1 = thread_cpu_s();
  t.hot_s += t1 - t0;
  double x = acc;
  const double t2 = thread_cpu_s();
  x = inlined_helper(x, n_helper);
  t.helper_s += thread_cpu_s() - t2;
  t.result = x;
  return t;
}

PlantedTimes run_planted_work(double cpu_seconds) {
  PlantedTimes t;
  // About 70 % in the hot line here (its iterations cost ~2.4x the helper's); the truth is
  // measured, not assumed. Rounds vary in length (0.25x to 2x): a CPU-clock timer fires at
  // scheduler ticks, and rounds of one fixed length would alias with them.
  std::uint32_t rng = 12345;
  while (t.hot_s + t.helper_s < cpu_seconds) {
    rng = rng * 1664525u + 1013904223u;
    const long scale = 25 + static_cast<long>((rng >> 8) % 176);  // percent
    t = planted_round(500'000 * scale / 100, 520'000 * scale / 100, t);
  }
  return t;
}

}  // namespace codeprof::test
