// The dashboard's HTTP API against a live Profiler on loopback (docs/HTTP_API.md).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "server/web_assets.hpp"
#include "server/dashboard_test_support.hpp"

namespace codeprof::test {
namespace {

Config quiet_config() {
  Config c;
  c.sampler_interval_ms = 20;  // timelines fill quickly
  return c;
}

class DashboardHttp : public ::testing::Test {
 protected:
  Profiler profiler{quiet_config()};
  Dashboard dashboard{profiler, test_options()};
};

TEST_F(DashboardHttp, BindsAFreePortOnLoopbackAndReportsItsUrl) {
  EXPECT_NE(dashboard.port(), 0);
  EXPECT_EQ(dashboard.host(), "127.0.0.1");
  EXPECT_EQ(dashboard.url(), "http://127.0.0.1:" + std::to_string(dashboard.port()) + "/");
  EXPECT_FALSE(dashboard.read_only());
}

TEST_F(DashboardHttp, StatusReportsTheProfilersState) {
  record(profiler, "load_batch", Category::DataLoading, 25);
  const Json s = get_json(dashboard, "/api/status");
  EXPECT_EQ(s["source"], "live");
  EXPECT_EQ(s["enabled"], true);
  EXPECT_EQ(s["read_only"], false);
  EXPECT_EQ(s["events_recorded"], 25);
  EXPECT_EQ(s["events_dropped"], 0);
  EXPECT_EQ(s["operation_count"], 1);
  EXPECT_EQ(s["pid"], static_cast<std::int64_t>(::getpid()));
  EXPECT_EQ(s["categories"]["data_loading"], true);
  EXPECT_GE(s["uptime_s"].get<double>(), 0.0);
  EXPECT_TRUE(s["unavailable"].is_array());
  for (const auto& u : s["unavailable"]) {
    EXPECT_FALSE(u["what"].get<std::string>().empty());
    EXPECT_FALSE(u["reason"].get<std::string>().empty());
  }
}

TEST_F(DashboardHttp, OperationsCarryExactCountsAndFilterByCategory) {
  record(profiler, "load_batch", Category::DataLoading, 30);
  record(profiler, "tokenize", Category::Preprocessing, 12);
  const Json all = get_json(dashboard, "/api/operations");
  EXPECT_EQ(all["operations"].size(), 2u);
  EXPECT_EQ(count_of(all, "load_batch"), 30u);
  EXPECT_EQ(count_of(all, "tokenize"), 12u);
  for (const auto& op : all["operations"]) {
    EXPECT_GE(op["max_s"].get<double>(), op["min_s"].get<double>());
    EXPECT_GE(op["total_s"].get<double>(), op["self_s"].get<double>());
  }

  const Json only = get_json(dashboard, "/api/operations?category=preprocessing");
  ASSERT_EQ(only["operations"].size(), 1u);
  EXPECT_EQ(only["operations"][0]["name"], "tokenize");
  EXPECT_EQ(only["operations"][0]["category"], "preprocessing");

  const Json bad = get_json(dashboard, "/api/operations?category=nope", 400);
  EXPECT_NE(bad["error"].get<std::string>().find("unknown category 'nope'"), std::string::npos);
}

TEST_F(DashboardHttp, SeriesOfOneOperationSumsToItsCount) {
  record(profiler, "forward", Category::ModelInference, 40);
  const Json s = get_json(dashboard, "/api/series?operation=forward");
  EXPECT_EQ(s["operation"], "forward");
  std::uint64_t calls = 0;
  for (const auto& w : s["windows"]) calls += w["count"].get<std::uint64_t>();
  EXPECT_EQ(calls, 40u);
  EXPECT_EQ(s["recorded"], true);
  const Json missing = get_json(dashboard, "/api/series?operation=missing");
  EXPECT_EQ(missing["recorded"], false);
  EXPECT_TRUE(missing["windows"].empty());
  EXPECT_EQ(get_json(dashboard, "/api/series", 400)["status"], 400);
}

TEST_F(DashboardHttp, FindingsEndpointsServeTheAnalysis) {
  Config c = profiler.config();
  c.thresholds[index_of(Category::DataLoading)] = {1e-9, 2e-9};  // everything is critical
  profiler.update_config(c);
  record(profiler, "load_batch", Category::DataLoading, 5);
  const Json b = get_json(dashboard, "/api/bottlenecks");
  ASSERT_FALSE(b["bottlenecks"].empty());
  EXPECT_EQ(b["bottlenecks"][0]["operation"], "load_batch");
  EXPECT_EQ(b["bottlenecks"][0]["severity"], "critical");
  EXPECT_EQ(b["bottlenecks"][0]["calls"], 5);
  EXPECT_TRUE(get_json(dashboard, "/api/recommendations")["recommendations"].is_array());
  const Json cls = get_json(dashboard, "/api/classification");
  EXPECT_TRUE(cls["classification"]["input"]["level"].is_string());
  EXPECT_TRUE(cls["trends"].is_array());
}

TEST_F(DashboardHttp, TimelinesAreThinnedToTheRequestedPoints) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a few sampler periods
  const Json t = get_json(dashboard, "/api/timelines?max_points=3");
  for (const auto& s : t["series"]) {
    EXPECT_LE(s["t_s"].size(), 3u) << s["name"];
    EXPECT_EQ(s["t_s"].size(), s["values"].size());
  }
  EXPECT_EQ(get_json(dashboard, "/api/timelines?max_points=1", 400)["status"], 400);
  EXPECT_EQ(get_json(dashboard, "/api/timelines?max_points=x", 400)["status"], 400);
}

TEST_F(DashboardHttp, ConfigWriteChangesTheRunningProfiler) {
  const Json before = get_json(dashboard, "/api/config");
  EXPECT_EQ(before["categories"][index_of(Category::Io)]["enabled"], true);

  auto res = post(dashboard, "/api/config", R"({"categories.io": false, "thresholds.io.warning": 0.5})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_FALSE(profiler.category_enabled(Category::Io));
  EXPECT_DOUBLE_EQ(profiler.config().thresholds[index_of(Category::Io)].warning_s, 0.5);
  EXPECT_EQ(Json::parse(res->body)["categories"][index_of(Category::Io)]["enabled"], false);

  // A disabled category records nothing more.
  record(profiler, "read_shard", Category::Io, 10);
  EXPECT_EQ(count_of(get_json(dashboard, "/api/operations"), "read_shard"), 0u);

  res = post(dashboard, "/api/config", R"({"enabled": false})");
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_FALSE(profiler.enabled());
  EXPECT_EQ(get_json(dashboard, "/api/status")["enabled"], false);
}

TEST_F(DashboardHttp, BadConfigWritesGet400AndChangeNothing) {
  const Config before = profiler.config();
  struct Case {
    const char* body;
    const char* message_part;
  };
  for (const Case& c : {Case{R"({"enabled": fals)", "malformed JSON"},
                        Case{R"("enabled")", "expected a JSON object"},
                        Case{R"({"no.such.key": 1})", "unknown config key 'no.such.key'"},
                        Case{R"({"sampler.interval_ms": 5})", "cannot change while the profiler runs"},
                        Case{R"({"categories.io": "perhaps"})", "categories.io"},
                        Case{R"({"enabled": false, "thresholds.io.warning": -3})", "thresholds.io.warning"},
                        Case{R"({"thresholds.gpu.warning": 50, "thresholds.gpu.critical": 10})", "thresholds.gpu"},
                        Case{"", "malformed JSON"}}) {
    auto res = post(dashboard, "/api/config", c.body);
    ASSERT_TRUE(res) << c.body;
    EXPECT_EQ(res->status, 400) << c.body;
    const Json e = Json::parse(res->body);
    EXPECT_NE(e["error"].get<std::string>().find(c.message_part), std::string::npos) << e["error"];
    EXPECT_TRUE(profiler.config() == before) << "changed by " << c.body;
  }
  EXPECT_TRUE(profiler.enabled());
}

TEST_F(DashboardHttp, OversizedBodiesGet413) {
  const std::string huge = R"({"analysis.step_operation": ")" + std::string(70 * 1024, 'x') + "\"}";
  const Config before = profiler.config();
  auto res = post(dashboard, "/api/config", huge);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_TRUE(profiler.config() == before);
}

TEST_F(DashboardHttp, CrossSiteRequestsAreRefused) {
  const Config before = profiler.config();
  // A form on another site can POST, but it cannot add a custom header.
  auto res = post(dashboard, "/api/config", R"({"enabled": false})", {});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_NE(res->body.find("X-Codeprof-Request"), std::string::npos);
  res = post(dashboard, "/api/reset", "{}", {{"X-Codeprof-Request", "1"}, {"Origin", "http://evil.example"}});
  EXPECT_EQ(res->status, 403);
  // DNS rebinding: the attacker's host name resolves to 127.0.0.1, the Host header still says it.
  auto c = client(dashboard);
  auto got = c.Get("/api/status", {{"Host", "evil.example:" + std::to_string(dashboard.port())}});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 403);
  EXPECT_TRUE(profiler.config() == before);
  EXPECT_TRUE(profiler.enabled());
}

