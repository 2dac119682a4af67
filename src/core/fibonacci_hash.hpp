#pragma once
// Fibonacci hashing (Knuth, TAOCP 6.4): the top `bits` bits of key × 2^64/φ. Keys that differ only
// in their low bits (addresses a few bytes apart) land in different slots of a table of 2^bits.
#include <cstddef>
#include <cstdint>

namespace codeprof::core {

inline constexpr std::uint64_t kGoldenRatio64 = 0x9E3779B97F4A7C15ull;  // 2^64 / φ, odd

constexpr std::size_t fibonacci_slot(std::uint64_t key, unsigned bits) noexcept {
  return static_cast<std::size_t>((key * kGoldenRatio64) >> (64 - bits));
}

}  // namespace codeprof::core
