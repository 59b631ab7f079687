// limit-req through the real binary (plugins.md §5.3): the examples of APISIX's doc page
// (docs/en/latest/plugins/limit-req.md) with local upstreams — 1 request per second per
// remote address, throttling with a burst (delayed) and without it (nodelay), per remote
// address and consumer — plus the Redis policy shared by two gateway processes through one
// real redis-server.

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "tests/harness/redis_server.h"
#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

// Doc: "Apply Rate Limiting by Remote Address": 1 QPS, no burst, nodelay.
TEST(LimitReqPlugin, OneRequestPerSecondPerRemoteAddress) {
  UpstreamServer upstream;
  Gateway gw;
  ASSERT_TRUE(gw.start());
  ASSERT_TRUE(gw.put("/apisix/admin/routes/limit-req-route",
                     route("/get", R"({"limit-req":{"rate":1,"burst":0,"key":"remote_addr",
                           "key_type":"var","rejected_code":429,"policy":"local",
                           "nodelay":true}})",
                           upstream)));
  // The first request the route answers takes this second's quota; the next, at once, is
  // over it.
  HttpResponse first;
  ASSERT_TRUE(wait_until(
      [&] {
        first = get(gw.port, "/get");
        return first.status != 404;
      },
      5s));
  EXPECT_EQ(first.status, 200);
  HttpResponse second = get(gw.port, "/get");
  EXPECT_EQ(second.status, 429);
  EXPECT_NE(second.body.find("429 Too Many Requests"), std::string::npos) << second.body;
  EXPECT_EQ(upstream.request_count(), 1u);
}

// Doc: "Implement API Throttling": with burst 1 three sequential requests all pass (the
// excess one is held about a second); with nodelay the ones beyond the rate are rejected.
TEST(LimitReqPlugin, BurstThrottlesThenNodelayRejects) {
  UpstreamServer upstream;
  Gateway gw;
  ASSERT_TRUE(gw.start());
  ASSERT_TRUE(gw.put("/apisix/admin/routes/limit-req-route",
                     route("/get", R"({"limit-req":{"rate":1,"burst":1,"key":"http_x_client",
                           "rejected_code":429,"policy":"local"}})",
                           upstream)));
  ASSERT_TRUE(routed(gw.port, "/get", {{"X-Client", "probe"}}));
  const Headers client = {{"X-Client", "c1"}};
  auto start = Clock::now();
  int ok = 0;
  for (int i = 0; i < 3; ++i) {
    ok += get(gw.port, "/get", client).status == 200 ? 1 : 0;
  }
  EXPECT_EQ(ok, 3) << "200 responses: 3 ; 429 responses: 0";
  EXPECT_GE(Clock::now() - start, 1500ms) << "the burst requests were held";

  ASSERT_TRUE(gw.call("PATCH", "/apisix/admin/routes/limit-req-route",
                      R"({"plugins":{"limit-req":{"rate":1,"burst":1,"key":"http_x_client",
                          "rejected_code":429,"policy":"local","nodelay":true}}})"));
  // The new configuration is live once a probe is rejected without being held.
  const Headers probe = {{"X-Client", "probe-2"}};
  ASSERT_TRUE(wait_until(
      [&] {
        get(gw.port, "/get", probe);
        return get(gw.port, "/get", probe).status == 429;
      },
      10s));
  const Headers fresh = {{"X-Client", "c2"}};
  int admitted = 0;
  int rejected = 0;
  start = Clock::now();
  for (int i = 0; i < 3; ++i) {
    int status = get(gw.port, "/get", fresh).status;
    admitted += status == 200 ? 1 : 0;
    rejected += status == 429 ? 1 : 0;
  }
  ASSERT_LT(Clock::now() - start, 1s) << "nodelay: nothing was held (else the bucket drains)";
  EXPECT_EQ(admitted, 2) << "the rate's request and the burst's";
  EXPECT_EQ(rejected, 1);
}

// Doc: "Apply Rate Limiting by Remote Address and Consumer Name" with key-auth.
TEST(LimitReqPlugin, RatePerRemoteAddressAndConsumer) {
  UpstreamServer upstream;
  Gateway gw;
  ASSERT_TRUE(gw.start());
  ASSERT_TRUE(gw.put("/apisix/admin/consumers", R"({"username":"john"})"));
  ASSERT_TRUE(gw.put("/apisix/admin/consumers/john/credentials/cred-john-key-auth",
                     R"({"plugins":{"key-auth":{"key":"john-key"}}})"));
  ASSERT_TRUE(gw.put("/apisix/admin/consumers", R"({"username":"jane"})"));
  ASSERT_TRUE(gw.put("/apisix/admin/consumers/jane/credentials/cred-jane-key-auth",
                     R"({"plugins":{"key-auth":{"key":"jane-key"}}})"));
  ASSERT_TRUE(gw.put("/apisix/admin/routes/limit-req-route",
                     route("/get", R"({"key-auth":{},"limit-req":{"rate":1,"burst":0,
                           "key":"$remote_addr $consumer_name","key_type":"var_combination",
                           "rejected_code":429,"policy":"local"}})",
                           upstream)));
  HttpResponse jane;
  ASSERT_TRUE(wait_until(
      [&] {
        jane = get(gw.port, "/get", {{"apikey", "jane-key"}});
        return jane.status != 404;
      },
      5s));
  EXPECT_EQ(jane.status, 200) << jane.describe();
  EXPECT_EQ(get(gw.port, "/get", {{"apikey", "john-key"}}).status, 200);
  EXPECT_EQ(get(gw.port, "/get", {{"apikey", "jane-key"}}).status, 429);
  EXPECT_EQ(get(gw.port, "/get", {{"apikey", "john-key"}}).status, 429);
}

// The Redis policy: two gateways with the same route drain one bucket.
TEST(LimitReqPlugin, RedisPolicySharesTheBucketBetweenTwoGateways) {
  RedisServer redis;
  ASSERT_TRUE(redis.ok()) << redis.error();
  UpstreamServer upstream;
  Gateway first;
  Gateway second;
  ASSERT_TRUE(first.start());
  ASSERT_TRUE(second.start());
  const std::string body = route("/get",
                                 R"({"limit-req":{"rate":1,"burst":0,"key":"http_x_client",
                                     "rejected_code":429,"nodelay":true,"policy":"redis",
                                     "redis_host":"127.0.0.1","redis_port":)" +
                                     std::to_string(redis.port()) + "}}",
                                 upstream);
  ASSERT_TRUE(first.put("/apisix/admin/routes/limit-req-route", body));
  ASSERT_TRUE(second.put("/apisix/admin/routes/limit-req-route", body));
  ASSERT_TRUE(routed(first.port, "/get", {{"X-Client", "probe-1"}}));
  ASSERT_TRUE(routed(second.port, "/get", {{"X-Client", "probe-2"}}));

  const Headers client = {{"X-Client", "shared"}};
  EXPECT_EQ(get(first.port, "/get", client).status, 200);
  HttpResponse other = get(second.port, "/get", client);
  EXPECT_EQ(other.status, 429) << "the second gateway drains the same bucket";
  // One bucket for the shared client: "limit_req:<resource key>:<conf version>:shared".
  EXPECT_EQ(redis.command({"EVAL", "return #redis.call('KEYS', 'limit_req:*:shared')", "0"}), ":1");
}

}  // namespace
}  // namespace apisix::test
