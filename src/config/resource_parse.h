#pragma once
// Turns route, service and upstream JSON objects (from etcd, the Admin API or a standalone
// file) into typed structs, validating them like APISIX's schemas do (core.md §4.1-§4.4,
// node normalisation §7.2). Hand-written until the JSON Schema engine lands.
//
// Errors read like APISIX's (core.md §3.13) and always name the field, e.g.
//   invalid configuration: additional properties forbidden, found foo
//   invalid configuration: property "upstream" validation failed: property "nodes"
//     validation failed: failed to validate item 1: property "port" validation failed:
//     expected 70000 to be at most 65535
// Integer ids are accepted and stringified.

#include <boost/json/value.hpp>

#include "config/model/route.h"
#include "config/model/service.h"
#include "config/model/upstream.h"
#include "core/result.h"

namespace apisix::config {

[[nodiscard]] Result<Route> parse_route(const boost::json::value& value);
[[nodiscard]] Result<Service> parse_service(const boost::json::value& value);
[[nodiscard]] Result<Upstream> parse_upstream(const boost::json::value& value);

}  // namespace apisix::config
