#include "cli/job_view.hpp"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "analysis/alert_engine.hpp"
#include "analysis/robust_stats.hpp"
#include "analysis/steps.hpp"
#include "cli/commands.hpp"
#include "cli/rank_comparison.hpp"
#include "codeprof/dashboard.hpp"
#include "common/number_format.hpp"
#include "common/wall_clock.hpp"
#include "io/report_reader.hpp"
#include "server/http_request_guard.hpp"
#include "server/web_assets.hpp"

namespace codeprof::cli {
namespace {

using OrderedJson = nlohmann::ordered_json;

constexpr const char* kJsonType = "application/json; charset=utf-8";
constexpr const char* kPagePolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
constexpr const char* kStragglerMetric = "rank_compute_ratio";

std::string dump(const OrderedJson& j) { return j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace); }

// "http://h:p/prefix/" -> {"http://h:p", "/prefix/"}
std::pair<std::string, std::string> split_url(const std::string& url) {
  const auto scheme_end = url.find("://");
  const auto path_start = url.find('/', scheme_end + 3);
  if (path_start == std::string::npos) return {url, "/"};
  std::string path = url.substr(path_start);
  if (path.back() != '/') path += '/';
  return {url.substr(0, path_start), path};
}

struct Fetched {
  bool ok = false;
  std::string body;
  std::string error;
};

Fetched fetch_report(const RankEndpoint& rank, std::chrono::milliseconds timeout) {
  const auto [scheme_host_port, prefix] = split_url(rank.url);
  httplib::Client client(scheme_host_port);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout);
  client.set_connection_timeout(us);
  client.set_read_timeout(us);
  client.set_write_timeout(us);
  httplib::Headers headers;
  if (!rank.token.empty()) headers.emplace("Authorization", "Bearer " + rank.token);
  const auto result = client.Get(prefix + "api/export/json", headers);
  if (!result) return {false, {}, httplib::to_string(result.error())};
  if (result->status != 200) {
    std::string message = "HTTP " + std::to_string(result->status);
    try {
      const auto j = OrderedJson::parse(result->body);
      if (j.contains("error")) message += ": " + j["error"].get<std::string>();
    } catch (const std::exception&) {
    }
    return {false, {}, message};
  }
  return {true, std::move(result->body), {}};
}

double median_of(std::vector<double> v) { return analysis::median(std::move(v)); }

}  // namespace

RankEndpoint parse_rank_endpoint(const std::string& text) {
  RankEndpoint e;
  std::string url = text;
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    throw UsageError("--ranks: '" + text + "': expected a dashboard URL such as http://node-3:8765/ (or @FILE)");
  if (const auto q = url.find('?'); q != std::string::npos) {
    const std::string query = url.substr(q + 1);
    url.erase(q);
    std::size_t start = 0;
    while (start < query.size()) {
      std::size_t end = query.find('&', start);
      if (end == std::string::npos) end = query.size();
      const std::string pair = query.substr(start, end - start);
      if (pair.rfind("token=", 0) == 0) e.token = pair.substr(6);
      start = end + 1;
    }
  }
  const auto host_start = url.find("://") + 3;
  if (host_start >= url.size() || url[host_start] == '/')
    throw UsageError("--ranks: '" + text + "': expected a host after the scheme");
  if (url.find('/', host_start) == std::string::npos) url += '/';
  if (url.back() != '/') url += '/';
  e.url = url;
  if (!e.token.empty()) {
    try {
      server::validate_token(e.token);
    } catch (const std::invalid_argument& err) {
      throw UsageError("--ranks: '" + e.url + "': token: " + err.what());
    }
  }
  return e;
}

std::vector<RankEndpoint> rank_endpoints(const std::vector<std::string>& args) {
  std::vector<RankEndpoint> out;
  for (const auto& arg : args) {
    if (!arg.empty() && arg.front() == '@') {
      const std::string path = arg.substr(1);
      std::ifstream in(path);
      if (!in) throw UsageError("--ranks: " + path + ": cannot open the file for reading");
      std::string line;
      int number = 0;
      while (std::getline(in, line)) {
        ++number;
        line.erase(0, line.find_first_not_of(" \t\r"));
        line.erase(line.find_last_not_of(" \t\r") + 1);
        if (line.empty() || line.front() == '#') continue;
        try {
          out.push_back(parse_rank_endpoint(line));
        } catch (const UsageError& e) {
          throw UsageError(path + " line " + std::to_string(number) + ": " + e.what());
        }
      }
      continue;
    }
    out.push_back(parse_rank_endpoint(arg));
  }
  if (out.empty()) throw UsageError("--ranks: no rank given: expected URL[,URL...] or @FILE");
  return out;
}

