// key-auth through the real binary (plugins.md §4.1, §3.1): the examples of APISIX's
// docs/en/latest/plugins/key-auth.md with consumers, credentials and routes written over the
// Admin API and a local upstream that records what it receives.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

class KeyAuthPlugin : public PluginTest {
 protected:
  // Consumer jack with credential cred-jack-key-auth holding jack-key.
  void add_jack(const std::string& consumer = R"({"username":"jack"})") {
    write("PUT", "/apisix/admin/consumers", consumer);
    write("PUT", "/apisix/admin/consumers/jack/credentials/cred-jack-key-auth",
          R"({"plugins":{"key-auth":{"key":"jack-key"}}})");
  }

  // Waits until the route answers `target` with `status` (the configuration is applied).
  void wait_status(std::string_view target, const Headers& headers, int status) {
    wait_for_response([&] { return get(target, headers); },
                      [&](const HttpResponse& r) { return r.status == status; });
  }
};

// "Implement Key Authentication on Route".
TEST_F(KeyAuthPlugin, KeyInHeaderAuthenticatesTheRoute) {
  add_jack();
  write("PUT", "/apisix/admin/routes/key-auth-route", route(R"({"key-auth":{}})"));
  wait_status("/anything", {{"apikey", "jack-key"}}, 200);

  HttpResponse ok = get("/anything", {{"apikey", "jack-key"}});
  EXPECT_EQ(ok.status, 200);
  auto seen = upstream_.last_request();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->headers.value_or_empty("X-Consumer-Username"), "jack");
  EXPECT_EQ(seen->headers.value_or_empty("X-Credential-Identifier"), "cred-jack-key-auth");
  EXPECT_FALSE(seen->headers.has("X-Consumer-Custom-ID"));
  EXPECT_EQ(seen->headers.value_or_empty("apikey"), "jack-key");

  HttpResponse wrong = get("/anything", {{"apikey", "wrong-key"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body, "{\"message\":\"Invalid API key in request\"}\n");
  EXPECT_EQ(wrong.header("WWW-Authenticate"), "apikey realm=\"key\"");

  HttpResponse missing = get("/anything");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.body, "{\"message\":\"Missing API key in request\"}\n");
  EXPECT_EQ(missing.header("WWW-Authenticate"), "apikey realm=\"key\"");
}

// "Hide Authentication Information From Upstream".
TEST_F(KeyAuthPlugin, HideCredentialsKeepsTheKeyFromTheUpstream) {
  add_jack();
  write("PUT", "/apisix/admin/routes/key-auth-route",
        route(R"({"key-auth":{"hide_credentials":false}})"));
  wait_status("/anything?apikey=jack-key", {}, 200);
  auto seen = upstream_.last_request();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->target, "/anything?apikey=jack-key");
  EXPECT_EQ(seen->headers.value_or_empty("X-Consumer-Username"), "jack");

  write("PATCH", "/apisix/admin/routes/key-auth-route",
        R"({"plugins":{"key-auth":{"hide_credentials":true}}})");
  ASSERT_TRUE(wait_until(
      [&] {
        return get("/anything?apikey=jack-key&other=1").status == 200 &&
               upstream_.last_request()->target == "/anything?other=1";
      },
      5s))
      << upstream_.last_request()->target;
  EXPECT_EQ(get("/anything?apikey=jack-key").status, 200);
  EXPECT_EQ(upstream_.last_request()->target, "/anything");
  EXPECT_EQ(upstream_.last_request()->headers.value_or_empty("X-Credential-Identifier"),
            "cred-jack-key-auth");

  // From the header, the header goes and the rest stays.
  EXPECT_EQ(get("/anything", {{"apikey", "jack-key"}, {"test", "auth-two"}}).status, 200);
  seen = upstream_.last_request();
  EXPECT_FALSE(seen->headers.has("apikey"));
  EXPECT_EQ(seen->headers.value_or_empty("test"), "auth-two");
}

// "Demonstrate Priority of Header and Query".
TEST_F(KeyAuthPlugin, HeaderKeyWinsOverQueryKey) {
  add_jack();
  write("PUT", "/apisix/admin/routes/key-auth-route", route(R"({"key-auth":{"query":"auth"}})"));
  wait_status("/anything?auth=jack-key", {}, 200);

  HttpResponse wrong = get("/anything?auth=wrong-key");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body, "{\"message\":\"Invalid API key in request\"}\n");
  EXPECT_EQ(get("/anything?auth=wrong-key", {{"apikey", "jack-key"}}).status, 200);
}

// "Add Consumer Custom ID to Header"; clients cannot spoof the consumer headers.
TEST_F(KeyAuthPlugin, ConsumerCustomIdGoesUpstream) {
  add_jack(R"({"username":"jack","labels":{"custom_id":"495aec6a"}})");
  write("PUT", "/apisix/admin/routes/key-auth-route", route(R"({"key-auth":{}})"));
  wait_status("/anything?apikey=jack-key", {}, 200);

  EXPECT_EQ(get("/anything?apikey=jack-key",
                {{"X-Consumer-Username", "admin"}, {"X-Consumer-Custom-ID", "spoofed"}})
                .status,
            200);
  auto seen = upstream_.last_request();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->headers.all("X-Consumer-Username"), std::vector<std::string>{"jack"});
  EXPECT_EQ(seen->headers.all("X-Consumer-Custom-ID"), std::vector<std::string>{"495aec6a"});
  EXPECT_EQ(seen->headers.value_or_empty("X-Credential-Identifier"), "cred-jack-key-auth");
}

// "Rate Limit with Anonymous Consumer" (needs limit-count on consumers, §5.2).
TEST_F(KeyAuthPlugin, AnonymousConsumerHasItsOwnRateLimit) {
  add_jack(R"({"username":"jack","plugins":{"limit-count":{"count":3,"time_window":30,)"
           R"("rejected_code":429,"policy":"local"}}})");
  write("PUT", "/apisix/admin/routes/key-auth-route",
        route(R"({"key-auth":{"anonymous_consumer":"anonymous"}})"));
  // Until the anonymous consumer exists, a request without key is refused (§3.1).
  wait_status("/anything", {}, 401);
  HttpResponse refused = get("/anything");
  EXPECT_EQ(refused.body, "{\"message\":\"Invalid user authorization\"}\n");
  EXPECT_EQ(refused.header("WWW-Authenticate"), "apikey realm=\"key\"");

  write("PUT", "/apisix/admin/consumers",
        R"({"username":"anonymous","plugins":{"limit-count":{"count":1,"time_window":30,)"
        R"("rejected_code":429,"policy":"local"}}})");
  // The first request let through is the anonymous consumer's one allowed request.
  wait_status("/anything", {}, 200);
  auto seen = upstream_.last_request();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->headers.value_or_empty("X-Consumer-Username"), "anonymous");
  EXPECT_FALSE(seen->headers.has("X-Credential-Identifier"));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(get("/anything").status, 429) << i;
  }

  int ok = 0;
  int limited = 0;
  for (int i = 0; i < 5; ++i) {
    int status = get("/anything", {{"apikey", "jack-key"}}).status;
    ok += status == 200 ? 1 : 0;
    limited += status == 429 ? 1 : 0;
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(limited, 2);
}

}  // namespace
}  // namespace apisix::test
