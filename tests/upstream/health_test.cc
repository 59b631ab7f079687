// Health checks through the real binary (core.md §7.7) and the Control API's report
// (core.md §8.1): passive ejection, active recovery, every node unhealthy, the JSON shape.

#include <map>
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/wait.h"
#include "tests/upstream/upstream_test_support.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

std::string upstream_yaml(const std::vector<const NamedUpstream*>& nodes, std::string_view checks,
                          std::string_view id = "u1") {
  std::string y = "  - id: " + std::string(id) + "\n    nodes:\n";
  for (const NamedUpstream* n : nodes) {
    y += "      \"" + n->address() + "\": 1\n";
  }
  y += "    retries: 0\n";
  y += checks;
  return y;
}

std::string routes_for(const std::string& upstreams) {
  return "upstreams:\n" + upstreams +
         "routes:\n  - id: r1\n    uri: /*\n    upstream_id: u1\n#END\n";
}

// Passive only in effect: the active part has no healthy/unhealthy objects, so it never
// probes (core.md §4.4.2 caveat).
constexpr std::string_view kPassiveChecks =
    "    checks:\n"
    "      active:\n"
    "        http_path: /hc\n"
    "      passive:\n"
    "        healthy:\n"
    "          http_statuses: [200]\n"
    "          successes: 3\n"
    "        unhealthy:\n"
    "          http_statuses: [500]\n"
    "          http_failures: 2\n";

HttpResponse control_get(const GatewayProcess& gw, std::string_view path,
                         Headers headers = {{"Host", "127.0.0.1"}}) {
  return http_get(gw.control_port(), path, headers);
}

// The status of the node on `port` in the Control API's entry for upstream u1 ("" if absent).
std::string node_status(const GatewayProcess& gw, uint16_t port) {
  HttpResponse r = control_get(gw, "/v1/healthcheck/upstreams/u1");
  if (r.status != 200) {
    return "";
  }
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("nodes") ||
      !v.as_object().at("nodes").is_array()) {
    return "";
  }
  for (const json::value& node : v.as_object().at("nodes").as_array()) {
    if (node.as_object().at("port").to_number<int64_t>() == port) {
      return std::string(node.as_object().at("status").as_string());
    }
  }
  return "";
}

