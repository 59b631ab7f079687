// limit-count (plugins.md §5.2): the schema's verdicts with APISIX's messages, the write-time
// checks of compile(), and the access phase on fake requests — fixed and sliding windows,
// keys (§5.1), rules, groups, headers, counters kept across recompiles (§0.6), degradation,
// and one counter shared by concurrent workers.

#include "plugins/limit_count/limit_count.h"

#include <atomic>
#include <thread>
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
using limiter_test::header;
using limiter_test::run_access;
using limiter_test::TestRequest;

std::optional<std::string> schema_error(std::string_view conf) {
  return limiter_test::schema_error("limit-count", conf);
}

std::string compile_error(std::string_view conf) {
  RuntimeState runtime;
  CompileContext ctx = context(&runtime);
  auto compiled = compile_conf("limit-count", conf, ctx);
  return compiled ? "(compiled)" : compiled.error().context;
}

std::shared_ptr<const Plugin> make(std::string_view conf, CompileContext ctx) {
  return limiter_test::compile_or_null("limit-count", conf, std::move(ctx));
}

// One request through access: its status (200 when it continued) and the request after it.
int status_of(const Plugin& plugin, Request& request) {
  PhaseResult r = run_access(plugin, request);
  return r ? r->status : 200;
}

int status_of(const Plugin& plugin, std::string_view headers = {},
              std::string remote = "127.0.0.1") {
  TestRequest request(headers, std::move(remote));
  return status_of(plugin, *request);
}

TEST(LimitCountPlugin, SchemaAcceptsTheDocExampleAndFillsDefaults) {
  EXPECT_EQ(schema_error(R"({"count":2,"time_window":60,"rejected_code":503,"key":"remote_addr"})"),
            std::nullopt);
  static const Registry registry;
  auto conf = boost::json::parse(R"({"count":2,"time_window":60})");
  ASSERT_EQ(registry.schema_of("limit-count")->validate(conf), std::nullopt);
  EXPECT_EQ(conf.at("key"), "remote_addr");
  EXPECT_EQ(conf.at("key_type"), "var");
  EXPECT_EQ(conf.at("rejected_code"), 503);
  EXPECT_EQ(conf.at("policy"), "local");
  EXPECT_EQ(conf.at("window_type"), "fixed");
  EXPECT_EQ(conf.at("allow_degradation"), false);
  EXPECT_EQ(conf.at("show_limit_quota_header"), true);
  EXPECT_EQ(conf.at("sync_interval"), -1);
}

// t/plugin/limit-count.t TEST 8, 9; limit-count2.t.
TEST(LimitCountPlugin, SchemaRejectsWithApisixMessages) {
  EXPECT_EQ(schema_error(R"({"time_window":60,"rejected_code":503})"),
            "value should match only one schema, but matches none");
  EXPECT_EQ(schema_error(R"({"count":-100,"time_window":60,"key":"remote_addr"})"),
            "property \"count\" validation failed: value should match only one schema, but "
            "matches none");
  EXPECT_EQ(schema_error(R"({"count":1,"time_window":60,"rejected_msg":true})"),
            "property \"rejected_msg\" validation failed: wrong type: expected string, got "
            "boolean");
  EXPECT_EQ(schema_error(R"({"count":1,"time_window":60,"rejected_msg":""})"),
            "property \"rejected_msg\" validation failed: string too short, expected at least 1, "
            "got 0");
  // t/plugin/limit-count-redis.t: the policy's fields are checked by the schema's if/then.
  EXPECT_EQ(schema_error(R"({"count":1,"time_window":60,"policy":"redis"})"),
            "then clause did not match");
  EXPECT_EQ(schema_error(R"({"count":1,"time_window":60,"policy":"redis","redis_host":"r"})"),
            "then clause did not match");
}

