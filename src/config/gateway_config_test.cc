#include "config/gateway_config.h"

#include <algorithm>
#include <thread>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace apisix::config {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

const EnvLookup kNoEnv = env_from_map({});

GatewayConfig load_ok(std::string_view yaml, const EnvLookup& env = kNoEnv) {
  Result<GatewayConfig> r = load_gateway_config(yaml, env);
  EXPECT_TRUE(r.ok()) << yaml << "\n=> " << (r.ok() ? "" : r.error().context);
  return r.ok() ? std::move(r).value() : GatewayConfig{};
}

std::string load_error(std::string_view yaml, const EnvLookup& env = kNoEnv) {
  Result<GatewayConfig> r = load_gateway_config(yaml, env);
  EXPECT_FALSE(r.ok()) << yaml;
  return r.ok() ? std::string() : r.error().context;
}

std::string listeners(const GatewayConfig& c) {
  std::string out;
  for (const ListenAddr& a : c.node_listen) {
    out += (out.empty() ? "" : " ") + a.ip + "|" + std::to_string(a.port);
  }
  return out;
}

int cpu_count() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

TEST(GatewayConfig, EmptyFileMeansDefaults) {
  for (const char* text : {"", "\n", "# nothing but comments\n# here\n"}) {
    GatewayConfig c = load_ok(text);
    EXPECT_EQ(listeners(c), "0.0.0.0|9080 ::|9080") << text;
    EXPECT_TRUE(c.enable_admin);
    EXPECT_EQ(c.admin_listen.ip, "0.0.0.0");
    EXPECT_EQ(c.admin_listen.port, 9180);
    EXPECT_TRUE(c.enable_control);
    EXPECT_EQ(c.control.ip, "127.0.0.1");
    EXPECT_EQ(c.control.port, 9090);
    EXPECT_EQ(c.router_http, "radixtree_host_uri");
    EXPECT_EQ(c.role, "traditional");
    EXPECT_EQ(c.config_provider, "embedded");
    EXPECT_EQ(c.worker_processes, cpu_count());
    EXPECT_TRUE(c.enable_ipv6);
    EXPECT_TRUE(c.enable_reuseport);
    EXPECT_TRUE(c.enable_server_tokens);
    EXPECT_FALSE(c.show_upstream_status_in_response_header);
    EXPECT_EQ(c.keepalive_timeout, milliseconds(60000));
    EXPECT_EQ(c.client_header_timeout, milliseconds(60000));
    EXPECT_EQ(c.client_body_timeout, milliseconds(60000));
    EXPECT_EQ(c.send_timeout, milliseconds(10000));
    EXPECT_EQ(c.client_max_body_size, 0u);
    EXPECT_EQ(c.worker_connections, 10620u);
    EXPECT_EQ(c.worker_shutdown_timeout, milliseconds(240000));
    EXPECT_TRUE(c.underscores_in_headers);
    EXPECT_EQ(c.upstream_keepalive, 320u);
    EXPECT_EQ(c.upstream_keepalive_requests, 1000u);
    EXPECT_EQ(c.upstream_keepalive_timeout, milliseconds(60000));
    EXPECT_EQ(c.error_log, "logs/error.log");
    EXPECT_EQ(c.error_log_level, "warn");
    EXPECT_EQ(c.access_log, "logs/access.log");
    EXPECT_TRUE(c.enable_access_log);
    EXPECT_TRUE(c.raw.is_object());
  }
}

TEST(GatewayConfig, DefaultPluginListHasTheCorePlugins) {
  GatewayConfig c = load_ok("");
  for (const char* name :
       {"key-auth", "basic-auth", "limit-count", "limit-req", "limit-conn", "prometheus",
        "proxy-rewrite", "response-rewrite", "echo", "request-id", "ip-restriction", "cors",
        "fault-injection", "redirect", "mocking", "consumer-restriction"}) {
    EXPECT_NE(std::find(c.plugins.begin(), c.plugins.end(), name), c.plugins.end()) << name;
  }
}

