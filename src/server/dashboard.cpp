#include "codeprof/dashboard.hpp"

#include <httplib.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "analysis/analyze.hpp"
#include "codeprof/exporters.hpp"
#include "codeprof/profiler.hpp"
#include "common/wall_clock.hpp"
#include "io/profile_view.hpp"
#include "server/api_json.hpp"
#include "server/config_patch.hpp"
#include "server/gated_server.hpp"
#include "server/http_request_guard.hpp"
#include "server/view_cache.hpp"
#include "server/web_assets.hpp"

namespace codeprof {
namespace {

using server::Json;

constexpr const char* kJsonType = "application/json; charset=utf-8";
// The page loads only its own files; uPlot styles its elements through the CSSOM, which
// style-src does not restrict.
// The hash admits the one <style> element d3-flame-graph 5.0.0 inserts itself (its default look);
// no other inline style runs.
constexpr const char* kPagePolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'sha256-PjPkXjWPssRCMzB6p5SnF25xrwIH7ThbVHWlE+SG1DE='; "
    "img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

// Strings from traces may hold invalid UTF-8: replace it rather than fail the response.
std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

void send_json(httplib::Response& res, const Json& body, int status = 200) {
  res.status = status;
  res.set_content(dump(body), kJsonType);
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, Json{{"error", message}, {"status", status}}, status);
}

const char* export_content_type(std::string_view format) {
  if (format == "json" || format == "chrome") return "application/json; charset=utf-8";
  if (format == "csv") return "text/csv; charset=utf-8";
  if (format == "html") return "text/html; charset=utf-8";
  if (format == "pprof") return "application/gzip";
  if (format == "folded") return "text/plain; charset=utf-8";
  if (format == "perfetto") return "application/octet-stream";
  return "text/plain; version=0.0.4; charset=utf-8";  // prometheus
}

std::string render_export(std::string_view format, const server::View& v) {
  if (format == "json") return io::to_json_report(v.snapshot, v.findings);
  if (format == "chrome") return io::to_chrome_trace(v.snapshot);
  if (format == "csv") return io::to_csv(v.snapshot);
  if (format == "html") return io::to_html_report(v.snapshot, v.findings);
  if (format == "pprof") return io::to_pprof(v.snapshot);
  if (format == "folded") return io::to_folded(v.snapshot);
  if (format == "perfetto") return io::to_perfetto_trace(v.snapshot);
  return io::to_prometheus(v.snapshot, v.findings);
}

// What httplib's own refusals mean, said to the client (httplib leaves the body empty).
std::string error_message(int status, const httplib::Request& req, std::size_t max_body_bytes) {
  switch (status) {
    case 400:
      return "malformed request: expected 'METHOD /path HTTP/1.1' and header lines 'Name: value'";
    case 404:
      return "no such endpoint: " + req.method + " " + req.path;
    case 413:
      return "request body too large: at most " + std::to_string(max_body_bytes) + " bytes";
    case 414:
      return "request URI too long: at most 8192 bytes";
    case 416:
      return "Range header '" + req.get_header_value("Range") + "' cannot be satisfied: ask for the whole resource";
    case 417:
      return "Expect header not supported: send the body without 'Expect'";
    default:
      return "HTTP " + std::to_string(status) + " for " + req.method + " " + req.path;
  }
}

std::string category_list() {
  std::string out;
  for (const auto name : kCategoryNames) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace

DashboardOptions DashboardOptions::from_config(const Config& config) {
  DashboardOptions options;
  options.host = config.dashboard_host;
  options.port = config.dashboard_port;
  options.token = config.dashboard_token;
  return options;
}

struct Dashboard::Impl {
  DashboardOptions options;
  Profiler* profiler = nullptr;  // null: read-only over a saved run
  Config saved_config;           // read-only: what the findings were computed with
  std::unique_ptr<server::ViewCache> cache;
  std::unique_ptr<server::GatedServer> server;  // created by start(), with the options
  httplib::Server& http() { return *server; }
  std::thread listener;
  std::atomic<bool> listener_done{false};
  socket_t listen_socket = -1;
  std::uint16_t port = 0;

  std::mutex write_mutex;  // one state change at a time (config patches read-modify-write)
  std::atomic<std::size_t> streams{0};

  // Event streams sleep here between events; woken early by a state change or stop().
  std::mutex wake_mutex;
  std::condition_variable wake;
  std::uint64_t wake_seq = 0;
  bool stopping = false;

  bool read_only() const { return profiler == nullptr; }

  Config current_config() const { return profiler ? profiler->config() : saved_config; }

  void start();
  void stop();
  void add_routes();
  void add_export_routes();
  void add_state_changing_routes();
  void serve_events(httplib::Response& res);
  void notify_streams();
  bool guard(const httplib::Request& req, httplib::Response& res) const;
};

bool Dashboard::Impl::guard(const httplib::Request& req, httplib::Response& res) const {
  const server::GuardDecision decision = server::check_http_request(req, options.token, port);
  if (decision.refusal) {
    send_error(res, decision.refusal->status, decision.refusal->message);
    return false;
  }
  if (decision.token_source == server::TokenSource::Query) res.set_header("Set-Cookie", server::token_cookie(options.token));
  return true;
}

void Dashboard::Impl::notify_streams() {
  {
    std::lock_guard lock(wake_mutex);
    ++wake_seq;
  }
  wake.notify_all();
}

void Dashboard::Impl::serve_events(httplib::Response& res) {
  // Each stream holds a worker thread: cap them so streams cannot starve the API.
  if (streams.fetch_add(1) >= options.max_event_streams) {
    streams.fetch_sub(1);
    send_error(res, 503,
               "too many event streams open (at most " + std::to_string(options.max_event_streams) +
                   "); close another dashboard tab");
    return;
  }
  // Gives the stream's place back when httplib destroys the provider (the client left or stop()).
  class Slot {
   public:
    explicit Slot(std::atomic<std::size_t>& count) : count_(count) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { count_.fetch_sub(1); }

   private:
    std::atomic<std::size_t>& count_;
  };
  auto slot = std::make_shared<Slot>(streams);
  server::keep_response_open();  // the stream lasts as long as the tab is open
  res.set_header("X-Accel-Buffering", "no");
  std::uint64_t seen_seq = 0;
  bool first = true;
  res.set_chunked_content_provider(
      "text/event-stream", [this, slot, seen_seq, first](std::size_t, httplib::DataSink& sink) mutable {
        {
          std::unique_lock lock(wake_mutex);
          if (!first) {
            wake.wait_for(lock, options.event_interval, [&] { return stopping || wake_seq != seen_seq; });
          }
          if (stopping) return false;
          seen_seq = wake_seq;
        }
        std::string message;
        if (first) message = "retry: 2000\n";
        first = false;
        std::shared_ptr<const server::View> view;
        try {
          view = cache->get();
        } catch (const std::exception& e) {
          message += "event: error\ndata: " + dump(Json{{"error", e.what()}}) + "\n\n";
          return sink.write(message.data(), message.size());
        }
        message += "event: update\nid: " + std::to_string(view->generation) + "\ndata: " + view->state_json + "\n\n";
        return sink.write(message.data(), message.size());
      });
}

void Dashboard::Impl::add_routes() {
  http().Get("/api/state", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(cache->get()->state_json, kJsonType);
  });
  http().Get("/api/status", [this](const httplib::Request&, httplib::Response& res) {
    const auto view = cache->get();
    Json status = server::status_json(view->snapshot, read_only());
    status["generation"] = view->generation;
    status["computed_unix_ns"] = view->computed_unix_ns;
    status["dashboard"] = {{"computations", cache->computations()},
                           {"event_streams", streams.load()},
                           {"cache_ttl_ms", options.cache_ttl.count()}};
    send_json(res, status);
  });
  http().Get("/api/operations", [this](const httplib::Request& req, httplib::Response& res) {
    std::optional<Category> only;
    if (req.has_param("category")) {
      const std::string name = req.get_param_value("category");
      only = category_from_string(name);
      if (!only) return send_error(res, 400, "unknown category '" + name + "': expected one of " + category_list());
    }
    send_json(res, server::operations_json(cache->get()->snapshot, only));
  });
  http().Get("/api/profile", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(io::profile_view_json(cache->get()->snapshot), "application/json; charset=utf-8");
  });
  http().Get("/api/series", [this](const httplib::Request& req, httplib::Response& res) {
    if (!req.has_param("operation"))
      return send_error(res, 400, "missing parameter 'operation': expected /api/series?operation=<name>");
    const std::string name = req.get_param_value("operation");
    const auto view = cache->get();
    // Operations come and go with resets: an unknown one has no calls yet, which is not an error
    // for a live view (the page may ask just after a reset).
    const OperationStats* op = view->snapshot.find(std::string_view(name));
    if (!op) return send_json(res, Json{{"operation", name}, {"recorded", false}, {"windows", Json::array()}});
    Json series = server::operation_series_json(*op);
    series["recorded"] = true;
    send_json(res, series);
  });
  http().Get("/api/bottlenecks", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, server::bottlenecks_json(cache->get()->findings));
  });
  http().Get("/api/recommendations", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, server::recommendations_json(cache->get()->findings));
  });
  http().Get("/api/classification", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, server::classification_json(cache->get()->findings));
  });
  http().Get("/api/timelines", [this](const httplib::Request& req, httplib::Response& res) {
    std::size_t max_points = server::kDefaultTimelinePoints;
    if (req.has_param("max_points")) {
      const std::string text = req.get_param_value("max_points");
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), max_points);
      if (ec != std::errc{} || end != text.data() + text.size() || max_points < 2 || max_points > 100000)
        return send_error(res, 400, "max_points '" + text + "': expected an integer from 2 to 100000");
    }
    send_json(res, server::timelines_json(cache->get()->snapshot, max_points));
  });
  http().Get("/api/config", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, server::config_json(current_config(), read_only()));
  });
  http().Get("/api/events", [this](const httplib::Request&, httplib::Response& res) { serve_events(res); });
  http().Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    const auto view = cache->get();
    res.set_content(io::to_prometheus(view->snapshot, view->findings), export_content_type("prometheus"));
  });
  add_export_routes();
  add_state_changing_routes();

  // The page. Anything else under /api/ is an unknown endpoint.
  http().Get(R"(/.*)", [](const httplib::Request& req, httplib::Response& res) {
    const server::WebAsset* asset = server::find_web_asset(req.path);
    if (!asset) return send_error(res, 404, "no such page or endpoint: " + req.path);
    if (asset->content_type.starts_with("text/html")) res.set_header("Content-Security-Policy", kPagePolicy);
    res.set_content(asset->body.data(), asset->body.size(), std::string(asset->content_type));
  });
}

