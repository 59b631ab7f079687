#pragma once
// RuntimeSettings: the parts of config.yaml the request path reads, in ready-to-use form.
// Built by the control thread from a GatewayConfig; immutable; shared by every snapshot.

#include <chrono>
#include <cstdint>
#include <string>

#include "http/parser.h"
#include "router/route_table.h"

namespace apisix::gateway {

using Millis = std::chrono::milliseconds;

struct PoolSettings {
  uint32_t size = 320;  // idle connections kept per node (core.md §7.9)
  Millis idle_timeout{60000};
  uint32_t requests = 1000;  // requests per connection before it is retired
};

struct RuntimeSettings {
  Millis keepalive_timeout{60000};
  Millis client_header_timeout{60000};
  Millis client_body_timeout{60000};
  Millis send_timeout{10000};
  uint64_t client_max_body_size = 0;  // 0 = unlimited
  uint32_t worker_connections = 10620;
  Millis worker_shutdown_timeout{240000};
  http::ParseLimits limits;
  std::string server_header = "APISIX/3.18.0";
  bool show_upstream_status = false;
  PoolSettings default_pool;
  router::Mode router_mode = router::Mode::HostUri;
};

}  // namespace apisix::gateway