// limit-count-rules.t TEST 1, 2; limit-count.lua check_schema.
TEST(LimitCountPlugin, CompileRefusesWhatCheckSchemaRefuses) {
  EXPECT_EQ(compile_error(R"({"count":2,"rules":[{"count":1,"time_window":10,"key":"$a"}]})"),
            "count/time_window and rules cannot be specified at the same time");
  EXPECT_EQ(compile_error(R"({"group":"g","rules":[{"count":1,"time_window":10,"key":"$a"}]})"),
            "group and rules cannot be specified at the same time");
  EXPECT_EQ(compile_error(R"({"rules":[{"count":5,"time_window":10,"key":"${http_company}"},
                                       {"count":8,"time_window":20,"key":"${http_company}"}]})"),
            "duplicate key '${http_company}' in rules");
  EXPECT_EQ(compile_error(R"({"count":2,"time_window":60,"policy":"redis","redis_host":"127.0.0.1",
                              "sync_interval":0.05})"),
            "sync_interval should not be smaller than 0.1");
  EXPECT_EQ(compile_error(R"({"count":2,"time_window":60,"policy":"redis","redis_host":"127.0.0.1",
                              "sync_interval":60})"),
            "sync_interval should be smaller than time_window");
  // Only the Redis policies look at sync_interval.
  EXPECT_EQ(compile_error(R"({"count":2,"time_window":60,"sync_interval":0.05})"), "(compiled)");
  EXPECT_EQ(compile_error(R"({"count":2,"time_window":60,"policy":"redis","redis_host":"127.0.0.1",
                              "sync_interval":1})"),
            "(compiled)");
  EXPECT_EQ(
      compile_error(R"({"count":2,"time_window":60,"policy":"redis-cluster",
                              "redis_cluster_nodes":["127.0.0.1:7000"],"redis_cluster_name":"c"})"),
      "policy \"redis-cluster\" is not supported by this gateway; use \"local\" or \"redis\"");
  EXPECT_EQ(compile_error(R"({"count":2,"time_window":60,"policy":"redis-sentinel",
                              "redis_sentinels":[{"host":"127.0.0.1","port":26379}],
                              "redis_master_name":"m"})"),
            "policy \"redis-sentinel\" is not supported by this gateway; use \"local\" or "
            "\"redis\"");
}

// t/plugin/limit-count.t: 2 per 60 s -> 200, 200, 503; the headers on every response.
TEST(LimitCountPlugin, TwoPerMinuteThenRejectedWithHeaders) {
  RuntimeState runtime;
  auto plugin = make(R"({"count":2,"time_window":60,"rejected_code":503,"key":"remote_addr"})",
                     context(&runtime));
  ASSERT_TRUE(plugin);
  TestRequest first;
  EXPECT_EQ(status_of(*plugin, *first), 200);
  EXPECT_EQ(header(*first, "X-RateLimit-Limit"), "2");
  EXPECT_EQ(header(*first, "X-RateLimit-Remaining"), "1");
  EXPECT_EQ(header(*first, "X-RateLimit-Reset"), "60");

  TestRequest second;
  EXPECT_EQ(status_of(*plugin, *second), 200);
  EXPECT_EQ(header(*second, "X-RateLimit-Remaining"), "0");

  TestRequest third;
  PhaseResult rejected = run_access(*plugin, *third);
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->status, 503);
  EXPECT_EQ(rejected->body, std::nullopt) << "no rejected_msg: the default error page";
  EXPECT_EQ(header(*third, "X-RateLimit-Limit"), "2");
  EXPECT_EQ(header(*third, "X-RateLimit-Remaining"), "0");
  double reset = std::stod(header(*third, "X-RateLimit-Reset"));
  EXPECT_GT(reset, 55);
  EXPECT_LE(reset, 60);

  // Another client has its own quota.
  EXPECT_EQ(status_of(*plugin, {}, "10.0.0.2"), 200);
}

TEST(LimitCountPlugin, RejectedMsgAndCodeAndNoHeaders) {
  RuntimeState runtime;
  auto plugin = make(R"({"count":1,"time_window":60,"rejected_code":429,
                         "rejected_msg":"Requests are too frequent, please try again later.",
                         "show_limit_quota_header":false})",
                     context(&runtime));
  ASSERT_TRUE(plugin);
  TestRequest first;
  EXPECT_EQ(status_of(*plugin, *first), 200);
  EXPECT_EQ(header(*first, "X-RateLimit-Limit"), "(none)");
  TestRequest second;
  PhaseResult rejected = run_access(*plugin, *second);
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->status, 429);
  EXPECT_EQ(rejected->body,
            "{\"error_msg\":\"Requests are too frequent, please try again later.\"}\n");
  EXPECT_EQ(header(*second, "X-RateLimit-Remaining"), "(none)");
}

