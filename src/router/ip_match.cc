#include "router/ip_match.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace apisix::router {

namespace {

// Longest textual IPv6 address (with an embedded IPv4 tail) is 45 characters; anything
// longer cannot be an address, which also bounds the stack copy inet_pton needs.
constexpr size_t kMaxAddressText = 64;

// ::ffff:0:0/96, the IPv4-mapped IPv6 block (RFC 4291 §2.5.5.2).
constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

struct ParsedAddress {
  bool is_v6 = false;
  unsigned char bytes[16] = {};  // network order; the first 4 for IPv4
};

// Parses a textual address with inet_pton, the parser lua-resty-ipmatcher uses, so the
// accepted spellings are APISIX's. IPv6 may be bracketed.
std::optional<ParsedAddress> parse_address(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= kMaxAddressText) {
    return std::nullopt;
  }
  char buf[kMaxAddressText];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  ParsedAddress out;
  if (inet_pton(AF_INET, buf, out.bytes) == 1) {
    return out;
  }
  if (inet_pton(AF_INET6, buf, out.bytes) == 1) {
    out.is_v6 = true;
    return out;
  }
  return std::nullopt;
}

uint32_t load_v4(const unsigned char* b) {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

uint64_t load_u64(const unsigned char* b) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | b[i];
  }
  return v;
}

uint32_t v4_mask(int prefix) { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }

uint64_t u64_mask(int bits) {  // the top `bits` bits of a 64-bit word, bits in 0..64
  return bits <= 0 ? 0 : bits >= 64 ? ~uint64_t{0} : ~uint64_t{0} << (64 - bits);
}

bool is_mapped(const unsigned char* bytes) {
  return std::memcmp(bytes, kMappedPrefix, sizeof kMappedPrefix) == 0;
}

// Parses the text after `/`: decimal digits only (a bare `/` or a sign is an error, where
// lua-resty-ipmatcher would silently read it as a host address).
std::optional<int> parse_prefix(std::string_view text, int max) {
  if (text.empty() || text.size() > 3) {
    return std::nullopt;
  }
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + (c - '0');
  }
  if (value > max) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

Result<IpMatcher> IpMatcher::compile(const std::vector<std::string>& ips_or_cidrs) {
  IpMatcher m;
  std::map<int, std::vector<uint32_t>, std::greater<>> v4;
  std::map<int, std::vector<V6Addr>, std::greater<>> v6;
  for (const std::string& entry : ips_or_cidrs) {
    std::string_view text = entry;
    std::optional<int> prefix;
    if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
      prefix = parse_prefix(text.substr(slash + 1), 128);
      if (!prefix) {
        return Error::config("invalid ip address: " + entry);
      }
      text = text.substr(0, slash);
    }
    const std::optional<ParsedAddress> addr = parse_address(text);
    if (!addr) {
      return Error::config("invalid ip address: " + entry);
    }
    if (!addr->is_v6) {
      const int bits = prefix.value_or(32);
      if (bits > 32) {
        return Error::config("invalid ip address: " + entry);
      }
      if (bits == 0) {
        m.v4_any_ = true;
      } else {
        v4[bits].push_back(load_v4(addr->bytes) & v4_mask(bits));
      }
      continue;
    }
    const int bits = prefix.value_or(128);
    if (bits >= 96 && is_mapped(addr->bytes)) {
      // `::ffff:a.b.c.d/n` is the IPv4 block a.b.c.d/(n-96); keep it with the IPv4 entries
      // so plain and mapped IPv4 clients both match it.
      const int v4_bits = bits - 96;
      if (v4_bits == 0) {
        m.v4_any_ = true;
      } else {
        v4[v4_bits].push_back(load_v4(addr->bytes + 12) & v4_mask(v4_bits));
      }
      continue;
    }
    if (bits == 0) {
      m.v6_any_ = true;
      continue;
    }
    const V6Addr mask{u64_mask(bits), u64_mask(bits - 64)};
    v6[bits].push_back(
        V6Addr{load_u64(addr->bytes) & mask.hi, load_u64(addr->bytes + 8) & mask.lo});
  }
  for (auto& [bits, networks] : v4) {
    std::sort(networks.begin(), networks.end());
    networks.erase(std::unique(networks.begin(), networks.end()), networks.end());
    m.v4_.push_back(V4Group{bits, v4_mask(bits), std::move(networks)});
  }
  for (auto& [bits, networks] : v6) {
    std::sort(networks.begin(), networks.end());
    networks.erase(std::unique(networks.begin(), networks.end()), networks.end());
    m.v6_.push_back(
        V6Group{bits, V6Addr{u64_mask(bits), u64_mask(bits - 64)}, std::move(networks)});
  }
  return m;
}

bool IpMatcher::contains_v4(uint32_t addr) const {
  if (v4_any_) {
    return true;
  }
  for (const V4Group& group : v4_) {
    if (std::binary_search(group.networks.begin(), group.networks.end(), addr & group.mask)) {
      return true;
    }
  }
  return false;
}

bool IpMatcher::contains_v6(const V6Addr& addr) const {
  if (v6_any_) {
    return true;
  }
  for (const V6Group& group : v6_) {
    const V6Addr key{addr.hi & group.mask.hi, addr.lo & group.mask.lo};
    if (std::binary_search(group.networks.begin(), group.networks.end(), key)) {
      return true;
    }
  }
  return false;
}

bool IpMatcher::contains_v6_bytes(const unsigned char* bytes) const {
  if (is_mapped(bytes) && contains_v4(load_v4(bytes + 12))) {
    return true;
  }
  return contains_v6(V6Addr{load_u64(bytes), load_u64(bytes + 8)});
}

bool IpMatcher::contains(std::string_view ip) const {
  const std::optional<ParsedAddress> addr = parse_address(ip);
  if (!addr) {
    return false;
  }
  return addr->is_v6 ? contains_v6_bytes(addr->bytes) : contains_v4(load_v4(addr->bytes));
}

bool IpMatcher::contains(const sockaddr_storage& addr) const {
  if (addr.ss_family == AF_INET) {
    const auto& sin = reinterpret_cast<const sockaddr_in&>(addr);
    return contains_v4(ntohl(sin.sin_addr.s_addr));
  }
  if (addr.ss_family == AF_INET6) {
    const auto& sin6 = reinterpret_cast<const sockaddr_in6&>(addr);
    return contains_v6_bytes(sin6.sin6_addr.s6_addr);
  }
  return false;
}

}  // namespace apisix::router
