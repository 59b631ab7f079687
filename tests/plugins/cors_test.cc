// cors through the real binary (plugins.md §5.9): the examples of APISIX's
// docs/en/latest/plugins/cors.md (origin list, regex, plugin metadata) with routes written over
// the Admin API and a local upstream, the preflight answered without the upstream, headers on
// responses of other plugins, and the allow_credential check of the Admin API.

#include <string>

#include <gtest/gtest.h>

#include "tests/harness/http_codec.h"
#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

class CorsPlugin : public PluginTest {
 protected:
  HttpResponse request(std::string_view method, std::string_view origin, Headers headers = {}) {
    headers.add("Host", "example.com");
    if (!origin.empty()) {
      headers.add("Origin", std::string(origin));
    }
    return fetch(port_, make_request(method, "/anything", headers));
  }

  // Waits until `origin` gets `allowed` as Access-Control-Allow-Origin (configuration applied).
  void wait_allowed(std::string_view origin, std::string_view allowed) {
    wait_for_response(
        [&] { return request("GET", origin); },
        [&](const HttpResponse& r) { return r.header("Access-Control-Allow-Origin") == allowed; });
  }
};

// "Enable CORS for a Route".
TEST_F(CorsPlugin, EnablesCorsForAListOfOrigins) {
  write("PUT", "/apisix/admin/routes/cors-route", route(R"({"cors":{
      "allow_origins":"http://sub.domain.com,http://sub2.domain.com",
      "allow_methods":"GET,POST","allow_headers":"headr1,headr2",
      "expose_headers":"ex-headr1,ex-headr2","max_age":50,"allow_credential":true}})"));
  wait_allowed("http://sub2.domain.com", "http://sub2.domain.com");

  HttpResponse allowed = request("GET", "http://sub2.domain.com");
  EXPECT_EQ(allowed.status, 200);
  EXPECT_EQ(allowed.body, "hello world");
  EXPECT_EQ(allowed.header("Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(allowed.header("Vary"), "Origin");
  EXPECT_EQ(allowed.header("Access-Control-Allow-Methods"), "GET,POST");
  EXPECT_EQ(allowed.header("Access-Control-Max-Age"), "50");
  EXPECT_EQ(allowed.header("Access-Control-Expose-Headers"), "ex-headr1,ex-headr2");
  EXPECT_EQ(allowed.header("Access-Control-Allow-Headers"), "headr1,headr2");

  HttpResponse refused = request("GET", "http://sub3.domain.com");
  EXPECT_EQ(refused.status, 200);
  EXPECT_EQ(refused.header("Vary"), "Origin");
  for (const char* name : {"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
                           "Access-Control-Allow-Methods", "Access-Control-Max-Age",
                           "Access-Control-Expose-Headers", "Access-Control-Allow-Headers"}) {
    EXPECT_FALSE(refused.headers.has(name)) << name;
  }
}

// "Use RegEx to Match Origin".
TEST_F(CorsPlugin, MatchesOriginsByRegex) {
  write("PUT", "/apisix/admin/routes/cors-route", route(R"({"cors":{
      "allow_methods":"GET,POST","allow_headers":"headr1,headr2",
      "expose_headers":"ex-headr1,ex-headr2","max_age":50,
      "allow_origins_by_regex":[".*\\.test.com$"]}})"));
  wait_allowed("http://a.test.com", "http://a.test.com");

  HttpResponse allowed = request("GET", "http://a.test.com");
  EXPECT_EQ(allowed.header("Access-Control-Allow-Methods"), "GET,POST");
  EXPECT_EQ(allowed.header("Access-Control-Max-Age"), "50");
  EXPECT_EQ(allowed.header("Access-Control-Expose-Headers"), "ex-headr1,ex-headr2");
  EXPECT_EQ(allowed.header("Access-Control-Allow-Headers"), "headr1,headr2");

  HttpResponse refused = request("GET", "http://a.test2.com");
  EXPECT_EQ(refused.status, 200);
  EXPECT_FALSE(refused.headers.has("Access-Control-Allow-Origin"));
  EXPECT_FALSE(refused.headers.has("Access-Control-Allow-Methods"));
}

