#pragma once
// Route resource (core.md §4.2), as typed by resource_parse.h. Immutable once built.

#include <optional>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "config/model/upstream.h"

namespace apisix::config {

struct Route {
  std::string id;
  std::string name;
  std::vector<std::string> uris;     // from `uri` or `uris`; never empty (items may be "")
  std::vector<std::string> hosts;    // from `host` or `hosts`, lower-cased; empty = any
  std::vector<std::string> methods;  // empty = any method
  // From `remote_addr` or `remote_addrs`: IPs or CIDRs. An IPv6 prefix length above 128, which
  // APISIX's schema lets through, is stored as 128, its meaning in lua-resty-ipmatcher.
  std::vector<std::string> remote_addrs;
  int priority = 0;         // any integer in APISIX; saturated to the range of int
  int status = 1;           // 0: the router ignores the route
  boost::json::array vars;  // lua-resty-expr expression (core.md §5.7), unchecked here
  std::string filter_func;  // Lua source, stored only
  boost::json::object plugins;
  std::optional<Upstream> upstream;  // inline upstream
  std::string upstream_id;           // wins over the inline upstream when both are set
  std::string service_id;
  std::string plugin_config_id;
  std::optional<Timeout> timeout;  // overrides the upstream's
  bool enable_websocket = false;   // false when unset: raw lacks the key and the service decides
  boost::json::object raw;         // the object as given
};

}  // namespace apisix::config
