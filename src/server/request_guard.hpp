#pragma once
// Who may talk to the dashboard: the token, DNS-rebinding and CSRF rules of docs/HTTP_API.md, as a
// pure function of the request's facts so that it is tested without sockets.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace codeprof::server {

// Name of the header the page sends with state-changing requests. Browsers only send a custom
// header cross-origin after a CORS preflight, which this server never grants.
inline constexpr std::string_view kRequestHeader = "X-Codeprof-Request";
inline constexpr std::string_view kTokenCookie = "codeprof_token";

struct RequestFacts {
  std::string_view method;         // "GET", "POST", ...
  std::string_view host;           // Host header ("" when absent)
  std::string_view origin;         // Origin header ("" when absent)
  std::string_view authorization;  // Authorization header
  std::string_view token_param;    // ?token=
  std::string_view cookie;         // Cookie header
  bool has_request_header = false; // X-Codeprof-Request present
  std::string_view request_header_value;  // its value ("1" is the documented one)
  std::uint16_t port = 0;          // the port the dashboard listens on (0: not checked)
};

struct Refusal {
  int status = 403;
  std::string message;
};

enum class TokenSource { None, Bearer, Query, Cookie };

struct GuardDecision {
  std::optional<Refusal> refusal;
  TokenSource token_source = TokenSource::None;  // how a valid token came (Query: set the cookie)
};

// `token` empty: loopback-only mode (the Host header must name a loopback address and, when it
// names a port, the port the dashboard listens on).
GuardDecision check_request(std::string_view token, const RequestFacts& request);

// True for 127.0.0.0/8, ::1 and localhost (with or without a port, IPv6 in brackets or not).
bool is_loopback_host(std::string_view host);

// Throws std::invalid_argument when a token is unusable (too short, or characters that do not
// fit a header and a cookie unescaped).
void validate_token(std::string_view token);

// Compares without an early exit so response time does not leak the matching prefix.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// The value of cookie `name` in a Cookie header, or "" when absent.
std::string_view cookie_value(std::string_view cookie_header, std::string_view name);

}  // namespace codeprof::server
