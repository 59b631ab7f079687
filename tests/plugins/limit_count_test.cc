// limit-count through the real binary (plugins.md §5.2): the examples of APISIX's doc page
// (docs/en/latest/plugins/limit-count.md) with local upstreams — quota per remote address,
// per remote address and consumer, a quota shared by routes through `group`, custom header
// names from plugin metadata, the sliding window — plus the Redis policy shared by two
// gateway processes through one real redis-server, counters shared by a gateway's workers,
// and counters that survive an unrelated edit of the route but restart when the plugin's
// configuration changes (§0.6).

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "tests/harness/redis_server.h"
#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

// The first response of `target` that the route (not the 404 of an unknown route) answered.
// Routes apply a moment after the Admin API wrote them; with one worker, every later request
// sees the route too.
HttpResponse first_routed(uint16_t port, const std::string& target, Headers headers = {}) {
  HttpResponse last;
  wait_until(
      [&] {
        last = get(port, target, headers);
        return last.ok() && last.status != 404;
      },
      5s);
  return last;
}

TEST(LimitCountPlugin, TwoPerMinuteThenRejectedWithHeaders) {
  UpstreamServer upstream;
  Gateway gw;
  ASSERT_TRUE(gw.start());
  ASSERT_TRUE(gw.put("/apisix/admin/routes/1",
                     route("/hello", R"({"limit-count":{"count":2,"time_window":60,
                           "rejected_code":503,"key":"remote_addr"}})",
                           upstream)));
  HttpResponse first = first_routed(gw.port, "/hello");
  ASSERT_EQ(first.status, 200) << first.describe();
  EXPECT_EQ(first.body, "hello world");
  EXPECT_EQ(first.header("X-RateLimit-Limit"), "2");
  EXPECT_EQ(first.header("X-RateLimit-Remaining"), "1");
  EXPECT_EQ(first.header("X-RateLimit-Reset"), "60");

  HttpResponse second = get(gw.port, "/hello");
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.header("X-RateLimit-Limit"), "2");
  EXPECT_EQ(second.header("X-RateLimit-Remaining"), "0");

  HttpResponse third = get(gw.port, "/hello");
  EXPECT_EQ(third.status, 503) << third.describe();
  EXPECT_NE(third.body.find("503 Service Temporarily Unavailable"), std::string::npos)
      << third.body;
  EXPECT_EQ(third.header("X-RateLimit-Limit"), "2");
  EXPECT_EQ(third.header("X-RateLimit-Remaining"), "0");
  double reset = std::stod(third.header("X-RateLimit-Reset"));
  EXPECT_GT(reset, 50);
  EXPECT_LE(reset, 60);
  EXPECT_EQ(upstream.request_count(), 2u) << "the rejected request never reached the upstream";
}

// Doc: "Apply Rate Limiting by Remote Address" (quota 1 per 30 s, 429), with rejected_msg.
TEST(LimitCountPlugin, QuotaOfOneRejectsWith429AndMessage) {
  UpstreamServer upstream;
  Gateway gw;
  ASSERT_TRUE(gw.start());
  ASSERT_TRUE(gw.put("/apisix/admin/routes/limit-count-route",
                     route("/get", R"({"limit-count":{"count":1,"time_window":30,
                           "rejected_code":429,"key_type":"var","key":"remote_addr",
                           "policy":"local","rejected_msg":"Requests are too frequent"}})",
                           upstream)));
  HttpResponse first = first_routed(gw.port, "/get");
  EXPECT_EQ(first.status, 200);
  HttpResponse second = get(gw.port, "/get");
  EXPECT_EQ(second.status, 429);
  EXPECT_EQ(second.body, "{\"error_msg\":\"Requests are too frequent\"}\n");
  EXPECT_EQ(second.header("X-RateLimit-Remaining"), "0");
}

