// Where a request ends, decided before a worker sees it: complete heads and bodies, and the
// framings two parties could read differently, which are refused.
#include "server/request_framing.hpp"

#include <gtest/gtest.h>

namespace codeprof::server {
namespace {

constexpr std::size_t kHead = 16 * 1024;
constexpr std::size_t kBody = 64 * 1024;

RequestFraming frame(std::string_view bytes) { return frame_request(bytes, kHead, kBody); }

TEST(RequestFraming, AHeadWithoutBodyIsCompleteAtTheEmptyLine) {
  const std::string get = "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:8765\r\n\r\n";
  const RequestFraming f = frame(get + "GET /next HTTP/1.1\r\n");
  ASSERT_EQ(f.state, RequestFraming::State::Complete);
  EXPECT_EQ(f.request_bytes, get.size());  // the pipelined request after it is not part of it
  EXPECT_EQ(frame("GET / HTTP/1.1\nHost: a\n\n").state, RequestFraming::State::Complete);  // bare LF
}

TEST(RequestFraming, APartialHeadNeedsMore) {
  EXPECT_EQ(frame("GET /api/status HTTP/1.1\r\nHost: 127").state, RequestFraming::State::NeedMore);
  EXPECT_EQ(frame("").state, RequestFraming::State::NeedMore);
}

TEST(RequestFraming, ABodyIsCompleteAfterContentLengthBytes) {
  const std::string head = "POST /api/config HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
  EXPECT_EQ(frame(head + "{\"a\"").state, RequestFraming::State::NeedMore);
  const RequestFraming f = frame(head + "{\"a\"}extra");
  ASSERT_EQ(f.state, RequestFraming::State::Complete);
  EXPECT_EQ(f.request_bytes, head.size() + 5);
}

TEST(RequestFraming, ExpectContinueIsReportedWhileTheBodyIsMissing) {
  const RequestFraming f = frame("POST /x HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(f.state, RequestFraming::State::NeedMore);
  EXPECT_TRUE(f.expects_continue);
}

TEST(RequestFraming, ConflictingContentLengthsAreRefused) {
  const RequestFraming f = frame("POST /x HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 7\r\n\r\nhello");
  ASSERT_EQ(f.state, RequestFraming::State::Refused);
  EXPECT_EQ(f.status, 400);
  EXPECT_NE(f.message.find("conflicting Content-Length headers (5 and 7)"), std::string::npos) << f.message;
  EXPECT_EQ(frame("POST /x HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\nhello").state, RequestFraming::State::Refused);
  // The same value twice frames the body the same way for everybody (RFC 9110 section 8.6).
  EXPECT_EQ(frame("POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello").state,
            RequestFraming::State::Complete);
  EXPECT_EQ(frame("POST /x HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello").state, RequestFraming::State::Complete);
}

TEST(RequestFraming, MalformedContentLengthIsRefused) {
  for (const char* value : {"-1", "5x", "", "0x10", "99999999999999999999999"}) {
    const RequestFraming f = frame(std::string("POST /x HTTP/1.1\r\nContent-Length: ") + value + "\r\n\r\n");
    ASSERT_EQ(f.state, RequestFraming::State::Refused) << value;
    EXPECT_EQ(f.status, 400) << value;
    EXPECT_NE(f.message.find("expected a decimal number of bytes"), std::string::npos) << f.message;
  }
}

TEST(RequestFraming, TransferEncodingIsRefusedAndNeverCombinedWithContentLength) {
  RequestFraming f = frame("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  ASSERT_EQ(f.state, RequestFraming::State::Refused);
  EXPECT_EQ(f.status, 411);
  f = frame("POST /x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello");
  ASSERT_EQ(f.state, RequestFraming::State::Refused);
  EXPECT_EQ(f.status, 400);
  EXPECT_NE(f.message.find("both Content-Length and Transfer-Encoding"), std::string::npos);
}

TEST(RequestFraming, WhitespaceBeforeTheColonAndFoldedLinesAreRefused) {
  RequestFraming f = frame("GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n");
  ASSERT_EQ(f.state, RequestFraming::State::Refused);
  EXPECT_EQ(f.status, 400);
  f = frame("GET / HTTP/1.1\r\nX-A: 1\r\n  continued\r\n\r\n");
  ASSERT_EQ(f.state, RequestFraming::State::Refused);
  EXPECT_NE(f.message.find("folded"), std::string::npos);
  f = frame("GET / HTTP/1.1\r\nno colon here\r\n\r\n");
  ASSERT_EQ(f.state, RequestFraming::State::Refused);
}

TEST(RequestFraming, OversizedHeadsAndBodiesAreRefused) {
  RequestFraming f = frame("GET / HTTP/1.1\r\nX-Big: " + std::string(kHead, 'a'));
  ASSERT_EQ(f.state, RequestFraming::State::Refused);
  EXPECT_EQ(f.status, 431);
  f = frame("POST /x HTTP/1.1\r\nContent-Length: " + std::to_string(kBody + 1) + "\r\n\r\n");
  ASSERT_EQ(f.state, RequestFraming::State::Refused);
  EXPECT_EQ(f.status, 413);
  EXPECT_NE(f.message.find("at most 65536"), std::string::npos) << f.message;
}

}  // namespace
}  // namespace codeprof::server