// "Configure Origins in Plugin Metadata".
TEST_F(CorsPlugin, ReadsOriginsFromPluginMetadata) {
  write("PUT", "/apisix/admin/plugin_metadata/cors", R"({"allow_origins":{
      "key_1":"https://domain.com",
      "key_2":"https://sub.domain.com,https://sub2.domain.com","key_3":"*"}})");
  write("PUT", "/apisix/admin/routes/cors-route", route(R"({"cors":{
      "allow_methods":"GET,POST","allow_headers":"headr1,headr2",
      "expose_headers":"ex-headr1,ex-headr2","max_age":50,
      "allow_origins_by_metadata":["key_1"]}})"));
  wait_allowed("https://domain.com", "https://domain.com");

  HttpResponse allowed = request("GET", "https://domain.com");
  EXPECT_EQ(allowed.header("Access-Control-Allow-Methods"), "GET,POST");
  EXPECT_EQ(allowed.header("Access-Control-Max-Age"), "50");
  EXPECT_EQ(allowed.header("Access-Control-Allow-Headers"), "headr1,headr2");

  HttpResponse refused = request("GET", "http://a.test2.com");
  EXPECT_EQ(refused.status, 200);
  EXPECT_FALSE(refused.headers.has("Access-Control-Allow-Origin"));
  // The doc shows "Vary: Origin" here, but cors.lua adds Vary only when allow_origins is not
  // "*", and this route keeps the default "*".
  EXPECT_FALSE(refused.headers.has("Vary"));

  // A metadata change reaches the route: key_1 now lists another origin.
  write("PUT", "/apisix/admin/plugin_metadata/cors",
        R"({"allow_origins":{"key_1":"https://other.com"}})");
  wait_allowed("https://other.com", "https://other.com");
  EXPECT_FALSE(request("GET", "https://domain.com").headers.has("Access-Control-Allow-Origin"));
}

// cors.t TEST 14: an OPTIONS request is answered by the plugin, 200 with no body, and gets the
// CORS headers; the upstream never sees it.
TEST_F(CorsPlugin, AnswersPreflightWithoutTheUpstream) {
  write("PUT", "/apisix/admin/routes/cors-route",
        route(R"({"cors":{"allow_origins":"**","allow_methods":"**","allow_headers":"**"}})"));
  wait_allowed("http://x.example", "http://x.example");
  size_t seen = upstream_.request_count();

  HttpResponse preflight = request(
      "OPTIONS", "http://x.example",
      {{"Access-Control-Request-Method", "PUT"}, {"Access-Control-Request-Headers", "x-a,x-b"}});
  EXPECT_EQ(preflight.status, 200);
  EXPECT_EQ(preflight.body, "");
  EXPECT_EQ(preflight.header("Access-Control-Allow-Origin"), "http://x.example");
  EXPECT_EQ(preflight.header("Access-Control-Allow-Methods"),
            "GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS,CONNECT,TRACE");
  EXPECT_EQ(preflight.header("Access-Control-Allow-Headers"), "x-a,x-b");
  EXPECT_EQ(preflight.header("Access-Control-Max-Age"), "5");
  EXPECT_EQ(upstream_.request_count(), seen);
}

// cors.t TEST 15-16: a rejection by another plugin still carries the CORS headers.
TEST_F(CorsPlugin, RejectionsOfOtherPluginsCarryTheHeaders) {
  write("PUT", "/apisix/admin/routes/cors-route",
        route(R"({"key-auth":{},"cors":{"allow_origins":"**","allow_methods":"**",
                  "allow_headers":"*","expose_headers":"*"}})"));
  ASSERT_TRUE(
      wait_until([&] { return request("GET", "https://sub.domain.com").status == 401; }, 5s));
  HttpResponse r = request("GET", "https://sub.domain.com");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://sub.domain.com");
  EXPECT_EQ(r.header("Access-Control-Allow-Methods"),
            "GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS,CONNECT,TRACE");
  EXPECT_EQ(r.header("Access-Control-Allow-Headers"), "*");
  EXPECT_EQ(r.header("Access-Control-Expose-Headers"), "*");
}

// cors.t TEST 24-27: "*" with allow_credential is refused when written.
TEST_F(CorsPlugin, AdminRefusesStarWithCredentials) {
  for (const char* conf :
       {R"({"allow_origins":"*","allow_credential":true})",
        R"({"allow_origins":"http://a.com","allow_methods":"*","allow_headers":"h",
            "allow_credential":true})",
        R"({"allow_origins":"http://a.com","allow_methods":"GET","allow_headers":"h",
            "expose_headers":"*","allow_credential":true})"}) {
    HttpResponse r = admin_call(admin_, "PUT", "/apisix/admin/routes/cors-route",
                                route(std::string(R"({"cors":)") + conf + "}"));
    EXPECT_EQ(r.status, 400) << conf;
    EXPECT_NE(r.body.find("failed to check the configuration of plugin cors err: you can not "
                          "set '*' for other option when 'allow_credential' is true"),
              std::string::npos)
        << r.body;
  }
}

}  // namespace
}  // namespace apisix::test
