#pragma once
// Service resource (core.md §4.3), as typed by resource_parse.h. Immutable once built.

#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "config/model/upstream.h"

namespace apisix::config {

struct Service {
  std::string id;
  std::string name;
  std::vector<std::string> hosts;  // lower-cased; used by routes that have no hosts of their own
  boost::json::object plugins;
  std::optional<Upstream> upstream;
  std::string upstream_id;
  std::optional<bool> enable_websocket;  // unset: the route decides
  boost::json::object raw;               // the object as given
};

}  // namespace apisix::config
