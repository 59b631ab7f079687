// DnsResolver against a real dnsmasq (core.md §7.3): A, AAAA, SRV, CNAME, errors, timeouts.

#include <algorithm>

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/dns/dns_test_support.h"
#include "tests/harness/dns_server.h"
#include "tests/harness/wait.h"
#include "upstream/dns_resolver.h"

namespace apisix::upstream {
namespace {

using namespace std::chrono_literals;
using test::DnsmasqServer;
using test::DnsRecords;

DnsRecords sample_records() {
  DnsRecords r;
  r.host_records = {{"a.test", {"10.0.0.1"}, 30},
                    {"v6.test", {"fd00::1"}, 7},
                    {"b.test", {"10.0.0.2"}, 40},
                    {"both.test", {"10.0.0.3", "fd00::3"}, 9}};
  r.hosts = {{"10.0.1.1", "multi.test"}, {"10.0.1.2", "multi.test"}};
  r.srvs = {{"_http._tcp.svc.test", "a.test", 8080, 1, 10},
            {"_http._tcp.svc.test", "b.test", 0, 2, 0}};
  r.cnames = {{"alias.test", "a.test", 20}};
  r.local_ttl_s = 3;
  return r;
}

std::unique_ptr<DnsResolver> make_resolver(core::Loop& loop, const DnsmasqServer& server,
                                           std::chrono::milliseconds timeout = 1000ms,
                                           int attempts = 2) {
  DnsResolverOptions options;
  options.servers = {server.address()};
  options.timeout = timeout;
  options.attempts = attempts;
  options.use_search = false;
  auto resolver = DnsResolver::create(loop, options);
  EXPECT_TRUE(resolver.ok()) << resolver.error().context;
  return resolver.ok() ? std::move(*resolver) : nullptr;
}

std::vector<std::string> ips_of(const DnsAnswer& answer) {
  std::vector<std::string> ips;
  for (const auto& a : answer.addresses) {
    ips.push_back(a.ip);
  }
  std::sort(ips.begin(), ips.end());
  return ips;
}

class DnsResolverTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()) << server_.error(); }
  DnsmasqServer server_{sample_records()};
  core::Loop loop_;
};

TEST_F(DnsResolverTest, ResolvesARecordsWithTheirTtl) {
  auto resolver = make_resolver(loop_, server_);
  ASSERT_TRUE(resolver);
  ASSERT_TRUE(test::run_test_on_loop(loop_, [&]() -> core::Task<void> {
    auto a = co_await resolver->resolve("a.test", RecordType::A);
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().context);
    if (a.ok()) {
      EXPECT_EQ(a->type, RecordType::A);
      EXPECT_EQ(ips_of(*a), std::vector<std::string>{"10.0.0.1"});
      EXPECT_EQ(a->ttl_s, 30u);
    }
    auto multi = co_await resolver->resolve("multi.test", RecordType::A);
    EXPECT_TRUE(multi.ok());
    if (multi.ok()) {
      EXPECT_EQ(ips_of(*multi), (std::vector<std::string>{"10.0.1.1", "10.0.1.2"}));
      EXPECT_EQ(multi->ttl_s, 3u);  // addn-hosts records carry local-ttl
    }
  }));
}

TEST_F(DnsResolverTest, ResolvesAaaaRecords) {
  auto resolver = make_resolver(loop_, server_);
  ASSERT_TRUE(resolver);
  ASSERT_TRUE(test::run_test_on_loop(loop_, [&]() -> core::Task<void> {
    auto v6 = co_await resolver->resolve("v6.test", RecordType::AAAA);
    EXPECT_TRUE(v6.ok());
    if (v6.ok()) {
      EXPECT_EQ(ips_of(*v6), std::vector<std::string>{"fd00::1"});
      EXPECT_TRUE(v6->addresses[0].is_ipv6);
      EXPECT_EQ(v6->ttl_s, 7u);
    }
    // A domain node with only an AAAA record resolves through the AAAA fallback.
    auto node = co_await resolver->resolve_address("v6.test");
    EXPECT_TRUE(node.ok());
    if (node.ok()) {
      EXPECT_EQ(node->type, RecordType::AAAA);
    }
    // Both families: an address lookup prefers A.
    auto both = co_await resolver->resolve_address("both.test");
    EXPECT_TRUE(both.ok());
    if (both.ok()) {
      EXPECT_EQ(ips_of(*both), std::vector<std::string>{"10.0.0.3"});
    }
  }));
}

