#pragma once
// Upstream resource (core.md §4.4) and its parts, as typed by resource_parse.h. Immutable once
// built; shared by snapshots.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

namespace apisix::config {

// One target after normalisation (core.md §7.2).
struct Node {
  // APISIX puts no upper bound on a weight (core.md §4.4.1). When an upstream has a larger one,
  // the parser scales all its weights down in proportion so that the largest is kMaxWeight (a
  // non-zero weight stays at least 1): the shares stay as configured, and the balancers and
  // the snapshot, which splits a domain node's weight between its addresses by multiplying
  // weights by up to 1000, can sum and multiply them in int without overflow.
  static constexpr int kMaxWeight = 1'000'000;

  std::string host;         // as configured; IPv6 literals keep their brackets ("[::1]")
  uint16_t port = 0;        // scheme default when not given; 0 when the scheme has none (tcp, ...)
  int weight = 1;           // 0..kMaxWeight, see above
  int priority = 0;         // any integer in APISIX; saturated to the range of int
  bool host_is_ip = false;  // false means a domain to resolve (the upstream "has domain")
};

// Seconds, fractions allowed; all three are always set.
struct Timeout {
  double connect = 60;
  double send = 60;
  double read = 60;
};

// APISIX puts no upper bound on size and requests; larger values are saturated to uint32's
// range, which no pool reaches anyway.
struct KeepalivePool {
  uint32_t size = 320;
  double idle_timeout = 60;  // seconds
  uint32_t requests = 1000;
};

struct Upstream {
  // APISIX puts no upper bound on `retries`; larger values are stored as this one. That is
  // more tries than any upstream has nodes, so it still means "try every node" (a single node
  // is retried that often, as in APISIX), and retries + 1, the first try included, fits an int.
  static constexpr int kMaxRetries = std::numeric_limits<int>::max() - 1;

  // How the Host header sent upstream is chosen (core.md §7.8).
  enum class PassHost {
    Pass,     // forward the client's Host
    Node,     // use the selected node's host (and port when not default)
    Rewrite,  // use upstream_host
  };

  std::string id;  // empty for an inline upstream without id
  std::string name;
  std::string type = "roundrobin";  // balancer name; not restricted to the four built-ins
  std::vector<Node> nodes;          // in configuration order; empty with service discovery
  std::string service_name;         // discovery: service to look up
  std::string discovery_type;       // discovery: module name (may be empty: none found, 503)
  int retries = -1;                 // -1: unset, meaning (number of nodes - 1); <= kMaxRetries
  double retry_timeout = 0;         // seconds; 0 = no limit
  std::optional<Timeout> timeout;
  std::string scheme = "http";
  PassHost pass_host = PassHost::Pass;
  std::string upstream_host;
  std::optional<KeepalivePool> keepalive_pool;  // unset: the global nginx_config defaults
  std::string hash_on = "vars";
  std::string key;
  boost::json::object raw;  // the object as given (checks, tls, labels, ... live here)
};

}  // namespace apisix::config
