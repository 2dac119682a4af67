#pragma once
// Allocations with a known answer, compiled with debug information (tests/sampling/CMakeLists.txt):
// allocate_planted() puts 70 % of its bytes at one line (kHotAllocLine, through std::vector) and
// 30 % at another (kColdAllocLine, new[]), freeing everything; leak_planted() keeps every block
// it allocates at kLeakLine.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace codeprof::test {

inline constexpr const char* kPlantedAllocFile = "planted_allocations.cpp";
extern const std::uint32_t kHotAllocLine;
extern const std::uint32_t kColdAllocLine;
extern const std::uint32_t kLeakLine;

// Allocates about `total_bytes` in blocks of a few KiB; returns the bytes requested.
std::size_t allocate_planted(std::size_t total_bytes);

// Allocates `blocks` blocks of `block_bytes` and keeps them in `kept`.
void leak_planted(std::vector<std::unique_ptr<char[]>>& kept, std::size_t blocks, std::size_t block_bytes);

}  // namespace codeprof::test
