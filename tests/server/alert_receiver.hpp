#pragma once
// A real HTTP receiver on loopback for the alert webhook's tests: records every POST body, can
// answer with a chosen status, and can hold requests at a gate (a slow or hung receiver).
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace codeprof::test {

class AlertReceiver {
 public:
  AlertReceiver() {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::unique_lock lock(mutex_);
      ++entered_;
      changed_.notify_all();
      changed_.wait(lock, [this] { return gate_open_; });
      const int failures_left = fail_next_;
      if (failures_left > 0) --fail_next_;
      if (failures_left > 0 || always_fail_) {
        res.status = 500;
        return;
      }
      bodies_.push_back(req.body);
      changed_.notify_all();
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~AlertReceiver() {
    open_gate();
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }

  void close_gate() {
    std::lock_guard lock(mutex_);
    gate_open_ = false;
  }
  void open_gate() {
    std::lock_guard lock(mutex_);
    gate_open_ = true;
    changed_.notify_all();
  }
  void fail_next(int n) {
    std::lock_guard lock(mutex_);
    fail_next_ = n;
  }
  void always_fail(bool on) {
    std::lock_guard lock(mutex_);
    always_fail_ = on;
  }

  // Waits (at most 30 s, so a broken sender fails the test instead of hanging it) until `ready`.
  bool wait_for(const std::function<bool(const std::vector<std::string>& bodies, int entered)>& ready) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(30), [&] { return ready(bodies_, entered_); });
  }
  std::vector<std::string> bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> bodies_;
  int entered_ = 0;
  bool gate_open_ = true;
  int fail_next_ = 0;
  bool always_fail_ = false;
};

}  // namespace codeprof::test
