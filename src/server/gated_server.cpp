#include "server/gated_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "server/request_framing.hpp"

namespace codeprof::server {
namespace {

using Clock = std::chrono::steady_clock;

// httplib's listening loop hands each accepted socket to its task queue; this one runs the task
// on the spot, since all the task does is put the connection in the waiting room.
class InlineQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

struct Connection {
  int fd = -1;
  std::string buffer;  // received, not yet processed: the current request and any pipelined after it
  Clock::time_point deadline;
  std::uint64_t arrival = 0;  // order of entering the waiting room (the oldest is dropped first)
  std::size_t served = 0;
  bool continue_sent = false;
  bool peer_closed = false;  // the client shut down its side after sending
  bool closing = false;      // answered with an error: reading what the client still sends, then close
  std::size_t request_bytes = 0;
};

const char* reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    default: return "Service Unavailable";
  }
}

// A small response written by the gate itself (refusals and timeouts), best effort.
void send_error(int fd, int status, const std::string& message) {
  std::string json;
  json.reserve(message.size() + 40);
  json += "{\"error\":\"";
  for (const char c : message) {
    if (c == '"' || c == '\\') json += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) json += c;
  }
  json += "\",\"status\":" + std::to_string(status) + "}";
  const std::string response = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
                               "\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: " +
                               std::to_string(json.size()) +
                               "\r\nConnection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n" +
                               json;
  (void)::send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

int poll_ms(Clock::time_point until) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1000));
}

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  const int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                      : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (rc != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
  }
  ip = text;
}

// One request for httplib: read from memory (the gate has received all of it), written to the
// socket with a deadline per write and one for the whole response.
class RequestStream final : public httplib::Stream {
 public:
  RequestStream(int fd, std::string_view request, const GateOptions& options, const std::atomic<bool>& stopping)
      : fd_(fd),
        request_(request),
        write_timeout_(options.write_timeout),
        response_deadline_(Clock::now() + options.response_timeout),
        stopping_(stopping) {}

  bool is_readable() const override { return read_ < request_.size(); }
  bool is_writable() const override {
    if (stopping_.load(std::memory_order_relaxed)) return false;
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, poll_ms(write_deadline())) <= 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return false;
    char byte;
    // Readable with nothing to read means the client went away (a pipelined request is data).
    pollfd r{fd_, POLLIN, 0};
    if (::poll(&r, 1, 0) > 0 && ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0) return false;
    return true;
  }
  ssize_t read(char* ptr, std::size_t size) override {
    const std::size_t n = std::min(size, request_.size() - read_);
    std::copy_n(request_.data() + read_, n, ptr);
    read_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, std::size_t size) override {
    std::size_t done = 0;
    while (done < size) {
      if (stopping_.load(std::memory_order_relaxed)) return -1;
      const Clock::time_point until = write_deadline();
      if (Clock::now() >= until) return -1;
      pollfd p{fd_, POLLOUT, 0};
      const int ready = ::poll(&p, 1, poll_ms(until));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;  // re-checks the deadline
      if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return -1;
      const ssize_t sent = ::send(fd_, ptr + done, size - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
        return -1;
      }
      done += static_cast<std::size_t>(sent);
      progress_ = Clock::now();
    }
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

  void keep_open() noexcept { response_deadline_ = Clock::time_point::max(); }

 private:
  Clock::time_point write_deadline() const { return std::min(progress_ + write_timeout_, response_deadline_); }

  int fd_;
  std::string_view request_;
  std::size_t read_ = 0;
  std::chrono::milliseconds write_timeout_;
  Clock::time_point response_deadline_;
  Clock::time_point progress_ = Clock::now();
  const std::atomic<bool>& stopping_;
};

thread_local RequestStream* t_current_stream = nullptr;

}  // namespace

struct GateImpl {
  GateImpl(GatedServer& s, GateOptions o) : server(s), options(std::move(o)) {}

  GatedServer& server;
  const GateOptions options;
  int epoll_fd = -1;
  int wake_fd = -1;
  std::atomic<bool> stopping{false};

