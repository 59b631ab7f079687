// consumer-restriction through the real binary (plugins.md §4.5): the examples of APISIX's
// docs/en/latest/plugins/consumer-restriction.md, with consumers authenticated by key-auth,
// configured over the Admin API, in front of a local upstream.

#include <string>

#include <gtest/gtest.h>

#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

class ConsumerRestrictionPlugin : public PluginTest {
 protected:
  std::string upstream() const { return upstream_of(upstream_); }

  // A consumer `name` (extra consumer fields in `rest`) with a key-auth credential.
  void add_consumer(const std::string& name, const std::string& key, const std::string& rest = "") {
    write("PUT", "/apisix/admin/consumers", R"({"username":")" + name + "\"" + rest + "}");
    write("PUT", "/apisix/admin/consumers/" + name + "/credentials/cred-" + key,
          R"({"plugins":{"key-auth":{"key":")" + key + R"("}}})");
  }

  HttpResponse send(std::string_view method, std::string_view target, std::string_view key) {
    std::string request = std::string(method) + " " + std::string(target) +
                          " HTTP/1.1\r\nHost: example.com\r\napikey: " + std::string(key) +
                          "\r\nContent-Length: 0\r\n\r\n";
    return fetch(port_, request);
  }

  void wait_status(std::string_view method, std::string_view target, std::string_view key,
                   int status) {
    wait_for_response([&] { return send(method, target, key); },
                      [&](const HttpResponse& r) { return r.status == status; });
  }
};

// "Restrict Access by Consumers".
TEST_F(ConsumerRestrictionPlugin, WhitelistOfConsumerNames) {
  add_consumer("JohnDoe", "john-key");
  add_consumer("JaneDoe", "jane-key");
  write(
      "PUT", "/apisix/admin/routes/consumer-restricted-route",
      R"({"uri":"/get","plugins":{"key-auth":{},"consumer-restriction":{"whitelist":["JaneDoe"]}},)"
      R"("upstream":)" +
          upstream() + "}");
  wait_status("GET", "/get", "jane-key", 200);

  HttpResponse john = send("GET", "/get", "john-key");
  EXPECT_EQ(john.status, 403);
  EXPECT_EQ(john.body, "{\"message\":\"The consumer_name is forbidden.\"}\n");
  EXPECT_EQ(send("GET", "/get", "jane-key").status, 200);
  EXPECT_EQ(upstream_.last_request()->headers.value_or_empty("X-Consumer-Username"), "JaneDoe");
}

// "Restrict Access by Consumers and HTTP Methods".
TEST_F(ConsumerRestrictionPlugin, AllowedMethodsPerConsumer) {
  add_consumer("JohnDoe", "john-key");
  add_consumer("JaneDoe", "jane-key");
  write("PUT", "/apisix/admin/routes/consumer-restricted-route",
        R"({"uri":"/anything","plugins":{"key-auth":{},"consumer-restriction":{)"
        R"("allowed_by_methods":[{"user":"JohnDoe","methods":["GET"]},)"
        R"({"user":"JaneDoe","methods":["POST"]}]}},"upstream":)" +
            upstream() + "}");
  wait_status("GET", "/anything", "john-key", 200);

  HttpResponse john_post = send("POST", "/anything", "john-key");
  EXPECT_EQ(john_post.status, 403);
  EXPECT_EQ(john_post.body, "{\"message\":\"The consumer_name is forbidden.\"}\n");
  EXPECT_EQ(send("GET", "/anything", "john-key").status, 200);
  EXPECT_EQ(send("POST", "/anything", "jane-key").status, 200);
  EXPECT_EQ(send("GET", "/anything", "jane-key").status, 403);
}

// "Restricting by Service ID": the restriction sits on the consumer and applies once key-auth
// attached it (§1.2 step 4).
TEST_F(ConsumerRestrictionPlugin, ConsumerRestrictedToOneService) {
  write("PUT", "/apisix/admin/services/srv-1",
        R"({"plugins":{"key-auth":{}},"upstream":)" + upstream() + "}");
  write("PUT", "/apisix/admin/services/srv-2",
        R"({"plugins":{"key-auth":{}},"upstream":)" + upstream() + "}");
  add_consumer(
      "JohnDoe", "john-key",
      R"(,"plugins":{"consumer-restriction":{"type":"service_id","whitelist":["srv-1"]}})");
  write("PUT", "/apisix/admin/routes/srv-1-route", R"({"uri":"/anything","service_id":"srv-1"})");
  write("PUT", "/apisix/admin/routes/srv-2-route", R"({"uri":"/srv-2","service_id":"srv-2"})");
  wait_status("GET", "/srv-2", "john-key", 403);

  EXPECT_EQ(send("GET", "/anything", "john-key").status, 200);
  HttpResponse other = send("GET", "/srv-2", "john-key");
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(other.body, "{\"message\":\"The service_id is forbidden.\"}\n");
}

// A blacklist with its own answer; and no consumer at all is a 401 (APISIX
// t/plugin/consumer-restriction.t).
TEST_F(ConsumerRestrictionPlugin, BlacklistWithRejectedMessage) {
  add_consumer("jack", "jack-key");
  add_consumer("rose", "rose-key");
  write("PUT", "/apisix/admin/routes/r1",
        R"({"uri":"/hello","plugins":{"key-auth":{"anonymous_consumer":"rose"},)"
        R"("consumer-restriction":{"blacklist":["jack"],"rejected_code":401,)"
        R"("rejected_msg":"request is forbidden"}},"upstream":)" +
            upstream() + "}");
  wait_status("GET", "/hello", "rose-key", 200);

  HttpResponse jack = send("GET", "/hello", "jack-key");
  EXPECT_EQ(jack.status, 401);
  EXPECT_EQ(jack.body, "{\"message\":\"request is forbidden\"}\n");
  // A wrong key falls back to the anonymous consumer rose, who is not blacklisted.
  EXPECT_EQ(send("GET", "/hello", "nobody-key").status, 200);

  write("PUT", "/apisix/admin/routes/r2",
        R"({"uri":"/open","plugins":{"consumer-restriction":{"whitelist":["jack"]}},)"
        R"("upstream":)" +
            upstream() + "}");
  wait_status("GET", "/open", "jack-key", 401);
  EXPECT_EQ(send("GET", "/open", "jack-key").body,
            "{\"message\":\"The request is rejected, please check the consumer_name for this "
            "request\"}\n");
}

}  // namespace
}  // namespace apisix::test