TEST_F(DnsResolverTest, ResolvesSrvTargetsToAddressesWithPortPriorityWeight) {
  auto resolver = make_resolver(loop_, server_);
  ASSERT_TRUE(resolver);
  ASSERT_TRUE(test::run_test_on_loop(loop_, [&]() -> core::Task<void> {
    auto srv = co_await resolver->resolve("_http._tcp.svc.test", RecordType::SRV);
    EXPECT_TRUE(srv.ok()) << (srv.ok() ? "" : srv.error().context);
    if (!srv.ok()) {
      co_return;
    }
    EXPECT_EQ(srv->type, RecordType::SRV);
    EXPECT_EQ(srv->addresses.size(), 2u);
    if (srv->addresses.size() != 2) {
      co_return;
    }
    sort_addresses(srv->addresses);
    const DnsAddress& a = srv->addresses[0];
    EXPECT_EQ(a.ip, "10.0.0.1");
    EXPECT_EQ(a.target, "a.test");
    EXPECT_EQ(a.port, 8080);
    EXPECT_EQ(a.priority, 1);
    EXPECT_EQ(a.weight, 10);
    const DnsAddress& b = srv->addresses[1];
    EXPECT_EQ(b.ip, "10.0.0.2");
    EXPECT_EQ(b.port, 0);
    EXPECT_EQ(b.priority, 2);
    EXPECT_EQ(srv->ttl_s, 3u);  // the SRV records' local-ttl is the smallest on the way
  }));
}

TEST_F(DnsResolverTest, FollowsCnameChains) {
  auto resolver = make_resolver(loop_, server_);
  ASSERT_TRUE(resolver);
  ASSERT_TRUE(test::run_test_on_loop(loop_, [&]() -> core::Task<void> {
    auto a = co_await resolver->resolve("alias.test", RecordType::A);
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().context);
    if (a.ok()) {
      EXPECT_EQ(ips_of(*a), std::vector<std::string>{"10.0.0.1"});
      EXPECT_EQ(a->ttl_s, 20u);  // the CNAME's TTL is shorter than the A record's
    }
    auto c = co_await resolver->resolve("alias.test", RecordType::CNAME);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().context);
    if (c.ok()) {
      EXPECT_EQ(ips_of(*c), std::vector<std::string>{"10.0.0.1"});
    }
  }));
}

TEST_F(DnsResolverTest, UnknownNameIsNotFound) {
  auto resolver = make_resolver(loop_, server_);
  ASSERT_TRUE(resolver);
  ASSERT_TRUE(test::run_test_on_loop(loop_, [&]() -> core::Task<void> {
    auto missing = co_await resolver->resolve("missing.test", RecordType::A);
    EXPECT_FALSE(missing.ok());
    if (!missing.ok()) {
      EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
      EXPECT_NE(missing.error().context.find("NXDOMAIN"), std::string::npos)
          << missing.error().context;
    }
    // The name exists but has no record of that type.
    auto nodata = co_await resolver->resolve("a.test", RecordType::AAAA);
    EXPECT_FALSE(nodata.ok());
    if (!nodata.ok()) {
      EXPECT_EQ(nodata.error().kind, ErrorKind::NotFound);
    }
  }));
}

// A UDP socket that receives queries and never answers: the resolver gives up with a timeout
// once its attempts are spent (timeout 150 ms, 2 attempts: 150 + 300 ms).
TEST(DnsResolverTimeout, SilentServerTimesOutWithinConfiguredTimeout) {
  int silent = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  core::Loop loop;
  DnsResolverOptions options;
  options.servers = {"127.0.0.1:" + std::to_string(ntohs(addr.sin_port))};
  options.timeout = 150ms;
  options.attempts = 2;
  options.use_search = false;
  auto resolver = DnsResolver::create(loop, options);
  ASSERT_TRUE(resolver.ok());
  auto start = core::Clock::now();
  ASSERT_TRUE(test::run_test_on_loop(loop, [&]() -> core::Task<void> {
    auto r = co_await (*resolver)->resolve("a.test", RecordType::A);
    EXPECT_FALSE(r.ok());
    if (!r.ok()) {
      EXPECT_EQ(r.error().kind, ErrorKind::Timeout) << r.error().context;
      EXPECT_TRUE(r.error().retryable);
    }
  }));
  auto elapsed = core::Clock::now() - start;
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, test::scaled(3000ms));
  ::close(silent);
}

