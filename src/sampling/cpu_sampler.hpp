#pragma once
// Native CPU-time sampling: every sampled thread gets a per-thread CPU-clock timer that sends it
// SIGPROF at sampling.frequency_hz of its CPU time (perf_event_open software cpu-clock, user space
// only; else timer_create on the thread's CPU clock). The handler captures the stack (libunwind's
// local unwinder) and the open operations into the thread's SampleRing; the sampler's thread
// drains the rings, symbolises (libdw) and adds the samples to the SampleStore. One sampler per
// process can own SIGPROF; a second one reports itself unavailable.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "codeprof/config.hpp"
#include "codeprof/detail/recorder_state.hpp"
#include "codeprof/snapshot.hpp"
#include "sampling/sample_store.hpp"

namespace codeprof::sampling {

class CpuSampler {
 public:
  CpuSampler(const Config& config, const detail::RecorderState& recorder, SampleStore& store);
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

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  bool running_ = false;
};

}  // namespace codeprof::sampling
