#pragma once
// A small deterministic random generator (splitmix64). The standard distributions are not
// specified bit-for-bit across library versions; the corpus must be identical everywhere.
#include <cmath>
#include <cstdint>

namespace seo {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept : state_(seed) {}

  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [lo, hi].
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) noexcept { return lo + next() % (hi - lo + 1); }
  bool chance(double p) noexcept { return uniform() < p; }
  // Standard normal (Box-Muller; one value per call keeps the stream simple).
  double normal() noexcept {
    const double u1 = uniform() + 1e-12;
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t state_;
};

// Mixes a seed with an index so each page has its own independent stream.
inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t index) noexcept {
  Rng r(seed ^ (index * 0xD1B54A32D192ED03ull));
  return r.next();
}

}  // namespace seo
