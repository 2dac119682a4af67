#pragma once
// Helpers of the dashboard's HTTP tests: a loopback client that sends what the page sends.
#include <httplib.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "codeprof/dashboard.hpp"
#include "codeprof/profiler.hpp"

namespace codeprof::test {

using Json = nlohmann::json;

// Options for tests: a free port and no caching, so each request sees the profiler's state now.
inline DashboardOptions test_options() {
  DashboardOptions o;
  o.port = 0;
  o.cache_ttl = std::chrono::milliseconds(0);
  o.event_interval = std::chrono::milliseconds(100);
  return o;
}

inline httplib::Client client(const Dashboard& d) {
  httplib::Client c("127.0.0.1", d.port());
  c.set_connection_timeout(10, 0);
  c.set_read_timeout(10, 0);
  return c;
}

inline Json get_json(const Dashboard& d, const std::string& path, int expected_status = 200) {
  auto c = client(d);
  auto res = c.Get(path.c_str());
  if (!res) throw std::runtime_error("GET " + path + ": " + httplib::to_string(res.error()));
  if (res->status != expected_status)
    throw std::runtime_error("GET " + path + ": status " + std::to_string(res->status) + ": " + res->body);
  return Json::parse(res->body);
}

// A POST as the page sends it (same-origin custom header).
inline httplib::Result post(const Dashboard& d, const std::string& path, const std::string& body,
                            httplib::Headers headers = {{"X-Codeprof-Request", "1"}}) {
  auto c = client(d);
  return c.Post(path.c_str(), headers, body, "application/json");
}

// Records `n` calls of `name` and returns once they are in the profiler's statistics.
inline void record(Profiler& p, std::string_view name, Category category, int n) {
  for (int i = 0; i < n; ++i) {
    auto scope = p.profile_operation(name, category);
  }
}

inline std::uint64_t count_of(const Json& operations, std::string_view name) {
  for (const auto& op : operations["operations"])
    if (op["name"] == name) return op["count"].get<std::uint64_t>();
  return 0;
}

}  // namespace codeprof::test