  std::mutex mutex;  // guards everything below
  std::unordered_map<int, std::unique_ptr<Connection>> waiting;
  std::deque<std::unique_ptr<Connection>> ready;
  std::unordered_set<int> active;  // sockets a worker is answering on
  std::condition_variable ready_changed;
  std::uint64_t arrivals = 0;
  bool started = false;
  std::thread poller;
  std::vector<std::thread> workers;

  void start() {
    epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_fd < 0 || wake_fd < 0) throw std::runtime_error("cannot create the dashboard's connection poller");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
    started = true;
    poller = std::thread([this] {
      ::pthread_setname_np(::pthread_self(), "codeprof-http-wait");
      poll_loop();
    });
    for (std::size_t i = 0; i < options.workers; ++i)
      workers.emplace_back([this] {
        ::pthread_setname_np(::pthread_self(), "codeprof-http");
        work_loop();
      });
  }

  void stop() {
    {
      std::lock_guard lock(mutex);
      if (stopping.exchange(true) || !started) return;
      for (const int fd : active) ::shutdown(fd, SHUT_RDWR);  // a worker blocked on this client returns
    }
    const std::uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
    ready_changed.notify_all();
    if (poller.joinable()) poller.join();
    for (auto& w : workers)
      if (w.joinable()) w.join();
    std::lock_guard lock(mutex);
    for (auto& [fd, c] : waiting) ::close(fd);
    waiting.clear();
    for (auto& c : ready) ::close(c->fd);
    ready.clear();
    ::close(epoll_fd);
    ::close(wake_fd);
  }

  void close_connection(std::unique_ptr<Connection> c) {
    ::shutdown(c->fd, SHUT_RDWR);
    ::close(c->fd);
  }

  // A new connection (from httplib's listening thread) or one kept alive (from a worker).
  void admit(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mutex);
    if (stopping) return close_connection(std::move(c));
    c->deadline = Clock::now() + options.request_timeout;
    c->continue_sent = false;
    c->arrival = ++arrivals;
    if (waiting.size() >= options.max_waiting) {
      auto oldest = std::min_element(waiting.begin(), waiting.end(),
                                     [](const auto& a, const auto& b) { return a.second->arrival < b.second->arrival; });
      ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, oldest->first, nullptr);
      send_error(oldest->first, 503, "too many connections waiting for their request; try again");
      close_connection(std::move(oldest->second));
      waiting.erase(oldest);
    }
    const int fd = c->fd;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) return close_connection(std::move(c));
    Connection& added = *waiting.emplace(fd, std::move(c)).first->second;
    if (!added.buffer.empty()) examine(added);  // a pipelined request may already be complete
  }

  // Decides what the received bytes of a waiting connection are; true when it left the waiting
  // room (passed to a worker or closed). Called with the mutex held.
  bool examine(Connection& c) {
    const RequestFraming f = frame_request(c.buffer, options.max_head_bytes, options.max_body_bytes);
    switch (f.state) {
      case RequestFraming::State::Complete: {
        c.request_bytes = f.request_bytes;
        const auto it = waiting.find(c.fd);
        ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
        ready.push_back(std::move(it->second));
        waiting.erase(it);
        ready_changed.notify_one();
        return true;
      }
      case RequestFraming::State::Refused:
        linger(c, f.status, f.message);
        return false;
      case RequestFraming::State::NeedMore:
        if (f.expects_continue && !c.continue_sent) {
          static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
          (void)::send(c.fd, kContinue, sizeof kContinue - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
          c.continue_sent = true;
        }
        if (c.peer_closed) {
          drop(c);
          return true;
        }
        return false;
    }
    return false;
  }

  // Answers with an error and closes after the client stopped sending (or a second passed): closing
  // with unread data would reset the connection, and the client could lose the answer.
  void linger(Connection& c, int status, const std::string& message) {
    send_error(c.fd, status, message);
    ::shutdown(c.fd, SHUT_WR);
    c.closing = true;
    c.buffer.clear();
    c.buffer.shrink_to_fit();
    c.deadline = Clock::now() + std::chrono::seconds(1);
  }

  // Closes a connection of the waiting room. Mutex held.
  void drop(Connection& c) {
    const auto it = waiting.find(c.fd);
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
    close_connection(std::move(it->second));
    waiting.erase(it);
  }

  void receive(Connection& c) {
    char chunk[16 * 1024];
    if (c.closing) {
      for (;;) {
        const ssize_t got = ::recv(c.fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (got > 0) continue;
        if (got < 0 && errno == EINTR) continue;
        if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) drop(c);
        return;
      }
    }
    const std::size_t cap = options.max_head_bytes + options.max_body_bytes + 1;
    while (c.buffer.size() < cap) {
      const ssize_t got = ::recv(c.fd, chunk, std::min(sizeof chunk, cap - c.buffer.size()), MSG_DONTWAIT);
      if (got > 0) {
        c.buffer.append(chunk, static_cast<std::size_t>(got));
        continue;
      }
      if (got == 0) c.peer_closed = true;
      else if (errno == EINTR) continue;
      else if (errno != EAGAIN && errno != EWOULDBLOCK) c.peer_closed = true;
      break;
    }
    examine(c);
  }

  void expire(Clock::time_point now) {
    std::vector<int> late;
    for (const auto& [fd, c] : waiting)
      if (c->deadline <= now) late.push_back(fd);
    for (const int fd : late) {
      Connection& c = *waiting.at(fd);
      // An idle kept-alive connection just closes; a request that did not finish is told why.
      if (c.closing || c.buffer.empty()) drop(c);
      else
        linger(c, 408,
               "request not complete within " + std::to_string(options.request_timeout.count()) +
                   " ms: send the request line, headers and body at once");
    }
  }

  void poll_loop() {
    std::vector<epoll_event> events(64);
    for (;;) {
      int timeout = 1000;
      {
        std::lock_guard lock(mutex);
        if (stopping) return;
        for (const auto& [fd, c] : waiting) timeout = std::min(timeout, poll_ms(c->deadline) + 1);
      }
      const int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), timeout);
      std::lock_guard lock(mutex);
      if (stopping) return;
      for (int i = 0; i < n; ++i) {
        const int fd = events[static_cast<std::size_t>(i)].data.fd;
        if (fd == wake_fd) {
          std::uint64_t drained;
          (void)!::read(wake_fd, &drained, sizeof drained);
          continue;
        }
        const auto it = waiting.find(fd);
        if (it != waiting.end()) receive(*it->second);
      }
      expire(Clock::now());
    }
  }

  void work_loop() {
    for (;;) {
      std::unique_ptr<Connection> c;
      {
        std::unique_lock lock(mutex);
        ready_changed.wait(lock, [&] { return stopping || !ready.empty(); });
        if (stopping) return;
        c = std::move(ready.front());
        ready.pop_front();
        active.insert(c->fd);
      }
      const bool keep = answer(*c);
      {
        std::lock_guard lock(mutex);
        active.erase(c->fd);
      }
      if (keep) admit(std::move(c));
      else close_connection(std::move(c));
    }
  }

  // Runs httplib's request processing; true when the connection stays open for another request.
  bool answer(Connection& c) {
    const bool last = c.peer_closed || c.served + 1 >= options.max_requests_per_connection;
    RequestStream stream(c.fd, std::string_view(c.buffer).substr(0, c.request_bytes), options, stopping);
    bool closed = false;
    t_current_stream = &stream;
    const bool ok = server.answer(stream, last, closed);
    t_current_stream = nullptr;
    c.buffer.erase(0, c.request_bytes);  // the framing is known, whatever the handler read
    ++c.served;
    return ok && !closed && !last && !stopping;
  }
};

GatedServer::GatedServer(GateOptions options) : impl_(std::make_unique<GateImpl>(*this, std::move(options))) {
  new_task_queue = [] { return new InlineQueue; };
  impl_->start();
}

GatedServer::~GatedServer() { shutdown(); }

void GatedServer::shutdown() {
  stop();  // httplib: closes the listening socket; its loop ends
  impl_->stop();
}

bool GatedServer::process_and_close_socket(socket_t sock) {
  auto c = std::make_unique<Connection>();
  c->fd = sock;
  impl_->admit(std::move(c));
  return true;
}

bool GatedServer::answer(httplib::Stream& stream, bool close_connection, bool& connection_closed) {
  return process_request(stream, close_connection, connection_closed, nullptr);
}

void keep_response_open() noexcept {
  if (t_current_stream) t_current_stream->keep_open();
}

}  // namespace codeprof::server
