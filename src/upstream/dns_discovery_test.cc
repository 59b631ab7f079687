#include "upstream/dns_discovery.h"

#include <gtest/gtest.h>

namespace apisix::upstream {
namespace {

using Strings = std::vector<std::string>;

// core.md §7.4: exactly one of servers / resolv_conf; order from a fixed vocabulary.
TEST(DnsDiscoveryConfig, FollowsApisixSchema) {
  auto ok = make_dns_discovery_config(Strings{"127.0.0.1:8053"}, std::nullopt, std::nullopt);
  ASSERT_TRUE(ok.ok()) << ok.error().context;
  EXPECT_EQ(ok->servers, Strings{"127.0.0.1:8053"});
  EXPECT_EQ(ok->order.size(), 5u);
  EXPECT_EQ(ok->order.front(), DnsLookupStep::Last);

  auto conf =
      make_dns_discovery_config(std::nullopt, std::string("/etc/resolv.conf"), Strings{"A", "SRV"});
  ASSERT_TRUE(conf.ok());
  EXPECT_EQ(conf->resolv_conf, "/etc/resolv.conf");
  EXPECT_EQ(conf->order, (std::vector<DnsLookupStep>{DnsLookupStep::A, DnsLookupStep::SRV}));

  EXPECT_FALSE(make_dns_discovery_config(std::nullopt, std::nullopt, std::nullopt).ok());
  EXPECT_FALSE(make_dns_discovery_config(Strings{"1.1.1.1"}, std::string("/x"), std::nullopt).ok());
  EXPECT_FALSE(make_dns_discovery_config(Strings{}, std::nullopt, std::nullopt).ok());
  EXPECT_FALSE(make_dns_discovery_config(Strings{"dns.local"}, std::nullopt, std::nullopt).ok());
  EXPECT_FALSE(make_dns_discovery_config(Strings{"1.1.1.1"}, std::nullopt, Strings{}).ok());
  EXPECT_FALSE(make_dns_discovery_config(Strings{"1.1.1.1"}, std::nullopt, Strings{"A", "A"}).ok());
  EXPECT_FALSE(make_dns_discovery_config(Strings{"1.1.1.1"}, std::nullopt, Strings{"MX"}).ok());
}

TEST(ServiceName, SplitsHostAndPortLikeParseAddr) {
  auto plain = parse_service_name("svc.test");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->host, "svc.test");
  EXPECT_FALSE(plain->port.has_value());

  auto with_port = parse_service_name("_http._tcp.svc.test:8080");
  ASSERT_TRUE(with_port.ok());
  EXPECT_EQ(with_port->host, "_http._tcp.svc.test");
  EXPECT_EQ(with_port->port, 8080);

  auto v6 = parse_service_name("[::1]:80");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 80);
  auto bare6 = parse_service_name("fd00::1");
  ASSERT_TRUE(bare6.ok());
  EXPECT_EQ(bare6->host, "fd00::1");
  EXPECT_FALSE(bare6->port.has_value());

  EXPECT_FALSE(parse_service_name("").ok());
  EXPECT_FALSE(parse_service_name(":80").ok());
  EXPECT_FALSE(parse_service_name("svc.test:http").ok());
  EXPECT_FALSE(parse_service_name("svc.test:0").ok());
  EXPECT_FALSE(parse_service_name("svc.test:70000").ok());
}

DnsAddress addr(std::string ip) {
  DnsAddress a;
  a.is_ipv6 = ip.find(':') != std::string::npos;
  a.ip = std::move(ip);
  a.ttl_s = 5;
  return a;
}

DnsAddress srv_addr(std::string ip, std::string target, uint16_t port, uint16_t priority,
                    uint16_t weight) {
  DnsAddress a;
  a.ip = std::move(ip);
  a.is_ipv6 = a.ip.find(':') != std::string::npos;
  a.target = std::move(target);
  a.port = port;
  a.priority = priority;
  a.weight = weight;
  return a;
}

TEST(DnsDiscoveryNodes, AddressAnswersTakeServicePortAndWeightOne) {
  DnsAnswer answer;
  answer.type = RecordType::A;
  answer.addresses = {addr("10.0.0.1"), addr("10.0.0.2")};
  EXPECT_EQ(nodes_from_answer(answer, 8080),
            (std::vector<DiscoveredNode>{{"10.0.0.1", 8080, 1, 0}, {"10.0.0.2", 8080, 1, 0}}));
  // No port in service_name: the scheme default applies later (port 0 here).
  EXPECT_EQ(nodes_from_answer(answer, std::nullopt)[0].port, 0);

  DnsAnswer v6;
  v6.type = RecordType::AAAA;
  v6.addresses = {addr("fd00::1")};
  EXPECT_EQ(nodes_from_answer(v6, 80)[0].host, "[fd00::1]");
}

// core.md §7.4 / discovery/dns/init.lua + core/dns/client.lua resolve_srv: weight split over a
// target's addresses and scaled by the LCM of the counts; priority negated; port 0 falls back.
TEST(DnsDiscoveryNodes, SrvMapsWeightPriorityAndPortLikeApisix) {
  DnsAnswer answer;
  answer.type = RecordType::SRV;
  answer.addresses = {
      srv_addr("10.0.0.1", "a.test", 8080, 1, 10),  // target a: 1 address
      srv_addr("10.0.0.2", "b.test", 0, 2, 0),      // target b: 2 addresses, weight 0 -> 1
      srv_addr("10.0.0.3", "b.test", 0, 2, 0),
      srv_addr("10.0.0.4", "c.test", 9090, 1, 30),  // target c: 3 addresses
      srv_addr("10.0.0.5", "c.test", 9090, 1, 30),
      srv_addr("10.0.0.6", "c.test", 9090, 1, 30),
  };
  auto nodes = nodes_from_answer(answer, std::nullopt);
  ASSERT_EQ(nodes.size(), 6u);
  // lcm(1, 2, 3) = 6: a -> 10/1*6 = 60; b -> 1/2*6 = 3 each; c -> 30/3*6 = 60 each.
  EXPECT_EQ(nodes[0], (DiscoveredNode{"10.0.0.1", 8080, 60, -1}));
  EXPECT_EQ(nodes[1], (DiscoveredNode{"10.0.0.2", 0, 3, -2}));
  EXPECT_EQ(nodes[2], (DiscoveredNode{"10.0.0.3", 0, 3, -2}));
  EXPECT_EQ(nodes[3], (DiscoveredNode{"10.0.0.4", 9090, 60, -1}));
  // A port in service_name wins over the SRV port.
  EXPECT_EQ(nodes_from_answer(answer, 443)[0].port, 443);
}

}  // namespace
}  // namespace apisix::upstream