TEST_F(DashboardHttp, ResetEmptiesTheStatistics) {
  record(profiler, "load_batch", Category::DataLoading, 7);
  ASSERT_EQ(count_of(get_json(dashboard, "/api/operations"), "load_batch"), 7u);
  auto res = post(dashboard, "/api/reset", "");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(get_json(dashboard, "/api/status")["events_recorded"], 0);
  EXPECT_EQ(count_of(get_json(dashboard, "/api/operations"), "load_batch"), 0u);
}

TEST_F(DashboardHttp, ExportsDownloadEveryFormat) {
  record(profiler, "load_batch", Category::DataLoading, 3);
  auto c = client(dashboard);
  for (const char* format : {"json", "chrome", "csv", "html", "prometheus"}) {
    auto res = c.Get((std::string("/api/export/") + format).c_str());
    ASSERT_TRUE(res) << format;
    ASSERT_EQ(res->status, 200) << format << ": " << res->body;
    const std::string disposition = res->get_header_value("Content-Disposition");
    EXPECT_EQ(disposition.rfind("attachment; filename=\"", 0), 0u) << disposition;
    EXPECT_FALSE(res->body.empty()) << format;
    if (std::string_view(format) == "json") {
      const Json report = Json::parse(res->body);
      EXPECT_TRUE(report.is_object());
      EXPECT_NE(res->body.find("load_batch"), std::string::npos);
    }
    if (std::string_view(format) == "chrome") {
      EXPECT_TRUE(Json::accept(res->body));
    }
    if (std::string_view(format) == "csv") {
      EXPECT_NE(res->body.find("load_batch"), std::string::npos);
    }
    if (std::string_view(format) == "html") {
      EXPECT_NE(res->body.find("<html"), std::string::npos);
    }
  }
  auto res = c.Get("/api/export/pdf");
  EXPECT_EQ(res->status, 404);
  EXPECT_NE(res->body.find("json"), std::string::npos);  // names the formats there are
}

