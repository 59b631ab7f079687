// redirect through the real binary (plugins.md §5.13): the examples of APISIX's
// docs/en/latest/plugins/redirect.md (fixed URI, URI with variables, HTTP to HTTPS) plus
// regex_uri, append_query_string and the Admin API's extra check, with routes written over the
// Admin API and a local upstream that must not be called when the plugin answers.

#include <string>

#include <gtest/gtest.h>

#include "tests/harness/http_codec.h"
#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

class RedirectPlugin : public PluginTest {
 protected:
  void put_route(const std::string& uri, const std::string& plugins) {
    write("PUT", "/apisix/admin/routes/1", test::route(uri, plugins, upstream_));
  }

  HttpResponse send(std::string_view method, std::string_view target, Headers headers = {}) {
    headers.add("Host", "example.com");
    return fetch(port_, make_request(method, target, headers));
  }

  // Waits until GET `target` is answered with `status` (the route is applied).
  HttpResponse answered(std::string_view target, int status, Headers headers = {}) {
    return wait_for_response([&] { return send("GET", target, headers); },
                             [&](const HttpResponse& r) { return r.status == status; });
  }
};

// "Enable Plugin" / "Example usage": a fixed URI with ret_code 301.
TEST_F(RedirectPlugin, RedirectsToAFixedUri) {
  put_route("/test/index.html", R"({"redirect":{"uri":"/test/default.html","ret_code":301}})");
  HttpResponse r = answered("/test/index.html", 301);
  EXPECT_EQ(r.header("Location"), "/test/default.html");
  EXPECT_EQ(r.header("Content-Type").rfind("text/html", 0), 0u) << r.header("Content-Type");
  EXPECT_NE(r.body.find("301 Moved Permanently"), std::string::npos) << r.body;
  EXPECT_EQ(upstream_.request_count(), 0u);
}

// "You can also use any built-in Nginx variables in the new URI".
TEST_F(RedirectPlugin, RedirectsToAUriWithVariables) {
  put_route("/test", R"({"redirect":{"uri":"$uri/index.html","ret_code":301}})");
  HttpResponse r = answered("/test", 301);
  EXPECT_EQ(r.header("Location"), "/test/index.html");
}

// "The example below shows how you can redirect HTTP to HTTPS".
TEST_F(RedirectPlugin, RedirectsHttpToHttps) {
  put_route("/hello", R"({"redirect":{"http_to_https":true}})");
  HttpResponse r = answered("/hello?a=1", 301);
  EXPECT_EQ(r.header("Location"), "https://example.com/hello?a=1");
  HttpResponse post = send("POST", "/hello");
  EXPECT_EQ(post.status, 308);
  EXPECT_EQ(post.header("Location"), "https://example.com/hello");
  // Already HTTPS behind a proxy: the request goes on to the upstream.
  HttpResponse forwarded = send("GET", "/hello", {{"X-Forwarded-Proto", "https"}});
  EXPECT_EQ(forwarded.status, 200);
  EXPECT_EQ(forwarded.body, "hello world");
}

// plugin_attr.redirect.https_port picks the port of the HTTPS URL.
TEST(RedirectPluginAttr, UsesTheConfiguredHttpsPort) {
  GatewayProcess gateway;
  GatewayOptions options;
  options.config_yaml =
      embedded_admin_config(1, "plugin_attr:\n  redirect:\n    https_port: 9443\n");
  ASSERT_TRUE(gateway.start(options));
  HttpResponse put = admin_call(gateway.admin_port(), "PUT", "/apisix/admin/routes/1",
                                R"({"uri":"/hello","plugins":{"redirect":{"http_to_https":true}},
                     "upstream":{"type":"roundrobin","nodes":{"127.0.0.1:1980":1}}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  HttpResponse last;
  ASSERT_TRUE(wait_until(
      [&] {
        last = http_get(gateway.http_port(), "/hello");
        return last.status == 301;
      },
      5s))
      << last.describe();
  EXPECT_EQ(last.header("Location"), "https://example.com:9443/hello");
}

TEST_F(RedirectPlugin, RegexUriRedirectsOnMatchOnly) {
  put_route("/*", R"j({"redirect":{"regex_uri":["^/iresty/(.*)/(.*)","/$1-$2"],
      "append_query_string":true}})j");
  HttpResponse r = answered("/iresty/a/b?x=1", 302);
  EXPECT_EQ(r.header("Location"), "/a-b?x=1");
  HttpResponse miss = send("GET", "/other");
  EXPECT_EQ(miss.status, 200);
  EXPECT_EQ(miss.body, "hello world");
}

TEST_F(RedirectPlugin, EncodesAndAppendsTheQuery) {
  put_route("/old", R"({"redirect":{"uri":"/new path?from=old","encode_uri":true,
      "append_query_string":true}})");
  HttpResponse r = answered("/old?a=1", 302);
  EXPECT_EQ(r.header("Location"), "/new%20path?from=old&a=1");
}

TEST_F(RedirectPlugin, AdminApiRejectsHttpsWithQueryString) {
  HttpResponse r = admin_call(admin_, "PUT", "/apisix/admin/routes/1",
                              R"({"uri":"/hello","plugins":{"redirect":{"http_to_https":true,
                                  "append_query_string":true}},
                                  "upstream":{"nodes":{"127.0.0.1:1980":1}}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("failed to check the configuration of plugin redirect err: only one of "
                        "`http_to_https` and `append_query_string` can be configured."),
            std::string::npos)
      << r.body;
}

}  // namespace
}  // namespace apisix::test
