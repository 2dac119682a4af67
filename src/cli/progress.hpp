#pragma once
// Progress for slow inputs: when reading a file takes more than a second, a line goes to stderr
// then and about every second after (with the share done when the reader reports it), and one
// when it is done. Fast files print nothing.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace codeprof::cli {

class SlowTaskNotice {
 public:
  // `what` is e.g. "reading trace.json.gz (120.0 MiB)".
  explicit SlowTaskNotice(std::string what, std::chrono::milliseconds after = std::chrono::seconds(1));
  ~SlowTaskNotice();  // prints "... done in 2.31 s" when a line was printed
  SlowTaskNotice(const SlowTaskNotice&) = delete;
  SlowTaskNotice& operator=(const SlowTaskNotice&) = delete;

  // How far the task is; cheap enough to call from a reader's progress callback.
  void update(std::uint64_t done, std::uint64_t total) noexcept;

 private:
  std::string what_;
  std::chrono::steady_clock::time_point start_;
  std::atomic<std::uint64_t> done_bytes_{0};
  std::atomic<std::uint64_t> total_bytes_{0};
  std::mutex mutex_;
  std::condition_variable finished_cv_;
  bool finished_ = false;
  bool announced_ = false;
  std::thread watcher_;
};

}  // namespace codeprof::cli
