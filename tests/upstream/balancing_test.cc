// Load balancing through the real binary (core.md §7.5, §7.6): weighted round robin, chash
// key stability and minimal movement, least_conn, retries past a dead node, unknown types.

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/load_loop.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/wait.h"
#include "tests/upstream/upstream_test_support.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

// apisix.yaml: upstream u1 of `type` with `nodes` ("addr": weight lines), `extra` upstream
// fields, and route r1 for /* using it.
std::string routes(std::string_view type, const std::vector<std::pair<std::string, int>>& nodes,
                   std::string_view extra = {}) {
  std::string y = "upstreams:\n  - id: u1\n    type: " + std::string(type) + "\n    nodes:\n";
  for (const auto& [addr, weight] : nodes) {
    y += "      \"" + addr + "\": " + std::to_string(weight) + "\n";
  }
  y += extra;
  y += "routes:\n  - id: r1\n    uri: /*\n    upstream_id: u1\n#END\n";
  return y;
}

// core.md §7.5 roundrobin: over many requests each node's share follows its weight.
TEST(Balancing, RoundRobinFollowsWeightsOneTwoThree) {
  NamedUpstream a("a"), b("b"), c("c");
  GatewayProcess gw;
  GatewayOptions options;
  options.routes_yaml =
      routes("roundrobin", {{a.address(), 1}, {b.address(), 2}, {c.address(), 3}});
  ASSERT_TRUE(gw.start(options));

  LoadOptions load;
  load.port = gw.http_port();
  load.threads = 4;
  load.max_requests = 10000;
  load.request = "GET /w HTTP/1.1\r\nHost: example.com\r\n\r\n";
  LoadLoop loop(load);
  LoadResult result = loop.run();
  ASSERT_EQ(result.failures, 0u) << result.describe();
  ASSERT_GE(result.requests, 10000u) << result.describe();
  double total = static_cast<double>(result.requests);
  const std::map<std::string, double> share = {{"a", 1.0 / 6}, {"b", 2.0 / 6}, {"c", 3.0 / 6}};
  for (const auto& [name, expected] : share) {
    double got = static_cast<double>(result.by_body[name]) / total;
    EXPECT_NEAR(got, expected, expected * 0.05) << name << ": " << result.describe();
  }
}

// core.md §7.5 chash: a key always lands on the same node, and removing a node moves only
// the keys that were on it.
TEST(Balancing, ChashByArgIsStableAndRemovalMovesOnlyThatNodesKeys) {
  NamedUpstream a("a"), b("b"), c("c"), d("d");
  auto make = [&](bool with_d) {
    std::vector<std::pair<std::string, int>> nodes = {
        {a.address(), 1}, {b.address(), 1}, {c.address(), 1}};
    if (with_d) {
      nodes.emplace_back(d.address(), 1);
    }
    return routes("chash", nodes, "    hash_on: vars\n    key: arg_user\n");
  };
  GatewayProcess gw;
  GatewayOptions options;
  options.routes_yaml = make(true);
  ASSERT_TRUE(gw.start(options));

  constexpr int kKeys = 120;
  auto map_keys = [&] {
    std::map<int, std::string> where;
    RawClient client(gw.http_port());
    for (int k = 0; k < kKeys; ++k) {
      HttpResponse r = client.get("/k?user=user" + std::to_string(k));
      where[k] = r.status == 200 ? r.body : "<" + r.describe() + ">";
    }
    return where;
  };
  std::map<int, std::string> first = map_keys();
  std::map<std::string, int> per_node;
  for (const auto& [k, node] : first) {
    ++per_node[node];
  }
  for (const char* node : {"a", "b", "c", "d"}) {
    EXPECT_GT(per_node[node], 0) << node << " got no key";
  }
  EXPECT_EQ(map_keys(), first) << "the same keys must land on the same nodes";

  gw.update_routes(make(false));
  std::map<int, std::string> second;
  ASSERT_TRUE(wait_until(
      [&] {
        second = map_keys();
        for (const auto& [k, node] : second) {
          if (node == "d") {
            return false;
          }
        }
        return true;
      },
      10s, 100ms))
      << "node d still gets keys after its removal";
  for (const auto& [k, node] : first) {
    if (node != "d") {
      EXPECT_EQ(second[k], node) << "key user" << k << " moved although its node stayed";
    } else {
      EXPECT_NE(second[k], "d");
    }
  }
}