// §5.1: key_type var / var_combination / constant, and the client address when absent.
TEST(LimitCountPlugin, KeysAndTheirFallbackToTheClientAddress) {
  RuntimeState runtime;
  auto by_user = make(R"({"count":1,"time_window":60,"key":"http_x_user"})",
                      context(&runtime, "/apisix/routes/var"));
  ASSERT_TRUE(by_user);
  EXPECT_EQ(status_of(*by_user, "X-User: jack\r\n"), 200);
  EXPECT_EQ(status_of(*by_user, "X-User: jack\r\n"), 503);
  EXPECT_EQ(status_of(*by_user, "X-User: rose\r\n"), 200);
  // No header: counted by 127.0.0.1, a key of its own...
  EXPECT_EQ(status_of(*by_user), 200);
  EXPECT_EQ(status_of(*by_user), 503);
  // ...which is also what a user named "127.0.0.1" is counted by.
  EXPECT_EQ(status_of(*by_user, "X-User: 127.0.0.1\r\n"), 503);

  auto combined =
      make(R"({"count":1,"time_window":60,"key_type":"var_combination","key":"$http_a-$http_b"})",
           context(&runtime, "/apisix/routes/combination"));
  ASSERT_TRUE(combined);
  EXPECT_EQ(status_of(*combined, "A: 1\r\n"), 200);  // "1-"
  EXPECT_EQ(status_of(*combined, "B: 2\r\n"), 200);  // "-2"
  EXPECT_EQ(status_of(*combined, "A: 1\r\n"), 503);
  EXPECT_EQ(status_of(*combined, {}, "10.0.0.9"), 200);  // nothing resolved: the address
  EXPECT_EQ(status_of(*combined, {}, "10.0.0.9"), 503);

  auto constant = make(R"({"count":2,"time_window":60,"key_type":"constant","key":"all"})",
                       context(&runtime, "/apisix/routes/constant"));
  ASSERT_TRUE(constant);
  EXPECT_EQ(status_of(*constant, {}, "10.0.0.1"), 200);
  EXPECT_EQ(status_of(*constant, {}, "10.0.0.2"), 200);
  EXPECT_EQ(status_of(*constant, {}, "10.0.0.3"), 503);
}

// limit-count-rules.t TEST 4-6: rules apply only when their key resolves; the counts may be
// templates; headers carry the rule's prefix.
TEST(LimitCountPlugin, RulesWithTemplatesAndPrefixedHeaders) {
  RuntimeState runtime;
  auto plugin = make(R"({"rejected_code":503,"rejected_msg":"rejected","rules":[
                           {"key":"${http_user}","count":"${http_jack_count}","time_window":60},
                           {"key":"${http_project}","count":"${http_apisix_count}",
                            "time_window":60,"header_prefix":"project"}]})",
                     context(&runtime));
  ASSERT_TRUE(plugin);
  // No rule applies: 500 without a body.
  {
    TestRequest request;
    PhaseResult r = run_access(*plugin, *request);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->body, std::nullopt);
  }
  const std::string jack = "User: jack\r\nJack-Count: 2\r\n";
  TestRequest first(jack);
  EXPECT_EQ(status_of(*plugin, *first), 200);
  EXPECT_EQ(header(*first, "X-1-RateLimit-Limit"), "2");
  EXPECT_EQ(header(*first, "X-1-RateLimit-Remaining"), "1");
  EXPECT_EQ(header(*first, "X-RateLimit-Limit"), "(none)");
  EXPECT_EQ(status_of(*plugin, jack), 200);
  {
    TestRequest request(jack);
    PhaseResult r = run_access(*plugin, *request);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->body, "{\"error_msg\":\"rejected\"}\n");
  }
  const std::string project = "Project: apisix\r\nApisix-Count: 3\r\n";
  TestRequest p1(project);
  EXPECT_EQ(status_of(*plugin, *p1), 200);
  EXPECT_EQ(header(*p1, "X-project-RateLimit-Limit"), "3");
  EXPECT_EQ(header(*p1, "X-project-RateLimit-Remaining"), "2");
  EXPECT_EQ(status_of(*plugin, project), 200);
  EXPECT_EQ(status_of(*plugin, project), 200);
  EXPECT_EQ(status_of(*plugin, project), 503);
}

