#pragma once
// A profiled workload and a crowd of HTTP clients, shared by the load test and the benchmark.
#include <httplib.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "codeprof/profiler.hpp"

namespace codeprof::test {

inline std::int64_t thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// One iteration of a small pipeline: three profiled stages with real arithmetic in them.
// Returns a value so the compiler keeps the work.
inline std::uint64_t workload_iteration(Profiler& p, std::uint64_t seed) {
  std::uint64_t x = seed | 1;
  {
    auto load = p.profile_operation("load_batch", Category::DataLoading);
    for (int i = 0; i < 4000; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  }
  {
    auto prep = p.profile_operation("tokenize", Category::Preprocessing);
    for (int i = 0; i < 4000; ++i) x ^= x >> 13, x *= 0xff51afd7ed558ccdull;
  }
  {
    auto step = p.profile_operation("forward", Category::ModelInference);
    for (int i = 0; i < 4000; ++i) x += (x << 7) ^ (x >> 3);
  }
  return x;
}

// Median thread-CPU nanoseconds per iteration over `batches` batches of `per_batch` iterations.
// CPU time of the calling thread: time spent waiting for a core does not count, only how much
// work each iteration costs.
inline double median_cpu_ns_per_iteration(Profiler& p, int batches, int per_batch) {
  std::vector<double> per_iteration;
  std::uint64_t sink = 0;
  for (int b = 0; b < batches; ++b) {
    const std::int64_t start = thread_cpu_ns();
    for (int i = 0; i < per_batch; ++i) sink += workload_iteration(p, sink + static_cast<std::uint64_t>(i));
    per_iteration.push_back(static_cast<double>(thread_cpu_ns() - start) / per_batch);
  }
  static std::atomic<std::uint64_t> keep{0};
  keep += sink;
  std::nth_element(per_iteration.begin(), per_iteration.begin() + batches / 2, per_iteration.end());
  return per_iteration[static_cast<std::size_t>(batches / 2)];
}

// `clients` threads that each keep one request in flight against the dashboard until stop(),
// or (once = true) send exactly one request each.
class RequestCrowd {
 public:
  RequestCrowd(std::uint16_t port, int clients, bool once = false) : once_(once) {
    static const char* const paths[] = {"/api/state",      "/api/operations", "/api/status", "/metrics",
                                        "/api/timelines",  "/api/bottlenecks", "/api/config", "/"};
    for (int i = 0; i < clients; ++i) {
      threads_.emplace_back([this, port, i] {
        httplib::Client c("127.0.0.1", port);
        c.set_connection_timeout(30, 0);
        c.set_read_timeout(30, 0);
        const char* path = paths[static_cast<std::size_t>(i) % std::size(paths)];
        do {
          auto res = c.Get(path);
          if (res && res->status == 200)
            ok_.fetch_add(1, std::memory_order_relaxed);
          else
            failed_.fetch_add(1, std::memory_order_relaxed);
        } while (!once_ && !stop_.load(std::memory_order_relaxed));
      });
    }
  }
  ~RequestCrowd() { stop(); }
  RequestCrowd(const RequestCrowd&) = delete;
  RequestCrowd& operator=(const RequestCrowd&) = delete;

  // Stops the clients (once = true: waits until every request is answered).
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  std::uint64_t ok() const { return ok_.load(); }
  std::uint64_t failed() const { return failed_.load(); }

 private:
  const bool once_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> ok_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::vector<std::thread> threads_;
};

}  // namespace codeprof::test
