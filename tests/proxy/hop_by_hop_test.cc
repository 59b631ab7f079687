// Hop-by-hop fields (RFC 9110 §7.6.1; compat §7.8): Connection, Keep-Alive, TE, Upgrade,
// Proxy-Connection and every field named in Connection apply to one hop only and are not
// forwarded, in either direction.

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

TEST(HopByHop, RequestHopFieldsAreNotForwarded) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  HttpResponse resp = http_get(gateway.http_port(), "/",
                               {{"Host", "example.com"},
                                {"Connection", "keep-alive, X-Client-Hop, Upgrade"},
                                {"X-Client-Hop", "secret"},
                                {"Keep-Alive", "timeout=5, max=7"},
                                {"TE", "gzip;q=0.5"},
                                {"Upgrade", "websocket"},
                                {"Proxy-Connection", "keep-alive"},
                                {"X-End-To-End", "kept"}});
  ASSERT_TRUE(resp.ok()) << resp.describe();
  ASSERT_EQ(resp.status, 200) << resp.describe();
  auto r = upstream.last_request();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->headers.has("X-Client-Hop")) << r->raw_head;
  EXPECT_FALSE(r->headers.has("Keep-Alive")) << r->raw_head;
  EXPECT_FALSE(r->headers.has("Upgrade")) << r->raw_head;
  EXPECT_FALSE(r->headers.has("Proxy-Connection")) << r->raw_head;
  EXPECT_NE(r->headers.value_or_empty("TE"), "gzip;q=0.5") << r->raw_head;
  EXPECT_FALSE(r->headers.has_token("Connection", "X-Client-Hop")) << r->raw_head;
  EXPECT_FALSE(r->headers.has_token("Connection", "Upgrade")) << r->raw_head;
  EXPECT_EQ(r->headers.value_or_empty("X-End-To-End"), "kept") << r->raw_head;
}

TEST(HopByHop, ResponseHopFieldsAreNotRelayed) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.respond(200,
              {{"Connection", "X-Upstream-Hop"},
               {"X-Upstream-Hop", "secret"},
               {"Keep-Alive", "timeout=5, max=7"},
               {"Proxy-Connection", "keep-alive"},
               {"X-End-To-End", "kept"}},
              "ok");
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  HttpResponse resp = client.get("/");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_FALSE(resp.headers.has("X-Upstream-Hop")) << resp.describe();
  EXPECT_NE(resp.header("Keep-Alive"), "timeout=5, max=7") << resp.describe();
  EXPECT_FALSE(resp.headers.has("Proxy-Connection")) << resp.describe();
  EXPECT_FALSE(resp.headers.has_token("Connection", "X-Upstream-Hop")) << resp.describe();
  EXPECT_EQ(resp.header("X-End-To-End"), "kept");
  // The client connection is the gateway's: still usable.
  HttpResponse next = client.get("/");
  ASSERT_TRUE(next.ok()) << next.describe();
}

}  // namespace
}  // namespace apisix::test
