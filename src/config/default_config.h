#pragma once
// The built-in defaults that a user's config.yaml is merged over (core.md §1.2, §1.3, §1.6).

#include <string_view>

namespace apisix::config {

// YAML text of the defaults: APISIX's defaults for the keys this gateway reads, plus the
// sections other parts of the program look up in GatewayConfig::raw (plugin_attr, etcd, ...).
// Differences from APISIX: deployment.role_traditional.config_provider is "embedded".
[[nodiscard]] std::string_view default_config_yaml();

}  // namespace apisix::config
