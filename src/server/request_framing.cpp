#include "server/request_framing.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

namespace codeprof::server {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The end of the head: just past the empty line that ends it (CRLF CRLF, or bare LFs, which
// RFC 9112 section 2.2 lets a recipient accept), or npos.
std::size_t head_end(std::string_view bytes) {
  for (std::size_t i = bytes.find('\n'); i != std::string_view::npos; i = bytes.find('\n', i + 1)) {
    if (i + 1 < bytes.size() && bytes[i + 1] == '\n') return i + 2;
    if (i + 2 < bytes.size() && bytes[i + 1] == '\r' && bytes[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

RequestFraming refuse(int status, std::string message) {
  RequestFraming f;
  f.state = RequestFraming::State::Refused;
  f.status = status;
  f.message = std::move(message);
  return f;
}

}  // namespace

RequestFraming frame_request(std::string_view bytes, std::size_t max_head_bytes, std::size_t max_body_bytes) {
  const std::size_t end = head_end(bytes);
  if (end == std::string_view::npos || end > max_head_bytes) {
    if (bytes.size() > max_head_bytes || end != std::string_view::npos)
      return refuse(431, "request head (request line and header fields) larger than " + std::to_string(max_head_bytes) +
                             " bytes");
    return {};
  }

  std::optional<std::uint64_t> content_length;
  std::string first_length;
  bool transfer_encoding = false;
  bool expect_continue = false;
  std::string_view head = bytes.substr(0, end);
  const std::size_t line_end = head.find('\n');
  head.remove_prefix(line_end + 1);  // the request line: httplib parses and checks it
  while (!head.empty()) {
    const std::size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head.remove_prefix(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t')
      return refuse(400, "folded header line (obsolete line folding, RFC 9112 section 5.2): write each field on one line");
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos)
      return refuse(400, "header line without a colon: expected 'Name: value'");
    const std::string_view name = line.substr(0, colon);
    if (name.empty() || name.back() == ' ' || name.back() == '\t')
      return refuse(400, "whitespace between a header field name and its colon (RFC 9112 section 5.1)");
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      // A list ("5, 5") is allowed when every member is the same number (RFC 9110 section 8.6).
      std::string_view rest = value;
      while (true) {
        const std::size_t comma = rest.find(',');
        const std::string_view item = trim(rest.substr(0, comma));
        std::uint64_t n = 0;
        const auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), n);
        if (item.empty() || ec != std::errc{} || p != item.data() + item.size())
          return refuse(400, "Content-Length '" + std::string(value.substr(0, 40)) + "': expected a decimal number of bytes");
        if (content_length && *content_length != n)
          return refuse(400, "conflicting Content-Length headers (" + first_length + " and " + std::string(item) +
                                 "): send one");
        if (!content_length) first_length = std::string(item);
        content_length = n;
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    } else if (iequals(name, "Transfer-Encoding")) {
      transfer_encoding = true;
    } else if (iequals(name, "Expect") && iequals(value, "100-continue")) {
      expect_continue = true;
    }
  }
  if (transfer_encoding && content_length)
    return refuse(400, "both Content-Length and Transfer-Encoding frame the body (RFC 9112 section 6.3): send only Content-Length");
  if (transfer_encoding)
    return refuse(411, "request bodies must be sent with Content-Length (Transfer-Encoding is not accepted)");
  const std::uint64_t body = content_length.value_or(0);
  if (body > max_body_bytes)
    return refuse(413, "request body of " + std::to_string(body) + " bytes is too large: at most " +
                           std::to_string(max_body_bytes));

  RequestFraming f;
  f.head_bytes = end;
  if (bytes.size() - end >= body) {
    f.state = RequestFraming::State::Complete;
    f.request_bytes = end + static_cast<std::size_t>(body);
  } else {
    f.expects_continue = expect_continue;
  }
  return f;
}

}  // namespace codeprof::server
