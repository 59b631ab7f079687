// Standalone apisix.yaml hot reload (compat §2.7): the file is polled, a changed file
// replaces the whole configuration within about a second without failing requests, and a
// file that does not parse (or lacks the #END marker) leaves the previous configuration.

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/load_loop.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

// One route per (uri, upstream) pair, in order.
std::string routes(const std::vector<std::pair<std::string, const UpstreamServer*>>& entries) {
  std::string y = "routes:\n";
  int id = 0;
  for (const auto& [uri, upstream] : entries) {
    y += "  - id: r" + std::to_string(++id) + "\n    uri: " + uri +
         "\n    upstream:\n      nodes:\n        \"" + upstream->address() + "\": 1\n";
  }
  return y + "#END\n";
}

TEST(RoutesHotReload, ChangedUpstreamTakesEffectUnderLoadWithoutFailures) {
  UpstreamServer a(named_upstream("a"));
  UpstreamServer b(named_upstream("b"));
  GatewayProcess gateway;
  GatewayOptions options;
  options.routes_yaml = routes({{"/*", &a}});
  ASSERT_TRUE(gateway.start(options));
  const uint16_t port = gateway.http_port();

  LoadOptions load;
  load.port = port;
  load.threads = 4;
  load.request = make_request("GET", "/load");
  LoadLoop loop(load);
  loop.start();
  ASSERT_TRUE(wait_until([&] { return loop.completed() >= 100; }, 5s));

  gateway.update_routes(routes({{"/new", &b}, {"/*", &b}}));
  EXPECT_TRUE(wait_until([&] { return b.request_count() > 0; }, 3s))
      << "new upstream not used within 3 s of the file change";
  uint64_t mark = loop.completed();
  EXPECT_TRUE(wait_until([&] { return loop.completed() >= mark + 200; }, 5s));
  LoadResult result = loop.stop();
  EXPECT_EQ(result.failures, 0u) << result.describe();
  EXPECT_EQ(result.count(200), result.requests) << result.describe();
  EXPECT_EQ(result.connections, 4u) << "connections were dropped: " << result.describe();

  EXPECT_EQ(served_by(port, "/new"), "b");
  const size_t a_before = a.request_count();
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(served_by(port, "/load"), "b");
  }
  EXPECT_EQ(a.request_count(), a_before) << "the old upstream still gets traffic";
}

TEST(RoutesHotReload, RemovedRouteGives404) {
  UpstreamServer a(named_upstream("a"));
  GatewayProcess gateway;
  GatewayOptions options;
  options.routes_yaml = routes({{"/keep", &a}, {"/drop", &a}});
  ASSERT_TRUE(gateway.start(options));
  const uint16_t port = gateway.http_port();
  ASSERT_EQ(served_by(port, "/drop"), "a");

  gateway.update_routes(routes({{"/keep", &a}}));
  EXPECT_TRUE(wait_until([&] { return http_get(port, "/drop").status == 404; }, 3s));
  EXPECT_EQ(served_by(port, "/keep"), "a");
}

TEST(RoutesHotReload, InvalidFileKeepsThePreviousRoutes) {
  UpstreamServer a(named_upstream("a"));
  UpstreamServer b(named_upstream("b"));
  GatewayProcess gateway;
  GatewayOptions options;
  options.routes_yaml = routes({{"/api", &a}});
  ASSERT_TRUE(gateway.start(options));
  const uint16_t port = gateway.http_port();
  ASSERT_EQ(served_by(port, "/api"), "a");

  std::string without_end = routes({{"/api", &b}});
  without_end.erase(without_end.find("#END"));
  const std::vector<std::pair<std::string, std::string>> invalid = {
      {"missing #END marker", without_end},
      {"YAML syntax error", "routes:\n  - id: r1\n    uri: [/api\n#END\n"},
      {"routes is not a list", "routes: 42\n#END\n"},
  };
  for (const auto& [what, yaml] : invalid) {
    SCOPED_TRACE(what);
    gateway.update_routes(yaml);
    // Two poll periods: the gateway must go on serving the last good configuration.
    EXPECT_FALSE(wait_until([&] { return served_by(port, "/api") != "a"; }, 2500ms))
        << "now: " << served_by(port, "/api");
  }
  EXPECT_TRUE(gateway.is_running());

  gateway.update_routes(routes({{"/api", &b}}));
  EXPECT_TRUE(wait_until([&] { return served_by(port, "/api") == "b"; }, 3s))
      << "a valid file after invalid ones was not applied";
}

}  // namespace
}  // namespace apisix::test