// Doc: "Apply Rate Limiting by Remote Address and Consumer Name" with key-auth.
TEST(LimitCountPlugin, QuotaPerRemoteAddressAndConsumer) {
  UpstreamServer upstream;
  Gateway gw;
  ASSERT_TRUE(gw.start());
  ASSERT_TRUE(gw.put("/apisix/admin/consumers", R"({"username":"john"})"));
  ASSERT_TRUE(gw.put("/apisix/admin/consumers/john/credentials/cred-john-key-auth",
                     R"({"plugins":{"key-auth":{"key":"john-key"}}})"));
  ASSERT_TRUE(gw.put("/apisix/admin/consumers", R"({"username":"jane"})"));
  ASSERT_TRUE(gw.put("/apisix/admin/consumers/jane/credentials/cred-jane-key-auth",
                     R"({"plugins":{"key-auth":{"key":"jane-key"}}})"));
  ASSERT_TRUE(gw.put("/apisix/admin/routes/limit-count-route",
                     route("/get", R"({"key-auth":{},"limit-count":{"count":1,"time_window":30,
                           "rejected_code":429,"key_type":"var_combination",
                           "key":"$remote_addr $consumer_name"}})",
                           upstream)));
  HttpResponse jane = first_routed(gw.port, "/get", {{"apikey", "jane-key"}});
  EXPECT_EQ(jane.status, 200) << jane.describe();
  EXPECT_EQ(get(gw.port, "/get", {{"apikey", "jane-key"}}).status, 429);
  EXPECT_EQ(get(gw.port, "/get", {{"apikey", "john-key"}}).status, 200);
  EXPECT_EQ(get(gw.port, "/get", {{"apikey", "john-key"}}).status, 429);
}

// Doc: "Share Quota among Routes": a service's limit-count with `group`, two routes using it.
TEST(LimitCountPlugin, GroupSharesQuotaAmongRoutes) {
  UpstreamServer upstream;
  Gateway gw;
  ASSERT_TRUE(gw.start());
  ASSERT_TRUE(gw.put("/apisix/admin/services/limit-count-service",
                     R"({"plugins":{"limit-count":{"count":1,"time_window":30,"rejected_code":429,
                         "policy":"local","group":"srv1"}},"upstream":)" +
                         upstream_of(upstream) + "}"));
  ASSERT_TRUE(gw.put("/apisix/admin/routes/limit-count-route-1",
                     R"({"service_id":"limit-count-service","uri":"/get1"})"));
  ASSERT_TRUE(gw.put("/apisix/admin/routes/limit-count-route-2",
                     R"({"service_id":"limit-count-service","uri":"/get2"})"));
  HttpResponse first = first_routed(gw.port, "/get1");
  EXPECT_EQ(first.status, 200) << first.describe();
  HttpResponse second = first_routed(gw.port, "/get2");
  EXPECT_EQ(second.status, 429) << "the two routes share one quota";
}

// Doc: "Customize Rate Limiting Headers" through plugin metadata.
TEST(LimitCountPlugin, MetadataRenamesTheHeaders) {
  UpstreamServer upstream;
  Gateway gw;
  ASSERT_TRUE(gw.start());
  ASSERT_TRUE(gw.put("/apisix/admin/plugin_metadata/limit-count",
                     R"({"limit_header":"X-Custom-RateLimit-Limit",
                         "remaining_header":"X-Custom-RateLimit-Remaining",
                         "reset_header":"X-Custom-RateLimit-Reset"})"));
  ASSERT_TRUE(gw.put("/apisix/admin/routes/limit-count-route",
                     route("/get", R"({"limit-count":{"count":1,"time_window":30,
                           "rejected_code":429,"key_type":"var","key":"remote_addr"}})",
                           upstream)));
  HttpResponse r = first_routed(gw.port, "/get");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Custom-RateLimit-Limit"), "1");
  EXPECT_EQ(r.header("X-Custom-RateLimit-Remaining"), "0");
  EXPECT_EQ(r.header("X-Custom-RateLimit-Reset"), "30");
  EXPECT_FALSE(r.headers.has("X-RateLimit-Limit"));
}