// core.md §7.5 least_conn: a node that holds requests longer gets fewer of them.
TEST(Balancing, LeastConnSteersAwayFromSlowNode) {
  NamedUpstream slow("slow"), fast("fast");
  slow.delay_ms = 200;
  GatewayProcess gw;
  GatewayOptions options;
  options.routes_yaml = routes("least_conn", {{slow.address(), 1}, {fast.address(), 1}},
                               "    timeout: {connect: 5, send: 5, read: 5}\n");
  ASSERT_TRUE(gw.start(options));

  LoadOptions load;
  load.port = gw.http_port();
  load.threads = 6;
  load.max_requests = 600;
  load.request = "GET /lc HTTP/1.1\r\nHost: example.com\r\n\r\n";
  LoadLoop loop(load);
  LoadResult result = loop.run();
  ASSERT_EQ(result.failures, 0u) << result.describe();
  uint64_t to_slow = result.by_body["slow"];
  uint64_t to_fast = result.by_body["fast"];
  EXPECT_EQ(to_slow + to_fast, result.requests) << result.describe();
  // Round robin would give the slow node half; least_conn keeps it to about one in flight.
  EXPECT_LT(to_slow * 5, to_fast) << result.describe();
}

// core.md §7.6: a refused connection is retried on the next node; the client sees 200.
TEST(Balancing, RetryPastDeadNodeGivesNoClientError) {
  NamedUpstream live("live");
  std::string dead = "127.0.0.1:" + std::to_string(closed_port());
  GatewayProcess gw;
  GatewayOptions options;
  options.routes_yaml = routes("roundrobin", {{dead, 1}, {live.address(), 1}});
  ASSERT_TRUE(gw.start(options));
  std::map<std::string, int> bodies = count_bodies(gw.http_port(), "/r", 40);
  EXPECT_EQ(bodies["live"], 40);
  EXPECT_EQ(bodies.size(), 1u);
}

// core.md §7.5: ewma serves traffic and spreads it over its nodes.
TEST(Balancing, EwmaServesFromAllNodes) {
  NamedUpstream a("a"), b("b");
  GatewayProcess gw;
  GatewayOptions options;
  options.routes_yaml = routes("ewma", {{a.address(), 1}, {b.address(), 1}});
  ASSERT_TRUE(gw.start(options));
  std::map<std::string, int> bodies = count_bodies(gw.http_port(), "/e", 60);
  EXPECT_EQ(bodies["a"] + bodies["b"], 60);
}

// core.md §7.5: an unknown balancer type is a missing custom balancer: 502 with two nodes;
// a single node takes the fast path and is served.
TEST(Balancing, UnknownTypeAnswers502WithTwoNodes) {
  NamedUpstream a("a"), b("b");
  GatewayProcess gw;
  GatewayOptions options;
  options.routes_yaml = "upstreams:\n  - id: u1\n    type: no_such_balancer\n    nodes:\n      \"" +
                        a.address() + "\": 1\n      \"" + b.address() +
                        "\": 1\n  - id: u2\n    type: no_such_balancer\n    nodes:\n      \"" +
                        a.address() +
                        "\": 1\nroutes:\n  - id: r1\n    uri: /two\n    upstream_id: u1\n"
                        "  - id: r2\n    uri: /one\n    upstream_id: u2\n#END\n";
  ASSERT_TRUE(gw.start(options));
  EXPECT_EQ(http_get(gw.http_port(), "/two").status, 502);
  EXPECT_EQ(http_get(gw.http_port(), "/one").status, 200);
  EXPECT_NE(gw.error_log().find("invalid balancer type: no_such_balancer"), std::string::npos)
      << gw.describe_logs();
}

}  // namespace
}  // namespace apisix::test
