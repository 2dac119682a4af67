#pragma once
// Progress for slow inputs: when reading a file takes more than a second, one line goes to stderr
// while it runs and one when it is done. Fast files print nothing.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace codeprof::cli {

class SlowTaskNotice {
 public:
  // `what` is e.g. "reading trace.json.gz (120 MB)".
  explicit SlowTaskNotice(std::string what, std::chrono::milliseconds after = std::chrono::seconds(1));
  ~SlowTaskNotice();  // prints "... done in 2.31 s" when the first line was printed
  SlowTaskNotice(const SlowTaskNotice&) = delete;
  SlowTaskNotice& operator=(const SlowTaskNotice&) = delete;

 private:
  std::string what_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  bool announced_ = false;
  std::thread watcher_;
};

}  // namespace codeprof::cli