struct JobView::Impl {
  struct Rank {
    RankEndpoint endpoint;
    bool reachable = false;
    std::string error;
    std::int64_t updated_unix_ns = 0;
    std::optional<io::Report> report;  // the latest good one
    std::deque<std::pair<std::int64_t, StepTiming>> history;  // for the windowed straggler ratio
  };

  JobViewOptions options;
  httplib::Server http;
  std::thread listener;
  std::uint16_t port = 0;

  mutable std::mutex mutex;  // ranks, engine, state
  std::vector<Rank> ranks;
  analysis::AlertEngine engine;
  std::string state = "{}";

  std::mutex poll_mutex;  // one poll at a time
  std::mutex wake_mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread poller;

  void start_server();
  void poll();
  void recompute();  // mutex held
};

void JobView::Impl::poll() {
  std::lock_guard poll_lock(poll_mutex);
  std::vector<RankEndpoint> endpoints;
  {
    std::lock_guard lock(mutex);
    for (const auto& r : ranks) endpoints.push_back(r.endpoint);
  }
  // In parallel, so one slow rank costs one timeout, not one per rank.
  std::vector<std::future<Fetched>> pending;
  for (const auto& e : endpoints)
    pending.push_back(std::async(std::launch::async, fetch_report, e, options.request_timeout));
  std::vector<Fetched> results;
  for (auto& f : pending) results.push_back(f.get());

  std::vector<std::optional<io::Report>> parsed(results.size());
  std::vector<std::string> errors(results.size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok) {
      errors[i] = results[i].error;
      continue;
    }
    try {
      parsed[i] = io::parse_report(results[i].body, endpoints[i].url + "api/export/json");
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  }
  const std::int64_t now = common::unix_now_ns();
  std::lock_guard lock(mutex);
  for (std::size_t i = 0; i < ranks.size() && i < parsed.size(); ++i) {
    Rank& r = ranks[i];
    r.reachable = parsed[i].has_value();
    r.error = errors[i];
    if (!parsed[i]) continue;
    r.updated_unix_ns = now;
    // A rank that restarted (or was reset) starts its window again.
    if (!r.history.empty() && parsed[i]->findings.step_timing.steps < r.history.back().second.steps) r.history.clear();
    r.history.emplace_back(now, parsed[i]->findings.step_timing);
    const auto start = now - static_cast<std::int64_t>(options.straggler_alert_window_s * 1e9);
    while (r.history.size() > 2 && r.history[1].first <= start) r.history.pop_front();
    r.report = std::move(parsed[i]);
  }
  recompute();
}

