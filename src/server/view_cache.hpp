#pragma once
// One computed Snapshot + Findings, shared by every request for `ttl`. However many clients
// ask, at most one computation runs at a time and the profiled program pays for one snapshot
// per ttl.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::server {

struct View {
  Snapshot snapshot;
  Findings findings;
  std::uint64_t generation = 0;       // increases with every computation
  std::int64_t computed_unix_ns = 0;
  std::string state_json;             // the /api/state document (also sent as the event payload)
};

class ViewCache {
 public:
  // Fills snapshot, findings and state_json; generation and computed_unix_ns are already set.
  using Compute = std::function<void(View&)>;

  ViewCache(Compute compute, std::chrono::milliseconds ttl);

  // The cached view, recomputed first when it is older than ttl or invalidated.
  std::shared_ptr<const View> get();
  // The next get() recomputes (after a reset or a configuration change).
  void invalidate() noexcept;
  std::uint64_t computations() const noexcept { return computations_.load(std::memory_order_relaxed); }

 private:
  using Clock = std::chrono::steady_clock;
  bool fresh(Clock::time_point now) const;

  Compute compute_;
  const std::chrono::milliseconds ttl_;
  std::mutex compute_mutex_;  // one computation at a time; waiters then take its result
  mutable std::mutex view_mutex_;
  std::shared_ptr<const View> view_;
  Clock::time_point computed_at_{};
  std::atomic<std::uint64_t> invalidations_{0};
  std::uint64_t computed_for_invalidation_ = 0;
  std::atomic<std::uint64_t> computations_{0};
};

}  // namespace codeprof::server
