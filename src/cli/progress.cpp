#include "cli/progress.hpp"

#include <cstdio>

namespace codeprof::cli {

SlowTaskNotice::SlowTaskNotice(std::string what, std::chrono::milliseconds after)
    : what_(std::move(what)), start_(std::chrono::steady_clock::now()) {
  watcher_ = std::thread([this, after] {
    std::unique_lock lock(mutex_);
    if (done_cv_.wait_for(lock, after, [this] { return done_; })) return;
    announced_ = true;
    std::fprintf(stderr, "codeprof: %s ...\n", what_.c_str());
    std::fflush(stderr);
  });
}

SlowTaskNotice::~SlowTaskNotice() {
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  done_cv_.notify_all();
  watcher_.join();
  if (announced_) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::fprintf(stderr, "codeprof: %s done in %.2f s\n", what_.c_str(), s);
  }
}

}  // namespace codeprof::cli
