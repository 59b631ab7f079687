// HTTP/1.1 persistent connections between the client and the gateway (RFC 9112 §9.3):
// reuse, "Connection: close", HTTP/1.0 defaults, and the idle keepalive_timeout.

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

TEST(KeepAlive, ReusesClientConnectionForManyRequests) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  for (int i = 0; i < 20; ++i) {
    HttpResponse resp = client.get("/ka/" + std::to_string(i));
    ASSERT_TRUE(resp.ok()) << "request " << i << ": " << resp.describe();
    EXPECT_EQ(resp.status, 200);
    EXPECT_EQ(resp.body, "hello world");
    EXPECT_FALSE(resp.headers.has_token("Connection", "close")) << resp.describe();
  }
  EXPECT_FALSE(client.is_closed_by_peer());
  EXPECT_EQ(upstream.request_count(), 20u);
}

TEST(KeepAlive, ConnectionCloseRequestIsAnsweredThenClosed) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  HttpResponse resp = client.get("/", {{"Host", "example.com"}, {"Connection", "close"}});
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_TRUE(resp.headers.has_token("Connection", "close")) << resp.describe();
  EXPECT_TRUE(client.wait_closed(3s));
}

TEST(KeepAlive, Http10WithoutKeepAliveIsClosedAfterResponse) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  HttpResponse resp = client.round_trip("GET /old HTTP/1.0\r\nHost: example.com\r\n\r\n");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "hello world");
  EXPECT_TRUE(client.wait_closed(3s));
}

TEST(KeepAlive, Http10WithKeepAliveStaysOpen) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  const std::string request =
      "GET /old HTTP/1.0\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\n";
  for (int i = 0; i < 3; ++i) {
    HttpResponse resp = client.round_trip(request);
    ASSERT_TRUE(resp.ok()) << "request " << i << ": " << resp.describe();
    EXPECT_EQ(resp.status, 200);
    EXPECT_EQ(resp.body, "hello world");
    // An HTTP/1.0 client cannot read a chunked body: the length must be explicit.
    EXPECT_NE(resp.framing, BodyFraming::Kind::Chunked) << resp.describe();
    EXPECT_TRUE(resp.headers.has_token("Connection", "keep-alive")) << resp.describe();
  }
}

TEST(KeepAlive, IdleConnectionIsClosedAfterKeepaliveTimeout) {
  UpstreamServer upstream;
  GatewayConfig config;
  config.keepalive_timeout = "1s";
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, config)));

  RawClient client(gateway.http_port());
  HttpResponse resp = client.get("/");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  Clock::time_point idle_since = Clock::now();
  EXPECT_TRUE(client.wait_closed(4s)) << "idle keep-alive connection still open";
  auto idle = Clock::now() - idle_since;
  EXPECT_GE(idle, 800ms) << "closed before keepalive_timeout";
  EXPECT_LT(idle, scaled(4s));
  EXPECT_TRUE(client.unexpected_bytes().empty()) << client.unexpected_bytes();
}

}  // namespace
}  // namespace apisix::test
