#pragma once
// Which operations were open when the kernel took a CPU sample without stopping the thread.
//
// A sampler that has the kernel write samples into a per-thread ring (perf_event mmap, no
// signal) cannot ask the sampled thread what it was doing: the core's open-scope stack lives in
// the thread's memory and changes while the sampler reads. So the thread says it itself. At every
// change of its open-scope stack it compares the ring's write position (kept by the kernel in a
// page the thread can read) with the one it last saw. When samples arrived since, every one of
// them was taken while the stack it is about to change was open (an earlier change would have
// seen them), and the thread appends a mark: that position and the open operation ids. The
// sampler matches each sample in the ring with the first mark at or after it; samples with no mark
// yet were taken under the stack that is still open. While such a sampler runs a scope pays two
// loads and a compare at each end; a mark is written at most once per sample.
//
// A sampler whose events are inherited (one ring per CPU, shared by the threads that ran there)
// cannot give a thread a position of its own. Its samples carry the thread id and the time, and
// marks carry the time instead of a position (CLOCK_MONOTONIC nanoseconds, the clock the samples
// are stamped with). The thread marks when the ring of the CPU it runs on moved, or it runs on
// another CPU than at its last check: the kernel also writes a record into that ring at each
// context switch, so a thread that ran elsewhere and came back sees the ring moved too. Such a
// thread's scope pays a call, sched_getcpu and two loads at each end, and marks at most once per
// move of its CPU's ring (any thread's sample or switch there): threads handing work back and
// forth thousands of times a second mark at nearly every scope, hence room for 1024 marks.
#include <atomic>
#include <cstdint>

namespace codeprof::detail {

inline constexpr std::uint32_t kMarkedOperations = 32;  // innermost open operations a mark lists

struct SampleMark {
  std::uint64_t from;      // the ring position (or time) of the previous mark the thread meant to write
  std::uint64_t position;  // the ring's write position (or the time): samples in (from, position] are this mark's
  const void* ring;        // the position word (or CPU positions) read: tells marks of a later sampler's apart
  std::uint32_t depth;     // ids listed, innermost first
  std::uint32_t ids[kMarkedOperations];
};

// The write positions of the per-CPU rings of a sampler with inherited events (index: CPU number;
// null where no ring). Set once; kept, with the (zeroed) ring pages, until the process ends: a
// thread may read it at any scope.
struct CpuSamplePositions {
  std::uint32_t cpus = 0;
  const std::uint64_t* const* words = nullptr;
};
// What a thread's sample_position points to while it marks by time for CPU rings: never equal to
// the position it saw, so every change of its stack reaches mark_samples().
inline constexpr std::uint64_t kMarkByCpuRing = ~std::uint64_t{0};

// Single producer (the sampled thread), single consumer (the sampler's thread). A full ring loses
// the mark, counted with its position: the sampler drops the samples up to it (the next mark's
// `from` shows the same when that mark comes first), and takes no stack it reads for later ones
// while the count moves.
struct SampleMarks {
  static constexpr std::uint32_t kCapacity = 1024;  // power of two; a sampler drains every 20 ms
  SampleMark marks[kCapacity];
  std::atomic<std::uint64_t> written{0};  // by the thread
  std::atomic<std::uint64_t> taken{0};    // by the sampler
  std::atomic<std::uint64_t> lost{0};     // by the thread: marks it could not write
  std::atomic<std::uint64_t> lost_position{0};  // the position of the last of them
  // The ring position (or time) when the thread started marking: earlier samples have no marks.
  // Written before the marks are published.
  std::uint64_t start_position = 0;
};

}  // namespace codeprof::detail