TEST_F(DashboardHttp, MetricsServeThePrometheusExposition) {
  record(profiler, "load_batch", Category::DataLoading, 4);
  auto c = client(dashboard);
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("version=0.0.4"), std::string::npos);
  EXPECT_NE(res->body.find("# TYPE"), std::string::npos);
  EXPECT_NE(res->body.find("load_batch"), std::string::npos);
}

TEST_F(DashboardHttp, EventStreamSendsUpdatesAtTheConfiguredRate) {
  auto c = client(dashboard);
  std::string received;
  int events = 0;
  const auto start = std::chrono::steady_clock::now();
  auto res = c.Get("/api/events", [&](const char* data, std::size_t n) {
    received.append(data, n);
    std::size_t pos;
    while ((pos = received.find("\n\n")) != std::string::npos) {
      const std::string event = received.substr(0, pos);
      received.erase(0, pos + 2);
      const auto data_at = event.find("data: ");
      if (event.find("event: update") == std::string::npos || data_at == std::string::npos) continue;
      const Json state = Json::parse(event.substr(data_at + 6));
      EXPECT_TRUE(state.contains("status"));
      EXPECT_TRUE(state.contains("operations"));
      EXPECT_TRUE(state.contains("timelines"));
      ++events;
    }
    return events < 3;
  });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(events, 3);
  // Three events at a 100 ms period: the first at once, then two periods.
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(DashboardLimits, EventStreamsBeyondTheCapGet503) {
  Profiler profiler{quiet_config()};
  DashboardOptions o = test_options();
  o.max_event_streams = 1;
  Dashboard dashboard(profiler, o);
  std::atomic<bool> first_open{false};
  std::atomic<bool> release{false};
  std::thread holder([&] {
    auto c = client(dashboard);
    c.Get("/api/events", [&](const char*, std::size_t) {
      first_open = true;
      return !release.load();
    });
  });
  while (!first_open) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto c = client(dashboard);
  auto res = c.Get("/api/events");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_NE(res->body.find("too many event streams"), std::string::npos);
  release = true;
  holder.join();
}

// A connection to the dashboard that sends `text` and then neither writes nor reads.
class StalledConnection {
 public:
  StalledConnection(std::uint16_t port, const std::string& text) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                 ::send(fd_, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size());
  }
  ~StalledConnection() { ::close(fd_); }
  StalledConnection(const StalledConnection&) = delete;
  StalledConnection& operator=(const StalledConnection&) = delete;
  bool connected() const { return connected_; }
  // True while the server keeps the connection open (it has not given up on this client).
  bool still_open() const {
    char byte;
    const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
  }

 private:
  int fd_;
  bool connected_ = false;
};

