#pragma once
// check_request() applied to a cpp-httplib request: the one place that reads the headers the
// access rules need, for the dashboard and the CLI's job view alike.
#include <cstdint>
#include <string>
#include <string_view>

#include <httplib.h>

#include "server/request_guard.hpp"

namespace codeprof::server {

// `port`: the port the server listens on (the Host header must name it).
GuardDecision check_http_request(const httplib::Request& req, std::string_view token, std::uint16_t port);

// The Set-Cookie value that remembers a token which came in the query string, keeping it out of
// the address bar and history.
std::string token_cookie(std::string_view token);

}  // namespace codeprof::server
