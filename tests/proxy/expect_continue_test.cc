// "Expect: 100-continue" (RFC 9110 §10.1.1): the gateway itself answers 100 Continue before
// reading the body, and answers 413 instead when the announced body is over
// client_max_body_size (compat §7.11), without touching the upstream.

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

TEST(ExpectContinue, GatewayAnswers100BeforeReadingBody) {
  UpstreamOptions options;
  options.auto_continue = false;  // any 100 the client sees comes from the gateway
  UpstreamServer upstream(options);
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  ASSERT_TRUE(
      client.send("POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n"
                  "Expect: 100-continue\r\n\r\n"));
  ReadOptions interim;
  interim.return_interim = true;
  interim.timeout = 5s;
  HttpResponse cont = client.read_response(interim);
  ASSERT_TRUE(cont.ok()) << "no interim response before the body was sent: " << cont.describe();
  EXPECT_EQ(cont.status, 100) << cont.describe();
  EXPECT_EQ(cont.version, "HTTP/1.1");

  ASSERT_TRUE(client.send("hello world"));
  HttpResponse resp = client.read_response();
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  auto r = upstream.last_request();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello world");
}

TEST(ExpectContinue, OversizedBodyGets413Instead) {
  UpstreamServer upstream;
  GatewayConfig config;
  config.client_max_body_size = "1m";
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, config)));

  RawClient client(gateway.http_port());
  ASSERT_TRUE(
      client.send("POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2097152\r\n"
                  "Expect: 100-continue\r\n\r\n"));
  ReadOptions interim;
  interim.return_interim = true;
  interim.timeout = 5s;
  HttpResponse resp = client.read_response(interim);
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 413) << resp.describe();
  EXPECT_EQ(resp.header("Content-Type").rfind("text/html", 0), 0u) << resp.describe();
  EXPECT_EQ(upstream.request_count(), 0u);
}

TEST(ExpectContinue, Http10ClientGetsNoInterimResponse) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  // RFC 9110 §10.1.1: a 100 must not be sent to an HTTP/1.0 client.
  RawClient client(gateway.http_port());
  HttpResponse resp = client.round_trip(
      "POST /upload HTTP/1.0\r\nHost: example.com\r\nContent-Length: 5\r\n"
      "Expect: 100-continue\r\n\r\nhello");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_TRUE(resp.interim.empty())
      << "interim " << resp.interim.front().status << " sent to an HTTP/1.0 client";
}

}  // namespace
}  // namespace apisix::test
