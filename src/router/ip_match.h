#pragma once
// IpMatcher: a set of IPv4/IPv6 addresses and CIDR blocks, for a route's `remote_addrs`
// (core.md §5.5) and the `ipmatch` operator of `vars` (§5.7). Built when a snapshot is
// built; immutable, so all workers share it; contains() does not allocate.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

#include "core/result.h"

namespace apisix::router {

class IpMatcher {
 public:
  IpMatcher() = default;  // matches nothing

  // Entries are `a.b.c.d`, `a.b.c.d/0..32`, an IPv6 address, `<ipv6>/0..128`; an IPv6
  // address may be written in brackets (`[::1]`, `[::1]/64`) as lua-resty-ipmatcher allows.
  // Host bits below the prefix are ignored (`10.1.2.3/8` is `10.0.0.0/8`). A bad entry is
  // an error "invalid ip address: <entry>", the text APISIX gives.
  [[nodiscard]] static Result<IpMatcher> compile(const std::vector<std::string>& ips_or_cidrs);

  // `ip` is a textual address (brackets allowed for IPv6). Text that is not an address
  // matches nothing. An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is also checked against
  // the IPv4 entries, and IPv4 entries written in mapped form (`::ffff:1.2.3.0/120`) also
  // match plain IPv4 addresses.
  bool contains(std::string_view ip) const;
  // The same for a peer address as accept() reports it (AF_INET or AF_INET6).
  bool contains(const sockaddr_storage& addr) const;

  bool empty() const { return v4_.empty() && v6_.empty() && !v4_any_ && !v6_any_; }

 private:
  // Networks of one prefix length, sorted, for a binary search per length.
  struct V4Group {
    int prefix = 0;
    uint32_t mask = 0;
    std::vector<uint32_t> networks;
  };
  struct V6Addr {
    uint64_t hi = 0;
    uint64_t lo = 0;
    friend bool operator==(const V6Addr&, const V6Addr&) = default;
    friend bool operator<(const V6Addr& a, const V6Addr& b) {
      return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo;
    }
  };
  struct V6Group {
    int prefix = 0;
    V6Addr mask;
    std::vector<V6Addr> networks;
  };

  bool contains_v4(uint32_t addr) const;
  bool contains_v6(const V6Addr& addr) const;
  bool contains_v6_bytes(const unsigned char* bytes) const;

  std::vector<V4Group> v4_;  // longest prefix first
  std::vector<V6Group> v6_;
  bool v4_any_ = false;  // a /0 entry
  bool v6_any_ = false;
};

}  // namespace apisix::router
