#include "server/http_request_guard.hpp"

namespace codeprof::server {

GuardDecision check_http_request(const httplib::Request& req, std::string_view token, std::uint16_t port) {
  const std::string header_name(kRequestHeader);
  // RequestFacts holds views: the header values must outlive check_request.
  const std::string host = req.get_header_value("Host");
  const std::string origin = req.get_header_value("Origin");
  const std::string authorization = req.get_header_value("Authorization");
  const std::string token_param = req.get_param_value("token");
  const std::string cookie = req.get_header_value("Cookie");
  const std::string request_header = req.get_header_value(header_name.c_str());
  RequestFacts facts;
  facts.method = req.method;
  facts.host = host;
  facts.origin = origin;
  facts.authorization = authorization;
  facts.token_param = token_param;
  facts.cookie = cookie;
  facts.has_request_header = req.has_header(header_name.c_str());
  facts.request_header_value = request_header;
  facts.port = port;
  return check_request(token, facts);
}

std::string token_cookie(std::string_view token) {
  return std::string(kTokenCookie) + "=" + std::string(token) + "; Path=/; HttpOnly; SameSite=Strict";
}

}  // namespace codeprof::server
