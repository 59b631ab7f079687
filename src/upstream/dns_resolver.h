#pragma once
// DnsResolver: asynchronous DNS lookups (A, AAAA, SRV, CNAME) over c-ares, driven by one
// core::Loop: c-ares' sockets are registered with the loop through its socket-state callback,
// its timeouts become loop deadlines, and a lookup is a coroutine. No thread, no blocking call.
// Owned by whoever resolves (the control thread's DnsCache, DnsDiscovery); loop thread only.
// Destroying it fails every unfinished lookup with a "shut down" error.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/loop.h"
#include "core/result.h"
#include "core/task.h"
#include "upstream/dns_message.h"

namespace apisix::upstream {

// One address of an answer. For SRV answers also the SRV record it came from.
struct DnsAddress {
  std::string ip;  // textual, IPv6 without brackets
  bool is_ipv6 = false;
  uint32_t ttl_s = 0;  // of the address record
  std::string target;  // SRV: the target name the address belongs to
  uint16_t port = 0;
  uint16_t priority = 0;
  uint16_t weight = 0;

  // Identity for change detection: TTLs do not count.
  bool same_as(const DnsAddress& o) const {
    return ip == o.ip && port == o.port && priority == o.priority && weight == o.weight &&
           target == o.target;
  }
};

struct DnsAnswer {
  std::string name;                   // what was asked for
  RecordType type = RecordType::A;    // the record type that answered: A, AAAA or SRV
  std::vector<DnsAddress> addresses;  // never empty in a successful answer
  uint32_t ttl_s = 0;                 // smallest TTL on the way (CNAMEs, SRV, targets)
};

// Sorts addresses (ip, then port, priority, weight, target) so that answers compare by value.
void sort_addresses(std::vector<DnsAddress>& addresses);
// Same addresses, ignoring TTLs and order.
bool same_addresses(const DnsAnswer& a, const DnsAnswer& b);

// A nameserver, from APISIX's `dns_resolver` list or `discovery.dns.servers`.
struct DnsServer {
  std::string ip;  // without brackets
  uint16_t port = 53;
  bool is_ipv6 = false;
  std::string to_string() const;  // "1.2.3.4:53", "[::1]:53"
};
// "ip", "ip:port", "[ipv6]", "[ipv6]:port" and bare "ipv6" (APISIX brackets those itself).
Result<DnsServer> parse_dns_server(std::string_view text);
// The `nameserver` lines of a resolv.conf text, as APISIX's CLI reads /etc/resolv.conf.
// Entries with an IPv6 zone (`%eth0`) are dropped, as APISIX drops them.
std::vector<std::string> nameservers_from_resolv_conf(std::string_view text);

struct DnsResolverOptions {
  // Empty: the nameservers of `resolv_conf` (APISIX: `dns_resolver` defaults to those of
  // /etc/resolv.conf; startup fails when there are none).
  std::vector<std::string> servers;
  std::string resolv_conf = "/etc/resolv.conf";
  // Per-attempt timeout of the first round; c-ares doubles it on each later round over all
  // servers, so the worst case of one query is timeout * (2^attempts - 1).
  std::chrono::milliseconds timeout{2000};
  int attempts = 3;
  // Honour `search`/`ndots` of resolv_conf (APISIX `enable_resolv_search_opt`, default true).
  bool use_search = true;
  // AAAA lookups allowed (APISIX `enable_ipv6`): address lookups fall back to AAAA when a name
  // has no A record, and SRV targets are resolved the same way.
  bool enable_ipv6 = true;
};

class DnsResolver {
 public:
  // Fails (Config error) when a server entry is malformed or no server is left.
  static Result<std::unique_ptr<DnsResolver>> create(core::Loop& loop, DnsResolverOptions options);
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // One lookup of `type`:
  //  A / AAAA: the addresses (CNAME chains followed by the server).
  //  SRV: every SRV record with each target resolved to its addresses (A, then AAAA), like
  //       APISIX's resolve_srv: one target failing fails the whole answer.
  //  CNAME: the CNAME's target resolved to addresses (answer.type says which).
  // Errors: NotFound (NXDOMAIN, or no record of that type), Timeout, Refused, Io (SERVFAIL,
  // REFUSED rcode, shutdown...); all with source Upstream.
  core::Task<Result<DnsAnswer>> resolve(std::string name, RecordType type);
  // A, then AAAA when IPv6 is enabled and the name has no A record: a domain node's addresses.
  core::Task<Result<DnsAnswer>> resolve_address(std::string name);

  const std::vector<DnsServer>& servers() const;
  const DnsResolverOptions& options() const;

  struct Impl;

 private:
  explicit DnsResolver(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace apisix::upstream
