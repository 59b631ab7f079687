#pragma once
// DNS wire-format reading for the resolver (RFC 1035 §4): the answer and additional sections
// of a reply, with TTLs. c-ares sends the queries; its own parsers drop the TTL of SRV records
// and of CNAME chains, so replies are read here. Pure functions; no I/O.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace apisix::upstream {

// The record types the gateway asks for (RFC 1035 §3.2.2, RFC 3596, RFC 2782).
enum class RecordType : uint16_t { A = 1, CNAME = 5, AAAA = 28, SRV = 33 };
std::string_view to_string(RecordType type);

// One resource record of a reply. `data` is the address text for A/AAAA (IPv6 without
// brackets) and the target name for CNAME/SRV (lower case, no trailing dot).
struct DnsRecord {
  std::string owner;  // lower case, no trailing dot
  uint16_t type = 0;  // raw: unknown types are kept so a caller can tell "other data" apart
  uint32_t ttl_s = 0;
  std::string data;
  uint16_t priority = 0;  // SRV only
  uint16_t weight = 0;    // SRV only
  uint16_t port = 0;      // SRV only
};

struct DnsReply {
  uint16_t id = 0;
  int rcode = 0;  // 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...
  bool truncated = false;
  std::vector<DnsRecord> answers;
  std::vector<DnsRecord> additional;
};

// Reads a whole reply. Malformed input (short buffers, bad compression pointers, loops) is an
// Invalid error, never a crash.
Result<DnsReply> parse_dns_reply(std::span<const uint8_t> message);

// A query for `name` (one question, recursion desired). For tests and fuzzing; the resolver
// lets c-ares build its own queries.
std::vector<uint8_t> build_dns_query(uint16_t id, std::string_view name, RecordType type);

}  // namespace apisix::upstream
