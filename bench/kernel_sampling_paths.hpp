// The kernel's side of a 999 Hz CPU-time sampler, without a profiler, for the overhead benchmark:
// what each way of getting samples out of the kernel costs the sampled thread before any
// profiler work is done.
//   timer_floor  the software cpu-clock event armed with no signal and no ring: only its hrtimer
//                interrupts the thread (on a virtual machine each interrupt is a VM exit)
//   kernel_ring  perf's own design, as codeprof's perf_ring opens it (src/sampling/
//                perf_sample_ring.hpp): the kernel writes the thread and the user call chain
//                (frame pointers) into an mmap'd ring that another thread drains every 20 ms; the
//                sampled thread never sees a signal
//   signal_only  codeprof's design without its handler's work: the event sends SIGPROF to the
//                thread through O_ASYNC and an empty handler returns
#pragma once

#include <fcntl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <memory>
#include <thread>

#include "sampling/perf_sample_ring.hpp"

namespace codeprof::bench {

class KernelSamplingPath {
 public:
  static bool is_mode(const std::string& mode) {
    return mode == "timer_floor" || mode == "kernel_ring" || mode == "signal_only";
  }

  // Arms `mode` on the calling thread; ok() is false (the reason on stderr) where perf events
  // are refused.
  explicit KernelSamplingPath(const std::string& mode) : mode_(mode) {
    if (mode == "kernel_ring") {
      sampling::PerfSampleRing::Options options;
      options.frequency_hz = 999;
      options.max_frames = 127;
      options.data_pages = 64;
      std::string error;
      int error_number = 0;
      ring_ = sampling::PerfSampleRing::open(0, options, error, error_number);
      if (!ring_) {
        std::fprintf(stderr, "kernel_ring: %s\n", error.c_str());
        return;
      }
      armed_ = ring_->enable();
      drainer_ = std::thread([this] { drain_until_stopped(); });
      return;
    }
    perf_event_attr attr{};
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.sample_period = 1'000'000'000ull / 999;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    attr.disabled = 1;
    fd_ = static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC));
    if (fd_ < 0) {
      std::fprintf(stderr, "%s: perf_event_open failed: %s\n", mode.c_str(), std::strerror(errno));
      return;
    }
    if (mode == "signal_only") {
      struct sigaction sa {};
      sa.sa_handler = [](int) {};
      sa.sa_flags = SA_RESTART;
      sigemptyset(&sa.sa_mask);
      sigaction(SIGPROF, &sa, nullptr);
      f_owner_ex owner{F_OWNER_TID, static_cast<pid_t>(syscall(SYS_gettid))};
      if (fcntl(fd_, F_SETFL, O_ASYNC) != 0 || fcntl(fd_, F_SETSIG, SIGPROF) != 0 || fcntl(fd_, F_SETOWN_EX, &owner) != 0) {
        std::fprintf(stderr, "signal_only: cannot route the event to a signal: %s\n", std::strerror(errno));
        return;
      }
    }
    armed_ = ioctl(fd_, PERF_EVENT_IOC_ENABLE, 0) == 0;
  }

  KernelSamplingPath(const KernelSamplingPath&) = delete;
  KernelSamplingPath& operator=(const KernelSamplingPath&) = delete;

  ~KernelSamplingPath() {
    if (fd_ >= 0) ioctl(fd_, PERF_EVENT_IOC_DISABLE, 0);
    if (ring_) ring_->disable();
    stop_ = true;
    if (drainer_.joinable()) drainer_.join();
    if (fd_ >= 0) close(fd_);
    if (mode_ == "signal_only") signal(SIGPROF, SIG_IGN);  // a late signal must not kill the process
  }

  bool ok() const { return armed_; }
  // Samples the drain thread read (kernel_ring only; the others keep none).
  std::uint64_t samples() const { return samples_.load(); }

 private:
  // Reads every record the kernel wrote, counts the samples and frees the space, every 20 ms.
  void drain_until_stopped() {
    do {
      ring_->read(ring_->position(), {}, [this](const sampling::PerfSampleRing::Sample&) {
        samples_.fetch_add(1, std::memory_order_relaxed);
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (!stop_);
  }

  std::string mode_;
  int fd_ = -1;
  bool armed_ = false;
  std::unique_ptr<sampling::PerfSampleRing> ring_;
  std::thread drainer_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> samples_{0};
};

}  // namespace codeprof::bench
