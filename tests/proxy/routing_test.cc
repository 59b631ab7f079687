// Route matching at the edges (compat §5.8 no route, §5.3 exact and prefix uris, §5.4 hosts,
// §5.5 methods).

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

class Routing : public ::testing::Test {
 protected:
  void SetUp() override {
    GatewayOptions options;
    options.routes_yaml =
        "upstreams:\n"
        "  - id: u1\n"
        "    nodes:\n"
        "      \"" +
        upstream_.address() +
        "\": 1\n"
        "routes:\n"
        "  - id: exact\n"
        "    uri: /exact\n"
        "    upstream_id: u1\n"
        "  - id: prefix\n"
        "    uri: /prefix/*\n"
        "    upstream_id: u1\n"
        "  - id: api\n"
        "    uri: /api\n"
        "    hosts: [\"api.example.com\"]\n"
        "    methods: [GET, PUT]\n"
        "    upstream_id: u1\n"
        "#END\n";
    ASSERT_TRUE(gateway_.start(options));
  }

  int status_of(std::string_view method, std::string_view target, std::string_view host) {
    HttpResponse resp =
        fetch(gateway_.http_port(), make_request(method, target, {{"Host", std::string(host)}}));
    EXPECT_TRUE(resp.ok()) << resp.describe();
    return resp.status;
  }

  UpstreamServer upstream_;
  GatewayProcess gateway_;
};

TEST_F(Routing, NoRouteGives404WithJsonErrorBody) {
  HttpResponse resp = http_get(gateway_.http_port(), "/missing");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 404);
  EXPECT_EQ(resp.body, "{\"error_msg\":\"404 Route Not Found\"}\n");
  EXPECT_EQ(resp.header("Content-Type"), "text/plain; charset=utf-8") << resp.describe();
  EXPECT_EQ(upstream_.request_count(), 0u);
}

TEST_F(Routing, ExactUriMatchesOnlyItself) {
  EXPECT_EQ(status_of("GET", "/exact", "example.com"), 200);
  EXPECT_EQ(status_of("GET", "/exact?x=1", "example.com"), 200);
  EXPECT_EQ(status_of("GET", "/exact/more", "example.com"), 404);
  EXPECT_EQ(status_of("GET", "/exac", "example.com"), 404);
}

TEST_F(Routing, PrefixUriMatchesEverythingBelow) {
  EXPECT_EQ(status_of("GET", "/prefix/", "example.com"), 200);
  EXPECT_EQ(status_of("GET", "/prefix/a/b/c", "example.com"), 200);
  EXPECT_EQ(status_of("GET", "/prefixed", "example.com"), 404);
}

TEST_F(Routing, HostsAndMethodsMustMatch) {
  EXPECT_EQ(status_of("GET", "/api", "api.example.com"), 200);
  EXPECT_EQ(status_of("PUT", "/api", "api.example.com"), 200);
  EXPECT_EQ(status_of("GET", "/api", "api.example.com:9080"), 200);
  EXPECT_EQ(status_of("GET", "/api", "API.Example.COM"), 200);
  EXPECT_EQ(status_of("GET", "/api", "other.example.com"), 404);
  EXPECT_EQ(status_of("POST", "/api", "api.example.com"), 404);
  EXPECT_EQ(status_of("DELETE", "/api", "api.example.com"), 404);
}

}  // namespace
}  // namespace apisix::test