// Doc: "Apply Sliding Window Rate Limiting": 10 per 60 s, the 11th is rejected.
TEST(LimitCountPlugin, SlidingWindowRejectsTheEleventh) {
  UpstreamServer upstream;
  Gateway gw;
  ASSERT_TRUE(gw.start());
  ASSERT_TRUE(gw.put("/apisix/admin/routes/limit-count-route",
                     route("/get", R"({"limit-count":{"count":10,"time_window":60,
                           "rejected_code":429,"key":"remote_addr","window_type":"sliding"}})",
                           upstream)));
  EXPECT_EQ(first_routed(gw.port, "/get").status, 200);
  for (int i = 2; i <= 10; ++i) {
    EXPECT_EQ(get(gw.port, "/get").status, 200) << "request " << i;
  }
  HttpResponse eleventh = get(gw.port, "/get");
  EXPECT_EQ(eleventh.status, 429);
  EXPECT_EQ(eleventh.header("X-RateLimit-Remaining"), "0");
}

// §0.6: an unrelated change of the route (its name and upstream) keeps the counter; a change
// of the plugin's own configuration starts a new one.
TEST(LimitCountPlugin, CountersSurviveUnrelatedRouteChangesAndResetOnConfChange) {
  UpstreamServer a(named_upstream("a"));
  UpstreamServer b(named_upstream("b"));
  Gateway gw;
  ASSERT_TRUE(gw.start());
  const std::string plugins = R"({"limit-count":{"count":100,"time_window":60}})";
  ASSERT_TRUE(gw.put("/apisix/admin/routes/1", route("/hello", plugins, a, R"(,"name":"one")")));
  HttpResponse r = first_routed(gw.port, "/hello");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-RateLimit-Remaining"), "99");
  int sent = 1;

  // Rename the route and move it to upstream b: every request until b answers is still
  // counted by the same counter.
  ASSERT_TRUE(gw.put("/apisix/admin/routes/1", route("/hello", plugins, b, R"(,"name":"two")")));
  bool moved = wait_until(
      [&] {
        r = get(gw.port, "/hello");
        ++sent;
        return r.header("X-Upstream-Name") == "b";
      },
      5s);
  ASSERT_TRUE(moved) << r.describe();
  EXPECT_EQ(r.header("X-RateLimit-Limit"), "100");
  EXPECT_EQ(r.header("X-RateLimit-Remaining"), std::to_string(100 - sent))
      << "the counter went on across the unrelated change";

  // A new limit-count configuration (count 101) counts afresh.
  ASSERT_TRUE(gw.put(
      "/apisix/admin/routes/1",
      route("/hello", R"({"limit-count":{"count":101,"time_window":60}})", b, R"(,"name":"two")")));
  bool changed = wait_until(
      [&] {
        r = get(gw.port, "/hello");
        return r.header("X-RateLimit-Limit") == "101";
      },
      5s);
  ASSERT_TRUE(changed) << r.describe();
  EXPECT_EQ(r.header("X-RateLimit-Remaining"), "100");
}

// The workers of one gateway share the counter: requests spread over fresh connections (so
// over both workers) admit exactly `count`.
TEST(LimitCountPlugin, WorkersShareOneCounter) {
  UpstreamServer upstream;
  Gateway gw;
  ASSERT_TRUE(gw.start(2));
  ASSERT_TRUE(gw.put("/apisix/admin/routes/1",
                     route("/hello", R"({"limit-count":{"count":20,"time_window":60,
                           "key_type":"constant","key":"all"}})",
                           upstream)));
  int admitted = 0;
  int rejected = 0;
  wait_until(
      [&] {
        HttpResponse r = get(gw.port, "/hello");
        admitted += r.status == 200 ? 1 : 0;
        rejected += r.status == 503 ? 1 : 0;
        return rejected >= 20;
      },
      10s, 1ms);
  EXPECT_EQ(admitted, 20);
  EXPECT_GE(rejected, 20);
  EXPECT_EQ(upstream.request_count(), 20u);
}

