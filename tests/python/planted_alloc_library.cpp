// The planted allocation sites of tests/sampling/planted_allocations.cpp as a shared library that
// a Python test loads with ctypes: C++ code that a Python program calls, whose operator new
// allocations a preloaded libcodeprof_alloc.so samples.
#include <cstddef>
#include <memory>
#include <vector>

#include "sampling/planted_allocations.hpp"

namespace {
std::vector<std::unique_ptr<char[]>> g_kept;  // the planted leak: lives until the process exits
}

extern "C" {

std::size_t codeprof_planted_allocate(std::size_t total_bytes) {
  return codeprof::test::allocate_planted(total_bytes);
}

void codeprof_planted_leak(std::size_t blocks, std::size_t block_bytes) {
  codeprof::test::leak_planted(g_kept, blocks, block_bytes);
}

unsigned codeprof_planted_hot_line() { return codeprof::test::kHotAllocLine; }
unsigned codeprof_planted_leak_line() { return codeprof::test::kLeakLine; }

}  // extern "C"
