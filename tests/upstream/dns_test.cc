// Domain nodes and DNS discovery through the real binary, against a real dnsmasq
// (core.md §1.3 `apisix.dns_resolver`, §7.3 domain nodes, §7.4 `discovery.dns`): names are
// resolved by the gateway's own resolver without blocking, an unresolvable name leaves no
// node (503), and record changes reach the traffic without a config change.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/harness/dns_server.h"
#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

// An origin at `ip`:`port` (port 0: any) that answers 200 with `name` as the body.
std::unique_ptr<UpstreamServer> named_server(const std::string& name, const std::string& ip,
                                             uint16_t port = 0) {
  UpstreamOptions options;
  options.name = name;
  options.ip = ip;
  options.port = port;
  auto server = std::make_unique<UpstreamServer>(options);
  server->set_handler([name](const RecordedRequest&, ResponseWriter& w) {
    w.respond(200, {{"Content-Type", "text/plain"}}, name);
  });
  return server;
}

// Bodies of `count` GETs of /dns over one connection ("<status N>" for other statuses).
std::map<std::string, int> bodies(uint16_t port, int count) {
  std::map<std::string, int> out;
  auto client = std::make_unique<RawClient>(port);
  for (int i = 0; i < count; ++i) {
    HttpResponse resp = client->get("/dns");
    if (!resp.ok()) {
      out["<error>"]++;
      client = std::make_unique<RawClient>(port);
    } else if (resp.status != 200) {
      out["<status " + std::to_string(resp.status) + ">"]++;
    } else {
      out[resp.body]++;
    }
  }
  return out;
}

std::string describe(const std::map<std::string, int>& counts) {
  std::string out;
  for (const auto& [body, n] : counts) {
    out += body + "=" + std::to_string(n) + " ";
  }
  return out;
}

// Waits until every one of `count` requests is answered by `name`.
bool all_from(uint16_t port, const std::string& name, std::chrono::milliseconds timeout,
              std::map<std::string, int>& last) {
  return wait_until(
      [&] {
        last = bodies(port, 4);
        return last.size() == 1 && last.begin()->first == name;
      },
      timeout, 50ms);
}

GatewayOptions with_resolver(const DnsmasqServer& dns, std::string routes) {
  GatewayOptions options;
  options.config.extra_apisix_yaml = "  dns_resolver: [\"" + dns.address() + "\"]\n";
  options.routes_yaml = std::move(routes);
  return options;
}

// core.md §7.3: a domain node is resolved with apisix.dns_resolver; pass_host node sends the
// domain (and port) as Host; when the A record moves to another address the traffic follows.
TEST(DomainNodes, ResolvedWithTheConfiguredResolverAndFollowRecordChanges) {
  auto first = named_server("first", "127.0.0.1");
  auto second = named_server("second", "127.0.0.2", first->port());
  DnsRecords records;
  records.hosts = {{"127.0.0.1", "web.test"}};
  DnsmasqServer dns(records);
  ASSERT_TRUE(dns.ok()) << dns.error();
  std::string port = std::to_string(first->port());

  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(with_resolver(
      dns, "upstreams:\n  - id: u1\n    pass_host: node\n    nodes:\n      \"web.test:" + port +
               "\": 1\n    timeout: {connect: 3, send: 3, read: 3}\n"
               "routes:\n  - id: r1\n    uri: /*\n    upstream_id: u1\n#END\n")));

  std::map<std::string, int> last;
  ASSERT_TRUE(all_from(gateway.http_port(), "first", 10s, last))
      << describe(last) << gateway.describe_logs();
  auto request = first->last_request();
  ASSERT_TRUE(request);
  EXPECT_EQ(request->headers.value_or_empty("Host"), "web.test:" + port);

  ASSERT_TRUE(dns.set_hosts({{"127.0.0.2", "web.test"}}, "web.test")) << dns.error();
  ASSERT_TRUE(all_from(gateway.http_port(), "second", 15s, last))
      << describe(last) << gateway.describe_logs();
  request = second->last_request();
  ASSERT_TRUE(request);
  EXPECT_EQ(request->headers.value_or_empty("Host"), "web.test:" + port);
}

// core.md §7.3: a name that does not resolve is left out; with no node left the route answers
// 503 (§7.11), and the other routes are not held up by it.
TEST(DomainNodes, UnresolvableNameAnswers503WithoutBlockingOthers) {
  auto origin = named_server("ip", "127.0.0.1");
  DnsRecords records;
  DnsmasqServer dns(records);
  ASSERT_TRUE(dns.ok()) << dns.error();

  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(
      with_resolver(dns,
                    "upstreams:\n  - id: u1\n    nodes:\n      \"missing.test:80\": 1\n"
                    "  - id: u2\n    nodes:\n      \"" +
                        origin->address() +
                        "\": 1\n"
                        "routes:\n  - id: r1\n    uri: /missing\n    upstream_id: u1\n"
                        "  - id: r2\n    uri: /ip\n    upstream_id: u2\n#END\n")));

  HttpResponse ip = http_get(gateway.http_port(), "/ip");
  EXPECT_EQ(ip.status, 200) << ip.describe() << gateway.describe_logs();
  HttpResponse missing = http_get(gateway.http_port(), "/missing");
  EXPECT_EQ(missing.status, 503) << missing.describe() << gateway.describe_logs();
  EXPECT_TRUE(wait_until(
      [&] { return gateway.error_log().find("missing.test") != std::string::npos; }, 10s))
      << gateway.describe_logs();
  missing = http_get(gateway.http_port(), "/missing");
  EXPECT_EQ(missing.status, 503) << missing.describe();
}

