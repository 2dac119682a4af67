#pragma once
// Another thread's open operations, read from a sampler running on its own thread (the Python
// package's sampler reads them while it holds the GIL, so Python-level scopes cannot change
// meanwhile). The shared buffer keeps the stack readable after its thread exits.
#include <atomic>
#include <cstdint>
#include <memory>

#include "codeprof/detail/thread_buffer.hpp"

namespace codeprof::detail {

// One thread that records to a profiler.
struct RecordingThread {
  std::uint64_t os_tid = 0;
  std::shared_ptr<const ThreadBuffer> buffer;
};

// Writes the operation ids open on `t`, innermost first, into out[0..max); returns how many (the
// innermost `max` when more are open). Lock-free and racy by design: while its thread pushes and
// pops, every id read is an operation that thread opened (ids are written before the depth that
// exposes them); an exited thread has none open.
inline int read_open_operations(const RecordingThread& t, std::uint32_t* out, int max) noexcept {
  const ThreadBuffer& b = *t.buffer;
  if (b.closed.load(std::memory_order_acquire)) return 0;
  std::uint32_t depth = b.open_depth.load(std::memory_order_acquire);
  if (depth > kMaxDepth) depth = kMaxDepth;
  int n = 0;
  for (std::uint32_t d = depth; d > 0 && n < max; --d) out[n++] = b.open_ids[d].load(std::memory_order_relaxed);
  return n;
}

}  // namespace codeprof::detail
