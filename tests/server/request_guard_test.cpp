// The access rules of the dashboard, without sockets: token, DNS rebinding, CSRF.
#include "server/request_guard.hpp"

#include <gtest/gtest.h>

namespace codeprof::server {
namespace {

RequestFacts get(std::string_view host) {
  RequestFacts r;
  r.method = "GET";
  r.host = host;
  return r;
}

TEST(LoopbackHost, RecognisesLoopbackNamesWithAndWithoutPorts) {
  for (const char* h : {"127.0.0.1", "127.0.0.1:8765", "127.1.2.3:1", "localhost", "LOCALHOST:80", "::1", "[::1]",
                        "[::1]:8765"})
    EXPECT_TRUE(is_loopback_host(h)) << h;
  for (const char* h : {"0.0.0.0", "10.0.0.1:8765", "evil.example", "evil.example:8765", "127.0.0.1.evil.example",
                        "128.0.0.1", "127.0.0", "127.0.0.1.", "localhost.evil.example", "[::2]:80", ""})
    EXPECT_FALSE(is_loopback_host(h)) << h;
}

TEST(RequestGuard, WithoutTokenLoopbackGetsArePermitted) {
  const GuardDecision d = check_request("", get("127.0.0.1:8765"));
  EXPECT_FALSE(d.refusal);
  EXPECT_EQ(d.token_source, TokenSource::None);
}

TEST(RequestGuard, WithoutTokenForeignHostHeaderIsRefusedAgainstDnsRebinding) {
  const GuardDecision d = check_request("", get("attacker.example:8765"));
  ASSERT_TRUE(d.refusal);
  EXPECT_EQ(d.refusal->status, 403);
  EXPECT_NE(d.refusal->message.find("attacker.example"), std::string::npos) << d.refusal->message;
}

TEST(RequestGuard, PostWithoutCustomHeaderIsRefusedAsPossibleCsrf) {
  RequestFacts r = get("127.0.0.1:8765");
  r.method = "POST";
  const GuardDecision d = check_request("", r);
  ASSERT_TRUE(d.refusal);
  EXPECT_EQ(d.refusal->status, 403);
  EXPECT_NE(d.refusal->message.find("X-Codeprof-Request"), std::string::npos);
  r.has_request_header = true;
  r.request_header_value = "1";
  EXPECT_FALSE(check_request("", r).refusal);
}

TEST(RequestGuard, PostFromAnotherOriginIsRefusedEvenWithTheHeader) {
  RequestFacts r = get("127.0.0.1:8765");
  r.method = "POST";
  r.has_request_header = true;
  r.request_header_value = "1";
  r.origin = "http://evil.example";
  const GuardDecision d = check_request("", r);
  ASSERT_TRUE(d.refusal);
  EXPECT_EQ(d.refusal->status, 403);
  r.origin = "http://127.0.0.1:8765";
  EXPECT_FALSE(check_request("", r).refusal);
}

TEST(RequestGuard, WithoutTokenTheHostPortMustBeTheListeningPort) {
  RequestFacts r = get("127.0.0.1:9999");
  r.port = 8765;
  const GuardDecision d = check_request("", r);
  ASSERT_TRUE(d.refusal);
  EXPECT_EQ(d.refusal->status, 403);
  EXPECT_NE(d.refusal->message.find("names port 9999, but the dashboard listens on port 8765"), std::string::npos)
      << d.refusal->message;
  for (const char* ok : {"127.0.0.1:8765", "[::1]:8765", "localhost:8765", "127.0.0.1"}) {
    r.host = ok;
    EXPECT_FALSE(check_request("", r).refusal) << ok;
  }
  r.host = "[::1]:80";
  EXPECT_TRUE(check_request("", r).refusal);
}

TEST(RequestGuard, TheRequestHeaderMustCarryTheDocumentedValue) {
  RequestFacts r = get("127.0.0.1:8765");
  r.method = "POST";
  r.has_request_header = true;
  for (const char* bad : {"0", "", "yes", "11"}) {
    r.request_header_value = bad;
    const GuardDecision d = check_request("", r);
    ASSERT_TRUE(d.refusal) << bad;
    EXPECT_NE(d.refusal->message.find("expected the value 1"), std::string::npos) << d.refusal->message;
  }
  r.request_header_value = "1";
  EXPECT_FALSE(check_request("", r).refusal);
}

TEST(RequestGuard, TokenIsRequiredOnEveryRequestWhenSet) {
  const std::string token = "s3cret-token";
  RequestFacts r = get("dashboard.internal:8765");  // any host once a token is set
  GuardDecision d = check_request(token, r);
  ASSERT_TRUE(d.refusal);
  EXPECT_EQ(d.refusal->status, 401);

  r.authorization = "Bearer wrong-token!";
  EXPECT_EQ(check_request(token, r).refusal->status, 401);
  r.authorization = "Bearer s3cret-token";
  d = check_request(token, r);
  EXPECT_FALSE(d.refusal);
  EXPECT_EQ(d.token_source, TokenSource::Bearer);

  r.authorization = "";
  r.token_param = "s3cret-token";
  EXPECT_EQ(check_request(token, r).token_source, TokenSource::Query);
  r.token_param = "";
  r.cookie = "other=1; codeprof_token=s3cret-token; x=y";
  EXPECT_EQ(check_request(token, r).token_source, TokenSource::Cookie);
  r.cookie = "codeprof_token=s3cret-tokenX";
  EXPECT_EQ(check_request(token, r).refusal->status, 401);
}

TEST(RequestGuard, CookieTokenAloneDoesNotAuthoriseAPost) {
  // The cookie travels with any request the browser makes: it proves nothing about the page.
  RequestFacts r = get("127.0.0.1:8765");
  r.method = "POST";
  r.cookie = "codeprof_token=s3cret-token";
  const GuardDecision d = check_request("s3cret-token", r);
  ASSERT_TRUE(d.refusal);
  EXPECT_EQ(d.refusal->status, 403);
  r.has_request_header = true;
  r.request_header_value = "1";
  EXPECT_FALSE(check_request("s3cret-token", r).refusal);
  r.has_request_header = false;
  r.authorization = "bearer s3cret-token";  // scheme is case-insensitive
  EXPECT_FALSE(check_request("s3cret-token", r).refusal);
}

TEST(RequestGuard, TokenValidationNamesTheProblem) {
  EXPECT_NO_THROW(validate_token("abcdEFGH-1234_.~"));
  try {
    validate_token("short");
    FAIL() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("at least 8"), std::string::npos);
  }
  EXPECT_THROW(validate_token("has space inside"), std::invalid_argument);
  EXPECT_THROW(validate_token("semi;colon;token"), std::invalid_argument);
}

TEST(RequestGuard, HelpersCompareAndParseExactly) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_EQ(cookie_value("a=1; b = 2 ;c=3", "b"), "2");
  EXPECT_EQ(cookie_value("a=1", "b"), "");
  EXPECT_EQ(cookie_value("", "b"), "");
}

}  // namespace
}  // namespace codeprof::server
