// limit-conn (plugins.md §5.4): the schema's verdicts with APISIX's messages, compile()'s
// refusals, and access + log on fake requests: conn, burst with its delay, rejection, the log
// phase releasing what access counted (also after a later rule rejected), rules, templated
// numbers, counts kept across recompiles (§0.6) and Redis failures (§5.1).

#include "plugins/limit_conn/limit_conn.h"

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
  return limiter_test::schema_error("limit-conn", conf);
}

std::shared_ptr<const Plugin> make(std::string_view conf, CompileContext ctx) {
  return limiter_test::compile_or_null("limit-conn", conf, std::move(ctx));
}

// A request that entered (access ran) and has not left yet (log not run).
struct InFlight {
  std::unique_ptr<TestRequest> request;
  int status = 200;
};

InFlight enter(const Plugin& plugin, std::string_view headers = {},
               std::string remote = "127.0.0.1") {
  InFlight f{std::make_unique<TestRequest>(headers, std::move(remote))};
  PhaseResult r = run_access(plugin, **f.request);
  f.status = r ? r->status : 200;
  return f;
}

void leave(const Plugin& plugin, InFlight& f) { plugin.log(**f.request); }

// t/plugin/limit-conn.t, limit-conn2.t.
TEST(LimitConnPlugin, SchemaVerdicts) {
  EXPECT_EQ(schema_error(R"({"conn":2,"burst":1,"default_conn_delay":0.1,"key":"remote_addr"})"),
            std::nullopt);
  EXPECT_EQ(schema_error(R"({"default_conn_delay":0.1,"rules":[{"conn":1,"burst":0,"key":"$a"}]})"),
            std::nullopt);
  EXPECT_EQ(schema_error(R"({"burst":1,"default_conn_delay":0.1,"key":"remote_addr"})"),
            "value should match only one schema, but matches none");
  EXPECT_EQ(schema_error(R"({"conn":-1,"burst":1,"default_conn_delay":0.1,"key":"remote_addr"})"),
            "property \"conn\" validation failed: value should match only one schema, but matches "
            "none");
  EXPECT_EQ(schema_error(R"({"conn":1,"burst":1,"default_conn_delay":0,"key":"remote_addr"})"),
            "property \"default_conn_delay\" validation failed: expected 0 to be greater than 0");
  EXPECT_EQ(schema_error(R"({"conn":1,"burst":1,"default_conn_delay":0.1,"key":"remote_addr",
                             "allow_degradation":"true"})"),
            "property \"allow_degradation\" validation failed: wrong type: expected boolean, got "
            "string");
  EXPECT_EQ(schema_error(R"({"conn":1,"burst":1,"default_conn_delay":0.1,"key":"remote_addr",
                             "rejected_msg":""})"),
            "property \"rejected_msg\" validation failed: string too short, expected at least 1, "
            "got 0");
  static const Registry registry;
  auto conf = boost::json::parse(
      R"({"conn":1,"burst":0,"default_conn_delay":0.1,"key":"k","policy":"redis",
          "redis_host":"127.0.0.1"})");
  ASSERT_EQ(registry.schema_of("limit-conn")->validate(conf), std::nullopt);
  EXPECT_EQ(conf.at("key_ttl"), 3600);
  EXPECT_EQ(conf.at("only_use_default_delay"), false);
  EXPECT_EQ(conf.at("rejected_code"), 503);
}

TEST(LimitConnPlugin, CompileRefusesRedisCluster) {
  RuntimeState runtime;
  CompileContext ctx = context(&runtime);
  auto compiled = compile_conf("limit-conn", R"({"conn":1,"burst":0,"default_conn_delay":0.1,
      "key":"remote_addr","policy":"redis-cluster","redis_cluster_nodes":["127.0.0.1:7000"],
      "redis_cluster_name":"c"})",
                               ctx);
  ASSERT_FALSE(compiled);
  EXPECT_EQ(
      compiled.error().context,
      "policy \"redis-cluster\" is not supported by this gateway; use \"local\" or \"redis\"");
}

// The doc's first example: conn 2, burst 1, delay 0.1 s: two go at once, the third waits
// 0.1 s, the fourth is rejected; once one leaves, another may enter.
TEST(LimitConnPlugin, ConnThenDelayedBurstThenRejected) {
  RuntimeState runtime;
  auto plugin = make(R"({"conn":2,"burst":1,"default_conn_delay":0.1,"key_type":"var",
                         "key":"remote_addr","policy":"local","rejected_code":429})",
                     context(&runtime));
  ASSERT_TRUE(plugin);
  auto start = Clock::now();
  InFlight a = enter(*plugin);
  InFlight b = enter(*plugin);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(b.status, 200);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(80)) << "within conn: no delay";
  start = Clock::now();
  InFlight c = enter(*plugin);
  EXPECT_EQ(c.status, 200);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(90)) << "the burst slot waits 0.1 s";
  InFlight d = enter(*plugin);
  EXPECT_EQ(d.status, 429);
  // Another client address is counted apart.
  InFlight other = enter(*plugin, {}, "10.0.0.2");
  EXPECT_EQ(other.status, 200);

  leave(*plugin, d);  // a rejected request holds nothing
  InFlight still = enter(*plugin);
  EXPECT_EQ(still.status, 429);
  leave(*plugin, a);
  InFlight e = enter(*plugin);
  EXPECT_EQ(e.status, 200);
  leave(*plugin, a);  // the log phase releases once
  InFlight f = enter(*plugin);
  EXPECT_EQ(f.status, 429);
  for (InFlight* done : {&b, &c, &e, &other}) {
    leave(*plugin, *done);
  }
  InFlight g = enter(*plugin);
  InFlight h = enter(*plugin);
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(h.status, 200);
}

