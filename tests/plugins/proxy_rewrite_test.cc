// proxy-rewrite through the real binary (plugins.md §5.14): the examples of APISIX's
// docs/en/latest/plugins/proxy-rewrite.md with routes written over the Admin API and a local
// upstream that records what it receives (URI, method, Host and headers).

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/harness/http_codec.h"
#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

class ProxyRewritePlugin : public PluginTest {
 protected:
  // The examples' route: `uri` to the local upstream with `plugins`.
  void put_route(const std::string& uri, const std::string& plugins,
                 const std::string& extra = {}) {
    write("PUT", "/apisix/admin/routes/proxy-rewrite-route",
          test::route(uri, plugins, upstream_, extra));
  }

  HttpResponse send(std::string_view method, std::string_view target, Headers headers = {}) {
    if (!headers.has("Host")) {
      headers.add("Host", "example.com");
    }
    return fetch(port_, make_request(method, target, headers));
  }

  // Sends GET `target` until the upstream receives `expected_target` (the route is applied);
  // returns what the upstream received for the last one.
  RecordedRequest proxied(std::string_view target, std::string_view expected_target,
                          Headers headers = {}, std::string_view method = "GET") {
    RecordedRequest last;
    bool seen = wait_until(
        [&] {
          HttpResponse r = send(method, target, headers);
          if (r.status != 200) {
            return false;
          }
          auto got = upstream_.last_request();
          if (!got) {
            return false;
          }
          last = *got;
          return last.target == expected_target;
        },
        5s);
    EXPECT_TRUE(seen) << "upstream got " << last.method << " " << last.target;
    return last;
  }
};

// "Rewrite Host Header".
TEST_F(ProxyRewritePlugin, RewritesTheHostHeader) {
  put_route("/headers", R"({"proxy-rewrite":{"host":"myapisix.demo"}})");
  RecordedRequest got = proxied("/headers?a=1", "/headers?a=1");
  EXPECT_EQ(got.headers.value_or_empty("Host"), "myapisix.demo");
}

// "Rewrite URI And Set Headers".
TEST_F(ProxyRewritePlugin, RewritesUriAndSetsHeaders) {
  put_route("/", R"({"proxy-rewrite":{"uri":"/anything",
      "headers":{"set":{"X-Api-Version":"v1","X-Api-Engine":"apisix"}}}})");
  RecordedRequest got = proxied("/", "/anything", {{"X-Api-Version", "v2"}});
  EXPECT_EQ(got.headers.all("X-Api-Version"), std::vector<std::string>{"v1"});
  EXPECT_EQ(got.headers.value_or_empty("X-Api-Engine"), "apisix");
}

// "Rewrite URI And Append Headers".
TEST_F(ProxyRewritePlugin, RewritesUriAndAppendsHeaders) {
  put_route("/", R"({"proxy-rewrite":{"uri":"/headers",
      "headers":{"add":{"X-Api-Version":"v1","X-Api-Engine":"apisix"}}}})");
  RecordedRequest got = proxied("/", "/headers", {{"X-Api-Version", "v2"}});
  std::vector<std::string> versions = got.headers.all("X-Api-Version");
  EXPECT_EQ(versions.size(), 2u);
  EXPECT_NE(std::find(versions.begin(), versions.end(), "v1"), versions.end());
  EXPECT_NE(std::find(versions.begin(), versions.end(), "v2"), versions.end());
  EXPECT_EQ(got.headers.value_or_empty("X-Api-Engine"), "apisix");
}

// "Set or Append Multiple Values for the Same Header".
TEST_F(ProxyRewritePlugin, SetsSeveralValuesForOneHeader) {
  put_route("/", R"({"proxy-rewrite":{"uri":"/headers",
      "headers":{"set":{"X-Api-Version":["v1","v2"]}}}})");
  RecordedRequest got = proxied("/", "/headers", {{"X-Api-Version", "old"}});
  EXPECT_EQ(got.headers.all("X-Api-Version"), (std::vector<std::string>{"v1", "v2"}));
}

// "Remove Existing Header".
TEST_F(ProxyRewritePlugin, RemovesAHeader) {
  put_route("/headers", R"({"proxy-rewrite":{"headers":{"remove":["User-Agent"]}}})");
  RecordedRequest got = proxied("/headers", "/headers", {{"User-Agent", "curl/8.2.1"}});
  EXPECT_FALSE(got.headers.has("User-Agent"));
}

// "Rewrite URI Using RegEx".
TEST_F(ProxyRewritePlugin, RewritesUriByRegex) {
  put_route("/test/*", R"j({"proxy-rewrite":{"regex_uri":["^/test/(.*)/(.*)","/$1-$2"],
      "headers":{"set":{"X-Parts":"$1+$2"}}}})j");
  RecordedRequest got = proxied("/test/user/agent", "/user-agent");
  EXPECT_EQ(got.headers.value_or_empty("X-Parts"), "user+agent");
  RecordedRequest with_args = proxied("/test/user/agent?a=1", "/user-agent?a=1");
  EXPECT_EQ(with_args.method, "GET");
}

