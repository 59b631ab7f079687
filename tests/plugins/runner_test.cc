// The plugin runner through the real binary: which instance runs when the same plugin is
// configured on several objects (plugins.md §1.3), the order of the phases and of global
// rules against the route (§1.2), and `_meta` (§2). Each test names the spec rule it shows.
//
// `echo`'s before_body tells which instance answered: every instance prepends its own text.

#include <string>

#include <gtest/gtest.h>

#include "tests/harness/admin_client.h"
#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

class PluginRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    GatewayOptions options;
    options.config_yaml = embedded_admin_config(2);
    ASSERT_TRUE(gateway_.start(options));
    admin_ = gateway_.admin_port();
    ASSERT_EQ(put("/apisix/admin/upstreams/u", R"({"nodes":{")" + origin_.address() + R"(":1}})"),
              201);
  }
  int put(std::string_view path, const std::string& body) {
    HttpResponse r = admin_call(admin_, "PUT", path, body);
    EXPECT_TRUE(r.status == 200 || r.status == 201) << path << ": " << r.status << " " << r.body;
    return r.status;
  }
  static std::string echo(std::string_view text, std::string_view meta = {}) {
    std::string out = R"("echo":{"before_body":")" + std::string(text) + "\"";
    if (!meta.empty()) {
      out += R"(,"_meta":)" + std::string(meta);
    }
    return out + "}";
  }
  HttpResponse get(std::string_view target, Headers headers = {{"Host", "example.com"}}) {
    return http_get(gateway_.http_port(), target, headers);
  }

  UpstreamServer origin_;
  GatewayProcess gateway_;
  uint16_t admin_ = 0;
};

// §1.3: the route's instance overrides the service's of the same name entirely; a plugin
// only on the service still runs.
TEST_F(PluginRunner, RouteOverridesService) {
  put("/apisix/admin/services/s", R"({"upstream_id":"u","plugins":{)" + echo("service ") + "}}");
  put("/apisix/admin/routes/1",
      R"({"uri":"/both","service_id":"s","plugins":{)" + echo("route ") + "}}");
  put("/apisix/admin/routes/2", R"({"uri":"/service-only","service_id":"s"})");
  EXPECT_EQ(get("/both").body, "route hello world");
  EXPECT_EQ(get("/service-only").body, "service hello world");
}

// §1.3: precedence Route > Plugin Config > Service.
TEST_F(PluginRunner, PluginConfigSitsBetweenRouteAndService) {
  put("/apisix/admin/services/s", R"({"upstream_id":"u","plugins":{)" + echo("service ") + "}}");
  put("/apisix/admin/plugin_configs/pc", R"({"plugins":{)" + echo("config ") + "}}");
  put("/apisix/admin/routes/1", R"({"uri":"/a","service_id":"s","plugin_config_id":"pc"})");
  put("/apisix/admin/routes/2", R"({"uri":"/b","service_id":"s","plugin_config_id":"pc",
                                    "plugins":{)" +
                                    echo("route ") + "}}");
  EXPECT_EQ(get("/a").body, "config hello world");
  EXPECT_EQ(get("/b").body, "route hello world");
  // A plugin_config change reaches the routes that use it.
  put("/apisix/admin/plugin_configs/pc", R"({"plugins":{)" + echo("config2 ") + "}}");
  EXPECT_EQ(get("/a").body, "config2 hello world");
}

