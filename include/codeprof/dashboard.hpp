#pragma once
// The live web dashboard: an HTTP server on its own threads, serving a page, a JSON API,
// Server-Sent Events and Prometheus metrics (docs/HTTP_API.md). Link codeprof::dashboard.
//
//   codeprof::Dashboard dashboard(profiler, {.host = "127.0.0.1", .port = 8765});
//   std::cout << dashboard.url() << '\n';
//
// The server only ever calls Profiler::snapshot()/analyze() (at most once per cache_ttl for all
// clients together) and the run-time switches, so the profiled threads never wait for it.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "codeprof/config.hpp"
#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof {

class Profiler;

// The dashboard could not start: a bad option, a port in use, or a non-loopback host without a token.
class DashboardError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DashboardOptions {
  // Loopback by default. Any other address (e.g. "0.0.0.0") requires a token.
  std::string host = "127.0.0.1";
  // 0 picks a free port; Dashboard::port() tells which.
  std::uint16_t port = 8765;
  // When set, every request must carry it: "Authorization: Bearer <token>", "?token=<token>"
  // (which also sets a same-site cookie so the page's own requests carry it) or that cookie.
  std::string token;
  // Request bodies above this many bytes get 413.
  std::size_t max_body_bytes = std::size_t{64} * 1024;
  // How long one computed snapshot + findings is served to every client before it is recomputed.
  std::chrono::milliseconds cache_ttl{250};
  // Server-Sent Events period (the page's live updates).
  std::chrono::milliseconds event_interval{1000};
  // Worker threads of the HTTP server, and how many of them event streams may hold at once.
  // Workers only ever answer requests that have fully arrived: connections wait for theirs on one
  // polling thread, so slow or idle clients hold no worker.
  std::size_t threads = 8;
  std::size_t max_event_streams = 4;
  // A request's head and body must arrive within this (else 408 and the connection closes); an
  // idle kept-alive connection is closed after it too.
  std::chrono::milliseconds request_timeout{5000};
  // Connections waiting for a complete request at once; beyond, the oldest waiting one is closed.
  std::size_t max_waiting_connections = 256;

  // The options the configuration asks for (dashboard_host, dashboard_port, dashboard_token).
  static DashboardOptions from_config(const Config& config);
};

class Dashboard {
 public:
  // Serves a live profiler; the profiler must outlive the dashboard. Listening has started when
  // the constructor returns. Throws DashboardError.
  Dashboard(Profiler& profiler, DashboardOptions options = {});
  // Serves a saved run read-only (`codeprof serve FILE`): requests that change state get 409.
  // `config` is shown by GET /api/config (the thresholds the findings were computed with).
  Dashboard(Snapshot snapshot, Findings findings, DashboardOptions options = {}, Config config = {});
  ~Dashboard();  // stops the server and joins its threads
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  const std::string& host() const noexcept;
  std::uint16_t port() const noexcept;  // the bound port (the chosen one when options.port was 0)
  std::string url() const;              // e.g. "http://127.0.0.1:8765/"
  bool read_only() const noexcept;

  // Stops serving (idempotent); open event streams end within one event interval.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The dashboard the profiler's configuration asks for (dashboard_port != 0, with dashboard_host
// and dashboard_token), or nullptr when the port is 0. Throws DashboardError.
std::unique_ptr<Dashboard> start_configured_dashboard(Profiler& profiler);

}  // namespace codeprof
