// Route conditions through the real binary: `vars` (compat §5.7), `remote_addrs` (§5.5) and
// the three router modes of `apisix.router.http` (§5.2, §5.3).

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/headers.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

class RouteConditions : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    GatewayOptions options;
    options.config.extra_apisix_yaml = "  router:\n    http: " + GetParam() + "\n";
    std::string beta = "\"" + beta_.address() + "\": 1\n";
    std::string stable = "\"" + stable_.address() + "\": 1\n";
    options.routes_yaml =
        "upstreams:\n"
        "  - id: beta\n    nodes:\n      " +
        beta + "  - id: stable\n    nodes:\n      " + stable +
        "routes:\n"
        "  - id: svc-beta\n"
        "    uri: /svc\n"
        "    vars: [[\"arg_env\", \"==\", \"beta\"]]\n"
        "    upstream_id: beta\n"
        "  - id: svc\n"
        "    uri: /svc\n"
        "    upstream_id: stable\n"
        "  - id: canary\n"
        "    uri: /canary\n"
        "    vars: [\"OR\", [\"http_x_canary\", \"~*\", \"^(yes|true)$\"], [\"cookie_c\", \"==\", "
        "\"1\"]]\n"
        "    upstream_id: beta\n"
        "  - id: private\n"
        "    uri: /private\n"
        "    remote_addrs: [\"10.0.0.0/8\", \"192.168.0.0/16\"]\n"
        "    upstream_id: beta\n"
        "  - id: local\n"
        "    uri: /local\n"
        "    remote_addr: \"127.0.0.0/8\"\n"
        "    upstream_id: beta\n"
        "  - id: user\n"
        "    uri: /user/:id\n"
        "    upstream_id: beta\n"
        "  - id: form-jack\n"
        "    uri: /form\n"
        "    vars: [[\"post_arg_name\", \"==\", \"jack\"]]\n"
        "    upstream_id: beta\n"
        "  - id: form\n"
        "    uri: /form\n"
        "    upstream_id: stable\n"
        "#END\n";
    ASSERT_TRUE(gateway_.start(options));
  }

  int get(std::string_view target, Headers headers = {}) {
    headers.add("Host", "example.com");
    HttpResponse resp = fetch(gateway_.http_port(), make_request("GET", target, headers));
    EXPECT_TRUE(resp.ok()) << resp.describe();
    return resp.status;
  }

  UpstreamServer beta_;
  UpstreamServer stable_;
  GatewayProcess gateway_;
};

// §5.7: a `vars` condition picks between two routes on the same path; a failing one falls
// through to the next candidate of the bucket (§5.5).
TEST_P(RouteConditions, VarsSelectsAmongRoutesOnOnePath) {
  EXPECT_EQ(get("/svc?env=beta"), 200);
  EXPECT_EQ(beta_.request_count(), 1u);
  EXPECT_EQ(get("/svc?env=prod"), 200);
  EXPECT_EQ(get("/svc"), 200);
  EXPECT_EQ(stable_.request_count(), 2u);
  EXPECT_EQ(beta_.request_count(), 1u);
}

TEST_P(RouteConditions, VarsWithOrHeaderRegexAndCookie) {
  EXPECT_EQ(get("/canary", {{"X-Canary", "YES"}}), 200);
  EXPECT_EQ(get("/canary", {{"Cookie", "a=2; c=1"}}), 200);
  EXPECT_EQ(beta_.request_count(), 2u);
  EXPECT_EQ(get("/canary", {{"X-Canary", "no"}}), 404);
  EXPECT_EQ(get("/canary"), 404);
}

// §5.5: remote_addr(s) with CIDRs; the tests connect from 127.0.0.1.
TEST_P(RouteConditions, RemoteAddrsRestrictTheClient) {
  EXPECT_EQ(get("/private"), 404);
  EXPECT_EQ(get("/local"), 200);
}

// §5.3: `:id` is a parameter only in radixtree_uri_with_parameter; elsewhere it is literal.
TEST_P(RouteConditions, ColonSegmentsFollowTheRouterMode) {
  bool parameters = GetParam() == "radixtree_uri_with_parameter";
  EXPECT_EQ(get("/user/42"), parameters ? 200 : 404);
  EXPECT_EQ(get("/user/:id"), 200);
}

// §6.9: post_arg_* reads a form body; the body still reaches the upstream whole, also when
// the client waits for 100 Continue, and the connection stays usable.
TEST_P(RouteConditions, PostArgsFromAFormBody) {
  RawClient client(gateway_.http_port());
  Headers form = {{"Host", "example.com"}, {"Content-Type", "application/x-www-form-urlencoded"}};
  HttpResponse r = client.round_trip(make_request("POST", "/form", form, "age=3&name=jack"));
  EXPECT_EQ(r.status, 200) << r.describe();
  ASSERT_EQ(beta_.request_count(), 1u);
  EXPECT_EQ(beta_.last_request()->body, "age=3&name=jack");
  r = client.round_trip(make_request("POST", "/form", form, "name=rose"));
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(stable_.request_count(), 1u);
  // Not a form: the body is not parsed, so the condition fails.
  r = client.round_trip(make_request("POST", "/form", {{"Host", "example.com"}}, "name=jack"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(stable_.request_count(), 2u);

  // Expect: 100-continue: the gateway asks for the body before matching.
  Headers expecting = form;
  expecting.add("Expect", "100-continue");
  std::string request = make_request("POST", "/form", expecting, "name=jack");
  size_t head_end = request.find("\r\n\r\n") + 4;
  RawClient waiting(gateway_.http_port());
  ASSERT_TRUE(waiting.send(request.substr(0, head_end)));
  ReadOptions interim_only;
  interim_only.return_interim = true;
  HttpResponse interim = waiting.read_response(interim_only);
  EXPECT_EQ(interim.status, 100) << interim.describe();
  ASSERT_TRUE(waiting.send(request.substr(head_end)));
  r = waiting.read_response();
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(beta_.request_count(), 2u);
  EXPECT_EQ(beta_.last_request()->body, "name=jack");
}

INSTANTIATE_TEST_SUITE_P(Modes, RouteConditions,
                         ::testing::Values("radixtree_host_uri", "radixtree_uri",
                                           "radixtree_uri_with_parameter"));

}  // namespace
}  // namespace apisix::test
