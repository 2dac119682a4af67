#include "sampling/planted_allocations.hpp"

#include <atomic>

namespace codeprof::test {
namespace {

std::atomic<std::size_t> g_sink{0};  // keeps the allocations observable

}  // namespace

const std::uint32_t kHotAllocLine = __LINE__ + 4;
const std::uint32_t kColdAllocLine = __LINE__ + 8;

[[gnu::noinline]] void hot_allocation(std::size_t bytes) {
  std::vector<char> block(bytes, 1);
  g_sink.fetch_add(static_cast<std::size_t>(block[bytes / 2]), std::memory_order_relaxed);
}

[[gnu::noinline]] void cold_allocation(std::size_t bytes) {
  auto* block = new char[bytes];
  block[bytes / 2] = 2;
  g_sink.fetch_add(static_cast<std::size_t>(block[bytes / 2]), std::memory_order_relaxed);
  delete[] block;
}

std::size_t allocate_planted(std::size_t total_bytes) {
  // Block sizes vary (1 to 8 KiB per unit) so that no size aliases with the sampling interval.
  std::size_t done = 0;
  std::uint32_t rng = 2024;
  while (done < total_bytes) {
    rng = rng * 1664525u + 1013904223u;
    const std::size_t unit = 1024 + (rng >> 8) % 7168;
    hot_allocation(7 * unit);
    cold_allocation(3 * unit);
    done += 10 * unit;
  }
  return done;
}

const std::uint32_t kLeakLine = __LINE__ + 3;

[[gnu::noinline]] void leak_planted(std::vector<std::unique_ptr<char[]>>& kept, std::size_t blocks, std::size_t block_bytes) {
  for (std::size_t i = 0; i < blocks; ++i) kept.emplace_back(new char[block_bytes]);
}

}  // namespace codeprof::test
