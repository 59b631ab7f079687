// basic-auth through the real binary (plugins.md §4.2, §3.1): the examples of APISIX's
// docs/en/latest/plugins/basic-auth.md with consumers, credentials and routes written over
// the Admin API and a local upstream that records what it receives.

#include <string>

#include <gtest/gtest.h>

#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

// `curl -u johndoe:john-key` sends this.
constexpr std::string_view kJohnAuthorization = "Basic am9obmRvZTpqb2huLWtleQ==";

class BasicAuthPlugin : public PluginTest {
 protected:
  // Consumer johndoe with credential cred-john-basic-auth: johndoe / john-key.
  void add_john(const std::string& consumer = R"({"username":"johndoe"})") {
    write("PUT", "/apisix/admin/consumers", consumer);
    write("PUT", "/apisix/admin/consumers/johndoe/credentials/cred-john-basic-auth",
          R"({"plugins":{"basic-auth":{"username":"johndoe","password":"john-key"}}})");
  }

  // GET /anything with `authorization` (none when empty).
  HttpResponse get(std::string_view authorization = {}) {
    Headers headers;
    if (!authorization.empty()) {
      headers.add("Authorization", std::string(authorization));
    }
    return PluginTest::get("/anything", headers);
  }

  void wait_status(std::string_view authorization, int status) {
    wait_for_response([&] { return get(authorization); },
                      [&](const HttpResponse& r) { return r.status == status; });
  }
};

// "Implement Basic Authentication on Route".
TEST_F(BasicAuthPlugin, ValidCredentialsReachTheUpstream) {
  add_john();
  write("PUT", "/apisix/admin/routes/basic-auth-route", route(R"({"basic-auth":{}})"));
  wait_status(kJohnAuthorization, 200);

  auto seen = upstream_.last_request();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->headers.value_or_empty("Authorization"), kJohnAuthorization);
  EXPECT_EQ(seen->headers.value_or_empty("X-Consumer-Username"), "johndoe");
  EXPECT_EQ(seen->headers.value_or_empty("X-Credential-Identifier"), "cred-john-basic-auth");

  // johndoe:invalid-password
  HttpResponse invalid = get("Basic am9obmRvZTppbnZhbGlkLXBhc3N3b3Jk");
  EXPECT_EQ(invalid.status, 401);
  EXPECT_EQ(invalid.body, "{\"message\":\"Invalid user authorization\"}\n");
  EXPECT_EQ(invalid.header("WWW-Authenticate"), "Basic realm=\"basic\"");

  HttpResponse missing = get();
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.body, "{\"message\":\"Missing authorization in request\"}\n");
  EXPECT_EQ(missing.header("WWW-Authenticate"), "Basic realm=\"basic\"");

  HttpResponse garbled = get("Basic aca_a");
  EXPECT_EQ(garbled.status, 401);
  EXPECT_EQ(garbled.body, "{\"message\":\"Invalid authorization in request\"}\n");
}

// "Hide Authentication Information From Upstream".
TEST_F(BasicAuthPlugin, HideCredentialsDropsTheAuthorizationHeader) {
  add_john();
  write("PUT", "/apisix/admin/routes/basic-auth-route",
        route(R"({"basic-auth":{"hide_credentials":false}})"));
  wait_status(kJohnAuthorization, 200);
  EXPECT_EQ(upstream_.last_request()->headers.value_or_empty("Authorization"), kJohnAuthorization);

  write("PATCH", "/apisix/admin/routes/basic-auth-route",
        R"({"plugins":{"basic-auth":{"hide_credentials":true}}})");
  ASSERT_TRUE(wait_until(
      [&] {
        return get(kJohnAuthorization).status == 200 &&
               !upstream_.last_request()->headers.has("Authorization");
      },
      5s));
  auto seen = upstream_.last_request();
  EXPECT_EQ(seen->headers.value_or_empty("X-Consumer-Username"), "johndoe");
  EXPECT_EQ(seen->headers.value_or_empty("X-Credential-Identifier"), "cred-john-basic-auth");
}

// "Add Consumer Custom ID to Header".
TEST_F(BasicAuthPlugin, ConsumerCustomIdGoesUpstream) {
  add_john(R"({"username":"johndoe","labels":{"custom_id":"495aec6a"}})");
  write("PUT", "/apisix/admin/routes/basic-auth-route", route(R"({"basic-auth":{}})"));
  wait_status(kJohnAuthorization, 200);
  auto seen = upstream_.last_request();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->headers.value_or_empty("X-Consumer-Custom-ID"), "495aec6a");
  EXPECT_EQ(seen->headers.value_or_empty("X-Consumer-Username"), "johndoe");
}

// A custom realm (APISIX t/plugin/basic-auth-realm.t).
TEST_F(BasicAuthPlugin, CustomRealmIsAnnounced) {
  add_john();
  write("PUT", "/apisix/admin/routes/basic-auth-route",
        route(R"({"basic-auth":{"realm":"secure-zone"}})"));
  wait_status(kJohnAuthorization, 200);
  HttpResponse missing = get();
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.header("WWW-Authenticate"), "Basic realm=\"secure-zone\"");
}

// "Rate Limit with Anonymous Consumer" (needs limit-count on consumers, §5.2).
TEST_F(BasicAuthPlugin, AnonymousConsumerHasItsOwnRateLimit) {
  add_john(R"({"username":"johndoe","plugins":{"limit-count":{"count":3,"time_window":30,)"
           R"("rejected_code":429,"policy":"local"}}})");
  write("PUT", "/apisix/admin/routes/basic-auth-route",
        route(R"({"basic-auth":{"anonymous_consumer":"anonymous"}})"));
  // Until the anonymous consumer exists, a request without credentials is refused (§3.1).
  wait_status({}, 401);
  HttpResponse refused = get();
  EXPECT_EQ(refused.body, "{\"message\":\"Invalid user authorization\"}\n");
  EXPECT_EQ(refused.header("WWW-Authenticate"), "Basic realm=\"basic\"");

  write("PUT", "/apisix/admin/consumers",
        R"({"username":"anonymous","plugins":{"limit-count":{"count":1,"time_window":30,)"
        R"("rejected_code":429,"policy":"local"}}})");
  // The first request let through is the anonymous consumer's one allowed request.
  wait_status({}, 200);
  EXPECT_EQ(upstream_.last_request()->headers.value_or_empty("X-Consumer-Username"), "anonymous");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(get().status, 429) << i;
  }

  int ok = 0;
  int limited = 0;
  for (int i = 0; i < 5; ++i) {
    int status = get(kJohnAuthorization).status;
    ok += status == 200 ? 1 : 0;
    limited += status == 429 ? 1 : 0;
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(limited, 2);
}

}  // namespace
}  // namespace apisix::test
