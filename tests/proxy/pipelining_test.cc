// Pipelined requests (RFC 9112 §9.3.2): several requests in one write are all answered, in
// the order they were sent, even when an earlier one is slower upstream.

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

// Echoes "<method> <target> <body>"; /slow waits 300 ms first.
void echo_handler(const RecordedRequest& r, ResponseWriter& w) {
  if (r.target == "/slow" && !w.delay(300ms)) {
    return;
  }
  w.respond(200, {{"Content-Type", "text/plain"}}, r.method + " " + r.target + " " + r.body);
}

TEST(Pipelining, ThreeRequestsInOneWriteAreAnsweredInOrder) {
  UpstreamServer upstream;
  upstream.set_handler(echo_handler);
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  ASSERT_TRUE(client.send(make_request("GET", "/slow") + make_request("GET", "/second") +
                          make_request("GET", "/third")));
  auto responses = client.read_responses(3);
  ASSERT_EQ(responses.size(), 3u);
  for (const auto& r : responses) {
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_EQ(responses[0].body, "GET /slow ");
  EXPECT_EQ(responses[1].body, "GET /second ");
  EXPECT_EQ(responses[2].body, "GET /third ");
  EXPECT_FALSE(client.is_closed_by_peer());
}

TEST(Pipelining, RequestsWithBodiesInOneWriteKeepTheirBoundaries) {
  UpstreamServer upstream;
  upstream.set_handler(echo_handler);
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  std::string batch =
      make_request("POST", "/a", {{"Host", "example.com"}}, "first-body") +
      make_request("POST", "/b", {{"Host", "example.com"}, {"Transfer-Encoding", "chunked"}},
                   chunk("chun") + chunk("ked") + last_chunk()) +
      make_request("GET", "/c");
  ASSERT_TRUE(client.send(batch));
  auto responses = client.read_responses(3);
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[0].body, "POST /a first-body") << responses[0].describe();
  EXPECT_EQ(responses[1].body, "POST /b chunked") << responses[1].describe();
  EXPECT_EQ(responses[2].body, "GET /c ") << responses[2].describe();
  ASSERT_EQ(upstream.request_count(), 3u);
}

TEST(Pipelining, ConnectionCloseOnLastRequestClosesAfterAllResponses) {
  UpstreamServer upstream;
  upstream.set_handler(echo_handler);
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  ASSERT_TRUE(
      client.send(make_request("GET", "/1") + make_request("GET", "/2") +
                  make_request("GET", "/3", {{"Host", "example.com"}, {"Connection", "close"}})));
  auto responses = client.read_responses(3);
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[2].body, "GET /3 ") << responses[2].describe();
  EXPECT_TRUE(client.wait_closed(3s));
}

}  // namespace
}  // namespace apisix::test
