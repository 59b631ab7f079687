// fault-injection through the real binary (plugins.md §5.16): the examples of APISIX's
// docs/en/latest/plugins/fault-injection.md (abort, delay, conditional abort with a header)
// with routes written over the Admin API and a local upstream.

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

class FaultInjectionPlugin : public PluginTest {
 protected:
  HttpResponse put_route(const std::string& plugins) {
    return admin_call(admin_, "PUT", "/apisix/admin/routes/fault-injection-route", route(plugins));
  }

  // Waits until GET `target` is answered with `status` (the route is applied).
  HttpResponse answered(std::string_view target, int status) {
    return wait_for_response([&] { return http_get(port_, target); },
                             [&](const HttpResponse& r) { return r.status == status; });
  }
};

// "Inject Faults".
TEST_F(FaultInjectionPlugin, AbortsWithoutCallingTheUpstream) {
  HttpResponse put = put_route(
      R"({"fault-injection":{"abort":{"http_status":404,"body":"APISIX Fault Injection"}}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  // 404 is also "no route": wait for the plugin's body.
  HttpResponse last;
  ASSERT_TRUE(wait_until(
      [&] {
        last = http_get(port_, "/anything");
        return last.status == 404 && last.body == "APISIX Fault Injection";
      },
      5s))
      << last.describe() << " " << last.body;
  EXPECT_EQ(upstream_.request_count(), 0u);
}

// "Inject Latencies" (a shorter delay than the doc's 3 s).
TEST_F(FaultInjectionPlugin, DelaysTheRequest) {
  HttpResponse put = put_route(R"({"fault-injection":{"delay":{"duration":0.5}}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  answered("/anything", 200);
  auto start = std::chrono::steady_clock::now();
  HttpResponse r = http_get(port_, "/anything");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello world");
  EXPECT_GE(took, 490ms);
}

// A delay holds only its own request: the worker serves others meanwhile.
TEST_F(FaultInjectionPlugin, DelayDoesNotBlockOtherRequests) {
  HttpResponse put =
      put_route(R"({"fault-injection":{"delay":{"duration":3,"vars":[[["arg_slow","==","1"]]]}}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  answered("/anything", 200);
  RawClient slow(port_);
  ASSERT_TRUE(slow.send("GET /anything?slow=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"));
  auto start = std::chrono::steady_clock::now();
  HttpResponse fast = http_get(port_, "/anything");
  EXPECT_EQ(fast.status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  HttpResponse delayed = slow.read_response();
  EXPECT_EQ(delayed.status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 2900ms);
}

// "Inject Faults Conditionally".
TEST_F(FaultInjectionPlugin, AbortsOnlyWhenVarsMatch) {
  HttpResponse put = put_route(R"({"fault-injection":{"abort":{"http_status":404,
      "body":"APISIX Fault Injection","headers":{"X-APISIX-Remote-Addr":"$remote_addr"},
      "vars":[[["arg_name","==","john"]]]}}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  answered("/anything?name=jane", 200);
  HttpResponse hit = http_get(port_, "/anything?name=john");
  EXPECT_EQ(hit.status, 404);
  EXPECT_EQ(hit.body, "APISIX Fault Injection");
  EXPECT_EQ(hit.header("X-APISIX-Remote-Addr"), "127.0.0.1");
  HttpResponse miss = http_get(port_, "/anything?name=jane");
  EXPECT_EQ(miss.status, 200);
  EXPECT_EQ(miss.body, "hello world");
  EXPECT_FALSE(miss.headers.has("X-APISIX-Remote-Addr"));
}

TEST_F(FaultInjectionPlugin, AdminApiRejectsBadConfigurations) {
  HttpResponse empty = put_route(R"({"fault-injection":{}})");
  EXPECT_EQ(empty.status, 400);
  EXPECT_NE(empty.body.find("expect object to have at least 1 properties"), std::string::npos)
      << empty.body;
  HttpResponse bad_vars = put_route(
      R"({"fault-injection":{"abort":{"http_status":500,"vars":[[["arg_a","nope","b"]]]}}})");
  EXPECT_EQ(bad_vars.status, 400);
  EXPECT_NE(bad_vars.body.find("invalid operator 'nope'"), std::string::npos) << bad_vars.body;
}

}  // namespace
}  // namespace apisix::test
