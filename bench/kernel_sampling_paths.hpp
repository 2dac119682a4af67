// The kernel's side of a 999 Hz CPU-time sampler, without a profiler, for the overhead benchmark:
// what each way of getting samples out of the kernel costs the sampled thread before any
// profiler work is done.
//   timer_floor  the software cpu-clock event armed with no signal and no ring: only its hrtimer
//                interrupts the thread (on a virtual machine each interrupt is a VM exit)
//   kernel_ring  perf's own design: the kernel writes IP, thread, time and the user callchain
//                (frame pointers) into an mmap'd ring that another thread drains every 20 ms; the
//                sampled thread never sees a signal
//   signal_only  codeprof's design without its handler's work: the event sends SIGPROF to the
//                thread through O_ASYNC and an empty handler returns
#pragma once

#include <fcntl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

namespace codeprof::bench {

class KernelSamplingPath {
 public:
  static bool is_mode(const std::string& mode) {
    return mode == "timer_floor" || mode == "kernel_ring" || mode == "signal_only";
  }

  // Arms `mode` on the calling thread; ok() is false (the reason on stderr) where perf events
  // are refused.
  explicit KernelSamplingPath(const std::string& mode) : mode_(mode) {
    perf_event_attr attr{};
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.sample_period = 1'000'000'000ull / 999;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    attr.disabled = 1;
    if (mode == "kernel_ring") {
      attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CALLCHAIN;
      attr.exclude_callchain_kernel = 1;
      attr.use_clockid = 1;
      attr.clockid = CLOCK_MONOTONIC;
    }
    fd_ = static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC));
    if (fd_ < 0) {
      std::fprintf(stderr, "%s: perf_event_open failed: %s\n", mode.c_str(), std::strerror(errno));
      return;
    }
    if (mode == "kernel_ring") {
      ring_ = mmap(nullptr, (kRingPages + 1) * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
      if (ring_ == MAP_FAILED) {
        std::fprintf(stderr, "kernel_ring: mmap failed: %s\n", std::strerror(errno));
        ring_ = nullptr;
        return;
      }
      drainer_ = std::thread([this] { drain_until_stopped(); });
    } else if (mode == "signal_only") {
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
    stop_ = true;
    if (drainer_.joinable()) drainer_.join();
    if (ring_) munmap(ring_, (kRingPages + 1) * kPage);
    if (fd_ >= 0) close(fd_);
    if (mode_ == "signal_only") signal(SIGPROF, SIG_IGN);  // a late signal must not kill the process
  }

  bool ok() const { return armed_; }
  // Samples the drain thread read (kernel_ring only; the others keep none).
  std::uint64_t samples() const { return samples_.load(); }

 private:
  static constexpr std::size_t kPage = 4096, kRingPages = 64;

  // Reads every record the kernel wrote, counts the samples and frees the space, every 20 ms.
  void drain_until_stopped() {
    auto* meta = static_cast<perf_event_mmap_page*>(ring_);
    const char* data = static_cast<const char*>(ring_) + kPage;
    do {
      const std::uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
      std::uint64_t tail = meta->data_tail;
      while (tail < head) {
        perf_event_header header{};
        std::memcpy(&header, data + tail % (kRingPages * kPage), sizeof header);  // never split: records are 8-aligned
        if (header.type == PERF_RECORD_SAMPLE) samples_.fetch_add(1, std::memory_order_relaxed);
        if (header.size == 0) break;
        tail += header.size;
      }
      __atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (!stop_);
  }

  std::string mode_;
  int fd_ = -1;
  bool armed_ = false;
  void* ring_ = nullptr;
  std::thread drainer_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> samples_{0};
};

}  // namespace codeprof::bench
