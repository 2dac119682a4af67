#include "cli/progress.hpp"

#include <cstdio>

namespace codeprof::cli {

SlowTaskNotice::SlowTaskNotice(std::string what, std::chrono::milliseconds after)
    : what_(std::move(what)), start_(std::chrono::steady_clock::now()) {
  watcher_ = std::thread([this, after] {
    std::unique_lock lock(mutex_);
    auto wait = after;
    while (!finished_cv_.wait_for(lock, wait, [this] { return finished_; })) {
      announced_ = true;
      wait = std::chrono::seconds(1);
      const std::uint64_t total = total_bytes_.load(std::memory_order_relaxed);
      const std::uint64_t done = done_bytes_.load(std::memory_order_relaxed);
      if (total > 0)
        std::fprintf(stderr, "codeprof: %s ... %.0f%%\n", what_.c_str(),
                     100.0 * static_cast<double>(std::min(done, total)) / static_cast<double>(total));
      else
        std::fprintf(stderr, "codeprof: %s ...\n", what_.c_str());
      std::fflush(stderr);
    }
  });
}

void SlowTaskNotice::update(std::uint64_t done, std::uint64_t total) noexcept {
  done_bytes_.store(done, std::memory_order_relaxed);
  total_bytes_.store(total, std::memory_order_relaxed);
}

SlowTaskNotice::~SlowTaskNotice() {
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }
  finished_cv_.notify_all();
  watcher_.join();
  if (announced_) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::fprintf(stderr, "codeprof: %s done in %.2f s\n", what_.c_str(), s);
  }
}

}  // namespace codeprof::cli