// Doc: "Share Quota Among APISIX Nodes with a Redis Server": two gateway processes with the
// same route share the quota through one Redis.
TEST(LimitCountPlugin, RedisPolicySharesTheQuotaBetweenTwoGateways) {
  RedisServer redis;
  ASSERT_TRUE(redis.ok()) << redis.error();
  UpstreamServer upstream;
  Gateway first;
  Gateway second;
  ASSERT_TRUE(first.start());
  ASSERT_TRUE(second.start());
  const std::string body = route("/get",
                                 R"({"limit-count":{"count":3,"time_window":30,"rejected_code":429,
                "key":"remote_addr","policy":"redis","redis_host":"127.0.0.1","redis_port":)" +
                                     std::to_string(redis.port()) + "}}",
                                 upstream);
  ASSERT_TRUE(first.put("/apisix/admin/routes/limit-count-route", body));
  ASSERT_TRUE(second.put("/apisix/admin/routes/limit-count-route", body));

  HttpResponse a1 = first_routed(first.port, "/get");
  EXPECT_EQ(a1.status, 200) << a1.describe();
  EXPECT_EQ(a1.header("X-RateLimit-Remaining"), "2");
  EXPECT_EQ(a1.header("X-RateLimit-Reset"), "30");
  HttpResponse b1 = first_routed(second.port, "/get");
  EXPECT_EQ(b1.status, 200) << b1.describe();
  EXPECT_EQ(b1.header("X-RateLimit-Remaining"), "1") << "the second gateway sees the first's";
  HttpResponse a2 = get(first.port, "/get");
  EXPECT_EQ(a2.status, 200);
  EXPECT_EQ(a2.header("X-RateLimit-Remaining"), "0");
  HttpResponse b2 = get(second.port, "/get");
  EXPECT_EQ(b2.status, 429);
  EXPECT_EQ(b2.header("X-RateLimit-Remaining"), "0");
  // One counter key in Redis, under APISIX's layout.
  EXPECT_EQ(redis.command({"EVAL", "return #redis.call('KEYS', 'plugin-limit-count:v1:*')", "0"}),
            ":1");
}

TEST(LimitCountPlugin, RedisSlidingWindowIsSharedToo) {
  RedisServer redis;
  ASSERT_TRUE(redis.ok()) << redis.error();
  UpstreamServer upstream;
  Gateway first;
  Gateway second;
  ASSERT_TRUE(first.start());
  ASSERT_TRUE(second.start());
  const std::string body =
      route("/get",
            R"({"limit-count":{"count":2,"time_window":60,"window_type":"sliding",
                "policy":"redis","redis_host":"127.0.0.1","redis_port":)" +
                std::to_string(redis.port()) + "}}",
            upstream);
  ASSERT_TRUE(first.put("/apisix/admin/routes/1", body));
  ASSERT_TRUE(second.put("/apisix/admin/routes/1", body));
  EXPECT_EQ(first_routed(first.port, "/get").status, 200);
  EXPECT_EQ(first_routed(second.port, "/get").status, 200);
  EXPECT_EQ(get(first.port, "/get").status, 503);
  EXPECT_EQ(get(second.port, "/get").status, 503);
}

// §5.1: a Redis that is down fails the request with 500 {"error_msg":"failed to limit count"},
// unless allow_degradation lets it through.
TEST(LimitCountPlugin, RedisDownFailsUnlessDegradationIsAllowed) {
  RedisServer redis;
  ASSERT_TRUE(redis.ok()) << redis.error();
  UpstreamServer upstream;
  Gateway gw;
  ASSERT_TRUE(gw.start());
  const std::string redis_conf = R"(,"policy":"redis","redis_host":"127.0.0.1","redis_timeout":500,
      "redis_port":)" + std::to_string(redis.port());
  ASSERT_TRUE(
      gw.put("/apisix/admin/routes/strict",
             route("/strict", R"({"limit-count":{"count":5,"time_window":60)" + redis_conf + "}}",
                   upstream)));
  ASSERT_TRUE(
      gw.put("/apisix/admin/routes/lenient",
             route("/lenient",
                   R"({"limit-count":{"count":5,"time_window":60,"allow_degradation":true)" +
                       redis_conf + "}}",
                   upstream)));
  EXPECT_EQ(first_routed(gw.port, "/strict").status, 200);
  EXPECT_EQ(first_routed(gw.port, "/lenient").status, 200);
  redis.stop();
  HttpResponse strict = get(gw.port, "/strict");
  EXPECT_EQ(strict.status, 500);
  EXPECT_EQ(strict.body, "{\"error_msg\":\"failed to limit count\"}\n");
  HttpResponse lenient = get(gw.port, "/lenient");
  EXPECT_EQ(lenient.status, 200);
  EXPECT_FALSE(lenient.headers.has("X-RateLimit-Limit"));
}

}  // namespace
}  // namespace apisix::test
