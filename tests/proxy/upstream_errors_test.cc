// Upstream failures (compat §7.6 retries and timeouts, §7.11 statuses, §8.4
// X-APISIX-Upstream-Status, §8.5 HTML error pages).

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/socket_stream.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

void expect_html_error(const HttpResponse& resp, int status) {
  EXPECT_EQ(resp.status, status) << resp.describe();
  EXPECT_EQ(resp.header("Content-Type").rfind("text/html", 0), 0u) << resp.describe();
  EXPECT_EQ(resp.header("Server"), "APISIX/" APISIX_COMPAT_VERSION) << resp.describe();
  EXPECT_NE(resp.body.find(std::to_string(status)), std::string::npos) << resp.describe();
}

TEST(UpstreamErrors, ReadTimeoutGives504) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    if (w.delay(5s)) {
      w.respond(200, {}, "too late");
    }
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, {}, 1, 0)));

  Clock::time_point start = Clock::now();
  HttpResponse resp = http_get(gateway.http_port(), "/slow");
  auto elapsed = Clock::now() - start;
  ASSERT_TRUE(resp.ok()) << resp.describe();
  expect_html_error(resp, 504);
  EXPECT_EQ(resp.header("X-APISIX-Upstream-Status"), "504") << resp.describe();
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, scaled(4s));
}

TEST(UpstreamErrors, RefusedConnectionGives502) {
  RefusingPort dead;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({dead.address()}, {}, 1, 0)));

  HttpResponse resp = http_get(gateway.http_port(), "/");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  expect_html_error(resp, 502);
  EXPECT_EQ(resp.header("X-APISIX-Upstream-Status"), "502") << resp.describe();
}

TEST(UpstreamErrors, RetriesNextNodeWhenOneIsDead) {
  RefusingPort dead;
  UpstreamServer live;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({dead.address(), live.address()}, {}, 1, 1)));

  RawClient client(gateway.http_port());
  for (int i = 0; i < 10; ++i) {
    HttpResponse resp = client.get("/retry/" + std::to_string(i));
    ASSERT_TRUE(resp.ok()) << resp.describe();
    EXPECT_EQ(resp.status, 200) << "request " << i << ": " << resp.describe();
    EXPECT_EQ(resp.body, "hello world");
  }
  EXPECT_EQ(live.request_count(), 10u);
}

TEST(UpstreamErrors, ResetBeforeResponseGives502) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) { w.abort(); });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, {}, 1, 0)));

  HttpResponse resp = http_get(gateway.http_port(), "/");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  expect_html_error(resp, 502);
  EXPECT_EQ(upstream.request_count(), 1u);
}

TEST(UpstreamErrors, MalformedUpstreamResponseGives502) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.raw("HTTP/1.1 abc Broken\r\nContent-Length: 2\r\n\r\nok");
    w.close_after();
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, {}, 1, 0)));

  HttpResponse resp = http_get(gateway.http_port(), "/");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  expect_html_error(resp, 502);
}

TEST(UpstreamErrors, Upstream5xxIsRelayedWithUpstreamStatusHeaderAndNotRetried) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.respond(503, {{"Content-Type", "text/plain"}}, "busy");
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, {}, 1, 1)));

  HttpResponse resp = http_get(gateway.http_port(), "/");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 503);
  EXPECT_EQ(resp.body, "busy");
  EXPECT_EQ(resp.header("X-APISIX-Upstream-Status"), "503") << resp.describe();
  EXPECT_EQ(upstream.request_count(), 1u) << "a 5xx status must not be retried";
}

TEST(UpstreamErrors, SuccessfulResponseHasNoUpstreamStatusHeader) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  HttpResponse resp = http_get(gateway.http_port(), "/");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_FALSE(resp.headers.has("X-APISIX-Upstream-Status")) << resp.describe();
}

TEST(UpstreamErrors, TruncatedUpstreamBodyClosesClientConnection) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.head(200, {{"Content-Length", "100"}});
    w.body("only ten b");
    w.close_after();
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, {}, 2, 0)));

  RawClient client(gateway.http_port());
  HttpResponse resp = client.get("/");
  // The status was already sent; all the gateway can do is cut the client connection short
  // so the client knows the body is incomplete.
  EXPECT_FALSE(resp.ok()) << "a truncated body was presented as complete: " << resp.describe();
  EXPECT_EQ(resp.status, 200) << resp.describe();
  EXPECT_LT(resp.body_bytes, 100u);
}

TEST(UpstreamErrors, PostIsNotRetriedAfterItWasSent) {
  UpstreamServer first;
  first.set_handler([](const RecordedRequest&, ResponseWriter& w) { w.abort(); });
  UpstreamServer second;
  second.set_handler([](const RecordedRequest&, ResponseWriter& w) { w.abort(); });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({first.address(), second.address()}, {}, 1, 1)));

  HttpResponse resp =
      fetch(gateway.http_port(),
            "POST /pay HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 502);
  EXPECT_EQ(first.request_count() + second.request_count(), 1u)
      << "a non-idempotent request was sent twice (compat §7.6)";
}

}  // namespace
}  // namespace apisix::test
