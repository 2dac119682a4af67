// What a 999 Hz cpu-clock sampling event adds to each context switch of the threads it samples,
// for the two ways of opening it:
//   per_thread  one event per thread (pid = the thread, cpu = -1), as codeprof's perf_ring opens
//               it for threads that existed before the sampler (src/sampling/cpu_sampler.cpp),
//               and its perf_event mechanism for every thread: at every switch the kernel
//               stops the event's hrtimer and starts it again; where the timer is the CPU's next
//               one that means reprogramming the local APIC timer, a VM exit on a virtual machine
//   inherited   one event per CPU opened before the threads exist, with `inherit` (perf record's
//               design, and perf_ring's for threads started after the sampler): the threads'
//               contexts are clones, and a switch between two of them swaps
//               the contexts without touching the timer
// Two threads pinned to one CPU pass a byte back and forth through pipes (two switches per round
// trip, a little work on each side); the three set-ups alternate within one run, and the result is
// each one's median time per round trip. Every switch here is between two sampled threads of one
// process, the case inherited events are made for; a switch to another process or to the idle
// task still stops and starts an inherited event's timer.
#pragma once

#include <linux/perf_event.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace codeprof::bench {

// Two threads that hand a byte back and forth on the CPU the calling thread runs on, so that
// every hand-over is a context switch: the calling thread pinned there (threads it starts inherit
// that), and a pipe each way. The pinning is undone and the pipes closed on destruction.
class HandOver {
 public:
  // False (and `error`) when the thread cannot be pinned or the pipes cannot be made.
  bool open(std::string& error) {
    cpu_ = sched_getcpu();
    cpu_set_t one;
    CPU_ZERO(&one);
    if (cpu_ >= 0) CPU_SET(cpu_, &one);
    if (cpu_ < 0 || sched_getaffinity(0, sizeof before_, &before_) != 0 || sched_setaffinity(0, sizeof one, &one) != 0) {
      error = std::string("cannot pin the threads to one CPU: ") + std::strerror(errno);
      return false;
    }
    pinned_ = true;
    if (pipe(to_peer) != 0 || pipe(to_caller) != 0) {
      error = std::string("pipe failed: ") + std::strerror(errno);
      return false;
    }
    return true;
  }
  ~HandOver() {
    for (const int fd : {to_peer[0], to_peer[1], to_caller[0], to_caller[1]})
      if (fd >= 0) close(fd);
    if (pinned_) sched_setaffinity(0, sizeof before_, &before_);
  }
  int cpu() const noexcept { return cpu_; }
  int to_peer[2] = {-1, -1}, to_caller[2] = {-1, -1};  // [0] to read, [1] to write

 private:
  int cpu_ = -1;
  cpu_set_t before_{};
  bool pinned_ = false;
};

class ContextSwitchCost {
 public:
  enum class Events { none, per_thread, inherited };

  // Median microseconds per round trip of each set-up over `rounds` alternating rounds of
  // `round_trips` each; false (and `error`) when perf events cannot be opened here.
  bool measure(int rounds, long round_trips, double (&us)[3], std::string& error) {
    std::vector<double> runs[3];
    for (int r = 0; r < rounds; ++r)
      for (const Events e : {Events::none, Events::per_thread, Events::inherited}) {
        double v = 0;
        if (!ping_pong(e, round_trips, v, error)) return false;
        runs[static_cast<int>(e)].push_back(v);
      }
    for (int i = 0; i < 3; ++i) {
      std::sort(runs[i].begin(), runs[i].end());
      us[i] = runs[i][runs[i].size() / 2];
    }
    return true;
  }

 private:
  static constexpr std::uint64_t kPeriodNs = 1'000'000'000ull / 999;

  struct Opened {
    std::vector<int> fds;
    std::vector<std::pair<void*, std::size_t>> maps;
    ~Opened() {
      for (const auto& [p, n] : maps) munmap(p, n);
      for (const int fd : fds) close(fd);
    }
  };

  // A sampling event like codeprof's perf_ring (user-space cpu-clock with a small ring), on the
  // calling thread (cpu -1) or on the calling thread and its future threads on one CPU (inherit).
  static bool open_event(Opened& out, int cpu, bool inherit, std::string& error) {
    perf_event_attr attr{};
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.sample_period = kPeriodNs;
    attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    attr.inherit = inherit ? 1 : 0;
    const int fd = static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, cpu, -1, PERF_FLAG_FD_CLOEXEC));
    if (fd < 0) {
      error = std::string("perf_event_open (software cpu-clock, user space) failed: ") + std::strerror(errno);
      return false;
    }
    out.fds.push_back(fd);
    const std::size_t bytes = static_cast<std::size_t>(1 + 8) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    void* ring = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ring == MAP_FAILED) {
      error = std::string("mmap of the sampling ring failed: ") + std::strerror(errno);
      return false;
    }
    out.maps.emplace_back(ring, bytes);
    return true;
  }

  static void spin() {
    volatile std::uint64_t x = 0;
    for (int i = 0; i < 2000; ++i) x = x + static_cast<std::uint64_t>(i);
  }

  static bool ping_pong(Events events, long round_trips, double& us, std::string& error) {
    HandOver hand_over;
    if (!hand_over.open(error)) return false;
    const int cpu = hand_over.cpu();
    const auto& to_peer = hand_over.to_peer;
    const auto& to_main = hand_over.to_caller;
    bool ok = true;
    {
      Opened main_events, peer_events;
      // The ring's samples are never read: a small ring fills and the kernel counts them lost.
      if (events == Events::inherited) ok = open_event(main_events, cpu, true, error);
      if (events == Events::per_thread) ok = open_event(main_events, -1, false, error);
      bool peer_ok = true;
      std::string peer_error;
      std::thread peer([&] {
        if (events == Events::per_thread) peer_ok = open_event(peer_events, -1, false, peer_error);
        char c = 0;
        for (long i = 0; i < round_trips; ++i) {
          if (read(to_peer[0], &c, 1) != 1) break;
          spin();
          if (write(to_main[1], &c, 1) != 1) break;
        }
      });
      char c = 0;
      const auto t0 = std::chrono::steady_clock::now();
      for (long i = 0; i < round_trips; ++i) {
        if (write(to_peer[1], &c, 1) != 1 || read(to_main[0], &c, 1) != 1) break;
        spin();
      }
      const auto t1 = std::chrono::steady_clock::now();
      peer.join();
      us = std::chrono::duration<double, std::micro>(t1 - t0).count() / static_cast<double>(round_trips);
      if (ok && !peer_ok) {
        ok = false;
        error = peer_error;
      }
    }
    return ok;
  }
};

}  // namespace codeprof::bench
