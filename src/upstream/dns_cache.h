#pragma once
// DnsCache: the control thread's table of resolved names (domain nodes, or discovery service
// names). It keeps each watched name fresh in the background: re-resolved when its TTL runs out
// (APISIX `dns_resolver_valid` overrides every TTL; a floor keeps TTL 0 from spinning), the last
// good answer kept when a refresh fails, and the watchers called only when the address set
// really changed. Owned by the snapshot builder; loop thread only (the control thread's Loop).
//
// How the gateway uses it (core.md §7.3): when the snapshot builder meets a domain node
// host:port, it awaits get(host) for the first answer and calls watch(host, ...); a change
// callback marks the upstreams that use the host and rebuilds them. unwatch() when an upstream
// no longer uses the host; an unwatched name is dropped at its next expiry.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/loop.h"
#include "core/result.h"
#include "core/task.h"
#include "upstream/dns_resolver.h"

namespace apisix::upstream {

// Resolves one key: DnsResolver::resolve_address for domain nodes, DnsDiscovery::lookup for
// discovery service names. The cache never calls it after its own destruction, but a lookup
// already in flight then still finishes, so what it captures must outlive the cache.
using DnsLookup = std::function<core::Task<Result<DnsAnswer>>(std::string key)>;
// Called on the loop thread with the new answer of `key`. May call watch/unwatch.
using DnsChangeCallback = std::function<void(const std::string& key, const DnsAnswer& answer)>;

struct DnsCacheOptions {
  // APISIX `dns_resolver_valid` (seconds): used instead of every record's TTL when set.
  std::optional<std::chrono::seconds> valid;
  // Shortest time between two resolutions of a name, whatever the TTL says (TTL 0 included).
  std::chrono::milliseconds min_ttl{1000};
  // Longest time an answer is trusted, whatever the TTL says.
  std::chrono::milliseconds max_ttl{std::chrono::hours(1)};
  // When a resolution fails, the next try comes after this long (the last good answer stays).
  std::chrono::milliseconds retry_after_failure{2000};
};

class DnsCache {
 public:
  DnsCache(core::Loop& loop, DnsLookup lookup, DnsCacheOptions options = {});
  ~DnsCache();
  DnsCache(const DnsCache&) = delete;
  DnsCache& operator=(const DnsCache&) = delete;

  // The last good answer for `key`, or nullptr. Valid until the next co_await on this loop.
  const DnsAnswer* find(std::string_view key) const;
  // The cached answer when there is one (even past its TTL: a refresh is scheduled), else
  // resolves now; callers asking for the same key meanwhile share that one lookup.
  core::Task<Result<DnsAnswer>> get(std::string key);
  // Keeps `key` refreshed and calls `on_change` whenever its addresses change; also the first
  // time it resolves if it had no answer yet. Returns an id for unwatch().
  uint64_t watch(std::string key, DnsChangeCallback on_change);
  void unwatch(uint64_t id);

  size_t size_for_test() const;
  // When `key` is next resolved (kNoDeadline when unknown or being resolved).
  core::TimePoint next_refresh_for_test(std::string_view key) const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace apisix::upstream
