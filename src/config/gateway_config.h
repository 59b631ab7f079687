#pragma once
// config.yaml: the process-level configuration (listeners, role, provider, nginx-like
// tuning, enabled plugins). Loaded once by the main thread at start-up, then read-only.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "config/env.h"
#include "core/result.h"

namespace apisix::config {

struct ListenAddr {
  std::string ip;     // IP literal, IPv6 without brackets ("::")
  uint16_t port = 0;  // 0 asks the kernel for a free port (tests); the binary reports it
};

// The merged configuration: typed fields for what the gateway reads directly, and the whole
// merged tree in `raw` for everything else (plugin_attr, etcd, admin keys, ...).
struct GatewayConfig {
  // apisix.node_listen in any of its shapes (core.md §1.1), expanded: an entry without `ip`
  // yields 0.0.0.0 and, when enable_ipv6, a following "::" entry. Duplicates are dropped.
  std::vector<ListenAddr> node_listen;
  bool enable_ipv6 = true;
  bool enable_reuseport = true;
  bool enable_server_tokens = true;
  bool show_upstream_status_in_response_header = false;
  bool enable_http2 = true;
  bool enable_dev_mode = false;

  // Forced on for control_plane and off for data_plane (core.md §1.3, deployment.*).
  bool enable_admin = true;
  ListenAddr admin_listen{"0.0.0.0", 9180};
  bool enable_control = true;
  ListenAddr control{"127.0.0.1", 9090};

  std::string router_http = "radixtree_host_uri";
  int worker_processes = 0;  // resolved: "auto" is the CPU count; always >= 1

  std::string role = "traditional";  // traditional | control_plane | data_plane
  // deployment.role_<role>.config_provider: traditional -> embedded (our default) | etcd |
  // yaml; control_plane -> embedded | etcd; data_plane -> etcd | yaml | json.
  std::string config_provider;
  // deployment.etcd.prefix: resource keys are <prefix>/<type>/<id> for every store provider.
  std::string etcd_prefix = "/apisix";

  // nginx_config.*
  std::chrono::milliseconds keepalive_timeout{60000};
  std::chrono::milliseconds client_header_timeout{60000};
  std::chrono::milliseconds client_body_timeout{60000};
  std::chrono::milliseconds send_timeout{10000};
  uint64_t client_max_body_size = 0;  // bytes; 0 = unlimited
  uint32_t worker_connections = 10620;
  std::chrono::milliseconds worker_shutdown_timeout{240000};
  bool underscores_in_headers = true;
  uint32_t upstream_keepalive = 320;
  uint32_t upstream_keepalive_requests = 1000;
  std::chrono::milliseconds upstream_keepalive_timeout{60000};
  std::string error_log = "logs/error.log";
  std::string error_log_level = "warn";
  std::string access_log = "logs/access.log";
  bool enable_access_log = true;

  // Enabled HTTP plugin names (top-level `plugins`), duplicates removed, order kept.
  std::vector<std::string> plugins;

  boost::json::value raw;  // the merged tree, after environment substitution
};

// Loads config.yaml text: environment substitution, merge over the built-in defaults,
// reserved environment variables (APISIX_WORKER_PROCESSES, APISIX_DEPLOYMENT_ETCD_HOST),
// then validation. Empty or comment-only text means "defaults only". Errors name the key,
// e.g. `invalid config: apisix.node_listen[1].port: expected integer 0..65535, got "abc"`.
[[nodiscard]] Result<GatewayConfig> load_gateway_config(std::string_view user_yaml,
                                                        const EnvLookup& env);

// Reads `path` and loads it as above. A missing or unreadable file is an error.
[[nodiscard]] Result<GatewayConfig> load_gateway_config_file(const std::string& path,
                                                             const EnvLookup& env);

}  // namespace apisix::config
