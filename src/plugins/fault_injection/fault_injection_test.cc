// fault-injection (plugins.md §5.16): schema, compile errors, and what the rewrite phase does:
// abort with body/headers templates, delay on the request's loop, percentages and vars.
#include "plugins/fault_injection/fault_injection.h"

#include <chrono>

#include <gtest/gtest.h>

#include "plugins/testing.h"

namespace apisix::plugins {
namespace {

using namespace std::chrono_literals;
using testing::get;
using testing::schema_error;
using testing::TestRequest;

std::shared_ptr<const Plugin> make(std::string_view conf) {
  auto made = testing::compile<FaultInjection>(conf);
  EXPECT_TRUE(made) << made.error().context;
  return made ? *made : nullptr;
}

TEST(FaultInjectionPlugin, SchemaNeedsAnAction) {
  EXPECT_EQ(schema_error("fault-injection", R"({"abort":{"http_status":404,"body":"x"}})"),
            std::nullopt);
  EXPECT_EQ(schema_error("fault-injection", R"({"delay":{"duration":0.5}})"), std::nullopt);
  EXPECT_EQ(schema_error("fault-injection", R"({})"),
            "expect object to have at least 1 properties");
  EXPECT_NE(schema_error("fault-injection", R"({"abort":{"http_status":199}})"), std::nullopt);
  EXPECT_NE(schema_error("fault-injection", R"({"abort":{"body":"x"}})"), std::nullopt);
  EXPECT_NE(schema_error("fault-injection", R"({"delay":{"duration":"1"}})"), std::nullopt);
  EXPECT_NE(schema_error("fault-injection", R"({"delay":{"duration":1,"percentage":101}})"),
            std::nullopt);
  EXPECT_NE(schema_error("fault-injection", R"({"abort":{"http_status":500,"vars":[1]}})"),
            std::nullopt);
}

TEST(FaultInjectionPlugin, VarsMustCompile) {
  auto bad = testing::compile<FaultInjection>(
      R"({"abort":{"http_status":500,"vars":[[["arg_name","invalid","jack"]]]}})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().context.find("invalid operator 'invalid'"), std::string::npos)
      << bad.error().context;
  auto bare = testing::compile<FaultInjection>(
      R"({"delay":{"duration":1,"vars":[["arg_name","==","jack"]]}})");
  ASSERT_FALSE(bare);
  EXPECT_NE(bare.error().context.find("rule should be wrapped inside brackets"), std::string::npos)
      << bare.error().context;
}

TEST(FaultInjectionPlugin, AbortWithBody) {
  auto plugin = make(R"({"abort":{"http_status":404,"body":"APISIX Fault Injection"}})");
  TestRequest req(get("/anything"));
  PhaseResult result = testing::rewrite(*plugin, *req);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 404);
  EXPECT_EQ(result->body, "APISIX Fault Injection");
}

TEST(FaultInjectionPlugin, AbortWithoutBodyGetsTheDefaultPage) {
  auto plugin = make(R"({"abort":{"http_status":503}})");
  TestRequest req(get("/anything"));
  PhaseResult result = testing::rewrite(*plugin, *req);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 503);
  EXPECT_EQ(result->body, std::nullopt);
}

TEST(FaultInjectionPlugin, TemplatesInBodyAndHeaders) {
  auto plugin = make(
      R"({"abort":{"http_status":200,"body":"client addr: $remote_addr\n",
          "headers":{"X-APISIX-Remote-Addr":"$remote_addr","X-Num":7,"X-Lit":"v"}}})");
  TestRequest req(get("/anything"), {}, "10.1.2.3");
  PhaseResult result = testing::rewrite(*plugin, *req);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "client addr: 10.1.2.3\n");
  EXPECT_EQ(testing::exit_header(*result, "X-APISIX-Remote-Addr"), "10.1.2.3");
  EXPECT_EQ(testing::exit_header(*result, "X-Num"), "7");
  EXPECT_EQ(testing::exit_header(*result, "X-Lit"), "v");
}