// §1.3: Consumer > Consumer Group > Route; §3.1 the consumer's plugins merge in after an auth
// plugin identified it, and the consumer headers reach the upstream.
TEST_F(PluginRunner, ConsumerOverridesGroupOverridesRoute) {
  put("/apisix/admin/consumer_groups/g", R"({"plugins":{)" + echo("group ") + "}}");
  put("/apisix/admin/consumers",
      R"({"username":"jack","group_id":"g","labels":{"custom_id":"c-1"},
          "plugins":{"key-auth":{"key":"jack-key"},)" +
          echo("jack ") + "}}");
  put("/apisix/admin/consumers", R"({"username":"rose","group_id":"g",
                                     "plugins":{"key-auth":{"key":"rose-key"}}})");
  put("/apisix/admin/consumers", R"({"username":"tom","plugins":{"key-auth":{"key":"tom-key"}}})");
  put("/apisix/admin/routes/1", R"({"uri":"/hello","upstream_id":"u",
                                    "plugins":{"key-auth":{},)" +
                                    echo("route ") + "}}");
  EXPECT_EQ(get("/hello", {{"Host", "x"}, {"apikey", "jack-key"}}).body, "jack hello world");
  EXPECT_EQ(get("/hello", {{"Host", "x"}, {"apikey", "rose-key"}}).body, "group hello world");
  EXPECT_EQ(get("/hello", {{"Host", "x"}, {"apikey", "tom-key"}}).body, "route hello world");

  auto seen = origin_.last_request();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->headers.get("X-Consumer-Username"), "tom");
  get("/hello", {{"Host", "x"}, {"apikey", "jack-key"}, {"X-Consumer-Custom-ID", "forged"}});
  seen = origin_.last_request();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->headers.get("X-Consumer-Username"), "jack");
  EXPECT_EQ(seen->headers.get("X-Consumer-Custom-ID"), "c-1");
}

// §1.3: `_meta.disable` on the consumer's instance is applied after the merge, so it hides
// the route's instance too.
TEST_F(PluginRunner, DisabledConsumerInstanceHidesTheRoutes) {
  put("/apisix/admin/consumers", R"({"username":"jack","plugins":{"key-auth":{"key":"k"},)" +
                                     echo("jack ", R"({"disable":true})") + "}}");
  put("/apisix/admin/routes/1", R"({"uri":"/hello","upstream_id":"u",
                                    "plugins":{"key-auth":{},)" +
                                    echo("route ") + "}}");
  EXPECT_EQ(get("/hello", {{"Host", "x"}, {"apikey", "k"}}).body, "hello world");
}

// §1.3: a global rule's instance runs as well as the route's (twice in all); §1.2 step 8:
// in the filter phases global rules run first, so the route's text ends up in front.
TEST_F(PluginRunner, GlobalRuleRunsBeforeTheRouteInEachPhase) {
  put("/apisix/admin/global_rules/1", R"({"plugins":{)" + echo("global ") + "}}");
  put("/apisix/admin/routes/1",
      R"({"uri":"/hello","upstream_id":"u","plugins":{)" + echo("route ") + "}}");
  put("/apisix/admin/routes/2", R"({"uri":"/plain","upstream_id":"u"})");
  EXPECT_EQ(get("/hello").body, "route global hello world");
  EXPECT_EQ(get("/plain").body, "global hello world");
  // Global rules run even when no route matches (the 404 goes out as it is).
  EXPECT_EQ(get("/nothing").status, 404);
}

// §1.3: the same plugin in two global rules runs in neither. The Admin API refuses such a
// write (core.md §3.10); a standalone file can still hold it.
TEST_F(PluginRunner, PluginInTwoGlobalRulesRunsInNeither) {
  put("/apisix/admin/global_rules/1", R"({"plugins":{)" + echo("one ") + "}}");
  put("/apisix/admin/routes/1", R"({"uri":"/hello","upstream_id":"u"})");
  EXPECT_EQ(get("/hello").body, "one hello world");
  HttpResponse refused = admin_call(admin_, "PUT", "/apisix/admin/global_rules/2",
                                    R"({"plugins":{)" + echo("two ") + "}}");
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("plugin 'echo' already exists in global rule with id '1'"),
            std::string::npos)
      << refused.body;

  GatewayProcess file_gateway;
  GatewayOptions options;
  options.routes_yaml =
      "routes:\n  - id: r\n    uri: /hello\n    upstream:\n      nodes:\n        \"" +
      origin_.address() +
      "\": 1\nglobal_rules:\n  - id: g1\n    plugins:\n      echo:\n"
      "        before_body: \"one \"\n  - id: g2\n    plugins:\n      echo:\n"
      "        before_body: \"two \"\n      response-rewrite:\n"
      "        headers:\n          set:\n            X-Global: \"yes\"\n#END\n";
  ASSERT_TRUE(file_gateway.start(options));
  HttpResponse r = http_get(file_gateway.http_port(), "/hello");
  EXPECT_EQ(r.body, "hello world");             // echo: in both rules, runs in neither
  EXPECT_EQ(r.headers.get("X-Global"), "yes");  // the rules' other plugins still run
}

