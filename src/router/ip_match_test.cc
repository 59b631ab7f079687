#include "router/ip_match.h"

#include <cstring>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

namespace apisix::router {
namespace {

IpMatcher compile_ok(const std::vector<std::string>& entries) {
  Result<IpMatcher> m = IpMatcher::compile(entries);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().context);
  return m.ok() ? std::move(m).value() : IpMatcher{};
}

struct MatchCase {
  std::vector<std::string> rules;
  const char* ip;
  bool expected;
};

// NOLINTNEXTLINE(readability-identifier-naming): GoogleTest's printer hook
void PrintTo(const MatchCase& c, std::ostream* os) {
  *os << c.ip << " in {";
  for (const std::string& r : c.rules) {
    *os << r << ' ';
  }
  *os << '}';
}

class IpMatchTest : public ::testing::TestWithParam<MatchCase> {};

TEST_P(IpMatchTest, Contains) {
  const MatchCase& c = GetParam();
  const IpMatcher m = compile_ok(c.rules);
  EXPECT_EQ(m.contains(c.ip), c.expected);
}

// core.md §5.5 remote_addrs / §5.7 ipmatch: IPv4 addresses and CIDRs.
INSTANTIATE_TEST_SUITE_P(
    V4, IpMatchTest,
    ::testing::Values(
        MatchCase{{"127.0.0.1"}, "127.0.0.1", true}, MatchCase{{"127.0.0.1"}, "127.0.0.2", false},
        MatchCase{{"127.0.0.0/16"}, "127.0.200.3", true},
        MatchCase{{"127.0.0.0/16"}, "127.1.0.1", false},
        MatchCase{{"10.1.2.3/8"}, "10.255.255.255", true},
        MatchCase{{"192.168.1.0/24", "10.0.0.0/8"}, "10.9.9.9", true},
        MatchCase{{"192.168.1.0/24", "10.0.0.0/8"}, "11.0.0.1", false},
        MatchCase{{"0.0.0.0/0"}, "203.0.113.7", true}, MatchCase{{"0.0.0.0/0"}, "::1", false},
        MatchCase{{"1.2.3.4/32"}, "1.2.3.4", true}, MatchCase{{"1.2.3.4/31"}, "1.2.3.5", true},
        MatchCase{{"1.2.3.4/31"}, "1.2.3.6", false}, MatchCase{{"128.0.0.0/1"}, "200.1.1.1", true},
        MatchCase{{"128.0.0.0/1"}, "100.1.1.1", false}, MatchCase{{"1.2.3.4"}, "1.2.3.4 ", false},
        MatchCase{{"1.2.3.4"}, "", false}, MatchCase{{"1.2.3.4"}, "not-an-ip", false},
        MatchCase{{}, "1.2.3.4", false}));

// core.md §5.5 / §5.7: IPv6 addresses and CIDRs, bracketed forms as lua-resty-ipmatcher
// accepts them.
INSTANTIATE_TEST_SUITE_P(
    V6, IpMatchTest,
    ::testing::Values(
        MatchCase{{"::1"}, "::1", true}, MatchCase{{"::1"}, "0:0:0:0:0:0:0:1", true},
        MatchCase{{"::1"}, "::2", false}, MatchCase{{"2001:db8::/32"}, "2001:db8:ffff::1", true},
        MatchCase{{"2001:db8::/32"}, "2001:db9::1", false},
        MatchCase{{"2001:db8::/64"}, "2001:db8::ffff:ffff:ffff:ffff", true},
        MatchCase{{"2001:db8::/64"}, "2001:db8:0:1::", false},
        MatchCase{{"2001:db8::1/127"}, "2001:db8::0", true},
        MatchCase{{"2001:db8::/96"}, "2001:db8::1.2.3.4", true},
        MatchCase{{"fe80::/10"}, "febf::1", true}, MatchCase{{"fe80::/10"}, "fec0::1", false},
        MatchCase{{"::/0"}, "2001:db8::1", true}, MatchCase{{"::/0"}, "1.2.3.4", false},
        MatchCase{{"[::1]"}, "::1", true}, MatchCase{{"[2001:db8::]/32"}, "[2001:db8::5]", true},
        MatchCase{{"2001:db8::1"}, "2001:DB8::1", true}, MatchCase{{"::1"}, "::1%lo", false}));

// core.md §5.5: IPv4-mapped IPv6 peers (dual-stack listeners) match IPv4 rules, and rules
// written in mapped form match plain IPv4 peers.
INSTANTIATE_TEST_SUITE_P(Mapped, IpMatchTest,
                         ::testing::Values(MatchCase{{"10.0.0.0/8"}, "::ffff:10.1.2.3", true},
                                           MatchCase{{"10.0.0.0/8"}, "::ffff:11.1.2.3", false},
                                           MatchCase{{"1.2.3.4"}, "::FFFF:1.2.3.4", true},
                                           MatchCase{{"1.2.3.4"}, "::ffff:102:304", true},
                                           MatchCase{{"::ffff:1.2.3.0/120"}, "1.2.3.99", true},
                                           MatchCase{{"::ffff:1.2.3.4"}, "1.2.3.4", true},
                                           MatchCase{{"::ffff:0:0/96"}, "8.8.8.8", true},
                                           MatchCase{{"::/64"}, "::ffff:1.2.3.4", true},
                                           MatchCase{{"1.2.3.4"}, "::1.2.3.4", false}));

struct BadCase {
  const char* entry;
};

class IpMatchErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(IpMatchErrorTest, NamesTheEntry) {
  const std::string entry = GetParam().entry;
  Result<IpMatcher> m = IpMatcher::compile({"10.0.0.0/8", entry});
  ASSERT_FALSE(m.ok()) << entry;
  EXPECT_EQ(m.error().context, "invalid ip address: " + entry);
  EXPECT_EQ(m.error().source, ErrorSource::Config);
}

// core.md §5.7 ipmatch: a bad address or prefix is refused with APISIX's message.
INSTANTIATE_TEST_SUITE_P(Compile, IpMatchErrorTest,
                         ::testing::Values(BadCase{""}, BadCase{"1.2.3"}, BadCase{"1.2.3.4.5"},
                                           BadCase{"256.1.1.1"}, BadCase{"1.2.3.4/33"},
                                           BadCase{"1.2.3.4/"}, BadCase{"1.2.3.4/-1"},
                                           BadCase{"1.2.3.4/+8"}, BadCase{"1.2.3.4/8/8"},
                                           BadCase{"1.2.3.4/1000"}, BadCase{"::1/129"},
                                           BadCase{"::1::2"}, BadCase{"localhost"},
                                           BadCase{" 1.2.3.4"}, BadCase{"/8"}));

// core.md §5.5: the peer address as accept() reports it.
TEST(IpMatchSockaddrTest, MatchesSocketAddresses) {
  const IpMatcher m = compile_ok({"192.0.2.0/24", "2001:db8::/48"});
  sockaddr_storage v4{};
  auto& sin = reinterpret_cast<sockaddr_in&>(v4);
  sin.sin_family = AF_INET;
  ASSERT_EQ(inet_pton(AF_INET, "192.0.2.77", &sin.sin_addr), 1);
  EXPECT_TRUE(m.contains(v4));
  ASSERT_EQ(inet_pton(AF_INET, "198.51.100.1", &sin.sin_addr), 1);
  EXPECT_FALSE(m.contains(v4));

  sockaddr_storage v6{};
  auto& sin6 = reinterpret_cast<sockaddr_in6&>(v6);
  sin6.sin6_family = AF_INET6;
  ASSERT_EQ(inet_pton(AF_INET6, "2001:db8:0:ffff::1", &sin6.sin6_addr), 1);
  EXPECT_TRUE(m.contains(v6));
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:192.0.2.1", &sin6.sin6_addr), 1);
  EXPECT_TRUE(m.contains(v6));
  ASSERT_EQ(inet_pton(AF_INET6, "2001:db9::1", &sin6.sin6_addr), 1);
  EXPECT_FALSE(m.contains(v6));

  sockaddr_storage unix_addr{};
  unix_addr.ss_family = AF_UNIX;
  EXPECT_FALSE(m.contains(unix_addr));
}

// core.md §5.5: a long allow-list with mixed prefix lengths (binary search per length).
TEST(IpMatchTest, ManyEntries) {
  std::vector<std::string> rules;
  for (int i = 0; i < 256; ++i) {
    rules.push_back("10." + std::to_string(i) + ".0.0/16");
    rules.push_back("172.16." + std::to_string(i) + ".1");
  }
  rules.push_back("10.7.0.0/16");  // duplicate
  const IpMatcher m = compile_ok(rules);
  EXPECT_TRUE(m.contains("10.200.3.4"));
  EXPECT_TRUE(m.contains("172.16.99.1"));
  EXPECT_FALSE(m.contains("172.16.99.2"));
  EXPECT_FALSE(m.contains("11.0.0.1"));
  EXPECT_FALSE(m.empty());
  EXPECT_TRUE(IpMatcher{}.empty());
}

}  // namespace
}  // namespace apisix::router
