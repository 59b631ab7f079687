#pragma once
// DnsNodeSource: the control thread's NodeSource over DNS. Domain nodes (core.md §7.3) are
// resolved by c-ares with the resolvers of `apisix.dns_resolver` and kept fresh by a DnsCache
// (record TTLs, or `apisix.dns_resolver_valid`); upstreams with `discovery_type: dns`
// (core.md §7.4) get their nodes from DnsDiscovery over `discovery.dns`, kept fresh the same
// way. Nothing blocks: a name seen for the first time is resolved in the background, and each
// time a name's answer arrives or changes the change callback gets it (the server then
// recompiles what uses it with SnapshotBuilder::refresh_names and publishes). Owned by the
// Server, which destroys it before its loop; control thread only.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/json/value.hpp>

#include "core/loop.h"
#include "core/result.h"
#include "gateway/snapshot.h"
#include "upstream/dns_cache.h"
#include "upstream/dns_discovery.h"
#include "upstream/dns_resolver.h"

namespace apisix::gateway {

struct DnsNodeOptions {
  // apisix.dns_resolver (empty: the nameservers of /etc/resolv.conf),
  // apisix.enable_resolv_search_opt, apisix.enable_ipv6.
  upstream::DnsResolverOptions resolver;
  bool resolvers_configured = false;  // dns_resolver was given: a bad list is a startup error
  upstream::DnsCacheOptions cache;    // apisix.dns_resolver_valid
  // Consulted before DNS for domain nodes (core.md §7.3), read once at start as APISIX does.
  std::string hosts_file = "/etc/hosts";
  std::optional<upstream::DnsDiscoveryConfig> discovery;  // discovery.dns, when configured
};

// Reads the options above from config.yaml's merged tree (`raw`) and apisix.enable_ipv6.
// Errors name the key, as config loading does.
Result<DnsNodeOptions> dns_node_options(const boost::json::value& raw, bool enable_ipv6);

class DnsNodeSource final : public NodeSource {
 public:
  // Called on the control loop with the names whose nodes changed.
  using ChangeCallback = std::function<void(const std::vector<std::string>& names)>;

  // Fails when `dns_resolver` or `discovery.dns` is invalid. Without a usable resolver
  // (resolv.conf lists no nameserver and dns_resolver is unset) it still starts: domain nodes
  // then stay unresolved and the reason is logged.
  static Result<std::unique_ptr<DnsNodeSource>> create(core::Loop& loop, DnsNodeOptions options,
                                                       ChangeCallback on_change);
  ~DnsNodeSource() override;

  const std::vector<upstream::DiscoveredNode>* nodes(const std::string& name) override;
  void forget(const std::string& name) override;

 private:
  struct Name {
    std::vector<upstream::DiscoveredNode> nodes;
    bool known = false;        // nodes hold an answer
    uint64_t watch_id = 0;     // domains: the DnsCache watch (0: none)
    std::string service_host;  // discovery: the host part of service_name
    std::optional<uint16_t> service_port;
  };

  DnsNodeSource(core::Loop& loop, ChangeCallback on_change);
  Name& add_domain(const std::string& name);
  Name& add_service(const std::string& name);
  void on_domain(const std::string& host, const upstream::DnsAnswer& answer);
  void on_service_host(const std::string& host, const upstream::DnsAnswer& answer);

  core::Loop& loop_;
  ChangeCallback on_change_;
  // Names of the hosts file (lower-cased) and their addresses: IPv4 ones, else (with IPv6
  // enabled) IPv6 ones.
  std::unordered_map<std::string, std::vector<upstream::DiscoveredNode>> hosts_;
  // Declared before the caches that call into them, so they are destroyed after them.
  std::unique_ptr<upstream::DnsResolver> resolver_;
  std::unique_ptr<upstream::DnsDiscovery> discovery_;
  std::unique_ptr<upstream::DnsCache> domains_;   // by domain
  std::unique_ptr<upstream::DnsCache> services_;  // by service host
  std::unordered_map<std::string, Name> names_;
  // Discovery: service names by host (one watch per host, shared by its names).
  std::unordered_map<std::string, std::unordered_set<std::string>> services_by_host_;
  std::unordered_map<std::string, uint64_t> host_watches_;
};

}  // namespace apisix::gateway
