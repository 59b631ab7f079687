// 1xx interim responses from the upstream (RFC 9110 §15.2) reach the client before the
// final response; an unsolicited 100 Continue does not end the exchange.

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

TEST(InterimResponse, EarlyHintsFromUpstreamAreRelayed) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.interim(103, {{"Link", "</style.css>; rel=preload; as=style"}});
    w.respond(200, {{"Content-Type", "text/html"}}, "<html></html>");
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  HttpResponse resp = client.get("/page");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "<html></html>");
  ASSERT_EQ(resp.interim.size(), 1u) << "the 103 was not relayed";
  EXPECT_EQ(resp.interim[0].status, 103);
  EXPECT_EQ(resp.interim[0].headers.value_or_empty("Link"), "</style.css>; rel=preload; as=style");
  HttpResponse next = client.get("/again");
  ASSERT_TRUE(next.ok()) << next.describe();
}

TEST(InterimResponse, UnsolicitedContinueDoesNotEndTheResponse) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.interim(100);
    w.respond(200, {}, "final");
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  for (int i = 0; i < 2; ++i) {
    HttpResponse resp = client.get("/x");
    ASSERT_TRUE(resp.ok()) << resp.describe();
    EXPECT_EQ(resp.status, 200);
    EXPECT_EQ(resp.body, "final");
  }
}

}  // namespace
}  // namespace apisix::test