// A count that applies but does not resolve to a positive integer fails the request (500), or
// lets it through with allow_degradation.
TEST(LimitCountPlugin, InvalidTemplatedCountFailsUnlessDegradationIsAllowed) {
  RuntimeState runtime;
  auto strict = make(R"({"count":"${http_count ?? 2}","time_window":"${http_tw ?? 60}"})",
                     context(&runtime, "/apisix/routes/strict"));
  ASSERT_TRUE(strict);
  for (const char* bad : {"Count: abc\r\n", "Count: 0\r\n", "Count: -1\r\n", "Count: 1.5\r\n",
                          "Count: 9007199254740992\r\n", "Tw: 0\r\n"}) {
    TestRequest request(bad);
    PhaseResult r = run_access(*strict, *request);
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 500) << bad;
    EXPECT_EQ(header(*request, "X-RateLimit-Limit"), "(none)") << bad;
  }
  // The default (2) and a header value that Lua reads as a number (" 0x3 " is 3).
  TestRequest defaulted;
  EXPECT_EQ(status_of(*strict, *defaulted), 200);
  EXPECT_EQ(header(*defaulted, "X-RateLimit-Limit"), "2");
  TestRequest hex("Count: 0x3\r\n", "10.0.0.3");
  EXPECT_EQ(status_of(*strict, *hex), 200);
  EXPECT_EQ(header(*hex, "X-RateLimit-Limit"), "3");

  auto lenient = make(R"({"count":"${http_count}","time_window":60,"allow_degradation":true})",
                      context(&runtime, "/apisix/routes/lenient"));
  ASSERT_TRUE(lenient);
  EXPECT_EQ(status_of(*lenient, "Count: nope\r\n"), 200);
}

// §5.1: a group shares one counter between instances; otherwise each instance counts alone.
TEST(LimitCountPlugin, GroupSharesCountersBetweenRoutes) {
  RuntimeState runtime;
  const char* grouped = R"({"count":1,"time_window":60,"group":"srv1"})";
  auto route1 = make(grouped, context(&runtime, "/apisix/routes/1", "11"));
  auto route2 = make(grouped, context(&runtime, "/apisix/routes/2", "22"));
  ASSERT_TRUE(route1 && route2);
  EXPECT_EQ(status_of(*route1), 200);
  EXPECT_EQ(status_of(*route2), 503);

  const char* alone = R"({"count":1,"time_window":60})";
  auto route3 = make(alone, context(&runtime, "/apisix/routes/3", "33"));
  auto route4 = make(alone, context(&runtime, "/apisix/routes/4", "33"));
  ASSERT_TRUE(route3 && route4);
  EXPECT_EQ(status_of(*route3), 200);
  EXPECT_EQ(status_of(*route4), 200);
  EXPECT_EQ(status_of(*route3), 503);
}

// §0.6: recompiling the same configuration of the same resource (an unrelated edit of the
// route) keeps the counters; a new configuration version starts afresh.
TEST(LimitCountPlugin, CountersSurviveRecompileAndResetOnNewConfVersion) {
  RuntimeState runtime;
  const char* conf = R"({"count":2,"time_window":60})";
  auto before = make(conf, context(&runtime, "/apisix/routes/1", "100"));
  ASSERT_TRUE(before);
  EXPECT_EQ(status_of(*before), 200);
  auto after_unrelated_edit = make(conf, context(&runtime, "/apisix/routes/1", "100"));
  ASSERT_TRUE(after_unrelated_edit);
  EXPECT_EQ(status_of(*after_unrelated_edit), 200);
  EXPECT_EQ(status_of(*after_unrelated_edit), 503);
  auto after_conf_edit = make(conf, context(&runtime, "/apisix/routes/1", "101"));
  ASSERT_TRUE(after_conf_edit);
  TestRequest fresh;
  EXPECT_EQ(status_of(*after_conf_edit, *fresh), 200);
  EXPECT_EQ(header(*fresh, "X-RateLimit-Remaining"), "1");
}

