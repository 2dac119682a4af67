#pragma once
// Where one HTTP/1.1 request ends in the bytes received so far, decided before any worker thread
// sees the request: the head (request line and header fields) and a body of Content-Length bytes.
// Framing that two parties could read differently (conflicting Content-Length values, a body
// framed by both Content-Length and Transfer-Encoding, whitespace before a field's colon, folded
// lines) is refused, as RFC 9112 sections 5.1, 5.2 and 6.3 require of a server. Pure function,
// tested without sockets.
#include <cstddef>
#include <string>
#include <string_view>

namespace codeprof::server {

struct RequestFraming {
  enum class State { NeedMore, Complete, Refused };
  State state = State::NeedMore;
  std::size_t head_bytes = 0;      // once the head is complete
  std::size_t request_bytes = 0;   // Complete: head + body; later bytes belong to the next request
  bool expects_continue = false;   // head complete, body still to come, client sent "Expect: 100-continue"
  int status = 0;                  // Refused: the HTTP status to answer with
  std::string message;             // Refused: one line saying what was wrong
};

// `bytes`: what the connection has sent since the previous request ended.
RequestFraming frame_request(std::string_view bytes, std::size_t max_head_bytes, std::size_t max_body_bytes);

}  // namespace codeprof::server
