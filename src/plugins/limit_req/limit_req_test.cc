// limit-req (plugins.md §5.3): the schema's verdicts with APISIX's messages, compile()'s
// refusals, and the access phase on fake requests: rejection, the delay of burst requests
// (and nodelay), keys, buckets kept across recompiles (§0.6) and Redis failures (§5.1).

#include "plugins/limit_req/limit_req.h"

#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "plugins/limit_count/limiter_test_support.h"
#include "plugins/runtime.h"
#include "redis/client.h"

namespace apisix::plugins {
namespace {

using limiter_test::compile_conf;
using limiter_test::context;
using limiter_test::run_access;
using limiter_test::TestRequest;
using Clock = std::chrono::steady_clock;

std::optional<std::string> schema_error(std::string_view conf) {
  return limiter_test::schema_error("limit-req", conf);
}

std::shared_ptr<const Plugin> make(std::string_view conf, CompileContext ctx) {
  return limiter_test::compile_or_null("limit-req", conf, std::move(ctx));
}

int status_of(const Plugin& plugin, std::string_view headers = {},
              std::string remote = "127.0.0.1") {
  TestRequest request(headers, std::move(remote));
  PhaseResult r = run_access(plugin, *request);
  return r ? r->status : 200;
}

// t/plugin/limit-req.t.
TEST(LimitReqPlugin, SchemaVerdictsAndDefaults) {
  EXPECT_EQ(schema_error(R"({"rate":1,"burst":0,"key":"remote_addr"})"), std::nullopt);
  EXPECT_EQ(schema_error(R"({"rate":-1,"burst":1,"key":"remote_addr"})"),
            "property \"rate\" validation failed: expected -1 to be greater than 0");
  EXPECT_EQ(schema_error(R"({"rate":0,"burst":1,"key":"remote_addr"})"),
            "property \"rate\" validation failed: expected 0 to be greater than 0");
  EXPECT_EQ(schema_error(R"({"rate":1,"burst":0})"), "property \"key\" is required");
  EXPECT_EQ(schema_error(R"({"rate":1,"burst":0,"key":"k","key_type":"constant"})"),
            "property \"key_type\" validation failed: matches none of the enum values");
  static const Registry registry;
  auto conf = boost::json::parse(R"({"rate":1,"burst":0,"key":"remote_addr"})");
  ASSERT_EQ(registry.schema_of("limit-req")->validate(conf), std::nullopt);
  EXPECT_EQ(conf.at("key_type"), "var");
  EXPECT_EQ(conf.at("policy"), "local");
  EXPECT_EQ(conf.at("rejected_code"), 503);
  EXPECT_EQ(conf.at("nodelay"), false);
  EXPECT_EQ(conf.at("allow_degradation"), false);
}

TEST(LimitReqPlugin, CompileRefusesRedisCluster) {
  RuntimeState runtime;
  CompileContext ctx = context(&runtime);
  auto compiled = compile_conf("limit-req", R"({"rate":1,"burst":0,"key":"remote_addr",
      "policy":"redis-cluster","redis_cluster_nodes":["127.0.0.1:7000"],"redis_cluster_name":"c"})",
                               ctx);
  ASSERT_FALSE(compiled);
  EXPECT_EQ(
      compiled.error().context,
      "policy \"redis-cluster\" is not supported by this gateway; use \"local\" or \"redis\"");
}

// The doc's first example: 1 request per second with no burst; the next is rejected at once.
TEST(LimitReqPlugin, RateWithoutBurstRejectsTheSecondRequest) {
  RuntimeState runtime;
  auto plugin = make(R"({"rate":1,"burst":0,"key":"remote_addr","rejected_code":429,
                         "nodelay":true})",
                     context(&runtime));
  ASSERT_TRUE(plugin);
  EXPECT_EQ(status_of(*plugin), 200);
  TestRequest second;
  PhaseResult r = run_access(*plugin, *second);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->body, std::nullopt);
  // Another client address has its own bucket.
  EXPECT_EQ(status_of(*plugin, {}, "10.0.0.2"), 200);
}

TEST(LimitReqPlugin, RejectedMsgIsTheBody) {
  RuntimeState runtime;
  auto plugin = make(R"({"rate":1,"burst":0,"key":"remote_addr","rejected_msg":"slow down"})",
                     context(&runtime));
  ASSERT_TRUE(plugin);
  EXPECT_EQ(status_of(*plugin), 200);
  TestRequest second;
  PhaseResult r = run_access(*plugin, *second);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "{\"error_msg\":\"slow down\"}\n");
}

// Requests arriving together on one worker: `status` and when each finished.
struct Outcome {
  int status = 0;
  Clock::duration took{};
};

