// DnsCache against a real dnsmasq: TTL-driven refresh, change notification only on real
// changes, last good answer kept on failure, dns_resolver_valid and the TTL floor (core.md §7.3).

#include <gtest/gtest.h>

#include "tests/dns/dns_test_support.h"
#include "tests/harness/dns_server.h"
#include "upstream/dns_cache.h"

namespace apisix::upstream {
namespace {

using namespace std::chrono_literals;
using test::DnsmasqServer;
using test::DnsRecords;

DnsRecords dynamic_records() {
  DnsRecords r;
  r.hosts = {{"10.1.0.1", "dyn.test"}};
  r.host_records = {{"zero.test", {"10.9.0.1"}, 0}, {"long.test", {"10.9.0.2"}, 1}};
  r.local_ttl_s = 1;
  return r;
}

struct CacheRig {
  explicit CacheRig(const DnsmasqServer& server, DnsCacheOptions cache_options = {},
                    std::chrono::milliseconds timeout = 300ms) {
    DnsResolverOptions options;
    options.servers = {server.address()};
    options.timeout = timeout;
    options.attempts = 1;
    options.use_search = false;
    auto r = DnsResolver::create(loop, options);
    EXPECT_TRUE(r.ok());
    resolver = std::move(*r);
    cache = std::make_unique<DnsCache>(
        loop, [res = resolver.get()](std::string key) { return res->resolve_address(key); },
        cache_options);
  }
  core::Loop loop;
  std::unique_ptr<DnsResolver> resolver;
  std::unique_ptr<DnsCache> cache;
};

std::vector<std::string> ips(const DnsAnswer& answer) {
  std::vector<std::string> out;
  for (const auto& a : answer.addresses) {
    out.push_back(a.ip);
  }
  return out;
}

TEST(DnsCache, ShortTtlRecordChangeIsReportedOnce) {
  DnsmasqServer server{dynamic_records()};
  ASSERT_TRUE(server.ok()) << server.error();
  DnsCacheOptions options;
  options.min_ttl = 100ms;
  CacheRig rig(server, options);
  std::vector<std::vector<std::string>> changes;
  ASSERT_TRUE(test::run_test_on_loop(rig.loop, [&]() -> core::Task<void> {
    auto first = co_await rig.cache->get("dyn.test");
    EXPECT_TRUE(first.ok());
    rig.cache->watch("dyn.test", [&](const std::string& key, const DnsAnswer& answer) {
      EXPECT_EQ(key, "dyn.test");
      changes.push_back(ips(answer));
    });
    // Unchanged records: refreshes happen (TTL 1 s) but nobody is told.
    auto before = rig.cache->next_refresh_for_test("dyn.test");
    EXPECT_TRUE(co_await test::eventually(
        rig.loop,
        [&] {
          auto next = rig.cache->next_refresh_for_test("dyn.test");
          return next != core::kNoDeadline && next > before;
        },
        10s));
    EXPECT_TRUE(changes.empty());
    // The record changes: the next refresh reports the new address set.
    EXPECT_TRUE(server.set_hosts({{"10.1.0.2", "dyn.test"}, {"10.1.0.3", "dyn.test"}}, "dyn.test"));
    EXPECT_TRUE(co_await test::eventually(
        rig.loop, [&] { return !changes.empty(); }, 10s));
    if (!changes.empty()) {
      EXPECT_EQ(changes[0], (std::vector<std::string>{"10.1.0.2", "10.1.0.3"}));
    }
    const DnsAnswer* cached = rig.cache->find("dyn.test");
    EXPECT_TRUE(cached != nullptr && ips(*cached).size() == 2);
    // Another refresh with the same records: still one change.
    before = rig.cache->next_refresh_for_test("dyn.test");
    EXPECT_TRUE(co_await test::eventually(
        rig.loop,
        [&] {
          auto next = rig.cache->next_refresh_for_test("dyn.test");
          return next != core::kNoDeadline && next > before;
        },
        10s));
    EXPECT_EQ(changes.size(), 1u);
  }));
}

TEST(DnsCache, KeepsLastGoodAnswerWhenRefreshFails) {
  DnsmasqServer server{dynamic_records()};
  ASSERT_TRUE(server.ok()) << server.error();
  DnsCacheOptions options;
  options.min_ttl = 100ms;
  options.retry_after_failure = 100ms;
  CacheRig rig(server, options, 100ms);
  int changes = 0;
  ASSERT_TRUE(test::run_test_on_loop(rig.loop, [&]() -> core::Task<void> {
    auto first = co_await rig.cache->get("dyn.test");
    EXPECT_TRUE(first.ok());
    rig.cache->watch("dyn.test", [&](const std::string&, const DnsAnswer&) { ++changes; });
    DnsRecords records = dynamic_records();
    server.stop();  // refreshes now fail
    // Wait for two refresh attempts to have failed (each schedules the next after 100 ms).
    auto t0 = rig.cache->next_refresh_for_test("dyn.test");
    int seen = 0;
    auto last = t0;
    EXPECT_TRUE(co_await test::eventually(
        rig.loop,
        [&] {
          auto next = rig.cache->next_refresh_for_test("dyn.test");
          if (next != core::kNoDeadline && next != last) {
            last = next;
            ++seen;
          }
          return seen >= 2;
        },
        15s));
    const DnsAnswer* cached = rig.cache->find("dyn.test");
    EXPECT_TRUE(cached != nullptr);
    if (cached != nullptr) {
      EXPECT_EQ(ips(*cached), std::vector<std::string>{"10.1.0.1"});
    }
    EXPECT_EQ(changes, 0);
    // The server comes back (same port) with a new address: reported.
    records.hosts = {{"10.1.0.9", "dyn.test"}};
    EXPECT_TRUE(server.restart(records)) << server.error();
    EXPECT_TRUE(co_await test::eventually(
        rig.loop, [&] { return changes == 1; }, 10s));
    cached = rig.cache->find("dyn.test");
    EXPECT_TRUE(cached != nullptr && ips(*cached) == std::vector<std::string>{"10.1.0.9"});
  }));
}

TEST(DnsCache, TtlZeroIsFlooredAndValidOverridesTtl) {
  DnsmasqServer server{dynamic_records()};
  ASSERT_TRUE(server.ok()) << server.error();
  {
    DnsCacheOptions options;
    options.min_ttl = 500ms;
    CacheRig rig(server, options);
    ASSERT_TRUE(test::run_test_on_loop(rig.loop, [&]() -> core::Task<void> {
      auto before = core::Clock::now();
      auto zero = co_await rig.cache->get("zero.test");
      EXPECT_TRUE(zero.ok());
      if (zero.ok()) {
        EXPECT_EQ(zero->ttl_s, 0u);
      }
      EXPECT_GE(rig.cache->next_refresh_for_test("zero.test"), before + 500ms);
    }));
  }
  {
    DnsCacheOptions options;
    options.valid = std::chrono::seconds(600);  // dns_resolver_valid: 600
    CacheRig rig(server, options);
    ASSERT_TRUE(test::run_test_on_loop(rig.loop, [&]() -> core::Task<void> {
      auto before = core::Clock::now();
      auto r = co_await rig.cache->get("long.test");
      EXPECT_TRUE(r.ok());
      EXPECT_GE(rig.cache->next_refresh_for_test("long.test"), before + 600s);
    }));
  }
}

TEST(DnsCache, ConcurrentGetsShareOneLookupAndFailuresAreReported) {
  DnsmasqServer server{dynamic_records()};
  ASSERT_TRUE(server.ok()) << server.error();
  core::Loop loop;
  DnsResolverOptions options;
  options.servers = {server.address()};
  options.use_search = false;
  auto resolver = DnsResolver::create(loop, options);
  ASSERT_TRUE(resolver.ok());
  int lookups = 0;
  DnsCache cache(loop, [&](std::string key) {
    ++lookups;
    return (*resolver)->resolve_address(std::move(key));
  });
  int done = 0;
  ASSERT_TRUE(test::run_test_on_loop(loop, [&]() -> core::Task<void> {
    for (int i = 0; i < 5; ++i) {
      core::spawn([](DnsCache& c, int& count) -> core::Task<void> {
        auto r = co_await c.get("dyn.test");
        EXPECT_TRUE(r.ok());
        ++count;
      }(cache, done));
    }
    EXPECT_TRUE(co_await test::eventually(
        loop, [&] { return done == 5; }, 10s));
    EXPECT_EQ(lookups, 1);
    auto missing = co_await cache.get("missing.test");
    EXPECT_FALSE(missing.ok());
    EXPECT_EQ(cache.find("missing.test"), nullptr);
  }));
}

}  // namespace
}  // namespace apisix::upstream
