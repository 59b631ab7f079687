// Request size limits: body over client_max_body_size -> 413 (compat §7.11), request line
// over 8 KiB -> 414, oversized header section -> 431 (400 accepted, as nginx answers). The
// error pages are HTML (compat §8.5) and the upstream sees nothing.

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

class Limits : public ::testing::Test {
 protected:
  void SetUp() override {
    GatewayConfig config;
    config.client_max_body_size = "1m";
    ASSERT_TRUE(gateway_.start(proxy_options({upstream_.address()}, config)));
  }

  void expect_html(const HttpResponse& resp) {
    EXPECT_EQ(resp.header("Content-Type").rfind("text/html", 0), 0u) << resp.describe();
  }

  UpstreamServer upstream_;
  GatewayProcess gateway_;
};

TEST_F(Limits, BodyOverMaxSizeGives413) {
  RawClient client(gateway_.http_port());
  // Only the head: the gateway must decide from Content-Length, without waiting for the body.
  HttpResponse resp = client.round_trip(
      "POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 1048577\r\n\r\n");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 413);
  expect_html(resp);
  EXPECT_EQ(upstream_.request_count(), 0u);
}

TEST_F(Limits, BodyAtMaxSizeIsAccepted) {
  HttpResponse resp =
      fetch(gateway_.http_port(),
            make_request("POST", "/upload", {{"Host", "example.com"}}, std::string(1 << 20, 'b')));
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(upstream_.last_request()->body_bytes, 1u << 20);
}

TEST_F(Limits, ChunkedBodyOverMaxSizeGives413) {
  RawClient client(gateway_.http_port());
  std::string piece(size_t{64} * 1024, 'c');
  ASSERT_TRUE(client.send(
      "POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"));
  bool stopped_early = false;
  for (int i = 0; i < 32 && !stopped_early; ++i) {  // 2 MiB
    stopped_early = !client.send(chunk(piece), 5s);
  }
  if (!stopped_early) {
    client.send(last_chunk(), 5s);
  }
  HttpResponse resp = client.read_response();
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 413);
  expect_html(resp);
  for (const auto& r : upstream_.requests()) {
    EXPECT_FALSE(r.complete && r.body_bytes > (1u << 20))
        << "the upstream received the whole oversized body";
  }
}

TEST_F(Limits, UriLongerThan8KiBGives414) {
  std::string target = "/" + std::string(9000, 'u');
  HttpResponse resp = fetch(gateway_.http_port(), make_request("GET", target));
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 414);
  expect_html(resp);
  EXPECT_EQ(upstream_.request_count(), 0u);
}

TEST_F(Limits, UriOf4KiBIsAccepted) {
  std::string target = "/" + std::string(4096, 'u');
  HttpResponse resp = fetch(gateway_.http_port(), make_request("GET", target));
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(upstream_.last_request()->target, target);
}

TEST_F(Limits, OversizedHeaderGives431) {
  HttpResponse resp = fetch(
      gateway_.http_port(),
      make_request("GET", "/",
                   {{"Host", "example.com"}, {"X-Huge", std::string(size_t{64} * 1024, 'h')}}));
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_TRUE(resp.status == 431 || resp.status == 400) << resp.describe();
  expect_html(resp);
  EXPECT_EQ(upstream_.request_count(), 0u);
}

TEST_F(Limits, TooManyHeadersGive431) {
  Headers headers{{"Host", "example.com"}};
  for (int i = 0; i < 5000; ++i) {
    headers.add("X-H" + std::to_string(i), "v");
  }
  HttpResponse resp = fetch(gateway_.http_port(), make_request("GET", "/", headers));
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_TRUE(resp.status == 431 || resp.status == 400) << resp.describe();
  EXPECT_EQ(upstream_.request_count(), 0u);
}

TEST_F(Limits, GatewayServesNormallyAfterLimitErrors) {
  fetch(gateway_.http_port(), make_request("GET", "/" + std::string(9000, 'u')));
  fetch(gateway_.http_port(),
        "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 99999999\r\n\r\n");
  HttpResponse resp = http_get(gateway_.http_port(), "/");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
}

}  // namespace
}  // namespace apisix::test