TEST(FaultInjectionPlugin, VarsDecideWhetherToAbort) {
  auto plugin = make(
      R"({"abort":{"http_status":404,"body":"APISIX Fault Injection",
          "vars":[[["arg_name","==","john"]],[["arg_age","==",18],["arg_x","==","y"]]]}})");
  TestRequest john(get("/anything?name=john"));
  ASSERT_TRUE(testing::rewrite(*plugin, *john));
  TestRequest jane(get("/anything?name=jane"));
  EXPECT_EQ(testing::rewrite(*plugin, *jane), std::nullopt);
  // The second expression (an AND of two conditions) also triggers it: they are OR-ed.
  TestRequest both(get("/anything?age=18&x=y"));
  EXPECT_TRUE(testing::rewrite(*plugin, *both));
  TestRequest half(get("/anything?age=18"));
  EXPECT_EQ(testing::rewrite(*plugin, *half), std::nullopt);
}

TEST(FaultInjectionPlugin, NegatedVars) {
  auto plugin = make(
      R"({"abort":{"http_status":403,"body":"Fault Injection!\n",
          "vars":[["!AND",["arg_name","==","jack"],["arg_age","!","<",18]]]}})");
  TestRequest hit(get("/hello?name=jack&age=17"));
  EXPECT_TRUE(testing::rewrite(*plugin, *hit));
  TestRequest miss(get("/hello?name=jack&age=18"));
  EXPECT_EQ(testing::rewrite(*plugin, *miss), std::nullopt);
}

TEST(FaultInjectionPlugin, EmptyVarsNeverMatch) {
  auto plugin = make(R"({"abort":{"http_status":500,"vars":[]}})");
  TestRequest req(get("/x"));
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
}

TEST(FaultInjectionPlugin, PercentageZeroAndHundred) {
  auto never = make(R"({"abort":{"http_status":500,"percentage":0}})");
  auto always = make(R"({"abort":{"http_status":500,"percentage":100}})");
  for (int i = 0; i < 50; ++i) {
    TestRequest a(get("/x"));
    EXPECT_EQ(testing::rewrite(*never, *a), std::nullopt);
    TestRequest b(get("/x"));
    EXPECT_TRUE(testing::rewrite(*always, *b));
  }
}

TEST(FaultInjectionPlugin, PercentageSamples) {
  auto half = make(R"({"abort":{"http_status":500,"percentage":50}})");
  int aborted = 0;
  for (int i = 0; i < 400; ++i) {
    TestRequest req(get("/x"));
    if (testing::rewrite(*half, *req)) {
      ++aborted;
    }
  }
  // 400 draws at p = 0.5: outside [120, 280] has probability far below 1e-15.
  EXPECT_GT(aborted, 120);
  EXPECT_LT(aborted, 280);
}

TEST(FaultInjectionPlugin, DelayWaitsOnTheLoopThenContinues) {
  auto plugin = make(R"({"delay":{"duration":0.2}})");
  TestRequest req(get("/anything"));
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 190ms);
}

TEST(FaultInjectionPlugin, DelayThenAbort) {
  auto plugin = make(R"({"delay":{"duration":0.1},"abort":{"http_status":418,"body":"late"}})");
  TestRequest req(get("/anything"));
  auto start = std::chrono::steady_clock::now();
  PhaseResult result = testing::rewrite(*plugin, *req);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 90ms);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 418);
  EXPECT_EQ(result->body, "late");
}

TEST(FaultInjectionPlugin, DelaySkippedWhenVarsDoNotMatch) {
  auto plugin = make(R"({"delay":{"duration":5,"vars":[[["arg_slow","==","1"]]]}})");
  TestRequest req(get("/anything"));
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

}  // namespace
}  // namespace apisix::plugins
