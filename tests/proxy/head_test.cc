// HEAD requests (RFC 9110 §9.3.2): the response carries the GET headers but no body, and the
// connection stays in sync for the next request.

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

TEST(Head, ResponseHasHeadersButNoBody) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  ReadOptions head;
  head.request_method = "HEAD";
  HttpResponse resp = client.round_trip(make_request("HEAD", "/file"), head);
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.header("Content-Length"), "11");
  EXPECT_EQ(upstream.last_request()->method, "HEAD");

  // Had any body bytes been relayed, they would be read here as a broken status line.
  HttpResponse next = client.get("/after-head");
  ASSERT_TRUE(next.ok()) << next.describe();
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.body, "hello world");
}

TEST(Head, ChunkedHeadResponseDoesNotWaitForABody) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest& r, ResponseWriter& w) {
    if (r.method == "HEAD") {
      w.head(200, {{"Transfer-Encoding", "chunked"}, {"Content-Type", "text/plain"}});
    } else {
      w.respond(200, {}, "get-body");
    }
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  ReadOptions head;
  head.request_method = "HEAD";
  head.timeout = std::chrono::seconds(5);
  for (int i = 0; i < 3; ++i) {
    HttpResponse resp = client.round_trip(make_request("HEAD", "/dynamic"), head);
    ASSERT_TRUE(resp.ok()) << resp.describe();
    EXPECT_EQ(resp.status, 200);
  }
  HttpResponse next = client.get("/dynamic");
  ASSERT_TRUE(next.ok()) << next.describe();
  EXPECT_EQ(next.body, "get-body");
}

}  // namespace
}  // namespace apisix::test
