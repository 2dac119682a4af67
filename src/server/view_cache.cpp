#include "server/view_cache.hpp"

#include <utility>

#include "common/wall_clock.hpp"

namespace codeprof::server {

ViewCache::ViewCache(Compute compute, std::chrono::milliseconds ttl) : compute_(std::move(compute)), ttl_(ttl) {}

bool ViewCache::fresh(Clock::time_point now) const {
  return view_ && now - computed_at_ < ttl_ &&
         computed_for_invalidation_ == invalidations_.load(std::memory_order_acquire);
}

std::shared_ptr<const View> ViewCache::get() {
  {
    std::lock_guard lock(view_mutex_);
    if (fresh(Clock::now())) return view_;
  }
  std::lock_guard compute_lock(compute_mutex_);
  {
    // Another request may have computed it while this one waited.
    std::lock_guard lock(view_mutex_);
    if (fresh(Clock::now())) return view_;
  }
  const std::uint64_t invalidation = invalidations_.load(std::memory_order_acquire);
  auto next = std::make_shared<View>();
  next->generation = computations_.fetch_add(1, std::memory_order_relaxed) + 1;
  next->computed_unix_ns = common::unix_now_ns();
  compute_(*next);
  std::lock_guard lock(view_mutex_);
  view_ = std::move(next);
  computed_at_ = Clock::now();
  computed_for_invalidation_ = invalidation;
  return view_;
}

void ViewCache::invalidate() noexcept { invalidations_.fetch_add(1, std::memory_order_acq_rel); }

}  // namespace codeprof::server
