// Response headers (compat §8.4): Server: APISIX/<version> on every response, replacing the
// upstream's; the upstream's Date and other end-to-end headers are kept.

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/socket_stream.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

constexpr char kServer[] = "APISIX/" APISIX_COMPAT_VERSION;

TEST(ServerHeader, ReplacesTheUpstreamServerHeader) {
  UpstreamServer upstream;  // sends "Server: apisix-test-upstream"
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  HttpResponse resp = http_get(gateway.http_port(), "/");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.headers.all("Server"), std::vector<std::string>{kServer}) << resp.describe();
}

TEST(ServerHeader, IsSetOnGatewayGeneratedResponses) {
  RefusingPort dead;
  GatewayProcess gateway;
  GatewayOptions options;
  options.routes_yaml =
      "routes:\n"
      "  - id: dead\n"
      "    uri: /dead\n"
      "    upstream:\n"
      "      nodes:\n"
      "        \"" +
      dead.address() +
      "\": 1\n"
      "      retries: 0\n"
      "#END\n";
  ASSERT_TRUE(gateway.start(options));

  HttpResponse not_found = http_get(gateway.http_port(), "/nothing-here");
  ASSERT_TRUE(not_found.ok()) << not_found.describe();
  EXPECT_EQ(not_found.status, 404);
  EXPECT_EQ(not_found.headers.all("Server"), std::vector<std::string>{kServer})
      << not_found.describe();

  HttpResponse bad_gateway = http_get(gateway.http_port(), "/dead");
  ASSERT_TRUE(bad_gateway.ok()) << bad_gateway.describe();
  EXPECT_EQ(bad_gateway.status, 502);
  EXPECT_EQ(bad_gateway.headers.all("Server"), std::vector<std::string>{kServer})
      << bad_gateway.describe();

  HttpResponse bad_request = fetch(gateway.http_port(), "GET / HTTP/1.1\r\n\r\n");  // no Host
  ASSERT_TRUE(bad_request.ok()) << bad_request.describe();
  EXPECT_EQ(bad_request.status, 400);
  EXPECT_EQ(bad_request.headers.all("Server"), std::vector<std::string>{kServer})
      << bad_request.describe();
}

TEST(ResponseHeaders, UpstreamDateAndEndToEndHeadersAreKept) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.respond(200,
              {{"Date", "Mon, 01 Jan 2024 00:00:00 GMT"},
               {"Set-Cookie", "a=1; Path=/"},
               {"Set-Cookie", "b=2; HttpOnly"},
               {"Cache-Control", "no-store"},
               {"X-Custom", "value with  spaces"}},
              "body");
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  HttpResponse resp = http_get(gateway.http_port(), "/");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.headers.all("Date"), std::vector<std::string>{"Mon, 01 Jan 2024 00:00:00 GMT"})
      << resp.describe();
  EXPECT_EQ(resp.headers.all("Set-Cookie"),
            (std::vector<std::string>{"a=1; Path=/", "b=2; HttpOnly"}))
      << resp.describe();
  EXPECT_EQ(resp.header("Cache-Control"), "no-store");
  EXPECT_EQ(resp.header("X-Custom"), "value with  spaces");
}

}  // namespace
}  // namespace apisix::test