// core.md §7.3: names of the hosts file resolve without asking DNS (here no resolver
// answers: the configured one is a closed port).
TEST(DomainNodes, HostsFileNamesNeedNoDns) {
  auto origin = named_server("local", "127.0.0.1");
  GatewayProcess gateway;
  GatewayOptions options;
  options.config.extra_apisix_yaml = "  dns_resolver: [\"127.0.0.1:1\"]\n";
  options.routes_yaml =
      "upstreams:\n  - id: u1\n    nodes:\n      \"localhost:" + std::to_string(origin->port()) +
      "\": 1\nroutes:\n  - id: r1\n    uri: /*\n    upstream_id: u1\n#END\n";
  ASSERT_TRUE(gateway.start(options));
  HttpResponse resp = http_get(gateway.http_port(), "/local");
  EXPECT_EQ(resp.status, 200) << resp.describe() << gateway.describe_logs();
  EXPECT_EQ(resp.body, "local");
}

// core.md §7.4: discovery_type dns with SRV records: one node per target (SRV port), SRV
// weights as node weights; a changed SRV set is followed.
TEST(DnsDiscovery, SrvTargetsWithWeightsAndRecordChanges) {
  auto light = named_server("light", "127.0.0.1");
  auto heavy = named_server("heavy", "127.0.0.1");
  auto later = named_server("later", "127.0.0.1");
  DnsRecords records;
  records.host_records = {{"light.test", {"127.0.0.1"}, 1},
                          {"heavy.test", {"127.0.0.1"}, 1},
                          {"later.test", {"127.0.0.1"}, 1}};
  records.srvs = {{"_http._tcp.svc.test", "light.test", light->port(), 10, 1},
                  {"_http._tcp.svc.test", "heavy.test", heavy->port(), 10, 3}};
  DnsmasqServer dns(records);
  ASSERT_TRUE(dns.ok()) << dns.error();

  GatewayProcess gateway;
  GatewayOptions options;
  options.config.extra_yaml =
      "discovery:\n  dns:\n    servers:\n      - \"" + dns.address() + "\"\n";
  options.routes_yaml =
      "upstreams:\n  - id: u1\n    service_name: _http._tcp.svc.test\n"
      "    discovery_type: dns\n    timeout: {connect: 3, send: 3, read: 3}\n"
      "routes:\n  - id: r1\n    uri: /*\n    upstream_id: u1\n#END\n";
  ASSERT_TRUE(gateway.start(options));

  // Until the first answer the upstream has no node (503).
  std::map<std::string, int> counts;
  ASSERT_TRUE(wait_until(
      [&] {
        counts = bodies(gateway.http_port(), 4);
        return counts.count("light") + counts.count("heavy") > 0 &&
               counts.count("<status 503>") == 0;
      },
      10s, 50ms))
      << describe(counts) << gateway.describe_logs();
  counts = bodies(gateway.http_port(), 400);
  EXPECT_EQ(counts["light"] + counts["heavy"], 400) << describe(counts);
  EXPECT_NEAR(counts["heavy"], 300, 30) << describe(counts);

  DnsRecords changed = records;
  changed.srvs = {{"_http._tcp.svc.test", "later.test", later->port(), 10, 1}};
  ASSERT_TRUE(dns.restart(changed)) << dns.error();
  ASSERT_TRUE(all_from(gateway.http_port(), "later", 15s, counts))
      << describe(counts) << gateway.describe_logs();
}

// core.md §7.4 / §7.11: discovery_type dns without discovery.dns in config.yaml: 503.
TEST(DnsDiscovery, NotEnabledAnswers503) {
  GatewayProcess gateway;
  GatewayOptions options;
  options.routes_yaml =
      "upstreams:\n  - id: u1\n    service_name: svc.test\n    discovery_type: dns\n"
      "routes:\n  - id: r1\n    uri: /*\n    upstream_id: u1\n#END\n";
  ASSERT_TRUE(gateway.start(options));
  HttpResponse resp = http_get(gateway.http_port(), "/x");
  EXPECT_EQ(resp.status, 503) << resp.describe() << gateway.describe_logs();
}

}  // namespace
}  // namespace apisix::test