std::vector<Outcome> arrive_together(const Plugin& plugin, int n) {
  core::Loop loop;
  std::vector<std::unique_ptr<TestRequest>> requests;
  std::vector<Outcome> outcomes(n);
  int finished = 0;
  const auto start = Clock::now();
  auto one = [&](int i) -> core::Task<void> {
    Request& request = **requests[i];
    request.loop = &loop;
    PhaseResult r = co_await plugin.access(request);
    outcomes[i] = Outcome{r ? r->status : 200, Clock::now() - start};
    if (++finished == n) {
      loop.stop();
    }
  };
  for (int i = 0; i < n; ++i) {
    requests.push_back(std::make_unique<TestRequest>());
  }
  for (int i = 0; i < n; ++i) {
    core::spawn(one(i));
  }
  if (finished < n) {
    loop.run();
  }
  EXPECT_EQ(finished, n);
  return outcomes;
}

// The doc's throttling example, faster: the burst request waits excess / rate seconds (here
// 1 / 5 r/s = 200 ms) and the one beyond the burst is rejected at once; with nodelay the
// burst request goes on at once.
TEST(LimitReqPlugin, BurstRequestsAreDelayedUnlessNodelay) {
  RuntimeState runtime;
  auto delayed = make(R"({"rate":5,"burst":1,"key":"remote_addr"})",
                      context(&runtime, "/apisix/routes/delayed"));
  ASSERT_TRUE(delayed);
  std::vector<Outcome> got = arrive_together(*delayed, 3);
  EXPECT_EQ(got[0].status, 200);
  EXPECT_LT(got[0].took, std::chrono::milliseconds(100)) << "the first is not held";
  EXPECT_EQ(got[1].status, 200);
  EXPECT_GE(got[1].took, std::chrono::milliseconds(180)) << "the burst request is held";
  EXPECT_EQ(got[2].status, 503) << "beyond the burst";
  EXPECT_LT(got[2].took, std::chrono::milliseconds(100)) << "rejected at once";

  auto immediate = make(R"({"rate":5,"burst":1,"key":"remote_addr","nodelay":true})",
                        context(&runtime, "/apisix/routes/immediate"));
  ASSERT_TRUE(immediate);
  got = arrive_together(*immediate, 3);
  EXPECT_EQ(got[0].status, 200);
  EXPECT_EQ(got[1].status, 200);
  EXPECT_LT(got[1].took, std::chrono::milliseconds(100)) << "nodelay: not held";
  EXPECT_EQ(got[2].status, 503);
}

// §5.1 with limit-req: var_combination of two variables, the address when none resolves.
TEST(LimitReqPlugin, VarCombinationKeys) {
  RuntimeState runtime;
  auto plugin = make(R"({"rate":1,"burst":0,"key_type":"var_combination",
                         "key":"$remote_addr $http_x_consumer","nodelay":true})",
                     context(&runtime));
  ASSERT_TRUE(plugin);
  EXPECT_EQ(status_of(*plugin, "X-Consumer: jane\r\n"), 200);
  EXPECT_EQ(status_of(*plugin, "X-Consumer: john\r\n"), 200);
  EXPECT_EQ(status_of(*plugin, "X-Consumer: jane\r\n"), 503);
  EXPECT_EQ(status_of(*plugin, "X-Consumer: john\r\n"), 503);
}

// §0.6: the same configuration of the same resource keeps its buckets across recompiles.
TEST(LimitReqPlugin, BucketsSurviveRecompileAndResetOnNewConfVersion) {
  RuntimeState runtime;
  const char* conf = R"({"rate":1,"burst":0,"key":"remote_addr","nodelay":true})";
  auto before = make(conf, context(&runtime, "/apisix/routes/1", "7"));
  ASSERT_TRUE(before);
  EXPECT_EQ(status_of(*before), 200);
  auto same = make(conf, context(&runtime, "/apisix/routes/1", "7"));
  ASSERT_TRUE(same);
  EXPECT_EQ(status_of(*same), 503);
  auto changed = make(conf, context(&runtime, "/apisix/routes/1", "8"));
  ASSERT_TRUE(changed);
  EXPECT_EQ(status_of(*changed), 200);
}

TEST(LimitReqPlugin, RedisFailuresAnswer500UnlessDegradationIsAllowed) {
  RuntimeState runtime;
  auto plugin = make(R"({"rate":1,"burst":0,"key":"remote_addr","policy":"redis",
                         "redis_host":"127.0.0.1","redis_port":1,"redis_timeout":500})",
                     context(&runtime));
  ASSERT_TRUE(plugin);
  TestRequest unreachable;
  PhaseResult r = limiter_test::run_access_with_redis(*plugin, *unreachable);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, std::nullopt);

  auto lenient = make(R"({"rate":1,"burst":0,"key":"remote_addr","policy":"redis",
                          "redis_host":"127.0.0.1","redis_port":1,"redis_timeout":500,
                          "allow_degradation":true})",
                      context(&runtime));
  ASSERT_TRUE(lenient);
  TestRequest passes;
  EXPECT_EQ(limiter_test::run_access_with_redis(*lenient, *passes), std::nullopt);
}

}  // namespace
}  // namespace apisix::plugins
