#pragma once
// An httplib::Server whose worker threads only ever see whole requests.
//
// cpp-httplib 0.11 hands each accepted connection to a worker thread that then reads the request
// itself; its read timeout applies to each recv(), so a client that sends one header line every
// couple of seconds holds that worker as long as it likes, and as many such clients as there are
// workers stop the server (the library's own answer is "more threads" or "your own thread pool").
// Here one thread with epoll holds every connection until its request head and body have arrived
// (or its deadline passed: 408 and close), then a worker runs httplib's request processing over
// those bytes in memory and writes the response; a kept-alive connection goes back to waiting.
// Waiting costs a file descriptor and a buffer, not a thread, and at most max_waiting connections
// wait (the oldest is dropped for a newcomer). stop() closes everything at once, even connections
// that never finish a request.
#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <memory>

namespace codeprof::server {

struct GateOptions {
  std::size_t workers = 8;
  // A request's head and body must arrive within this (else 408); an idle kept-alive connection is
  // closed after it.
  std::chrono::milliseconds request_timeout{5000};
  // Each write of a response must make progress within this; a whole response (event streams
  // excepted, see keep_response_open) must be written within response_timeout.
  std::chrono::milliseconds write_timeout{5000};
  std::chrono::milliseconds response_timeout{30000};
  std::size_t max_waiting = 256;
  std::size_t max_head_bytes = 16 * 1024;
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_requests_per_connection = 100;
};

struct GateImpl;

class GatedServer : public httplib::Server {
 public:
  explicit GatedServer(GateOptions options);
  ~GatedServer() override;
  GatedServer(const GatedServer&) = delete;
  GatedServer& operator=(const GatedServer&) = delete;

  // Stops listening and closes every connection, waiting or in a worker (idempotent).
  void shutdown();

 private:
  // httplib calls this for each accepted connection (on its listening thread, see the task queue
  // set in the constructor): the connection goes to the waiting room and the call returns at once.
  bool process_and_close_socket(socket_t sock) override;
  // httplib's processing of one request (read from `stream`, response written to it).
  bool answer(httplib::Stream& stream, bool close_connection, bool& connection_closed);

  friend struct GateImpl;
  std::unique_ptr<GateImpl> impl_;
};

// Called from a handler whose response is long-lived (Server-Sent Events): lifts the total
// response_timeout for the response being written on this thread (each write still has to make
// progress within write_timeout).
void keep_response_open() noexcept;

}  // namespace codeprof::server
