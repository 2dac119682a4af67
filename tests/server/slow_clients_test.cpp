// Hostile and careless clients against a real dashboard on loopback: connections that trickle their
// request one header line at a time, that never finish it, that pipeline, or that frame their body
// ambiguously. Normal requests keep being answered and stop() does not wait for any of them.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "server/dashboard_test_support.hpp"

namespace codeprof::test {
namespace {

using Clock = std::chrono::steady_clock;

// A raw loopback connection.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  bool send(const std::string& text) {
    return ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  }
  // Everything the server sends until it closes the connection or `limit` passes.
  std::string read_until_closed(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::string out;
    const auto until = Clock::now() + limit;
    while (Clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  // Reads until `count` complete responses (by Content-Length) arrived.
  std::string read_responses(int count, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::string out;
    const auto until = Clock::now() + limit;
    while (Clock::now() < until && complete_responses(out) < count) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  bool closed() const { return closed_; }

 private:
  static int complete_responses(const std::string& text) {
    int n = 0;
    std::size_t at = 0;
    for (;;) {
      const std::size_t head = text.find("\r\n\r\n", at);
      if (head == std::string::npos) return n;
      const std::size_t cl = text.find("Content-Length: ", at);
      if (cl == std::string::npos || cl > head) return n;
      const std::size_t length = std::stoul(text.substr(cl + 16));
      if (text.size() < head + 4 + length) return n;
      ++n;
      at = head + 4 + length;
    }
  }

  int fd_;
  bool connected_ = false;
  bool closed_ = false;
};

// `n` clients that each send a request line and then one more header line every `period`,
// never ending the head (the slowloris attack).
class Trickle {
 public:
  Trickle(std::uint16_t port, int n, std::chrono::milliseconds period) {
    for (int i = 0; i < n; ++i) {
      clients_.push_back(std::make_unique<RawClient>(port));
      clients_.back()->send("GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    }
    thread_ = std::thread([this, period] {
      int line = 0;
      while (!stop_) {
        std::this_thread::sleep_for(period);
        for (auto& c : clients_) c->send("X-Slow-" + std::to_string(line) + ": 1\r\n");
        ++line;
      }
    });
  }
  ~Trickle() {
    stop_ = true;
    thread_.join();
  }
  std::vector<std::unique_ptr<RawClient>>& clients() { return clients_; }

 private:
  std::vector<std::unique_ptr<RawClient>> clients_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

TEST(DashboardSlowClients, FiftyTricklingConnectionsDoNotDelayANormalRequest) {
  Profiler profiler;
  record(profiler, "load_batch", Category::DataLoading, 5);
  Dashboard dashboard(profiler, test_options());
  Trickle slow(dashboard.port(), 50, std::chrono::milliseconds(200));
  for (auto& c : slow.clients()) ASSERT_TRUE(c->connected());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // they have all been trickling a while

  // A generous bound: before, this waited for the slow clients (as long as they kept trickling).
  for (int i = 0; i < 3; ++i) {
    const auto start = Clock::now();
    const Json ops = get_json(dashboard, "/api/operations");
    EXPECT_LT(seconds_since(start), 1.0) << "request " << i;
    EXPECT_EQ(count_of(ops, "load_batch"), 5u);
  }
}

TEST(DashboardSlowClients, StopReturnsPromptlyWithSlowClientsConnected) {
  Profiler profiler;
  auto dashboard = std::make_unique<Dashboard>(profiler, test_options());
  Trickle slow(dashboard->port(), 50, std::chrono::milliseconds(200));
  RawClient stream(dashboard->port());  // an open event stream, never read
  ASSERT_TRUE(stream.send("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = Clock::now();
  dashboard->stop();
  EXPECT_LT(seconds_since(start), 2.0);
  // Every connection was closed, the unfinished ones included.
  for (auto& c : slow.clients()) {
    c->read_until_closed(std::chrono::seconds(5));
    EXPECT_TRUE(c->closed());
  }
}

TEST(DashboardSlowClients, AnUnfinishedRequestGets408AfterTheRequestTimeout) {
  Profiler profiler;
  DashboardOptions o = test_options();
  o.request_timeout = std::chrono::milliseconds(300);
  Dashboard dashboard(profiler, o);
  RawClient c(dashboard.port());
  ASSERT_TRUE(c.send("GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n"));
  const std::string answer = c.read_until_closed();
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(answer.rfind("HTTP/1.1 408", 0), 0u) << answer;
  EXPECT_NE(answer.find("request not complete within 300 ms"), std::string::npos) << answer;
}

TEST(DashboardSlowClients, TheOldestWaitingConnectionMakesRoomForANewOne) {
  Profiler profiler;
  DashboardOptions o = test_options();
  o.max_waiting_connections = 4;
  Dashboard dashboard(profiler, o);
  Trickle slow(dashboard.port(), 6, std::chrono::milliseconds(200));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(get_json(dashboard, "/api/status")["source"], "live");
  // The first ones were dropped to make room (with a 503 saying why).
  const std::string first = slow.clients()[0]->read_until_closed(std::chrono::seconds(5));
  EXPECT_TRUE(slow.clients()[0]->closed());
  EXPECT_NE(first.find("503"), std::string::npos) << first;
}

TEST(DashboardSlowClients, PipelinedRequestsOnOneConnectionAreAllAnswered) {
  Profiler profiler;
  Dashboard dashboard(profiler, test_options());
  RawClient c(dashboard.port());
  ASSERT_TRUE(c.send("GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                     "GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                     "POST /api/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Codeprof-Request: 1\r\nContent-Length: 2\r\n\r\n{}"));
  const std::string answers = c.read_responses(3);
  std::size_t ok = 0;
  for (std::size_t at = answers.find("HTTP/1.1 200"); at != std::string::npos; at = answers.find("HTTP/1.1 200", at + 1)) ++ok;
  EXPECT_EQ(ok, 3u) << answers;
  EXPECT_NE(answers.find("\"reset\":true"), std::string::npos) << answers;
}

// Sends `request` on a new connection and returns the status line and body.
std::string round_trip(const Dashboard& d, const std::string& request) {
  RawClient c(d.port());
  c.send(request);
  return c.read_responses(1);
}

TEST(DashboardHttpStrictness, ConflictingContentLengthsAreRefusedNamingThem) {
  Profiler profiler;
  Dashboard dashboard(profiler, test_options());
  const Config before = profiler.config();
  const std::string answer =
      round_trip(dashboard, "POST /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Codeprof-Request: 1\r\n"
                          "Content-Length: 17\r\nContent-Length: 2\r\n\r\n{\"enabled\": false}");
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_NE(answer.find("conflicting Content-Length headers (17 and 2)"), std::string::npos) << answer;
  EXPECT_TRUE(profiler.config() == before);
}

TEST(DashboardHttpStrictness, ChunkedBodiesAndOversizedHeadsAreRefusedWithAReason) {
  Profiler profiler;
  Dashboard dashboard(profiler, test_options());
  std::string answer = round_trip(dashboard, "POST /api/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Codeprof-Request: 1\r\n"
                                           "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 411", 0), 0u) << answer;
  EXPECT_NE(answer.find("Content-Length"), std::string::npos) << answer;
  answer = round_trip(dashboard, "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 431", 0), 0u) << answer.substr(0, 200);
}

TEST(DashboardHttpStrictness, HostPortAndRequestHeaderValueAreChecked) {
  Profiler profiler;
  Dashboard dashboard(profiler, test_options());
  auto c = client(dashboard);
  const std::uint16_t other = dashboard.port() == 1 ? 2 : static_cast<std::uint16_t>(dashboard.port() - 1);
  auto res = c.Get("/api/status", {{"Host", "127.0.0.1:" + std::to_string(other)}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_NE(res->body.find("listens on port " + std::to_string(dashboard.port())), std::string::npos) << res->body;
  EXPECT_EQ(c.Get("/api/status", {{"Host", "localhost:" + std::to_string(dashboard.port())}})->status, 200);

  res = post(dashboard, "/api/reset", "{}", {{"X-Codeprof-Request", "0"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_NE(res->body.find("expected the value 1"), std::string::npos) << res->body;
  EXPECT_EQ(post(dashboard, "/api/reset", "{}")->status, 200);
}

TEST(DashboardHttpStrictness, LibraryRefusalsSayWhatWasWrong) {
  Profiler profiler;
  Dashboard dashboard(profiler, test_options());
  std::string answer = round_trip(dashboard, "NOT A REQUEST LINE\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_NE(answer.find("malformed request"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("request failed"), std::string::npos) << answer;
  answer = round_trip(dashboard, "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 414", 0), 0u) << answer.substr(0, 200);
  EXPECT_NE(answer.find("URI too long"), std::string::npos) << answer.substr(0, 400);
}

}  // namespace
}  // namespace codeprof::test