TEST_F(DashboardHttp, StalledClientsDoNotHoldUpOtherClients) {
  record(profiler, "load_batch", Category::DataLoading, 3);
  std::vector<std::unique_ptr<StalledConnection>> stalled;
  // Half a request header each (the server waits up to its read timeout for the rest)...
  for (int i = 0; i < 4; ++i)
    stalled.push_back(std::make_unique<StalledConnection>(dashboard.port(), "GET /api/state HTTP/1.1\r\nHost: 127"));
  // ...and event streams that are never read.
  for (int i = 0; i < 2; ++i)
    stalled.push_back(std::make_unique<StalledConnection>(
        dashboard.port(), "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  for (const auto& c : stalled) ASSERT_TRUE(c->connected());

  EXPECT_EQ(count_of(get_json(dashboard, "/api/operations"), "load_batch"), 3u);
  EXPECT_EQ(get_json(dashboard, "/api/status")["events_recorded"], 3);
  // Answered while the stalled clients still held their connections, not after they timed out.
  for (const auto& c : stalled) EXPECT_TRUE(c->still_open());
}

TEST_F(DashboardHttp, ServesThePageAndItsBundledChartLibrary) {
  auto c = client(dashboard);
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<title>codeprof dashboard</title>"), std::string::npos);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  for (const char* path : {"/app.js", "/style.css", "/vendor/uPlot.iife.min.js", "/vendor/uPlot.min.css"}) {
    auto res = c.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
    const server::WebAsset* asset = server::find_web_asset(path);
    ASSERT_NE(asset, nullptr) << path;
    EXPECT_EQ(res->body, asset->body) << path;
  }
  EXPECT_GT(server::find_web_asset("/vendor/uPlot.iife.min.js")->body.size(), 20000u);  // the real library
  auto missing = c.Get("/nothing-here");
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(Json::parse(missing->body)["status"], 404);
}

TEST(DashboardToken, EveryRequestNeedsTheTokenWhenOneIsSet) {
  Profiler profiler{quiet_config()};
  DashboardOptions o = test_options();
  o.token = "t0ken-for-tests";
  Dashboard dashboard(profiler, o);
  auto c = client(dashboard);

  EXPECT_EQ(c.Get("/api/status")->status, 401);
  EXPECT_EQ(c.Get("/")->status, 401);
  EXPECT_EQ(c.Get("/api/status", {{"Authorization", "Bearer wrong-token"}})->status, 401);
  EXPECT_EQ(c.Get("/api/status", {{"Authorization", "Bearer t0ken-for-tests"}})->status, 200);
  EXPECT_EQ(c.Get("/api/status?token=t0ken-for-tests")->status, 200);

  // Opening the page with ?token= stores it in a same-site cookie and drops it from the URL.
  auto page = c.Get("/?token=t0ken-for-tests");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 303);
  EXPECT_EQ(page->get_header_value("Location"), "/");
  const std::string cookie = page->get_header_value("Set-Cookie");
  EXPECT_NE(cookie.find("codeprof_token=t0ken-for-tests"), std::string::npos);
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(c.Get("/", {{"Cookie", "codeprof_token=t0ken-for-tests"}})->status, 200);

  // State changes: the cookie alone is not enough; the page's header or the bearer token is.
  auto res = c.Post("/api/config", {{"Cookie", "codeprof_token=t0ken-for-tests"}}, R"({"enabled": false})",
                    "application/json");
  EXPECT_EQ(res->status, 403);
  EXPECT_TRUE(profiler.enabled());
  res = c.Post("/api/config", {{"Authorization", "Bearer t0ken-for-tests"}}, R"({"enabled": false})",
               "application/json");
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_FALSE(profiler.enabled());
}