void Dashboard::Impl::add_export_routes() {
  http().Get(R"(/api/export/([a-z]+))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string format = req.matches[1];
    const auto& formats = io::export_format_names();
    if (std::find(formats.begin(), formats.end(), format) == formats.end()) {
      std::string names;
      for (const auto& f : formats) names += (names.empty() ? "" : ", ") + f;
      return send_error(res, 404, "unknown export format '" + format + "': expected one of " + names);
    }
    const auto view = cache->get();
    const std::string file_name = io::default_file_name(format, common::unix_now_ns());
    res.set_header("Content-Disposition", "attachment; filename=\"" + file_name + "\"");
    res.set_content(render_export(format, *view), export_content_type(format));
  });
}

void Dashboard::Impl::add_state_changing_routes() {
  http().Post("/api/config", [this](const httplib::Request& req, httplib::Response& res) {
    if (read_only()) return send_error(res, 409, "read-only dashboard (a saved run): the configuration cannot change");
    Config next;
    {
      std::lock_guard lock(write_mutex);
      try {
        next = server::apply_config_patch(profiler->config(), req.body);
      } catch (const server::PatchError& e) {
        return send_error(res, 400, e.what());
      }
      profiler->update_config(next);
    }
    cache->invalidate();
    notify_streams();
    send_json(res, server::config_json(profiler->config(), false));
  });
  http().Post("/api/reset", [this](const httplib::Request&, httplib::Response& res) {
    if (read_only()) return send_error(res, 409, "read-only dashboard (a saved run): nothing to reset");
    {
      std::lock_guard lock(write_mutex);
      profiler->reset();
    }
    cache->invalidate();
    notify_streams();
    send_json(res, Json{{"reset", true}});
  });
}