// §1.2: after an exit in rewrite, later request phases do not run but header_filter,
// body_filter and log still run for the whole chain (here: echo decorates key-auth's 401);
// §2: `_meta.error_response` replaces the body of that exit and keeps its headers.
TEST_F(PluginRunner, ExitStillRunsFiltersAndErrorResponseReplacesTheBody) {
  put("/apisix/admin/routes/1", R"({"uri":"/hello","upstream_id":"u",
                                    "plugins":{"key-auth":{},)" +
                                    echo("echo ") + "}}");
  HttpResponse r = get("/hello");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "echo {\"message\":\"Missing API key in request\"}\n");
  EXPECT_EQ(origin_.request_count(), 0u);

  put("/apisix/admin/routes/1", R"({"uri":"/hello","upstream_id":"u",
      "plugins":{"key-auth":{"_meta":{"error_response":{"message":"who are you"}}}}})");
  r = get("/hello");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "{\"message\":\"who are you\"}\n");
}

// §2: `_meta.filter` runs the instance only for requests that satisfy it.
TEST_F(PluginRunner, MetaFilterSelectsRequests) {
  put("/apisix/admin/routes/1", R"({"uri":"/hello","upstream_id":"u","plugins":{)" +
                                    echo("v2 ", R"({"filter":[["arg_version","==","v2"]]})") +
                                    "}}");
  EXPECT_EQ(get("/hello?version=v2").body, "v2 hello world");
  EXPECT_EQ(get("/hello?version=v1").body, "hello world");
}

// §1.1: `_meta.priority` reorders the chain. response-rewrite (899) normally filters the body
// before echo (412): echo's text lands in front of the replaced body; with echo raised above
// it, response-rewrite's replacement comes last and wins.
TEST_F(PluginRunner, MetaPriorityReordersTheChain) {
  put("/apisix/admin/routes/1", R"({"uri":"/default","upstream_id":"u",
      "plugins":{"response-rewrite":{"body":"new body"},)" +
                                    echo("echo ") + "}}");
  put("/apisix/admin/routes/2", R"({"uri":"/raised","upstream_id":"u",
      "plugins":{"response-rewrite":{"body":"new body"},)" +
                                    echo("echo ", R"({"priority":1000})") + "}}");
  EXPECT_EQ(get("/default").body, "echo new body");
  EXPECT_EQ(get("/raised").body, "new body");
}

// §1.5: unknown plugins and schema failures are refused at write time with APISIX's texts;
// a disabled instance's schema failure is tolerated.
TEST_F(PluginRunner, WriteTimeChecks) {
  HttpResponse r = admin_call(admin_, "PUT", "/apisix/admin/routes/1",
                              R"({"uri":"/x","plugins":{"no-such-plugin":{}}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("unknown plugin [no-such-plugin]"), std::string::npos) << r.body;
  r = admin_call(admin_, "PUT", "/apisix/admin/routes/1",
                 R"({"uri":"/x","plugins":{"limit-count":{"count":0,"time_window":1}}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("failed to check the configuration of plugin limit-count err: "),
            std::string::npos)
      << r.body;
  r = admin_call(admin_, "PUT", "/apisix/admin/routes/1",
                 R"({"uri":"/x","plugins":{"limit-count":{"count":0,"_meta":{"disable":true}}}})");
  EXPECT_EQ(r.status, 201) << r.body;
  // Checks beyond the JSON schema come from the plugin's own compile().
  r = admin_call(
      admin_, "PUT", "/apisix/admin/routes/3",
      R"({"uri":"/z","plugins":{"response-rewrite":{"body":"%%%","body_base64":true}}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("failed to check the configuration of plugin response-rewrite err: "),
            std::string::npos)
      << r.body;
  r = admin_call(
      admin_, "PUT", "/apisix/admin/routes/2",
      R"({"uri":"/y","plugins":{"echo":{"body":"x","_meta":{"filter":[["a","~=~","b"]]}}}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("failed to validate the 'vars' expression"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace apisix::test