// Nothing listening on the port: loopback answers with ICMP, so the failure is quick (refused
// or timed out, never a hang).
TEST(DnsResolverTimeout, ClosedPortFailsWithinConfiguredTimeout) {
  core::Loop loop;
  uint16_t port;
  {
    DnsmasqServer server{DnsRecords{}};
    ASSERT_TRUE(server.ok()) << server.error();
    port = server.port();
  }  // stopped: nothing listens there now
  DnsResolverOptions options;
  options.servers = {"127.0.0.1:" + std::to_string(port)};
  options.timeout = 150ms;
  options.attempts = 2;
  options.use_search = false;
  auto resolver = DnsResolver::create(loop, options);
  ASSERT_TRUE(resolver.ok());
  auto start = core::Clock::now();
  ASSERT_TRUE(test::run_test_on_loop(loop, [&]() -> core::Task<void> {
    auto r = co_await (*resolver)->resolve("a.test", RecordType::A);
    EXPECT_FALSE(r.ok());
    if (!r.ok()) {
      EXPECT_TRUE(r.error().kind == ErrorKind::Timeout || r.error().kind == ErrorKind::Refused)
          << r.error().context;
    }
  }));
  EXPECT_LT(core::Clock::now() - start, test::scaled(3000ms));
}

TEST(DnsResolverConfig, RejectsBadServersAndEmptyResolvConf) {
  core::Loop loop;
  DnsResolverOptions bad;
  bad.servers = {"not-an-ip"};
  EXPECT_FALSE(DnsResolver::create(loop, bad).ok());
  DnsResolverOptions empty;
  empty.resolv_conf = "/nonexistent/resolv.conf";
  auto r = DnsResolver::create(loop, empty);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().source, ErrorSource::Config);
}

// An answer too big for a 512-byte UDP reply comes back truncated; c-ares repeats the query
// over TCP, whose socket goes through the same loop registration (write readiness included).
TEST(DnsResolverTcp, TruncatedAnswerIsRetriedOverTcp) {
  DnsRecords records;
  for (int i = 1; i <= 60; ++i) {
    records.hosts.push_back({"10.3.0." + std::to_string(i), "big.test"});
  }
  DnsmasqServer server{records};
  ASSERT_TRUE(server.ok()) << server.error();
  core::Loop loop;
  auto resolver = make_resolver(loop, server);
  ASSERT_TRUE(resolver);
  ASSERT_TRUE(test::run_test_on_loop(loop, [&]() -> core::Task<void> {
    auto big = co_await resolver->resolve("big.test", RecordType::A);
    EXPECT_TRUE(big.ok()) << (big.ok() ? "" : big.error().context);
    if (big.ok()) {
      EXPECT_EQ(big->addresses.size(), 60u);
    }
  }));
}

// Many lookups at once share the channel and all complete.
TEST_F(DnsResolverTest, ConcurrentLookupsAllComplete) {
  auto resolver = make_resolver(loop_, server_);
  ASSERT_TRUE(resolver);
  int done = 0;
  ASSERT_TRUE(test::run_test_on_loop(loop_, [&]() -> core::Task<void> {
    for (int i = 0; i < 20; ++i) {
      core::spawn([](DnsResolver& r, int& count) -> core::Task<void> {
        auto a = co_await r.resolve("a.test", RecordType::A);
        EXPECT_TRUE(a.ok());
        ++count;
      }(*resolver, done));
    }
    EXPECT_TRUE(co_await test::eventually(
        loop_, [&] { return done == 20; }, 10s));
  }));
}

}  // namespace
}  // namespace apisix::upstream
