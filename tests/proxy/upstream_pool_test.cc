// Upstream keep-alive pooling (compat §7.9): sequential requests reuse one upstream
// connection, and a pooled connection that the upstream closed is not an error.

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

TEST(UpstreamPool, SequentialRequestsReuseOneUpstreamConnection) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  for (int i = 0; i < 20; ++i) {
    HttpResponse resp = client.get("/pooled/" + std::to_string(i));
    ASSERT_TRUE(resp.ok()) << resp.describe();
    EXPECT_EQ(resp.status, 200);
  }
  EXPECT_EQ(upstream.request_count(), 20u);
  EXPECT_EQ(upstream.connection_count(), 1u);
  auto requests = upstream.requests();
  EXPECT_EQ(requests.back().index_on_connection, 19u);
  EXPECT_FALSE(requests.back().headers.has_token("Connection", "close"))
      << requests.back().raw_head;
}

TEST(UpstreamPool, UpstreamConnectionCloseIsHonoured) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.respond(200, {{"Connection", "close"}}, "bye");
    w.close_after();
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, {}, 2, 0)));

  RawClient client(gateway.http_port());
  for (int i = 0; i < 5; ++i) {
    HttpResponse resp = client.get("/close/" + std::to_string(i));
    ASSERT_TRUE(resp.ok()) << resp.describe();
    EXPECT_EQ(resp.status, 200) << resp.describe();
    EXPECT_EQ(resp.body, "bye");
  }
  EXPECT_EQ(upstream.connection_count(), 5u);
}

TEST(UpstreamPool, UpstreamClosingAnIdlePooledConnectionIsNotAnError) {
  UpstreamServer upstream;
  // Answers as if the connection stayed open, then closes it: the gateway learns of the
  // close only when it next tries the pooled connection.
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.respond(200, {}, "ok");
    w.close_after();
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, {}, 2, 0)));

  RawClient client(gateway.http_port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(wait_until([&] { return upstream.open_connections() == 0; }, 5s));
    HttpResponse resp = client.get("/idle-close/" + std::to_string(i));
    ASSERT_TRUE(resp.ok()) << resp.describe();
    EXPECT_EQ(resp.status, 200) << "request " << i << ": " << resp.describe();
  }
  EXPECT_EQ(upstream.request_count(), 5u);
}

}  // namespace
}  // namespace apisix::test