void Dashboard::Impl::start() {
  if (!server::is_loopback_host(options.host) && options.token.empty())
    throw DashboardError("dashboard host '" + options.host +
                         "' is reachable from other machines: set a token (DashboardOptions::token or "
                         "dashboard_token) or listen on 127.0.0.1");
  if (!options.token.empty()) {
    try {
      server::validate_token(options.token);
    } catch (const std::invalid_argument& e) {
      throw DashboardError(e.what());
    }
  }
  if (options.threads < 2) throw DashboardError("dashboard threads: expected at least 2");
  if (options.max_event_streams >= options.threads)
    throw DashboardError("dashboard max_event_streams must be below threads, so event streams leave workers free");
  if (options.cache_ttl.count() < 0 || options.event_interval.count() <= 0)
    throw DashboardError("dashboard cache_ttl must be >= 0 ms and event_interval > 0 ms");
  if (options.request_timeout.count() <= 0 || options.max_waiting_connections == 0)
    throw DashboardError("dashboard request_timeout must be > 0 ms and max_waiting_connections >= 1");

  server::GateOptions gate;
  gate.workers = options.threads;
  gate.request_timeout = options.request_timeout;
  gate.max_waiting = options.max_waiting_connections;
  gate.max_body_bytes = options.max_body_bytes;
  server = std::make_unique<server::GatedServer>(gate);
  // httplib's default also sets SO_REUSEPORT, which would let a second server share the port.
  // The socket is remembered to raise its listen backlog after binding (see below).
  http().set_socket_options([this](socket_t sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_socket = sock;
  });
  http().set_payload_max_length(options.max_body_bytes);
  http().set_keep_alive_max_count(100);
  http().set_default_headers({{"Cache-Control", "no-store"},
                            {"X-Content-Type-Options", "nosniff"},
                            {"X-Frame-Options", "DENY"},
                            {"Referrer-Policy", "no-referrer"}});
  http().set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!guard(req, res)) return httplib::Server::HandlerResponse::Handled;
    if (req.method == "GET" && req.path == "/" && req.has_param("token")) {
      res.set_redirect("/", 303);  // the cookie set by guard() carries the token from now on
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http().set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string message = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      message += std::string(": ") + e.what();
    } catch (...) {
    }
    send_error(res, 500, message);
  });
  http().set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    send_error(res, res.status, error_message(res.status, req, options.max_body_bytes));
  });
  add_routes();

  if (options.port == 0) {
    const int bound = http().bind_to_any_port(options.host);
    if (bound <= 0) throw DashboardError("dashboard cannot listen on " + options.host + " (any port)");
    port = static_cast<std::uint16_t>(bound);
  } else {
    if (!http().bind_to_port(options.host, options.port))
      throw DashboardError("dashboard cannot listen on " + options.host + ":" + std::to_string(options.port) +
                           " (port in use or address not available)");
    port = options.port;
  }
  // Debian's httplib listens with a backlog of 5: a burst of clients would overflow it and wait
  // for TCP retransmissions (seconds). listen() again on the bound socket raises it.
  ::listen(listen_socket, SOMAXCONN);
  listener = std::thread([this] {
    http().listen_after_bind();
    listener_done = true;
  });
  // httplib's stop() does nothing until the accept loop runs: wait for it, so that a dashboard
  // stopped right after it started does not leave the loop blocked in accept().
  while (!http().is_running() && !listener_done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void Dashboard::Impl::stop() {
  {
    std::lock_guard lock(wake_mutex);
    if (stopping) return;
    stopping = true;
  }
  wake.notify_all();
  if (server) server->shutdown();  // closes every connection, finished requests or not
  if (listener.joinable()) listener.join();
}

Dashboard::Dashboard(Profiler& profiler, DashboardOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->profiler = &profiler;
  impl_->cache = std::make_unique<server::ViewCache>(
      [&profiler](server::View& v) {
        v.snapshot = profiler.snapshot();
        v.findings = analysis::analyze(v.snapshot, profiler.config());
        Json state = server::state_json(v.snapshot, v.findings, false);
        state["status"]["generation"] = v.generation;
        v.state_json = dump(state);
      },
      impl_->options.cache_ttl);
  impl_->start();
}

Dashboard::Dashboard(Snapshot snapshot, Findings findings, DashboardOptions options, Config config)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->saved_config = std::move(config);
  auto saved = std::make_shared<const std::pair<Snapshot, Findings>>(std::move(snapshot), std::move(findings));
  // A saved run never changes: compute once and keep it (a year is "forever" for a server).
  impl_->cache = std::make_unique<server::ViewCache>(
      [saved](server::View& v) {
        v.snapshot = saved->first;
        v.findings = saved->second;
        Json state = server::state_json(v.snapshot, v.findings, true);
        state["status"]["generation"] = v.generation;
        v.state_json = dump(state);
      },
      std::chrono::hours(24 * 365));
  impl_->start();
}

Dashboard::~Dashboard() { impl_->stop(); }

const std::string& Dashboard::host() const noexcept { return impl_->options.host; }
std::uint16_t Dashboard::port() const noexcept { return impl_->port; }
bool Dashboard::read_only() const noexcept { return impl_->read_only(); }
void Dashboard::stop() { impl_->stop(); }

std::unique_ptr<Dashboard> start_configured_dashboard(Profiler& profiler) {
  const Config config = profiler.config();
  if (config.dashboard_port == 0) return nullptr;
  return std::make_unique<Dashboard>(profiler, DashboardOptions::from_config(config));
}

std::string Dashboard::url() const {
  const std::string& h = impl_->options.host;
  const bool ipv6 = h.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + h + "]" : h) + ":" + std::to_string(impl_->port) + "/";
}

}  // namespace codeprof
