#pragma once
// DNS service discovery (core.md §7.4, APISIX apisix/discovery/dns): an upstream with
// `discovery_type: dns` and `service_name: "name[:port]"` gets its nodes from DNS records,
// tried in the configured `order` of record types; SRV records map to node weights and
// priorities the way APISIX maps them. Config parsing and the mapping are pure functions;
// DnsDiscovery owns the resolver for `discovery.dns` and lives on the control thread's Loop.
//
// Gateway use: config.yaml `discovery.dns` -> make_dns_discovery_config -> DnsDiscovery::create
// at startup (on the control loop). For each upstream with discovery_type "dns", the snapshot
// builder puts service_name into a DnsCache built over DnsDiscovery::lookup (so answers are
// refreshed per TTL and changes rebuild the upstream), and turns each answer into nodes with
// nodes_from_answer(answer, parse_service_name(service_name)->port).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/loop.h"
#include "core/result.h"
#include "core/task.h"
#include "upstream/dns_resolver.h"

namespace apisix::upstream {

// One entry of `discovery.dns.order`.
enum class DnsLookupStep : uint8_t {
  Last,  // the type that last answered for this name, if any
  SRV,
  A,
  AAAA,
  CNAME,
};

struct DnsDiscoveryConfig {
  std::vector<std::string> servers;  // "ip:port"; exactly one of servers / resolv_conf is set
  std::string resolv_conf;
  std::vector<DnsLookupStep> order = {DnsLookupStep::Last, DnsLookupStep::SRV, DnsLookupStep::A,
                                      DnsLookupStep::AAAA, DnsLookupStep::CNAME};
};

// Validates `discovery.dns` as APISIX's schema does (discovery/dns/schema.lua): exactly one of
// `servers` (at least one string) and `resolv_conf`; `order` 1..5 unique items of "last",
// "SRV", "A", "AAAA", "CNAME". Unset optionals mean the key is absent.
Result<DnsDiscoveryConfig> make_dns_discovery_config(
    const std::optional<std::vector<std::string>>& servers,
    const std::optional<std::string>& resolv_conf,
    const std::optional<std::vector<std::string>>& order);

// `service_name` split as APISIX's core.utils.parse_addr splits it: "name", "name:port",
// "[v6]", "[v6]:port". A port that is not a number 1..65535 is refused.
struct ServiceName {
  std::string host;
  std::optional<uint16_t> port;
};
Result<ServiceName> parse_service_name(std::string_view service_name);

// A node for the upstream (core.md §7.4), before normalisation (§7.2).
struct DiscoveredNode {
  std::string host;   // IP; IPv6 bracketed, as §7.2 normalises discovery output
  uint16_t port = 0;  // 0: none known, the scheme default applies
  int weight = 1;
  int priority = 0;
  bool operator==(const DiscoveredNode&) const = default;
};

// APISIX's mapping of an answer to nodes:
//  A/AAAA: {ip, port of service_name, weight 1, priority 0}.
//  SRV: the service_name port wins, else the SRV port unless it is 0 (then the scheme default);
//       priority = -SRV priority (lower SRV priority is preferred); weight = SRV weight (0
//       counts as 1) split evenly over the target's addresses, all scaled by the LCM of the
//       address counts so weights stay integers.
std::vector<DiscoveredNode> nodes_from_answer(const DnsAnswer& answer,
                                              std::optional<uint16_t> service_port);

class DnsDiscovery {
 public:
  // `enable_ipv6` false drops AAAA from the order, as APISIX's DNS client does.
  static Result<std::unique_ptr<DnsDiscovery>> create(core::Loop& loop,
                                                      const DnsDiscoveryConfig& config,
                                                      bool enable_ipv6,
                                                      DnsResolverOptions base = {});

  // The records of `host` (no port) by the configured order: the first step with records
  // answers; NXDOMAIN and timeouts stop the search. A failed SRV target fails the answer.
  core::Task<Result<DnsAnswer>> lookup(std::string host);
  // lookup() of the service name's host, mapped to nodes. Errors name the service.
  core::Task<Result<std::vector<DiscoveredNode>>> nodes(std::string service_name);

  DnsResolver& resolver() { return *resolver_; }

 private:
  DnsDiscovery(std::unique_ptr<DnsResolver> resolver, std::vector<DnsLookupStep> order);

  std::unique_ptr<DnsResolver> resolver_;
  std::vector<DnsLookupStep> order_;
  std::unordered_map<std::string, RecordType> last_type_;
};

}  // namespace apisix::upstream
