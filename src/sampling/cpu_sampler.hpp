#pragma once
// Native CPU-time sampling at sampling.frequency_hz of each sampled thread's CPU time, by one of:
//   perf_ring   a perf_event software cpu-clock event per thread whose samples the kernel writes
//               into a ring (PerfSampleRing) without stopping the thread; the thread marks which
//               operations were open (detail::SampleMarks) and the sampler's thread reads both
//   perf_event  the same event sends the thread SIGPROF; the handler captures the stack
//               (libunwind's local unwinder) and the open operations into the thread's SampleRing
//   timer       timer_create on the thread's CPU clock, SIGPROF, the same handler
// "auto" takes the first the kernel allows. The sampler's thread drains the rings, symbolises
// (libdw) and adds the samples to the SampleStore. One sampler per process; a second one reports
// itself unavailable.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "codeprof/config.hpp"
#include "codeprof/detail/recorder_state.hpp"
#include "codeprof/detail/recording_thread.hpp"
#include "codeprof/snapshot.hpp"
#include "sampling/sample_store.hpp"

namespace codeprof::sampling {

class CpuSampler {
 public:
  // The threads that run scopes and have not exited.
  using ScopeThreads = std::function<std::vector<detail::RecordingThread>()>;

  // Unless sampling.all_threads is set, only the threads `scope_threads` names are armed: a
  // per-thread CPU-clock event costs the kernel work at every context switch of its thread, and a
  // thread that never runs a scope (a collector waking every few milliseconds) would pay it for
  // samples that are thrown away. Empty: every thread is armed, the handler keeps scope threads'.
  CpuSampler(const Config& config, detail::RecorderState& recorder, SampleStore& store,
             ScopeThreads scope_threads = {});
  ~CpuSampler();
  CpuSampler(const CpuSampler&) = delete;
  CpuSampler& operator=(const CpuSampler&) = delete;

  // Installs the handler, arms the threads and starts the sampler's thread. Problems become
  // unavailable() entries; the program keeps running without samples.
  void start();
  // Disarms every thread and stops the sampler's thread; samples taken so far are kept.
  void stop();
  // Moves every sample taken so far into the store (before a snapshot).
  void flush();
  // Discards samples not yet in the store (Profiler::reset, after the store was cleared).
  void discard_pending();

  bool running() const noexcept { return running_; }
  std::vector<Unavailable> unavailable() const;
  // How stacks are unwound: "libunwind" (in the signal handler, or from the stack the kernel
  // copied into a perf_ring sample) or "frame pointers" (perf_ring call chains).
  std::string unwinder() const;
  // CPU time the sampler's own threads have spent (reading rings, unwinding, symbolising, the
  // store), as of the running one's last drain; flush() on another thread is not in it.
  std::uint64_t own_cpu_ns() const noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  bool running_ = false;
};

}  // namespace codeprof::sampling