TEST(DashboardToken, ListeningBeyondLoopbackWithoutATokenIsRefused) {
  Profiler profiler{quiet_config()};
  DashboardOptions o = test_options();
  o.host = "0.0.0.0";
  try {
    Dashboard d(profiler, o);
    FAIL() << "started without a token on 0.0.0.0";
  } catch (const DashboardError& e) {
    EXPECT_NE(std::string(e.what()).find("token"), std::string::npos) << e.what();
  }
  o.token = "short";
  EXPECT_THROW(Dashboard(profiler, o), DashboardError);
}

TEST(DashboardStart, APortInUseIsAClearError) {
  Profiler profiler{quiet_config()};
  Dashboard first(profiler, test_options());
  DashboardOptions o = test_options();
  o.port = first.port();
  try {
    Dashboard second(profiler, o);
    FAIL() << "two dashboards on one port";
  } catch (const DashboardError& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(first.port())), std::string::npos) << e.what();
  }
}

// A port that was free a moment ago (the kernel hands out a fresh one for port 0).
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(DashboardStart, AProfilerWhoseConfigSetsAPortStartsTheDashboard) {
  Config c = quiet_config();
  c.dashboard_port = free_port();
  Profiler profiler(c);
  record(profiler, "load_batch", Category::DataLoading, 2);
  httplib::Client cli("127.0.0.1", c.dashboard_port);
  auto res = cli.Get("/api/operations");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(count_of(Json::parse(res->body), "load_batch"), 2u);
}

TEST(DashboardReadOnly, ServesASavedRunAndRefusesChanges) {
  Snapshot s;
  s.run.source = "codeprof-report";
  s.run.source_path = "/tmp/run.json";
  s.run.wall_ns = 5'000'000'000;
  OperationStats op;
  op.id = 0;
  op.name = "load_batch";
  op.category = Category::DataLoading;
  op.count = 100;
  op.total_ns = 2'000'000'000;
  op.mean_ns = 20'000'000;
  s.operations.push_back(op);
  Findings f;
  Bottleneck b;
  b.operation = "load_batch";
  b.severity = Severity::Warning;
  b.optimization_priority = Priority::Medium;
  f.bottlenecks.push_back(b);
  Dashboard dashboard(std::move(s), std::move(f), test_options());
  EXPECT_TRUE(dashboard.read_only());

  const Json status = get_json(dashboard, "/api/status");
  EXPECT_EQ(status["read_only"], true);
  EXPECT_EQ(status["source_path"], "/tmp/run.json");
  EXPECT_DOUBLE_EQ(status["uptime_s"].get<double>(), 5.0);
  const Json ops = get_json(dashboard, "/api/operations");
  EXPECT_EQ(count_of(ops, "load_batch"), 100u);
  EXPECT_DOUBLE_EQ(ops["operations"][0]["share_of_wall"].get<double>(), 0.4);
  EXPECT_EQ(get_json(dashboard, "/api/bottlenecks")["bottlenecks"][0]["optimization_priority"], "medium");
  EXPECT_EQ(get_json(dashboard, "/api/config")["read_only"], true);

  auto res = post(dashboard, "/api/config", R"({"enabled": false})");
  EXPECT_EQ(res->status, 409);
  res = post(dashboard, "/api/reset", "{}");
  EXPECT_EQ(res->status, 409);
  EXPECT_EQ(count_of(get_json(dashboard, "/api/operations"), "load_batch"), 100u);
}

}  // namespace
}  // namespace codeprof::test