TEST(LimitConnPlugin, RejectedMsgIsTheBody) {
  RuntimeState runtime;
  auto plugin = make(R"({"conn":1,"burst":0,"default_conn_delay":0.1,"key":"remote_addr",
                         "rejected_msg":"too many"})",
                     context(&runtime));
  ASSERT_TRUE(plugin);
  InFlight a = enter(*plugin);
  EXPECT_EQ(a.status, 200);
  TestRequest b;
  PhaseResult r = run_access(*plugin, *b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "{\"error_msg\":\"too many\"}\n");
}

// Rules: each applicable rule counts; one that rejects still leaves the earlier rules' counts
// to the log phase; rules whose key or numbers do not resolve are skipped; none -> 500.
TEST(LimitConnPlugin, RulesAreEnforcedAndReleased) {
  RuntimeState runtime;
  auto plugin = make(R"({"default_conn_delay":0.1,"rules":[
                           {"conn":5,"burst":0,"key":"${http_user}"},
                           {"conn":"${http_project_conn}","burst":"0","key":"${http_project}"}]})",
                     context(&runtime));
  ASSERT_TRUE(plugin);
  {
    TestRequest none;
    PhaseResult r = run_access(*plugin, *none);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
  }
  const std::string both = "User: jack\r\nProject: apisix\r\nProject-Conn: 1\r\n";
  InFlight a = enter(*plugin, both);
  EXPECT_EQ(a.status, 200);
  // The project rule rejects; the user rule had counted this request in.
  InFlight b = enter(*plugin, both);
  EXPECT_EQ(b.status, 503);
  leave(*plugin, b);
  // An invalid conn skips the project rule: only the user rule applies.
  InFlight c = enter(*plugin, "User: jack\r\nProject: apisix\r\nProject-Conn: zero\r\n");
  EXPECT_EQ(c.status, 200);
  // The user rule has jack twice in flight (a, c): three more fit.
  std::vector<InFlight> more;
  for (int i = 0; i < 3; ++i) {
    more.push_back(enter(*plugin, "User: jack\r\n"));
    EXPECT_EQ(more.back().status, 200) << i;
  }
  InFlight over = enter(*plugin, "User: jack\r\n");
  EXPECT_EQ(over.status, 503) << "b was released, a and c and three more hold all five";
}

TEST(LimitConnPlugin, TemplatedConnMustResolve) {
  RuntimeState runtime;
  auto strict = make(R"({"conn":"${http_conn}","burst":0,"default_conn_delay":0.1,
                         "key":"remote_addr"})",
                     context(&runtime, "/apisix/routes/strict"));
  ASSERT_TRUE(strict);
  EXPECT_EQ(enter(*strict, "Conn: 0\r\n").status, 500);
  EXPECT_EQ(enter(*strict, "Conn: x\r\n").status, 500);
  InFlight one = enter(*strict, "Conn: 1\r\n");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(enter(*strict, "Conn: 1\r\n").status, 503);
  EXPECT_EQ(enter(*strict, "Conn: 2\r\n").status, 200);

  auto lenient = make(R"({"conn":"${http_conn}","burst":0,"default_conn_delay":0.1,
                          "key":"remote_addr","allow_degradation":true})",
                      context(&runtime, "/apisix/routes/lenient"));
  ASSERT_TRUE(lenient);
  EXPECT_EQ(enter(*lenient, "Conn: x\r\n").status, 200);
}

// §0.6: in-flight counts are kept across a recompile of the same configuration.
TEST(LimitConnPlugin, CountsSurviveRecompile) {
  RuntimeState runtime;
  const char* conf = R"({"conn":1,"burst":0,"default_conn_delay":0.1,"key":"remote_addr"})";
  auto before = make(conf, context(&runtime, "/apisix/routes/1", "5"));
  ASSERT_TRUE(before);
  InFlight a = enter(*before);
  EXPECT_EQ(a.status, 200);
  auto after = make(conf, context(&runtime, "/apisix/routes/1", "5"));
  ASSERT_TRUE(after);
  EXPECT_EQ(enter(*after).status, 503);
  leave(*before, a);  // the request leaves through the instance it entered with
  InFlight b = enter(*after);
  EXPECT_EQ(b.status, 200);
}

TEST(LimitConnPlugin, RedisFailuresAnswer500UnlessDegradationIsAllowed) {
  RuntimeState runtime;
  auto plugin = make(R"({"conn":1,"burst":0,"default_conn_delay":0.1,"key":"remote_addr",
                         "policy":"redis","redis_host":"127.0.0.1","redis_port":1,
                         "redis_timeout":500})",
                     context(&runtime));
  ASSERT_TRUE(plugin);
  TestRequest unreachable;
  PhaseResult r = limiter_test::run_access_with_redis(*plugin, *unreachable);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  plugin->log(*unreachable);  // nothing was counted: nothing to release

  auto lenient = make(R"({"conn":1,"burst":0,"default_conn_delay":0.1,"key":"remote_addr",
                          "policy":"redis","redis_host":"127.0.0.1","redis_port":1,
                          "redis_timeout":500,"allow_degradation":true})",
                      context(&runtime));
  ASSERT_TRUE(lenient);
  TestRequest passes;
  EXPECT_EQ(limiter_test::run_access_with_redis(*lenient, *passes), std::nullopt);
}

}  // namespace
}  // namespace apisix::plugins
