#include "tests/harness/admin_client.h"

#include "tests/harness/http_codec.h"

namespace apisix::test {

std::string embedded_admin_config(int worker_processes, std::string_view extra) {
  std::string y =
      "apisix:\n"
      "  node_listen:\n"
      "    - ip: 127.0.0.1\n"
      "      port: 0\n"
      "  enable_ipv6: false\n"
      "  enable_control: false\n"
      "deployment:\n"
      "  role: traditional\n"
      "  role_traditional:\n"
      "    config_provider: embedded\n"
      "  admin:\n"
      "    admin_listen:\n"
      "      ip: 127.0.0.1\n"
      "      port: 0\n"
      "    admin_key:\n"
      "      - name: admin\n"
      "        key: " +
      std::string(kTestAdminKey) +
      "\n"
      "        role: admin\n"
      "nginx_config:\n"
      "  worker_processes: " +
      std::to_string(worker_processes) + "\n";
  y += extra;
  return y;
}

std::string etcd_admin_config(const std::string& etcd_url, bool admin, int worker_processes,
                              std::string_view extra) {
  std::string y =
      "apisix:\n"
      "  node_listen:\n"
      "    - ip: 127.0.0.1\n"
      "      port: 0\n"
      "  enable_ipv6: false\n"
      "  enable_control: false\n"
      "deployment:\n";
  if (admin) {
    y += "  role: traditional\n"
         "  role_traditional:\n"
         "    config_provider: etcd\n"
         "  admin:\n"
         "    admin_listen:\n"
         "      ip: 127.0.0.1\n"
         "      port: 0\n"
         "    admin_key:\n"
         "      - name: admin\n"
         "        key: " +
         std::string(kTestAdminKey) +
         "\n"
         "        role: admin\n";
  } else {
    y += "  role: data_plane\n"
         "  role_data_plane:\n"
         "    config_provider: etcd\n";
  }
  y += "  etcd:\n    host:\n      - \"" + etcd_url + "\"\n    prefix: /apisix\n    timeout: 5\n";
  y += "nginx_config:\n  worker_processes: " + std::to_string(worker_processes) + "\n";
  y += extra;
  return y;
}

HttpResponse admin_call(uint16_t admin_port, std::string_view method, std::string_view path,
                        std::string_view body, std::string_view key) {
  Headers headers = {{"Host", "127.0.0.1"}};
  if (!key.empty()) {
    headers.add("X-API-KEY", std::string(key));
  }
  if (!body.empty()) {
    headers.add("Content-Type", "application/json");
  }
  return fetch(admin_port, make_request(method, path, headers, body));
}

}  // namespace apisix::test