// "Add URL Parameters".
TEST_F(ProxyRewritePlugin, AddsUrlParameters) {
  put_route("/get", R"({"proxy-rewrite":{"uri":"/get?arg1=apisix&arg2=plugin"}})");
  proxied("/get", "/get?arg1=apisix&arg2=plugin");
  proxied("/get?mine=1", "/get?arg1=apisix&arg2=plugin&mine=1");
}

// "Rewrite HTTP Method".
TEST_F(ProxyRewritePlugin, RewritesTheMethod) {
  put_route("/get", R"({"proxy-rewrite":{"uri":"/anything","method":"POST"}})");
  RecordedRequest got = proxied("/get", "/anything");
  EXPECT_EQ(got.method, "POST");
}

// "Forward Consumer Names to Upstream".
TEST_F(ProxyRewritePlugin, ForwardsTheConsumerName) {
  write("PUT", "/apisix/admin/consumers", R"({"username":"JohnDoe"})");
  write("PUT", "/apisix/admin/consumers/JohnDoe/credentials/cred-john-key-auth",
        R"({"plugins":{"key-auth":{"key":"john-key"}}})");
  put_route("/get", R"({"key-auth":{},"proxy-rewrite":{"headers":{
      "set":{"X-Apisix-Consumer":"$consumer_name"},"remove":["Apikey"]}}})");
  RecordedRequest got = proxied("/get", "/get", {{"apikey", "john-key"}});
  EXPECT_EQ(got.headers.value_or_empty("X-Apisix-Consumer"), "JohnDoe");
  EXPECT_FALSE(got.headers.has("apikey"));
  EXPECT_EQ(send("GET", "/get").status, 401);
}

// A `?` decoded from the client's path stays escaped, and the query is kept
// (APISIX t/plugin/proxy-rewrite3.t).
TEST_F(ProxyRewritePlugin, KeepsDecodedSeparatorsEscaped) {
  put_route("/hello*", R"({"proxy-rewrite":{"uri":"/$uri/remain","host":"test.xxxx.com"}})");
  RecordedRequest got = proxied("/hello%3fa=1?b=2", "//hello%253Fa=1/remain?b=2");
  EXPECT_EQ(got.headers.value_or_empty("Host"), "test.xxxx.com");
}

// "Dynamically Forward Requests in radixtree_uri_with_parameter Router Mode": $uri_param_*
// reads the matched route's parameters.
TEST(ProxyRewritePluginRouterMode, ForwardsUriParameters) {
  std::string yaml = embedded_admin_config(1);
  const std::string section = "apisix:\n";
  yaml.replace(yaml.find(section), section.size(),
               section + "  router:\n    http: radixtree_uri_with_parameter\n");
  GatewayProcess gateway;
  GatewayOptions options;
  options.config_yaml = yaml;
  ASSERT_TRUE(gateway.start(options));
  UpstreamServer upstream;
  HttpResponse put =
      admin_call(gateway.admin_port(), "PUT", "/apisix/admin/routes/httpbin",
                 R"({"uri":"/anything/user/:user_id/profile","plugins":{"proxy-rewrite":{"headers":{
          "set":{"X-User-Id":"$uri_param_user_id"}}}},
          "upstream":{"type":"roundrobin","nodes":{")" +
                     upstream.address() + R"(":1}}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  ASSERT_TRUE(wait_until(
      [&] {
        HttpResponse r = http_get(gateway.http_port(), "/anything/user/123/profile");
        auto got = upstream.last_request();
        return r.status == 200 && got && got->headers.value_or_empty("X-User-Id") == "123";
      },
      5s))
      << http_get(gateway.http_port(), "/anything/user/123/profile").describe() << "\n"
      << (upstream.last_request() ? upstream.last_request()->raw_head : "(no request)");
}

// The Admin API runs proxy-rewrite's own checks (plugins.md §1.5).
TEST_F(ProxyRewritePlugin, AdminApiRejectsBadRegex) {
  HttpResponse r = admin_call(
      admin_, "PUT", "/apisix/admin/routes/bad",
      R"j({"uri":"/test/*","plugins":{"proxy-rewrite":{"regex_uri":["^/test/(.*)","/$`1"]}},
          "upstream":{"type":"roundrobin","nodes":{"127.0.0.1:1980":1}}})j");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("failed to check the configuration of plugin proxy-rewrite err: invalid "
                        "regex_uri(^/test/(.*), /$`1): failed to compile the replacement "
                        "template"),
            std::string::npos)
      << r.body;
}

}  // namespace
}  // namespace apisix::test
