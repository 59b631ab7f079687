// discovery_type "dns" against a real dnsmasq (core.md §7.4, apisix/discovery/dns/init.lua).

#include <algorithm>

#include <gtest/gtest.h>

#include "tests/dns/dns_test_support.h"
#include "tests/harness/dns_server.h"
#include "upstream/dns_cache.h"
#include "upstream/dns_discovery.h"

namespace apisix::upstream {
namespace {

using namespace std::chrono_literals;
using test::DnsmasqServer;
using test::DnsRecords;

DnsRecords service_records() {
  DnsRecords r;
  r.host_records = {{"a.test", {"10.2.0.1"}, 30}, {"web.test", {"10.2.0.5"}, 30}};
  r.hosts = {{"10.2.0.2", "b.test"}, {"10.2.0.3", "b.test"}};
  r.srvs = {{"_http._tcp.api.test", "a.test", 8080, 10, 30},
            {"_http._tcp.api.test", "b.test", 0, 20, 0}};
  r.local_ttl_s = 2;
  return r;
}

std::unique_ptr<DnsDiscovery> make_discovery(core::Loop& loop, const DnsmasqServer& server,
                                             std::optional<std::vector<std::string>> order = {}) {
  auto config =
      make_dns_discovery_config(std::vector<std::string>{server.address()}, std::nullopt, order);
  EXPECT_TRUE(config.ok());
  DnsResolverOptions base;
  base.use_search = false;
  base.timeout = 500ms;
  base.attempts = 2;
  auto d = DnsDiscovery::create(loop, *config, true, base);
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().context);
  return d.ok() ? std::move(*d) : nullptr;
}

std::vector<DiscoveredNode> sorted(std::vector<DiscoveredNode> nodes) {
  std::sort(nodes.begin(), nodes.end(),
            [](const DiscoveredNode& a, const DiscoveredNode& b) { return a.host < b.host; });
  return nodes;
}

// SRV: priority negated, weight 0 -> 1, split over b.test's two addresses and scaled by
// lcm(1, 2) = 2; port 0 left for the scheme default.
TEST(DnsDiscovery, SrvServiceNameMapsPriorityWeightAndPort) {
  DnsmasqServer server{service_records()};
  ASSERT_TRUE(server.ok()) << server.error();
  core::Loop loop;
  auto discovery = make_discovery(loop, server);
  ASSERT_TRUE(discovery);
  ASSERT_TRUE(test::run_test_on_loop(loop, [&]() -> core::Task<void> {
    auto nodes = co_await discovery->nodes("_http._tcp.api.test");
    EXPECT_TRUE(nodes.ok()) << (nodes.ok() ? "" : nodes.error().context);
    if (nodes.ok()) {
      EXPECT_EQ(sorted(*nodes), (std::vector<DiscoveredNode>{{"10.2.0.1", 8080, 60, -10},
                                                             {"10.2.0.2", 0, 1, -20},
                                                             {"10.2.0.3", 0, 1, -20}}));
    }
    auto with_port = co_await discovery->nodes("_http._tcp.api.test:9000");
    EXPECT_TRUE(with_port.ok());
    if (with_port.ok()) {
      for (const auto& n : *with_port) {
        EXPECT_EQ(n.port, 9000);
      }
    }
  }));
}

TEST(DnsDiscovery, PlainNameFallsThroughOrderToARecords) {
  DnsmasqServer server{service_records()};
  ASSERT_TRUE(server.ok()) << server.error();
  core::Loop loop;
  auto discovery = make_discovery(loop, server);
  ASSERT_TRUE(discovery);
  ASSERT_TRUE(test::run_test_on_loop(loop, [&]() -> core::Task<void> {
    // Default order last, SRV, A, AAAA, CNAME: no SRV for web.test, so A answers.
    auto nodes = co_await discovery->nodes("web.test:8080");
    EXPECT_TRUE(nodes.ok()) << (nodes.ok() ? "" : nodes.error().context);
    if (nodes.ok()) {
      EXPECT_EQ(*nodes, (std::vector<DiscoveredNode>{{"10.2.0.5", 8080, 1, 0}}));
    }
    // Again: "last" remembers A.
    auto again = co_await discovery->nodes("web.test");
    EXPECT_TRUE(again.ok());
    if (again.ok()) {
      EXPECT_EQ(*again, (std::vector<DiscoveredNode>{{"10.2.0.5", 0, 1, 0}}));
    }
    auto missing = co_await discovery->nodes("nothing.test:80");
    EXPECT_FALSE(missing.ok());
    if (!missing.ok()) {
      EXPECT_NE(missing.error().context.find("nothing.test:80"), std::string::npos);
    }
    auto bad = co_await discovery->nodes("web.test:http");
    EXPECT_FALSE(bad.ok());
  }));
}

TEST(DnsDiscovery, OrderWithoutSrvIgnoresSrvRecords) {
  DnsmasqServer server{service_records()};
  ASSERT_TRUE(server.ok()) << server.error();
  core::Loop loop;
  auto discovery = make_discovery(loop, server, std::vector<std::string>{"A"});
  ASSERT_TRUE(discovery);
  ASSERT_TRUE(test::run_test_on_loop(loop, [&]() -> core::Task<void> {
    auto nodes = co_await discovery->nodes("_http._tcp.api.test");
    EXPECT_FALSE(nodes.ok());
  }));
}

// The refresher over discovery: a changed SRV set (dnsmasq restarted on the same port) reaches
// the watcher as new nodes.
TEST(DnsDiscovery, CacheReportsChangedSrvRecords) {
  DnsmasqServer server{service_records()};
  ASSERT_TRUE(server.ok()) << server.error();
  core::Loop loop;
  auto discovery = make_discovery(loop, server);
  ASSERT_TRUE(discovery);
  DnsCacheOptions options;
  options.min_ttl = 100ms;
  DnsCache cache(
      loop, [d = discovery.get()](std::string key) { return d->lookup(std::move(key)); }, options);
  std::vector<std::vector<DiscoveredNode>> seen;
  ASSERT_TRUE(test::run_test_on_loop(loop, [&]() -> core::Task<void> {
    cache.watch("_http._tcp.api.test", [&](const std::string&, const DnsAnswer& answer) {
      seen.push_back(sorted(nodes_from_answer(answer, std::nullopt)));
    });
    EXPECT_TRUE(co_await test::eventually(
        loop, [&] { return seen.size() == 1; }, 10s));
    DnsRecords changed = service_records();
    changed.srvs = {{"_http._tcp.api.test", "a.test", 8081, 5, 7}};
    uint16_t port = server.port();
    EXPECT_TRUE(server.restart(changed)) << server.error();
    EXPECT_EQ(server.port(), port);
    EXPECT_TRUE(co_await test::eventually(
        loop, [&] { return seen.size() == 2; }, 15s));
    if (seen.size() == 2) {
      EXPECT_EQ(seen[1], (std::vector<DiscoveredNode>{{"10.2.0.1", 8081, 7, -5}}));
    }
  }));
}

}  // namespace
}  // namespace apisix::upstream