TEST(GatewayConfig, RawKeepsDefaultsAndUserKeys) {
  GatewayConfig c = load_ok(
      "plugin_attr:\n  prometheus:\n    export_addr:\n      port: 9200\n  my-plugin:\n    x: 1\n");
  const json::value& prom = c.raw.at("plugin_attr").at("prometheus");
  EXPECT_EQ(prom.at("export_addr").at("port"), json::value(9200));
  EXPECT_EQ(prom.at("export_addr").at("ip"), json::value("127.0.0.1"));
  EXPECT_EQ(prom.at("export_uri"), json::value("/apisix/prometheus/metrics"));
  EXPECT_EQ(c.raw.at("plugin_attr").at("my-plugin").at("x"), json::value(1));
  EXPECT_EQ(c.raw.at("deployment").at("etcd").at("prefix"), json::value("/apisix"));
}

struct ListenCase {
  const char* name;
  const char* yaml;
  const char* expected;
};

class NodeListenTest : public testing::TestWithParam<ListenCase> {};

TEST_P(NodeListenTest, Shapes) {
  GatewayConfig c = load_ok(GetParam().yaml);
  EXPECT_EQ(listeners(c), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, NodeListenTest,
    testing::Values(
        ListenCase{"single_integer", "apisix:\n  node_listen: 9000\n", "0.0.0.0|9000 ::|9000"},
        ListenCase{"list_of_integers", "apisix:\n  node_listen: [9000, 9001]\n",
                   "0.0.0.0|9000 ::|9000 0.0.0.0|9001 ::|9001"},
        ListenCase{"ip_and_port",
                   "apisix:\n  node_listen:\n    - ip: 127.0.0.2\n      port: 9000\n",
                   "127.0.0.2|9000"},
        ListenCase{"port_only", "apisix:\n  node_listen:\n    - port: 9000\n",
                   "0.0.0.0|9000 ::|9000"},
        ListenCase{"ip_only_uses_9080", "apisix:\n  node_listen:\n    - ip: 127.0.0.1\n",
                   "127.0.0.1|9080"},
        ListenCase{"ipv6_ip", "apisix:\n  node_listen:\n    - ip: \"::1\"\n      port: 9000\n",
                   "::1|9000"},
        ListenCase{"bracketed_ipv6_ip",
                   "apisix:\n  node_listen:\n    - ip: \"[::1]\"\n      port: 9000\n", "::1|9000"},
        ListenCase{"mixed",
                   "apisix:\n  node_listen:\n    - 9000\n    - ip: 10.0.0.1\n      port: 9001\n",
                   "0.0.0.0|9000 ::|9000 10.0.0.1|9001"},
        ListenCase{"ipv6_disabled",
                   "apisix:\n  enable_ipv6: false\n  node_listen: [9000, {port: 9001}]\n",
                   "0.0.0.0|9000 0.0.0.0|9001"},
        ListenCase{"duplicates_dropped",
                   "apisix:\n  enable_ipv6: false\n  node_listen: [9000, 9000]\n", "0.0.0.0|9000"},
        ListenCase{"port_zero_kept_twice", "apisix:\n  enable_ipv6: false\n  node_listen: [0, 0]\n",
                   "0.0.0.0|0 0.0.0.0|0"},
        ListenCase{"empty_list", "apisix:\n  node_listen: []\n", ""},
        ListenCase{"from_env", "apisix:\n  enable_ipv6: false\n  node_listen: ${{PORT:=9100}}\n",
                   "0.0.0.0|9100"},
        ListenCase{"deleted_means_9080", "apisix:\n  enable_ipv6: false\n  node_listen: ~\n",
                   "0.0.0.0|9080"}),
    [](const testing::TestParamInfo<ListenCase>& info) { return info.param.name; });

struct ErrorCase {
  const char* name;
  const char* yaml;
  const char* error;
};

class ConfigErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrorTest, NamesTheKey) { EXPECT_EQ(load_error(GetParam().yaml), GetParam().error); }

