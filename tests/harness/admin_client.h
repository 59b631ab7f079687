#pragma once
// Talking to the gateway's Admin API (compat §3) in integration tests: a config.yaml for the
// embedded provider with the Admin API on a free loopback port, and one-call requests.

#include <cstdint>
#include <string>
#include <string_view>

#include "tests/harness/raw_client.h"

namespace apisix::test {

inline constexpr std::string_view kTestAdminKey = "test-admin-key-0123456789abcdef";

// config.yaml: role traditional, provider embedded, node_listen and admin_listen on 127.0.0.1
// with kernel-chosen ports, admin key kTestAdminKey. `extra` is appended.
std::string embedded_admin_config(int worker_processes = 2, std::string_view extra = {});

// config.yaml for the etcd provider on `etcd_url` (prefix /apisix): role traditional with the
// Admin API as in embedded_admin_config(), or (admin = false) role data_plane without it.
std::string etcd_admin_config(const std::string& etcd_url, bool admin = true,
                              int worker_processes = 2, std::string_view extra = {});

// Sends `method path` with an X-API-KEY of `key` and a JSON `body` (when non-empty).
HttpResponse admin_call(uint16_t admin_port, std::string_view method, std::string_view path,
                        std::string_view body = {}, std::string_view key = kTestAdminKey);

}  // namespace apisix::test