void JobView::Impl::recompute() {
  const std::int64_t now = common::unix_now_ns();
  std::vector<RankInput> inputs;
  for (const auto& r : ranks)
    if (r.report) inputs.push_back({r.endpoint.url, &r.report->snapshot, &r.report->findings});
  const JobComparison job = compare_ranks(inputs, options.straggler_threshold);

  // Compute time per step over the window, each rank against the median of the others.
  std::vector<std::pair<std::size_t, double>> windowed;  // rank index -> compute per step
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    const auto& h = ranks[i].history;
    if (!ranks[i].reachable || h.size() < 2) continue;
    const StepTiming &a = h.front().second, &b = h.back().second;
    const double steps = static_cast<double>(b.steps - a.steps);
    if (steps <= 0) continue;
    windowed.emplace_back(i, std::max(0.0, (b.step_time - a.step_time) - (b.collective_time - a.collective_time)) / steps);
  }
  std::vector<AlertSample> samples;
  std::vector<double> ratio(ranks.size(), -1.0);
  if (windowed.size() >= 2) {
    for (const auto& [i, value] : windowed) {
      std::vector<double> others;
      for (const auto& [k, v] : windowed)
        if (k != i) others.push_back(v);
      const double m = median_of(others);
      if (m <= 0) continue;
      ratio[i] = value / m;
      const RunInfo& run = ranks[i].report->snapshot.run;
      AlertLabels labels = {{"rank", std::to_string(run.rank)}, {"host", run.host}};
      if (!run.job_name.empty()) labels["job_name"] = run.job_name;
      samples.push_back({kStragglerMetric, std::move(labels), ratio[i]});
    }
  }
  engine.evaluate(samples, now);

  OrderedJson rows = OrderedJson::array();
  std::vector<double> input_shares, gpu_idle;
  std::size_t input_bound = 0, with_steps = 0;
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    const Rank& r = ranks[i];
    OrderedJson row = {{"url", r.endpoint.url},
                {"open_url", r.endpoint.token.empty() ? r.endpoint.url : r.endpoint.url + "?token=" + r.endpoint.token},
                {"reachable", r.reachable},
                {"error", r.error},
                {"updated_unix_ns", r.updated_unix_ns},
                {"compute_ratio", ratio[i] >= 0 ? OrderedJson(ratio[i]) : OrderedJson(nullptr)}};
    if (r.report) {
      const Snapshot& s = r.report->snapshot;
      const Findings& f = r.report->findings;
      row["rank"] = s.run.rank;
      row["local_rank"] = s.run.local_rank;
      row["world_size"] = s.run.world_size;
      row["host"] = s.run.host;
      row["pid"] = s.run.pid;
      row["job_name"] = s.run.job_name;
      row["uptime_s"] = static_cast<double>(s.run.wall_ns) / 1e9;
      row["events_dropped"] = s.events_dropped;
      row["summary"] = f.classification.summary;
      row["input_level"] = std::string(to_string(f.classification.input.level));
      row["input_share"] = f.classification.input.input_share;
      row["gpu_idle_share"] = f.classification.gpu.available ? OrderedJson(f.classification.gpu.idle_share) : OrderedJson(nullptr);
      for (const auto& facts : job.ranks)
        if (facts.path == r.endpoint.url) {
          row["steps"] = facts.steps;
          row["step_s"] = facts.step_s;
          row["compute_s"] = facts.compute_s;
          row["collective_s"] = facts.collective_per_s;
          row["per_step"] = job.per_step;
          row["top_operation"] = facts.top_operation;
        }
      OrderedJson alerts = OrderedJson::array();
      for (const auto& a : s.alerts)
        if (a.state == "firing") alerts.push_back({{"name", a.name}, {"summary", a.summary}});
      row["alerts"] = std::move(alerts);
      if (f.classification.input.steps > 0) {
        ++with_steps;
        input_shares.push_back(f.classification.input.input_share);
        if (f.classification.input.input_share >= analysis::kHighlyInputBound) ++input_bound;
      }
      if (f.classification.gpu.available) gpu_idle.push_back(f.classification.gpu.idle_share);
    }
    rows.push_back(std::move(row));
  }

  OrderedJson stragglers = OrderedJson::array();
  for (const auto& st : job.stragglers)
    stragglers.push_back({{"rank", st.rank}, {"measure", st.measure}, {"difference", st.difference}, {"description", st.description}});

  std::string summary;
  if (with_steps > 0) {
    summary = input_bound > with_steps / 2 ? "job input-bound: " : "job not input-bound: ";
    summary += std::to_string(input_bound) + " of " + std::to_string(with_steps) + " ranks highly input-bound, median input share " +
               common::format_percent(median_of(input_shares));
  } else {
    summary = "no steps seen yet";
  }
  if (!gpu_idle.empty()) summary += "; median GPU idle share " + common::format_percent(median_of(gpu_idle));
  if (!job.stragglers.empty()) summary += "; straggler: rank " + std::to_string(job.stragglers.front().rank);
  std::size_t reachable = 0;
  for (const auto& r : ranks) reachable += r.reachable ? 1 : 0;

  OrderedJson alerts = OrderedJson::array();
  for (const auto& a : engine.alerts())
    alerts.push_back({{"name", a.name},
                      {"state", a.state},
                      {"summary", a.summary},
                      {"labels", a.labels},
                      {"value", a.value},
                      {"threshold", a.threshold},
                      {"source", a.source},
                      {"active_since_unix_ns", a.active_since_unix_ns},
                      {"fired_unix_ns", a.fired_unix_ns},
                      {"resolved_unix_ns", a.resolved_unix_ns}});

  const OrderedJson doc = {{"generated_unix_ns", now},
                    {"poll_interval_s", static_cast<double>(options.poll_interval.count()) / 1000.0},
                    {"ranks_configured", ranks.size()},
                    {"ranks_reachable", reachable},
                    {"one_job", job.one_job},
                    {"note", job.note},
                    {"threshold", job.threshold},
                    {"classification",
                     {{"summary", summary},
                      {"ranks_with_steps", with_steps},
                      {"input_bound_ranks", input_bound},
                      {"median_input_share", input_shares.empty() ? OrderedJson(nullptr) : OrderedJson(median_of(input_shares))},
                      {"median_gpu_idle_share", gpu_idle.empty() ? OrderedJson(nullptr) : OrderedJson(median_of(gpu_idle))}}},
                    {"stragglers", std::move(stragglers)},
                    {"alerts", std::move(alerts)},
                    {"ranks", std::move(rows)}};
  state = dump(doc);
}