// core.md §7.7 passive: a node answering 500 (in passive.unhealthy.http_statuses) is taken
// out of rotation after http_failures such answers: within a second it gets no traffic.
TEST(HealthCheck, PassiveEjectionStopsTrafficWithinOneSecond) {
  NamedUpstream bad("bad"), b("b"), c("c");
  bad.failing = true;
  GatewayProcess gw;
  GatewayOptions options;
  options.config_yaml = config_with_control();
  options.routes_yaml = routes_for(upstream_yaml({&bad, &b, &c}, kPassiveChecks));
  ASSERT_TRUE(gw.start(options));

  Deadline ejected_by = deadline_in(1s);
  RawClient client(gw.http_port());
  while (Clock::now() < ejected_by) {
    HttpResponse r = client.get("/p");
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  size_t bad_before = bad.proxied();
  EXPECT_GE(bad_before, 2u);
  std::map<std::string, int> after = count_bodies(gw.http_port(), "/p", 60);
  EXPECT_EQ(bad.proxied(), bad_before) << "the failing node still gets requests";
  EXPECT_EQ(after["b"] + after["c"], 60);
  EXPECT_EQ(node_status(gw, bad.server->port()), "unhealthy");
}

// core.md §7.7 active: an unhealthy node comes back once its probes succeed again.
TEST(HealthCheck, ActiveCheckBringsRecoveredNodeBack) {
  NamedUpstream flaky("flaky"), ok("ok");
  GatewayProcess gw;
  GatewayOptions options;
  options.config_yaml = config_with_control();
  options.routes_yaml = routes_for(upstream_yaml({&flaky, &ok},
                                                 "    checks:\n"
                                                 "      active:\n"
                                                 "        http_path: /hc\n"
                                                 "        timeout: 1\n"
                                                 "        healthy:\n"
                                                 "          interval: 1\n"
                                                 "          successes: 1\n"
                                                 "        unhealthy:\n"
                                                 "          interval: 1\n"
                                                 "          http_failures: 1\n"));
  ASSERT_TRUE(gw.start(options));
  // The checker starts once the upstream served a request (core.md §7.7).
  ASSERT_EQ(http_get(gw.http_port(), "/a").status, 200);
  flaky.failing = true;
  ASSERT_TRUE(
      wait_until([&] { return node_status(gw, flaky.server->port()) == "unhealthy"; }, 10s, 50ms))
      << control_get(gw, "/v1/healthcheck/upstreams/u1").body;
  size_t before = flaky.proxied();
  std::map<std::string, int> bodies = count_bodies(gw.http_port(), "/a", 20);
  EXPECT_EQ(bodies["ok"], 20);
  EXPECT_EQ(flaky.proxied(), before);

  flaky.failing = false;
  ASSERT_TRUE(wait_until(
      [&] {
        count_bodies(gw.http_port(), "/a", 4);
        return flaky.proxied() > before;
      },
      10s, 50ms))
      << "the recovered node gets no traffic: "
      << control_get(gw, "/v1/healthcheck/upstreams/u1").body;
  EXPECT_EQ(node_status(gw, flaky.server->port()), "healthy");
}

// core.md §7.5: with every node unhealthy, all nodes are used.
TEST(HealthCheck, AllNodesUnhealthyTrafficStillFlows) {
  NamedUpstream a("a"), b("b");
  a.failing = true;
  b.failing = true;
  GatewayProcess gw;
  GatewayOptions options;
  options.config_yaml = config_with_control();
  options.routes_yaml = routes_for(upstream_yaml({&a, &b}, kPassiveChecks));
  ASSERT_TRUE(gw.start(options));
  ASSERT_TRUE(wait_until(
      [&] {
        count_bodies(gw.http_port(), "/x", 4);
        return node_status(gw, a.server->port()) == "unhealthy" &&
               node_status(gw, b.server->port()) == "unhealthy";
      },
      10s, 20ms));
  // Still failing, so both stay unhealthy: the requests reach them anyway (the nodes' own
  // 500s, never the gateway's 502 for "no node").
  size_t a_before = a.proxied();
  size_t b_before = b.proxied();
  std::map<std::string, int> bodies = count_bodies(gw.http_port(), "/x", 20);
  EXPECT_EQ(bodies["<status 500>"], 20);
  EXPECT_GT(a.proxied(), a_before);
  EXPECT_GT(b.proxied(), b_before);
}

// core.md §8.1: GET /v1/healthcheck lists the resources with checks; one entry by type/id;
// APISIX's 400/404 messages.
TEST(ControlApi, HealthcheckReportShapeAndErrors) {
  NamedUpstream a("a"), b("b");
  GatewayProcess gw;
  GatewayOptions options;
  options.config_yaml = config_with_control();
  options.routes_yaml = "upstreams:\n" + upstream_yaml({&a, &b}, kPassiveChecks) +
                        "  - id: plain\n    nodes:\n      \"" + a.address() +
                        "\": 1\n"
                        "routes:\n  - id: r1\n    uri: /*\n    upstream_id: u1\n"
                        "  - id: r2\n    uri: /inline\n    upstream:\n      nodes:\n        \"" +
                        b.address() + "\": 1\n" +
                        "      checks:\n        active:\n          type: tcp\n#END\n";
  ASSERT_TRUE(gw.start(options));
  ASSERT_NE(gw.control_port(), 0);

  // Before any request no checker exists: nodes is {} (APISIX's empty Lua table).
  HttpResponse one = control_get(gw, "/v1/healthcheck/upstreams/u1");
  ASSERT_EQ(one.status, 200) << one.describe();
  EXPECT_EQ(one.header("Content-Type"), "application/json");
  json::value v = json::parse(one.body);
  EXPECT_EQ(v.at("name").as_string(), "/upstreams/u1");
  EXPECT_EQ(v.at("type").as_string(), "http");
  EXPECT_TRUE(v.at("nodes").is_object() && v.at("nodes").as_object().empty()) << one.body;

  ASSERT_EQ(http_get(gw.http_port(), "/p").status, 200);
  ASSERT_EQ(http_get(gw.http_port(), "/inline").status, 200);
  HttpResponse list = control_get(gw, "/v1/healthcheck");
  ASSERT_EQ(list.status, 200) << list.describe();
  json::value all = json::parse(list.body);
  ASSERT_TRUE(all.is_array()) << list.body;
  ASSERT_EQ(all.as_array().size(), 2u) << list.body;
  EXPECT_EQ(all.as_array()[0].at("name").as_string(), "/routes/r2");
  EXPECT_EQ(all.as_array()[0].at("type").as_string(), "tcp");
  const json::value& entry = all.as_array()[1];
  EXPECT_EQ(entry.at("name").as_string(), "/upstreams/u1");
  ASSERT_TRUE(entry.at("nodes").is_array()) << list.body;
  ASSERT_EQ(entry.at("nodes").as_array().size(), 2u) << list.body;
  for (const json::value& node : entry.at("nodes").as_array()) {
    EXPECT_EQ(node.at("ip").as_string(), "127.0.0.1");
    EXPECT_TRUE(node.at("port").is_number());
    EXPECT_EQ(node.at("hostname").as_string(), "127.0.0.1");
    EXPECT_EQ(node.at("status").as_string(), "healthy");
    const json::object& counter = node.at("counter").as_object();
    for (const char* key : {"success", "http_failure", "tcp_failure", "timeout_failure"}) {
      EXPECT_TRUE(counter.contains(key)) << key << " in " << list.body;
    }
  }

  HttpResponse html =
      control_get(gw, "/v1/healthcheck", {{"Host", "127.0.0.1"}, {"Accept", "text/html"}});
  EXPECT_EQ(html.status, 200);
  EXPECT_NE(html.body.find("APISIX upstream check status"), std::string::npos);

  auto error_of = [&](std::string_view path) {
    HttpResponse r = control_get(gw, path);
    return std::to_string(r.status) + " " + r.body;
  };
  EXPECT_EQ(error_of("/v1/healthcheck/upstreams/none"),
            "404 {\"error_msg\":\"upstreams[none] not found\"}\n");
  EXPECT_EQ(error_of("/v1/healthcheck/upstreams/plain"),
            "404 {\"error_msg\":\"no checker for upstreams[plain]\"}\n");
  EXPECT_EQ(error_of("/v1/healthcheck/nodes/1"),
            "400 {\"error_msg\":\"invalid src type nodes\"}\n");
  EXPECT_EQ(error_of("/v1/healthcheck/upstreams"),
            "404 {\"error_msg\":\"missing src id for src type upstreams\"}\n");
  EXPECT_EQ(control_get(gw, "/v1/nothing").status, 404);
}

}  // namespace
}  // namespace apisix::test
