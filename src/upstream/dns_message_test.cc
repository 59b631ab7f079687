#include "upstream/dns_message.h"

#include <gtest/gtest.h>

#include "upstream/dns_resolver.h"

namespace apisix::upstream {
namespace {

// Appends a record with a compressed owner (pointer to the question name at offset 12).
void add_record(std::vector<uint8_t>& m, uint16_t type, uint32_t ttl,
                const std::vector<uint8_t>& rdata) {
  m.insert(m.end(), {0xC0, 12, static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type), 0, 1,
                     static_cast<uint8_t>(ttl >> 24), static_cast<uint8_t>(ttl >> 16),
                     static_cast<uint8_t>(ttl >> 8), static_cast<uint8_t>(ttl),
                     static_cast<uint8_t>(rdata.size() >> 8), static_cast<uint8_t>(rdata.size())});
  m.insert(m.end(), rdata.begin(), rdata.end());
}

std::vector<uint8_t> reply_to(std::string_view name, RecordType type, uint16_t ancount) {
  std::vector<uint8_t> m = build_dns_query(0x4242, name, type);
  m[2] = 0x81;  // QR, RD
  m[3] = 0x80;  // RA, NOERROR
  m[7] = static_cast<uint8_t>(ancount);
  return m;
}

TEST(DnsMessage, ReadsAddressRecordsWithTtl) {
  auto m = reply_to("a.test", RecordType::A, 2);
  add_record(m, 1, 30, {10, 0, 0, 1});
  add_record(m, 1, 7, {10, 0, 0, 2});
  auto reply = parse_dns_reply(m);
  ASSERT_TRUE(reply.ok()) << reply.error().context;
  EXPECT_EQ(reply->id, 0x4242);
  EXPECT_EQ(reply->rcode, 0);
  ASSERT_EQ(reply->answers.size(), 2u);
  EXPECT_EQ(reply->answers[0].owner, "a.test");
  EXPECT_EQ(reply->answers[0].data, "10.0.0.1");
  EXPECT_EQ(reply->answers[0].ttl_s, 30u);
  EXPECT_EQ(reply->answers[1].ttl_s, 7u);
}

TEST(DnsMessage, ReadsAaaaCnameAndSrvWithCompressedNames) {
  auto m = reply_to("Svc.Test", RecordType::SRV, 3);
  std::vector<uint8_t> v6(16, 0);
  v6[0] = 0xfd;
  v6[15] = 1;
  add_record(m, 28, 5, v6);
  add_record(m, 5, 9, {1, 'x', 0xC0, 12});  // x.svc.test
  // SRV 10 20 8080 -> "t." + pointer to the question name
  add_record(m, 33, 11, {0, 10, 0, 20, 0x1F, 0x90, 1, 't', 0xC0, 12});
  auto reply = parse_dns_reply(m);
  ASSERT_TRUE(reply.ok()) << reply.error().context;
  ASSERT_EQ(reply->answers.size(), 3u);
  EXPECT_EQ(reply->answers[0].data, "fd00::1");
  EXPECT_EQ(reply->answers[1].data, "x.svc.test");
  EXPECT_EQ(reply->answers[2].owner, "svc.test");
  EXPECT_EQ(reply->answers[2].data, "t.svc.test");
  EXPECT_EQ(reply->answers[2].priority, 10);
  EXPECT_EQ(reply->answers[2].weight, 20);
  EXPECT_EQ(reply->answers[2].port, 8080);
}

TEST(DnsMessage, RejectsTruncatedAndLoopingMessages) {
  auto m = reply_to("a.test", RecordType::A, 1);
  add_record(m, 1, 30, {10, 0, 0, 1});
  for (size_t cut = 0; cut < m.size(); ++cut) {
    auto r = parse_dns_reply(std::span<const uint8_t>(m.data(), cut));
    EXPECT_FALSE(r.ok()) << "cut at " << cut;
  }
  // A name pointer to itself must not loop.
  auto loop = reply_to("a.test", RecordType::A, 1);
  size_t at = loop.size();
  add_record(loop, 5, 1, {0xC0, 0});
  loop[at + 12] = static_cast<uint8_t>((at + 12) >> 8 | 0xC0);
  loop[at + 13] = static_cast<uint8_t>(at + 12);
  EXPECT_FALSE(parse_dns_reply(loop).ok());
  // Wrong address length.
  auto bad = reply_to("a.test", RecordType::A, 1);
  add_record(bad, 1, 30, {10, 0, 0});
  EXPECT_FALSE(parse_dns_reply(bad).ok());
}

TEST(DnsMessage, ReportsRcode) {
  auto m = reply_to("nope.test", RecordType::A, 0);
  m[3] = 0x83;
  auto reply = parse_dns_reply(m);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->rcode, 3);
  EXPECT_TRUE(reply->answers.empty());
}

TEST(DnsServerList, ParsesApisixForms) {
  auto v4 = parse_dns_server("127.0.0.1");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->to_string(), "127.0.0.1:53");
  auto v4p = parse_dns_server("10.1.2.3:5353");
  ASSERT_TRUE(v4p.ok());
  EXPECT_EQ(v4p->port, 5353);
  auto v6 = parse_dns_server("[::1]:8053");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->is_ipv6);
  EXPECT_EQ(v6->to_string(), "[::1]:8053");
  auto bare6 = parse_dns_server("fd00::53");
  ASSERT_TRUE(bare6.ok());
  EXPECT_EQ(bare6->port, 53);
  EXPECT_FALSE(parse_dns_server("fe80::1%eth0").ok());
  EXPECT_FALSE(parse_dns_server("dns.example:53").ok());
  EXPECT_FALSE(parse_dns_server("1.2.3.4:0").ok());
  EXPECT_FALSE(parse_dns_server("1.2.3.4:99999").ok());
  EXPECT_FALSE(parse_dns_server("[::1").ok());
}

// APISIX's CLI takes lines that are exactly "nameserver <addr>" and drops zone ids.
TEST(DnsServerList, ReadsResolvConf) {
  auto servers = nameservers_from_resolv_conf(
      "# comment\nsearch example.com\nnameserver 10.0.0.53\nnameserver  fe80::1%eth0\n"
      "nameserver ::1\noptions ndots:2\nnameserver 1.1.1.1 trailing\n");
  EXPECT_EQ(servers, (std::vector<std::string>{"10.0.0.53", "::1"}));
}

DnsAddress addr(std::string ip, uint32_t ttl_s) {
  DnsAddress a;
  a.ip = std::move(ip);
  a.ttl_s = ttl_s;
  return a;
}

TEST(DnsAnswerCompare, IgnoresOrderAndTtl) {
  DnsAnswer a;
  a.addresses = {addr("10.0.0.1", 5), addr("10.0.0.2", 5)};
  DnsAnswer b;
  b.addresses = {addr("10.0.0.2", 60), addr("10.0.0.1", 1)};
  EXPECT_TRUE(same_addresses(a, b));
  b.addresses[0].ip = "10.0.0.3";
  EXPECT_FALSE(same_addresses(a, b));
}

}  // namespace
}  // namespace apisix::upstream