void JobView::Impl::start_server() {
  if (!server::is_loopback_host(options.host) && options.token.empty())
    throw DashboardError("job view host '" + options.host +
                         "' is reachable from other machines: set --token or listen on 127.0.0.1");
  if (!options.token.empty()) {
    try {
      server::validate_token(options.token);
    } catch (const std::invalid_argument& e) {
      throw DashboardError(e.what());
    }
  }
  http.new_task_queue = [] { return new httplib::ThreadPool(4); };
  http.set_keep_alive_timeout(1);
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
  http.set_default_headers({{"Cache-Control", "no-store"},
                            {"X-Content-Type-Options", "nosniff"},
                            {"X-Frame-Options", "DENY"},
                            {"Referrer-Policy", "no-referrer"}});
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const server::GuardDecision decision = server::check_http_request(req, options.token, port);
    if (decision.refusal) {
      res.status = decision.refusal->status;
      res.set_content(dump(OrderedJson{{"error", decision.refusal->message}, {"status", res.status}}), kJsonType);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (decision.token_source == server::TokenSource::Query) {
      res.set_header("Set-Cookie", server::token_cookie(options.token));
      if (req.method == "GET" && req.path == "/") {
        res.set_redirect("/", 303);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.Get("/api/job", [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mutex);
    res.set_content(state, kJsonType);
  });
  http.Get(R"(/.*)", [](const httplib::Request& req, httplib::Response& res) {
    const std::string path = req.path == "/" ? "/job.html" : req.path;
    const server::WebAsset* asset = path == "/job.html" || path == "/job.js" || path == "/style.css" ? server::find_web_asset(path)
                                                                                                       : nullptr;
    if (!asset) {
      res.status = 404;
      res.set_content(dump(OrderedJson{{"error", "no such page or endpoint: " + req.path}, {"status", 404}}), kJsonType);
      return;
    }
    if (asset->content_type.starts_with("text/html")) res.set_header("Content-Security-Policy", kPagePolicy);
    res.set_content(asset->body.data(), asset->body.size(), std::string(asset->content_type));
  });
  if (options.port == 0) {
    const int bound = http.bind_to_any_port(options.host);
    if (bound <= 0) throw DashboardError("job view cannot listen on " + options.host + " (any port)");
    port = static_cast<std::uint16_t>(bound);
  } else {
    if (!http.bind_to_port(options.host, options.port))
      throw DashboardError("job view cannot listen on " + options.host + ":" + std::to_string(options.port) +
                           " (port in use or address not available)");
    port = options.port;
  }
  listener = std::thread([this] { http.listen_after_bind(); });
  while (!http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

JobView::JobView(JobViewOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  if (impl_->options.ranks.empty()) throw UsageError("job view: no rank to show");
  for (const auto& e : impl_->options.ranks) impl_->ranks.push_back({e, false, "not polled yet", 0, std::nullopt, {}});
  AlertRule rule;
  rule.name = "RankStraggler";
  rule.metric = kStragglerMetric;
  rule.threshold = impl_->options.straggler_alert_ratio;
  rule.for_s = impl_->options.straggler_alert_for_s;
  rule.keep_firing_for_s = impl_->options.straggler_alert_for_s;
  rule.summary = "rank {label:rank} needs {value} the others' median compute time per step (threshold {threshold})";
  rule.unit = "factor";
  rule.source = "twice the 10 % gap `codeprof analyze` reports a straggler at (docs/MULTI_RANK.md)";
  impl_->engine.set_rules({rule});
  {
    std::lock_guard lock(impl_->mutex);
    impl_->recompute();
  }
  impl_->start_server();
  if (impl_->options.start_poller) {
    impl_->poller = std::thread([impl = impl_.get()] {
      for (;;) {
        impl->poll();
        std::unique_lock lock(impl->wake_mutex);
        if (impl->wake.wait_for(lock, impl->options.poll_interval, [impl] { return impl->stopping; })) return;
      }
    });
  }
}

JobView::~JobView() { stop(); }

void JobView::stop() {
  {
    std::lock_guard lock(impl_->wake_mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->poller.joinable()) impl_->poller.join();
  impl_->http.stop();
  if (impl_->listener.joinable()) impl_->listener.join();
}

std::string JobView::url() const {
  const std::string& h = impl_->options.host;
  const bool ipv6 = h.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + h + "]" : h) + ":" + std::to_string(impl_->port) + "/";
}
std::uint16_t JobView::port() const noexcept { return impl_->port; }
void JobView::poll_once() { impl_->poll(); }
std::string JobView::state_json() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->state;
}

}  // namespace codeprof::cli