INSTANTIATE_TEST_SUITE_P(
    BadValues, ConfigErrorTest,
    testing::Values(
        ErrorCase{"port_not_a_number", "apisix:\n  node_listen:\n    - 9080\n    - port: abc\n",
                  "invalid config: apisix.node_listen[1].port: expected integer 0..65535, got "
                  "\"abc\""},
        ErrorCase{"port_too_large", "apisix:\n  node_listen: [70000]\n",
                  "invalid config: apisix.node_listen[0]: expected integer 0..65535, got 70000"},
        ErrorCase{"single_port_too_large", "apisix:\n  node_listen: 70000\n",
                  "invalid config: apisix.node_listen: expected integer 0..65535, got 70000"},
        ErrorCase{"negative_port", "apisix:\n  node_listen: [{port: -1}]\n",
                  "invalid config: apisix.node_listen[0].port: expected integer 0..65535, got -1"},
        ErrorCase{
            "fractional_port", "apisix:\n  node_listen: [{port: 80.5}]\n",
            "invalid config: apisix.node_listen[0].port: expected integer 0..65535, got 80.5"},
        ErrorCase{"bad_ip", "apisix:\n  node_listen: [{ip: localhost, port: 80}]\n",
                  "invalid config: apisix.node_listen[0].ip: expected an IPv4 or IPv6 address, "
                  "got \"localhost\""},
        ErrorCase{"item_of_wrong_type", "apisix:\n  node_listen: [true]\n",
                  "invalid config: apisix.node_listen[0]: expected a port or an {ip, port} "
                  "mapping, got true"},
        ErrorCase{"per_listener_http2",
                  "apisix:\n  node_listen:\n    - port: 9080\n      enable_http2: true\n",
                  "invalid config: apisix.node_listen[0].enable_http2: HTTP/2 cannot be set per "
                  "listener; use apisix.enable_http2 instead"},
        ErrorCase{"node_listen_string", "apisix:\n  node_listen: \"9080\"\n",
                  "failed to merge, path[apisix->node_listen] expect: table, but got: string"},
        ErrorCase{"node_listen_mapping", "apisix:\n  node_listen: {port: 1}\n",
                  "invalid config: apisix.node_listen: expected a port or a list of ports and "
                  "{ip, port} mappings, got a mapping"},
        ErrorCase{"bool_as_string", "apisix:\n  enable_admin: \"yes\"\n",
                  "failed to merge, path[apisix->enable_admin] expect: boolean, but got: string"},
        ErrorCase{"admin_port_as_string",
                  "deployment:\n  admin:\n    admin_listen:\n      port: \"9180\"\n",
                  "failed to merge, path[deployment->admin->admin_listen->port] expect: number, "
                  "but got: string"},
        ErrorCase{"admin_port_out_of_range",
                  "deployment:\n  admin:\n    admin_listen:\n      port: 99999\n",
                  "invalid config: deployment.admin.admin_listen.port: expected integer "
                  "0..65535, got 99999"},
        ErrorCase{"control_ip", "apisix:\n  control:\n    ip: nowhere\n",
                  "invalid config: apisix.control.ip: expected an IPv4 or IPv6 address, got "
                  "\"nowhere\""},
        ErrorCase{"router", "apisix:\n  router:\n    http: radixtree_fancy\n",
                  "invalid config: apisix.router.http: expected one of radixtree_uri, "
                  "radixtree_host_uri, radixtree_uri_with_parameter, got \"radixtree_fancy\""},
        ErrorCase{"bool_under_nginx_config",
                  "nginx_config:\n  http:\n    enable_access_log: \"on\"\n",
                  "invalid config: nginx_config.http.enable_access_log: expected true or false, "
                  "got \"on\""},
        ErrorCase{"underscores_flag", "nginx_config:\n  http:\n    underscores_in_headers: maybe\n",
                  "invalid config: nginx_config.http.underscores_in_headers: expected \"on\" or "
                  "\"off\", got \"maybe\""},
        ErrorCase{"duration", "nginx_config:\n  http:\n    keepalive_timeout: soon\n",
                  "invalid config: nginx_config.http.keepalive_timeout: expected an nginx time "
                  "such as \"60s\", \"500ms\" or \"1m\", got \"soon\""},
        ErrorCase{"size", "nginx_config:\n  http:\n    client_max_body_size: 1t\n",
                  "invalid config: nginx_config.http.client_max_body_size: expected an nginx "
                  "size such as \"0\", \"8k\", \"1m\" or \"1g\", got \"1t\""},
        ErrorCase{"worker_connections", "nginx_config:\n  event:\n    worker_connections: lots\n",
                  "invalid config: nginx_config.event.worker_connections: expected integer "
                  "1..16777216, got \"lots\""},
        ErrorCase{"error_log_level", "nginx_config:\n  error_log_level: loud\n",
                  "invalid config: nginx_config.error_log_level: expected one of debug, info, "
                  "notice, warn, error, crit, alert, emerg, got \"loud\""},
        ErrorCase{"workers_zero", "nginx_config:\n  worker_processes: 0\n",
                  "invalid config: nginx_config.worker_processes: expected \"auto\" or an "
                  "integer 1..1024, got 0"},
        ErrorCase{"workers_word", "nginx_config:\n  worker_processes: many\n",
                  "invalid config: nginx_config.worker_processes: expected \"auto\" or an "
                  "integer 1..1024, got \"many\""},
        ErrorCase{"plugins_not_a_list", "plugins: key-auth\n",
                  "failed to merge, path[plugins] expect: table, but got: string"},
        ErrorCase{"plugin_name_not_a_string", "plugins: [key-auth, 3]\n",
                  "invalid config: plugins[1]: expected a plugin name, got 3"},
        ErrorCase{"section_not_a_mapping", "apisix: [1, 2]\n",
                  "invalid config: apisix: expected a mapping, got a list"},
        ErrorCase{"top_level_list", "- a\n- b\n",
                  "invalid config: the top level must be a mapping, got a list"},
        ErrorCase{"top_level_scalar", "hello\n",
                  "invalid config: the top level must be a mapping, got \"hello\""},
        ErrorCase{"missing_env", "apisix:\n  node_listen: ${{NOT_SET_ANYWHERE}}\n",
                  "failed to handle configuration: can't find environment variable "
                  "NOT_SET_ANYWHERE (at apisix.node_listen)"}),
    [](const testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST(GatewayConfig, YamlSyntaxError) {
  std::string e = load_error("apisix:\n  node_listen: [9080\n");
  EXPECT_EQ(e.rfind("failed to read config.yaml: invalid YAML: line ", 0), 0u) << e;
}

INSTANTIATE_TEST_SUITE_P(
    PortConflicts, ConfigErrorTest,
    testing::Values(ErrorCase{"proxy_on_admin_port", "apisix:\n  node_listen: [9180]\n",
                              "invalid config: apisix.node_listen: port 9180 conflicts with "
                              "deployment.admin.admin_listen.port"},
                    ErrorCase{"proxy_on_control_port",
                              "apisix:\n  node_listen: [{ip: 127.0.0.1, port: 9090}]\n",
                              "invalid config: apisix.node_listen: port 9090 conflicts with "
                              "apisix.control.port"},
                    ErrorCase{"control_on_admin_port", "apisix:\n  control:\n    port: 9180\n",
                              "invalid config: apisix.control.port: port 9180 conflicts with "
                              "deployment.admin.admin_listen.port"},
                    ErrorCase{"proxy_on_prometheus_port", "apisix:\n  node_listen: [9091]\n",
                              "invalid config: apisix.node_listen: port 9091 conflicts with "
                              "plugin_attr.prometheus.export_addr.port"},
                    ErrorCase{"status_on_control_port", "apisix:\n  status:\n    port: 9090\n",
                              "invalid config: apisix.status.port: port 9090 conflicts with "
                              "apisix.control.port"},
                    ErrorCase{"ssl_on_admin_port", "apisix:\n  ssl:\n    listen: [{port: 9180}]\n",
                              "invalid config: apisix.ssl.listen[0].port: port 9180 conflicts with "
                              "deployment.admin.admin_listen.port"}),
    [](const testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST(GatewayConfig, DisabledListenersDoNotConflict) {
  GatewayConfig a = load_ok("apisix:\n  enable_admin: false\n  node_listen: [9180]\n");
  EXPECT_FALSE(a.enable_admin);
  GatewayConfig b = load_ok("apisix:\n  enable_control: false\n  node_listen: [9090]\n");
  EXPECT_FALSE(b.enable_control);
  load_ok("plugins: [key-auth]\napisix:\n  node_listen: [9091]\n");
  load_ok(
      "plugin_attr:\n  prometheus:\n    enable_export_server: false\napisix:\n  node_listen: "
      "[9091]\n");
  load_ok("apisix:\n  ssl:\n    enable: false\n    listen: [{port: 9180}]\n");
  // The data plane has no Admin API, so its port is free.
  load_ok(
      "deployment:\n  role: data_plane\n  role_data_plane:\n    config_provider: yaml\n"
      "apisix:\n  node_listen: [9180]\n");
}

TEST(GatewayConfig, PortZeroNeverConflicts) {
  GatewayConfig c = load_ok(
      "apisix:\n  enable_ipv6: false\n  node_listen: [0]\n  control:\n    port: 0\n"
      "deployment:\n  admin:\n    admin_listen:\n      port: 0\n");
  EXPECT_EQ(listeners(c), "0.0.0.0|0");
  EXPECT_EQ(c.admin_listen.port, 0);
  EXPECT_EQ(c.control.port, 0);
}

TEST(GatewayConfig, NginxDurationsAndSizes) {
  GatewayConfig c = load_ok(
      "nginx_config:\n"
      "  worker_shutdown_timeout: 5m\n"
      "  event:\n    worker_connections: \"2048\"\n"
      "  http:\n"
      "    keepalive_timeout: 75s\n"
      "    client_header_timeout: 500ms\n"
      "    client_body_timeout: 30\n"
      "    send_timeout: 1m30s\n"
      "    client_max_body_size: 8k\n"
      "    underscores_in_headers: \"off\"\n"
      "    upstream:\n      keepalive: 16\n      keepalive_requests: \"50\"\n"
      "      keepalive_timeout: 2h\n");
  EXPECT_EQ(c.worker_shutdown_timeout, milliseconds(300000));
  EXPECT_EQ(c.worker_connections, 2048u);
  EXPECT_EQ(c.keepalive_timeout, milliseconds(75000));
  EXPECT_EQ(c.client_header_timeout, milliseconds(500));
  EXPECT_EQ(c.client_body_timeout, milliseconds(30000));
  EXPECT_EQ(c.send_timeout, milliseconds(90000));
  EXPECT_EQ(c.client_max_body_size, 8192u);
  EXPECT_FALSE(c.underscores_in_headers);
  EXPECT_EQ(c.upstream_keepalive, 16u);
  EXPECT_EQ(c.upstream_keepalive_requests, 50u);
  EXPECT_EQ(c.upstream_keepalive_timeout, milliseconds(7200000));

  for (auto [text, bytes] : {std::pair{"1048576", 1048576ull}, std::pair{"\"1m\"", 1048576ull},
                             std::pair{"1g", 1073741824ull}, std::pair{"\"0\"", 0ull}}) {
    GatewayConfig s =
        load_ok(std::string("nginx_config:\n  http:\n    client_max_body_size: ") + text + "\n");
    EXPECT_EQ(s.client_max_body_size, bytes) << text;
  }
}

struct ProviderCase {
  const char* name;
  const char* yaml;
  const char* role;
  const char* provider;  // or the error text when `error` is set
  bool admin = true;
  bool error = false;
};

class ProviderMatrixTest : public testing::TestWithParam<ProviderCase> {};

TEST_P(ProviderMatrixTest, RoleAndProvider) {
  const ProviderCase& c = GetParam();
  if (c.error) {
    EXPECT_EQ(load_error(c.yaml), c.provider);
    return;
  }
  GatewayConfig g = load_ok(c.yaml);
  EXPECT_EQ(g.role, c.role);
  EXPECT_EQ(g.config_provider, c.provider);
  EXPECT_EQ(g.enable_admin, c.admin);
}

INSTANTIATE_TEST_SUITE_P(
    Matrix, ProviderMatrixTest,
    testing::Values(
        ProviderCase{"traditional_default", "", "traditional", "embedded"},
        ProviderCase{"traditional_etcd",
                     "deployment:\n  role_traditional:\n    config_provider: etcd\n", "traditional",
                     "etcd"},
        ProviderCase{"traditional_yaml",
                     "deployment:\n  role_traditional:\n    config_provider: yaml\n", "traditional",
                     "yaml"},
        ProviderCase{"traditional_json",
                     "deployment:\n  role_traditional:\n    config_provider: json\n", "",
                     "invalid config: deployment.role_traditional.config_provider: expected one "
                     "of embedded, etcd, yaml, got \"json\"",
                     true, true},
        ProviderCase{"control_plane_etcd",
                     "apisix:\n  enable_admin: false\ndeployment:\n  role: control_plane\n"
                     "  role_control_plane:\n    config_provider: etcd\n",
                     "control_plane", "etcd", true},
        ProviderCase{"control_plane_embedded",
                     "deployment:\n  role: control_plane\n  role_control_plane:\n"
                     "    config_provider: embedded\n",
                     "control_plane", "embedded", true},
        ProviderCase{"control_plane_requires_provider", "deployment:\n  role: control_plane\n", "",
                     "invalid config: deployment.role_control_plane.config_provider: required "
                     "when deployment.role is control_plane",
                     true, true},
        ProviderCase{"control_plane_yaml",
                     "deployment:\n  role: control_plane\n  role_control_plane:\n"
                     "    config_provider: yaml\n",
                     "",
                     "invalid config: deployment.role_control_plane.config_provider: expected "
                     "one of embedded, etcd, got \"yaml\"",
                     true, true},
        ProviderCase{
            "data_plane_yaml",
            "deployment:\n  role: data_plane\n  role_data_plane:\n    config_provider: yaml\n",
            "data_plane", "yaml", false},
        ProviderCase{
            "data_plane_json",
            "deployment:\n  role: data_plane\n  role_data_plane:\n    config_provider: json\n",
            "data_plane", "json", false},
        ProviderCase{
            "data_plane_etcd",
            "deployment:\n  role: data_plane\n  role_data_plane:\n    config_provider: etcd\n",
            "data_plane", "etcd", false},
        ProviderCase{"data_plane_embedded",
                     "deployment:\n  role: data_plane\n  role_data_plane:\n"
                     "    config_provider: embedded\n",
                     "",
                     "invalid config: deployment.role_data_plane.config_provider: expected one "
                     "of etcd, yaml, json, got \"embedded\"",
                     true, true},
        ProviderCase{
            "data_plane_xds",
            "deployment:\n  role: data_plane\n  role_data_plane:\n    config_provider: xds\n", "",
            "invalid config: deployment.role_data_plane.config_provider: config_provider "
            "xds is not supported",
            true, true},
        ProviderCase{"data_plane_requires_provider", "deployment:\n  role: data_plane\n", "",
                     "invalid config: deployment.role_data_plane.config_provider: required when "
                     "deployment.role is data_plane",
                     true, true},
        ProviderCase{"standalone_role", "deployment:\n  role: standalone\n", "",
                     "invalid config: deployment.role: \"standalone\" is not a role; use role "
                     "data_plane with config_provider yaml or json",
                     true, true},
        ProviderCase{"unknown_role", "deployment:\n  role: edge\n", "",
                     "invalid config: deployment.role: expected one of traditional, "
                     "control_plane, data_plane, got \"edge\"",
                     true, true},
        ProviderCase{"etcd_host_checked",
                     "deployment:\n  role_traditional:\n    config_provider: etcd\n"
                     "  etcd:\n    host: [\"127.0.0.1:2379\"]\n",
                     "",
                     "invalid config: deployment.etcd.host[0]: expected an http:// or https:// "
                     "URL, got \"127.0.0.1:2379\"",
                     true, true}),
    [](const testing::TestParamInfo<ProviderCase>& info) { return info.param.name; });

TEST(GatewayConfig, WorkerProcesses) {
  EXPECT_EQ(load_ok("nginx_config:\n  worker_processes: 4\n").worker_processes, 4);
  EXPECT_EQ(load_ok("nginx_config:\n  worker_processes: \"3\"\n").worker_processes, 3);
  EXPECT_EQ(load_ok("nginx_config:\n  worker_processes: auto\n").worker_processes, cpu_count());
  EXPECT_EQ(load_ok("apisix:\n  enable_dev_mode: true\n").worker_processes, 1);
  EXPECT_FALSE(load_ok("apisix:\n  enable_dev_mode: true\n").enable_reuseport);

  EnvLookup env = env_from_map({{"APISIX_WORKER_PROCESSES", "2"}});
  EXPECT_EQ(load_ok("nginx_config:\n  worker_processes: 4\n", env).worker_processes, 2);
  EXPECT_EQ(load_ok("apisix:\n  enable_dev_mode: true\n", env).worker_processes, 2);
  EnvLookup bad = env_from_map({{"APISIX_WORKER_PROCESSES", "lots"}});
  EXPECT_EQ(load_error("", bad),
            "invalid config: APISIX_WORKER_PROCESSES: expected \"auto\" or an integer 1..1024, "
            "got \"lots\"");
}

TEST(GatewayConfig, EtcdHostFromReservedEnv) {
  EnvLookup env = env_from_map(
      {{"APISIX_DEPLOYMENT_ETCD_HOST", R"(["http://10.0.0.1:2379","https://10.0.0.2:2379"])"}});
  GatewayConfig c = load_ok("deployment:\n  role_traditional:\n    config_provider: etcd\n", env);
  EXPECT_EQ(c.raw.at("deployment").at("etcd").at("host"),
            json::parse(R"(["http://10.0.0.1:2379","https://10.0.0.2:2379"])"));
  EnvLookup bad = env_from_map({{"APISIX_DEPLOYMENT_ETCD_HOST", "10.0.0.1"}});
  EXPECT_EQ(load_error("", bad),
            "invalid config: APISIX_DEPLOYMENT_ETCD_HOST: expected a JSON array of URLs, got "
            "\"10.0.0.1\"");
}

TEST(GatewayConfig, EnvSubstitutionBeforeMerge) {
  EnvLookup env = env_from_map({{"ADMIN_PORT", "9280"},
                                {"SERVER_TOKENS", "false"},
                                {"LEVEL", "info"},
                                {"ATTR_NAME", "my-plugin"}});
  GatewayConfig c = load_ok(
      "apisix:\n  enable_server_tokens: ${{SERVER_TOKENS}}\n"
      "deployment:\n  admin:\n    admin_listen:\n      port: ${{ADMIN_PORT}}\n"
      "nginx_config:\n  error_log_level: ${{LEVEL}}\n"
      "  http:\n    keepalive_timeout: ${{KEEPALIVE:=30s}}\n"
      "plugin_attr:\n  ${{ATTR_NAME}}:\n    enabled: true\n",
      env);
  EXPECT_EQ(c.admin_listen.port, 9280);
  EXPECT_FALSE(c.enable_server_tokens);
  EXPECT_EQ(c.error_log_level, "info");
  EXPECT_EQ(c.keepalive_timeout, milliseconds(30000));
  EXPECT_TRUE(c.raw.at("plugin_attr").at("my-plugin").at("enabled").as_bool());
}

TEST(GatewayConfig, PluginsReplaceAndDelete) {
  GatewayConfig c = load_ok("plugins:\n  - echo\n  - key-auth\n  - echo\n");
  EXPECT_EQ(c.plugins, (std::vector<std::string>{"echo", "key-auth"}));
  EXPECT_TRUE(load_ok("plugins: ~\n").plugins.empty());
  EXPECT_TRUE(load_ok("plugins: []\n").plugins.empty());
}

TEST(GatewayConfig, OtherTypedKeys) {
  GatewayConfig c = load_ok(
      "apisix:\n"
      "  enable_ipv6: false\n  enable_reuseport: false\n  enable_server_tokens: false\n"
      "  show_upstream_status_in_response_header: true\n"
      "  router:\n    http: radixtree_uri\n"
      "  control:\n    ip: \"::1\"\n    port: 9099\n"
      "deployment:\n  admin:\n    admin_listen:\n      ip: 127.0.0.1\n      port: 9188\n"
      "nginx_config:\n  error_log: /tmp/e.log\n  http:\n    access_log: /tmp/a.log\n"
      "    enable_access_log: false\n");
  EXPECT_FALSE(c.enable_ipv6);
  EXPECT_FALSE(c.enable_reuseport);
  EXPECT_FALSE(c.enable_server_tokens);
  EXPECT_TRUE(c.show_upstream_status_in_response_header);
  EXPECT_EQ(c.router_http, "radixtree_uri");
  EXPECT_EQ(c.control.ip, "::1");
  EXPECT_EQ(c.control.port, 9099);
  EXPECT_EQ(c.admin_listen.ip, "127.0.0.1");
  EXPECT_EQ(c.admin_listen.port, 9188);
  EXPECT_EQ(c.error_log, "/tmp/e.log");
  EXPECT_EQ(c.access_log, "/tmp/a.log");
  EXPECT_FALSE(c.enable_access_log);
  // Without router.http APISIX falls back to radixtree_uri.
  EXPECT_EQ(load_ok("apisix:\n  router:\n    http: ~\n").router_http, "radixtree_uri");
}

TEST(GatewayConfig, FileLoading) {
  Result<GatewayConfig> missing = load_gateway_config_file("/nonexistent/config.yaml", kNoEnv);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);

  Result<GatewayConfig> shipped =
      load_gateway_config_file(std::string(APISIX_SOURCE_DIR) + "/conf/config.yaml", kNoEnv);
  ASSERT_TRUE(shipped.ok()) << shipped.error().context;
  EXPECT_EQ(shipped->role, "traditional");
}

}  // namespace
}  // namespace apisix::config
