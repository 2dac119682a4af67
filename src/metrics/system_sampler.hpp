#pragma once
// One background thread that samples the process and the system (CPU %, RSS, I/O rates, page
// faults, context switches, fds, threads; per GPU through NVML loaded with dlopen) into bounded
// rings, every config.sampler_interval_ms, and more often early in a run (every 1/32 of the time
// so far, at least 10 ms apart), so that runs shorter than a second still get enough samples.
// Levels are also sampled at start and reset, and a full sample at every snapshot (sample_now).
#include <cstdint>
#include <memory>
#include <vector>

#include "codeprof/config.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::metrics {

class SystemSampler {
 public:
  // origin_steady_ns: the run's origin on steady_clock; series times are relative to it.
  SystemSampler(const Config& config, std::int64_t origin_steady_ns);
  ~SystemSampler();  // stops the thread
  SystemSampler(const SystemSampler&) = delete;
  SystemSampler& operator=(const SystemSampler&) = delete;

  void start();
  void stop();
  // Drops the samples taken so far; later samples are relative to the new origin.
  void reset(std::int64_t origin_steady_ns);
  // Takes a sample now (unless one was taken in the last 5 ms), e.g. for a snapshot or export, so
  // that the timelines reach the moment they are read. Does nothing before start().
  void sample_now();

  std::vector<TimelineSeries> series() const;
  std::vector<Unavailable> unavailable() const;
  std::vector<GpuDeviceInfo> gpus() const;

  // The sampler thread's own CPU time so far (its cost), and how many samples it has taken.
  std::int64_t own_cpu_ns() const;
  std::int64_t samples_taken() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace codeprof::metrics