// Plugin metadata renames the headers (§5.2), and rules insert their prefix into those names.
TEST(LimitCountPlugin, MetadataRenamesHeaders) {
  RuntimeState runtime;
  auto metadata = boost::json::parse(
      R"({"limit_header":"X-Custom-RateLimit-Limit","remaining_header":"X-Custom-RateLimit-Remaining",
          "reset_header":"X-Custom-RateLimit-Reset"})");
  CompileContext ctx = context(&runtime);
  ctx.metadata = &metadata;
  auto plugin = make(R"({"count":1,"time_window":30,"rejected_code":429})", ctx);
  ASSERT_TRUE(plugin);
  TestRequest request;
  EXPECT_EQ(status_of(*plugin, *request), 200);
  EXPECT_EQ(header(*request, "X-Custom-RateLimit-Limit"), "1");
  EXPECT_EQ(header(*request, "X-Custom-RateLimit-Remaining"), "0");
  EXPECT_EQ(header(*request, "X-Custom-RateLimit-Reset"), "30");
  EXPECT_EQ(header(*request, "X-RateLimit-Limit"), "(none)");

  CompileContext rules_ctx = context(&runtime, "/apisix/routes/2");
  auto ai = boost::json::parse(R"({"limit_header":"X-AI-RateLimit-Limit"})");
  rules_ctx.metadata = &ai;
  auto with_rules =
      make(R"({"rules":[{"count":5,"time_window":60,"key":"$remote_addr"}]})", rules_ctx);
  ASSERT_TRUE(with_rules);
  TestRequest ruled;
  EXPECT_EQ(status_of(*with_rules, *ruled), 200);
  EXPECT_EQ(header(*ruled, "X-AI-1-RateLimit-Limit"), "5");
  EXPECT_EQ(header(*ruled, "X-1-RateLimit-Remaining"), "4");
}

// The doc's sliding-window example: 10 per 60 s admits 10 and rejects the 11th; the rejected
// request does not count (sliding windows count admitted requests only).
TEST(LimitCountPlugin, SlidingWindowAdmitsCountThenRejects) {
  RuntimeState runtime;
  auto plugin = make(R"({"count":10,"time_window":60,"window_type":"sliding","rejected_code":429})",
                     context(&runtime));
  ASSERT_TRUE(plugin);
  for (int i = 0; i < 10; ++i) {
    TestRequest request;
    EXPECT_EQ(status_of(*plugin, *request), 200) << "request " << i + 1;
    EXPECT_EQ(header(*request, "X-RateLimit-Limit"), "10");
  }
  TestRequest rejected;
  EXPECT_EQ(status_of(*plugin, *rejected), 429);
  EXPECT_EQ(header(*rejected, "X-RateLimit-Remaining"), "0");
  double reset = std::stod(header(*rejected, "X-RateLimit-Reset"));
  EXPECT_GT(reset, 0);
  EXPECT_LE(reset, 60);
}

// §5.1 degradation for the Redis policy: no Redis on the worker, or an unreachable one, is a
// backend error: 500 {"error_msg":"failed to limit count"}, or a pass with allow_degradation.
TEST(LimitCountPlugin, RedisFailuresAnswer500UnlessDegradationIsAllowed) {
  RuntimeState runtime;
  // Port 1: nothing listens there, the connection is refused.
  const char* conf = R"({"count":1,"time_window":60,"policy":"redis","redis_host":"127.0.0.1",
                         "redis_port":1,"redis_timeout":500})";
  auto plugin = make(conf, context(&runtime));
  ASSERT_TRUE(plugin);
  TestRequest no_clients;
  PhaseResult r = run_access(*plugin, *no_clients);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, "{\"error_msg\":\"failed to limit count\"}\n");

  TestRequest unreachable;
  r = limiter_test::run_access_with_redis(*plugin, *unreachable);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, "{\"error_msg\":\"failed to limit count\"}\n");

  auto lenient = make(R"({"count":1,"time_window":60,"policy":"redis","redis_host":"127.0.0.1",
                          "redis_port":1,"redis_timeout":500,"allow_degradation":true})",
                      context(&runtime));
  ASSERT_TRUE(lenient);
  TestRequest passes;
  EXPECT_EQ(limiter_test::run_access_with_redis(*lenient, *passes), std::nullopt);
  EXPECT_EQ(header(*passes, "X-RateLimit-Limit"), "(none)");
}

// Workers share one instance's counters: concurrent requests from several threads admit
// exactly `count`.
TEST(LimitCountPlugin, ConcurrentWorkersShareOneCounter) {
  RuntimeState runtime;
  auto plugin =
      make(R"({"count":100,"time_window":60,"key_type":"constant","key":"k"})", context(&runtime));
  ASSERT_TRUE(plugin);
  std::atomic<int> admitted{0};
  std::atomic<int> rejected{0};
  std::vector<std::thread> workers;
  workers.reserve(4);
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < 60; ++i) {
        TestRequest request;
        (status_of(*plugin, *request) == 200 ? admitted : rejected)++;
      }
    });
  }
  for (auto& w : workers) {
    w.join();
  }
  EXPECT_EQ(admitted.load(), 100);
  EXPECT_EQ(rejected.load(), 140);
}

}  // namespace
}  // namespace apisix::plugins
