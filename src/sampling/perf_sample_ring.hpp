#pragma once
// One thread's CPU-time samples, written by the kernel without stopping the thread: a perf_event
// software cpu-clock event on that thread whose samples go into a ring mapped from the event
// (perf record's design), read by the sampler's own thread. No signal reaches the sampled thread,
// which on a virtual machine saves an interrupt to itself per sample (docs/PROBES.md "Cost").
//
// Each sample carries either the user call chain the kernel walked by frame pointers, or the
// user registers and a copy of the top of the user stack, which the reader unwinds with DWARF
// call-frame information (code built without frame pointers, Debian's included).
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace codeprof::sampling {

class PerfSampleRing {
 public:
  enum class Stacks { frame_pointers, copied_stack };
  struct Options {
    std::uint32_t frequency_hz = 999;
    int max_frames = 64;
    Stacks stacks = Stacks::frame_pointers;
    std::uint64_t sample_regs_user = 0;   // copied_stack: the registers the unwinder needs
    std::uint32_t stack_bytes = 8192;     // copied_stack: bytes of stack copied per sample
    std::uint32_t data_pages = 16;        // ring size in pages, a power of two
    // One CPU's ring of events inherited by the threads the opening thread creates from then on
    // (not by child processes): samples carry the thread id and the time (CLOCK_MONOTONIC), and
    // the ring also gets a record at each context switch and each thread's start and exit.
    bool inherited = false;
    int cpu = -1;  // inherited: the CPU
    // Map the ring over this parked ring's zeros (park()), of mapping_bytes(): a region threads may
    // still read is reused instead of kept for ever. Where that fails it stays zeros and the ring
    // is mapped elsewhere (mapped_at() tells).
    void* map_at = nullptr;
  };
  // Bytes the ring's mapping takes (its header page and data).
  static std::size_t mapping_bytes(const Options& options);
  // Pages for a ring of about this many samples (its reader is woken at three quarters).
  static std::uint32_t pages_for(const Options& options, std::uint32_t samples);
  // Unwinds one copied stack (registers in the kernel's order, the copy from the sampled stack
  // pointer on) into pcs, innermost first; returns how many.
  using Unwind = std::function<int(const std::uint64_t* registers, const unsigned char* stack, std::size_t size,
                                   std::uintptr_t* pcs, int max)>;

  // Opens the event on thread `tid` (disabled) and maps its ring. Null with `error` (and
  // `error_number`, errno) set when the kernel refuses.
  static std::unique_ptr<PerfSampleRing> open(pid_t tid, const Options& options, std::string& error, int& error_number);
  // Starts sampling; false (errno set) when the kernel refuses.
  bool enable() noexcept;
  // Stops sampling; what the ring holds stays readable.
  void disable() noexcept;
  // In a forked child: the ring was not inherited (perf maps are not copied by fork), the event
  // belongs to the parent's thread. Closes the descriptor, forgets the mapping.
  void abandon_in_forked_child() noexcept;
  ~PerfSampleRing();
  PerfSampleRing(const PerfSampleRing&) = delete;
  PerfSampleRing& operator=(const PerfSampleRing&) = delete;

  // Readable (poll) once the ring is three quarters full; hung up once its thread has exited.
  int fd() const noexcept { return fd_; }
  void* mapped_at() const noexcept { return map_; }
  // The word where the kernel keeps the ring's write position (for the sampled thread's marks).
  const std::uint64_t* position_word() const noexcept;
  // The write position now.
  std::uint64_t position() const noexcept;

  struct Sample {
    std::uint64_t end;  // ring position just after the record: compared with the thread's marks
    pid_t pid, tid;
    std::uint64_t time;  // inherited: when it was taken (CLOCK_MONOTONIC ns), else 0
    std::span<const std::uintptr_t> pcs;  // innermost first: the sampled instruction, then return addresses
  };
  // Reads every record up to `up_to` (a position read before), frees their space for the kernel,
  // calls on_sample for each sample and returns how many samples the kernel lost (ring full).
  // Inherited rings also report each thread that started (true) or exited (false) under the events,
  // and take samples only of the threads `wanted` accepts (others are skipped before unwinding).
  using OnThread = std::function<void(bool started, pid_t pid, pid_t tid)>;
  using Wanted = std::function<bool(pid_t pid, pid_t tid)>;
  std::uint64_t read(std::uint64_t up_to, const Unwind& unwind, const std::function<void(const Sample&)>& on_sample,
                     const OnThread& on_thread = nullptr, const Wanted& wanted = nullptr);

  // Stops the event and replaces the whole mapping with zero pages in one step, so that the
  // sampled thread, which may still read the position word, reads 0 instead of faulting (the
  // mapping is replaced whole: newer kernels refuse to split a perf ring's mapping). Release the
  // result once that thread has exited or was told to stop looking and passed a scope.
  struct Parked {
    void* at = nullptr;
    std::size_t size = 0;
  };
  Parked park();
  static void release(const Parked& parked) noexcept;

 private:
  PerfSampleRing() = default;
  int fd_ = -1;
  void* map_ = nullptr;
  std::size_t page_ = 0, data_size_ = 0;
  Options options_;
  std::vector<unsigned char> record_;  // one record, made contiguous where it wraps the ring end
  std::vector<std::uintptr_t> pcs_;
};

}  // namespace codeprof::sampling
