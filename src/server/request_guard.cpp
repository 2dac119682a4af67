#include "server/request_guard.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace codeprof::server {
namespace {

bool is_state_changing(std::string_view method) { return method != "GET" && method != "HEAD"; }

// "host:port" -> "host"; "[::1]:80" -> "::1"; "::1" -> "::1".
std::string_view strip_port(std::string_view host) {
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(1, close - 1);
  }
  if (std::count(host.begin(), host.end(), ':') == 1) return host.substr(0, host.find(':'));
  return host;
}

// The port a Host header names: "127.0.0.1:8765" -> "8765", "[::1]:80" -> "80"; "" when none.
std::string_view port_of(std::string_view host) {
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    if (close == std::string_view::npos || close + 1 >= host.size() || host[close + 1] != ':') return {};
    return host.substr(close + 2);
  }
  if (std::count(host.begin(), host.end(), ':') == 1) return host.substr(host.find(':') + 1);
  return {};
}

bool is_ipv4_loopback(std::string_view h) {
  // Four decimal octets, the first 127.
  int parts = 0;
  while (!h.empty()) {
    const auto dot = h.find('.');
    const std::string_view part = h.substr(0, dot);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || ec != std::errc{} || end != part.data() + part.size() || value > 255) return false;
    if (parts == 0 && value != 127) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    h.remove_prefix(dot + 1);
    if (h.empty()) return false;
  }
  return parts == 4;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view bearer_token(std::string_view authorization) {
  authorization = trim(authorization);
  if (authorization.size() < 7 || lower(authorization.substr(0, 7)) != "bearer ") return {};
  return trim(authorization.substr(7));
}

// Origin "http://127.0.0.1:8765" against Host "127.0.0.1:8765".
bool same_origin(std::string_view origin, std::string_view host) {
  const auto scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return false;
  return lower(origin.substr(scheme_end + 3)) == lower(host);
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::string_view cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    const std::string_view pair = trim(header.substr(0, semi));
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && trim(pair.substr(0, eq)) == name) return trim(pair.substr(eq + 1));
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return {};
}

bool is_loopback_host(std::string_view host) {
  const std::string h = lower(strip_port(trim(host)));
  return h == "localhost" || h == "::1" || is_ipv4_loopback(h);
}

void validate_token(std::string_view token) {
  if (token.size() < 8)
    throw std::invalid_argument("dashboard token is too short: expected at least 8 characters, got " +
                                std::to_string(token.size()));
  for (const char c : token) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~';
    if (!ok)
      throw std::invalid_argument(std::string("dashboard token contains '") + c +
                                  "': expected only letters, digits and - _ . ~");
  }
}

GuardDecision check_request(std::string_view token, const RequestFacts& r) {
  GuardDecision decision;
  const auto refuse = [&](int status, std::string message) {
    decision.refusal = Refusal{status, std::move(message)};
    return decision;
  };

  if (!token.empty()) {
    if (const auto bearer = bearer_token(r.authorization); !bearer.empty() && constant_time_equal(bearer, token))
      decision.token_source = TokenSource::Bearer;
    else if (!r.token_param.empty() && constant_time_equal(r.token_param, token))
      decision.token_source = TokenSource::Query;
    else if (const auto c = cookie_value(r.cookie, kTokenCookie); !c.empty() && constant_time_equal(c, token))
      decision.token_source = TokenSource::Cookie;
    else
      return refuse(401, "missing or wrong token: send 'Authorization: Bearer <token>' or open the page "
                         "with ?token=<token>");
  } else if (!r.host.empty() && !is_loopback_host(r.host)) {
    // A page on another site can point its own host name at 127.0.0.1 (DNS rebinding); its
    // requests then carry that name in Host.
    return refuse(403, "Host '" + std::string(r.host) +
                           "' is not a loopback address; without a token the dashboard answers only "
                           "requests addressed to 127.0.0.1, localhost or [::1]");
  } else if (const std::string_view port = port_of(trim(r.host)); !port.empty() && r.port != 0 &&
                                                                 port != std::to_string(r.port)) {
    // The request was addressed to another port than this one: something between the client and
    // the dashboard (a forwarder, a rebinding page) changed where it goes.
    return refuse(403, "Host '" + std::string(r.host) + "' names port " + std::string(port) +
                           ", but the dashboard listens on port " + std::to_string(r.port));
  }

  if (is_state_changing(r.method)) {
    if (!r.origin.empty() && !r.host.empty() && !same_origin(r.origin, r.host))
      return refuse(403, "cross-origin request from '" + std::string(r.origin) + "' refused");
    if (decision.token_source != TokenSource::Bearer && !r.has_request_header)
      return refuse(403, "state-changing requests need the header '" + std::string(kRequestHeader) +
                             ": 1' (or 'Authorization: Bearer <token>'), which other sites cannot send");
    if (r.has_request_header && trim(r.request_header_value) != "1")
      return refuse(403, "header '" + std::string(kRequestHeader) + ": " + std::string(r.request_header_value.substr(0, 40)) +
                             "': expected the value 1");
  }
  return decision;
}

}  // namespace codeprof::server
