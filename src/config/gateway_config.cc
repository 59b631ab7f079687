#include "config/gateway_config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "config/config_tree.h"
#include "config/default_config.h"
#include "config/nginx_units.h"
#include "config/schema_check.h"
#include "config/yaml_json.h"

namespace apisix::config {
namespace json = boost::json;
using schema::is_ipv4;
using schema::is_ipv6;
namespace {

constexpr std::string_view kInvalid = "invalid config: ";
constexpr size_t kMaxShownChars = 64;

// How a value is shown after "got": strings quoted (and shortened), containers by kind.
std::string describe(const json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
      return "a mapping";
    case json::kind::array:
      return "a list";
    case json::kind::string: {
      const json::string& s = v.get_string();
      if (s.size() <= kMaxShownChars) {
        return json::serialize(v);
      }
      return json::serialize(json::value(s.subview(0, kMaxShownChars))) + "...";
    }
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return schema::number_text(v);
    default:
      return json::serialize(v);
  }
}

std::optional<int64_t> as_integral(const json::value& v) {
  if (v.is_int64()) {
    return v.get_int64();
  }
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    // JSON has one number type: 9080.0 is an integer, 9080.5 is not.
    double d = v.get_double();
    if (std::isfinite(d) && d >= -9.2e18 && d <= 9.2e18 && std::trunc(d) == d) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

// Digits only; nginx_config values may be written as strings ("1000").
std::optional<int64_t> as_integral_or_numeric_string(const json::value& v) {
  if (!v.is_string()) {
    return as_integral(v);
  }
  const json::string& s = v.get_string();
  if (s.empty() || s.size() > 18) {
    return std::nullopt;
  }
  int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    n = n * 10 + (c - '0');
  }
  return n;
}

// "::1" and "[::1]" both name an IPv6 address; we keep the bare form.
std::optional<std::string> normalise_ip(std::string s) {
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') {
    s = s.substr(1, s.size() - 2);
    return is_ipv6(s) ? std::optional(s) : std::nullopt;
  }
  if (is_ipv4(s) || is_ipv6(s)) {
    return s;
  }
  return std::nullopt;
}

// Reads typed values out of the merged tree. The first problem is remembered and later
// reads return their fallbacks, so the caller can read everything and check once.
class TreeReader {
 public:
  explicit TreeReader(const json::value& root) : root_(root) {}

  bool failed() const { return error_.has_value(); }
  Error error() const { return *error_; }

  void fail(std::string_view path, const std::string& msg) {
    if (!error_) {
      error_ = Error::config(std::string(kInvalid) + std::string(path) + ": " + msg);
    }
  }

  // The value at a dotted path, or null when absent. An intermediate that exists but is
  // not a mapping is reported, since nothing below it can be read.
  const json::value* find(std::string_view path) {
    const json::value* cur = &root_;
    size_t start = 0;
    while (true) {
      size_t dot = path.find('.', start);
      std::string_view key = path.substr(start, dot == std::string_view::npos ? dot : dot - start);
      if (!cur->is_object()) {
        fail(path.substr(0, start == 0 ? 0 : start - 1),
             "expected a mapping, got " + describe(*cur));
        return nullptr;
      }
      const json::value* next = cur->get_object().if_contains(key);
      if (next == nullptr || next->is_null()) {
        return nullptr;
      }
      cur = next;
      if (dot == std::string_view::npos) {
        return cur;
      }
      start = dot + 1;
    }
  }

  bool boolean(std::string_view path, bool fallback) {
    const json::value* v = find(path);
    if (v == nullptr) {
      return fallback;
    }
    if (!v->is_bool()) {
      fail(path, "expected true or false, got " + describe(*v));
      return fallback;
    }
    return v->get_bool();
  }

  std::string string(std::string_view path, std::string fallback) {
    const json::value* v = find(path);
    if (v == nullptr) {
      return fallback;
    }
    if (!v->is_string()) {
      fail(path, "expected a string, got " + describe(*v));
      return fallback;
    }
    return std::string(v->get_string());
  }

  std::string one_of(std::string_view path, std::string fallback,
                     std::initializer_list<std::string_view> allowed) {
    const json::value* v = find(path);
    std::string s = string(path, fallback);
    if (v == nullptr || failed()) {
      return s;
    }
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
      std::string list;
      for (std::string_view a : allowed) {
        list += (list.empty() ? "" : ", ") + std::string(a);
      }
      fail(path, "expected one of " + list + ", got " + describe(*v));
      return fallback;
    }
    return s;
  }

  // An integer in [min, max]; under nginx_config numeric strings count as integers.
  int64_t integer(std::string_view path, int64_t fallback, int64_t min, int64_t max) {
    const json::value* v = find(path);
    if (v == nullptr) {
      return fallback;
    }
    return integer_value(path, *v, fallback, min, max);
  }

  int64_t integer_value(std::string_view path, const json::value& v, int64_t fallback, int64_t min,
                        int64_t max) {
    bool nginx = path.rfind("nginx_config.", 0) == 0;
    std::optional<int64_t> n = nginx ? as_integral_or_numeric_string(v) : as_integral(v);
    if (!n || *n < min || *n > max) {
      std::string range = max == std::numeric_limits<int64_t>::max()
                              ? ">= " + std::to_string(min)
                              : std::to_string(min) + ".." + std::to_string(max);
      fail(path, "expected integer " + range + ", got " + describe(v));
      return fallback;
    }
    return *n;
  }

  uint16_t port_value(std::string_view path, const json::value& v, uint16_t fallback) {
    return static_cast<uint16_t>(integer_value(path, v, fallback, 0, 65535));
  }

  std::chrono::milliseconds duration(std::string_view path, std::chrono::milliseconds fallback) {
    const json::value* v = find(path);
    if (v == nullptr) {
      return fallback;
    }
    if (std::optional<int64_t> seconds = as_integral(*v)) {
      if (*seconds < 0 || *seconds > std::numeric_limits<int32_t>::max()) {
        fail(path, "expected a non-negative time, got " + describe(*v));
        return fallback;
      }
      return std::chrono::seconds(*seconds);
    }
    if (!v->is_string()) {
      fail(path, "expected an nginx time such as \"60s\", got " + describe(*v));
      return fallback;
    }
    Result<std::chrono::milliseconds> d = parse_nginx_duration(v->get_string());
    if (!d) {
      fail(path, d.error().context);
      return fallback;
    }
    return *d;
  }

  uint64_t size(std::string_view path, uint64_t fallback) {
    const json::value* v = find(path);
    if (v == nullptr) {
      return fallback;
    }
    if (std::optional<int64_t> bytes = as_integral(*v)) {
      if (*bytes < 0) {
        fail(path, "expected a non-negative size, got " + describe(*v));
        return fallback;
      }
      return static_cast<uint64_t>(*bytes);
    }
    if (!v->is_string()) {
      fail(path, "expected an nginx size such as \"8k\" or \"1m\", got " + describe(*v));
      return fallback;
    }
    Result<uint64_t> s = parse_nginx_size(v->get_string());
    if (!s) {
      fail(path, s.error().context);
      return fallback;
    }
    return *s;
  }

  // nginx's on/off flags; booleans are accepted too.
  bool flag(std::string_view path, bool fallback) {
    const json::value* v = find(path);
    if (v == nullptr) {
      return fallback;
    }
    if (v->is_bool()) {
      return v->get_bool();
    }
    if (v->is_string() && (v->get_string() == "on" || v->get_string() == "off")) {
      return v->get_string() == "on";
    }
    fail(path, "expected \"on\" or \"off\", got " + describe(*v));
    return fallback;
  }

  std::string ip(std::string_view path, std::string fallback) {
    const json::value* v = find(path);
    if (v == nullptr) {
      return fallback;
    }
    return ip_value(path, *v, std::move(fallback));
  }

  std::string ip_value(std::string_view path, const json::value& v, std::string fallback) {
    if (v.is_string()) {
      if (std::optional<std::string> ip = normalise_ip(std::string(v.get_string()))) {
        return *ip;
      }
    }
    fail(path, "expected an IPv4 or IPv6 address, got " + describe(v));
    return fallback;
  }

  ListenAddr listen(std::string_view prefix, ListenAddr fallback) {
    std::string p(prefix);
    ListenAddr out;
    out.ip = ip(p + ".ip", fallback.ip);
    out.port = static_cast<uint16_t>(integer(p + ".port", fallback.port, 0, 65535));
    return out;
  }

 private:
  const json::value& root_;
  std::optional<Error> error_;
};

std::string index_path(std::string_view base, size_t i) {
  return std::string(base) + "[" + std::to_string(i) + "]";
}

void read_node_listen(TreeReader& r, GatewayConfig& c) {
  constexpr std::string_view kPath = "apisix.node_listen";
  const json::value* v = r.find(kPath);
  json::array fallback{9080};
  json::value single;
  const json::array* items = &fallback;
  bool was_single = false;
  if (v != nullptr) {
    if (v->is_array()) {
      items = &v->get_array();
    } else if (as_integral(*v)) {
      single = json::array{*v};
      items = &single.get_array();
      was_single = true;
    } else {
      r.fail(kPath,
             "expected a port or a list of ports and {ip, port} mappings, got " + describe(*v));
      return;
    }
  }
  std::set<std::pair<std::string, uint16_t>> seen;
  auto add = [&](std::string ip, uint16_t port) {
    // Port 0 listeners are all distinct: the kernel gives each its own port.
    if (port != 0 && !seen.emplace(ip, port).second) {
      return;
    }
    c.node_listen.push_back(ListenAddr{std::move(ip), port});
  };
  for (size_t i = 0; i < items->size(); ++i) {
    const json::value& item = (*items)[i];
    std::string path = was_single ? std::string(kPath) : index_path(kPath, i);
    std::optional<std::string> ip;
    uint16_t port = 9080;
    if (item.is_object()) {
      const json::object& o = item.get_object();
      if (o.contains("enable_http2")) {
        r.fail(path + ".enable_http2",
               "HTTP/2 cannot be set per listener; use apisix.enable_http2 instead");
        return;
      }
      if (const json::value* ipv = o.if_contains("ip"); ipv != nullptr && !ipv->is_null()) {
        ip = r.ip_value(path + ".ip", *ipv, "0.0.0.0");
      }
      if (const json::value* pv = o.if_contains("port"); pv != nullptr && !pv->is_null()) {
        port = r.port_value(path + ".port", *pv, 9080);
      }
    } else if (as_integral(item)) {
      port = r.port_value(path, item, 9080);
    } else {
      r.fail(path, "expected a port or an {ip, port} mapping, got " + describe(item));
      return;
    }
    if (r.failed()) {
      return;
    }
    if (ip) {
      add(*ip, port);
    } else {
      add("0.0.0.0", port);
      if (c.enable_ipv6) {
        add("::", port);
      }
    }
  }
}

// The ports that must stay distinct (core.md §1.1): admin, control, status, prometheus;
// proxy listeners may not use any of them. Port 0 never conflicts.
struct ReservedPort {
  uint16_t port;
  std::string key;
};

void check_port_conflicts(TreeReader& r, const GatewayConfig& c) {
  std::vector<ReservedPort> reserved;
  auto reserve = [&](uint16_t port, std::string key) {
    if (port == 0) {
      return;
    }
    for (const ReservedPort& other : reserved) {
      if (other.port == port) {
        r.fail(key, "port " + std::to_string(port) + " conflicts with " + other.key);
        return;
      }
    }
    reserved.push_back(ReservedPort{port, std::move(key)});
  };
  if (c.enable_admin) {
    reserve(c.admin_listen.port, "deployment.admin.admin_listen.port");
  }
  if (c.enable_control) {
    reserve(c.control.port, "apisix.control.port");
  }
  if (r.find("apisix.status") != nullptr) {
    reserve(static_cast<uint16_t>(r.integer("apisix.status.port", 7085, 1, 65535)),
            "apisix.status.port");
  }
  bool prometheus_enabled =
      std::find(c.plugins.begin(), c.plugins.end(), "prometheus") != c.plugins.end();
  if (prometheus_enabled && r.boolean("plugin_attr.prometheus.enable_export_server", true)) {
    reserve(
        static_cast<uint16_t>(r.integer("plugin_attr.prometheus.export_addr.port", 9091, 1, 65535)),
        "plugin_attr.prometheus.export_addr.port");
  }
  if (r.failed()) {
    return;
  }
  auto check = [&](uint16_t port, const std::string& key) {
    for (const ReservedPort& other : reserved) {
      if (port != 0 && other.port == port) {
        r.fail(key, "port " + std::to_string(port) + " conflicts with " + other.key);
        return;
      }
    }
  };
  for (size_t i = 0; i < c.node_listen.size(); ++i) {
    check(c.node_listen[i].port, "apisix.node_listen");
  }
  if (r.boolean("apisix.ssl.enable", true)) {
    if (const json::value* ssl = r.find("apisix.ssl.listen"); ssl != nullptr) {
      if (!ssl->is_array()) {
        r.fail("apisix.ssl.listen", "expected a list, got " + describe(*ssl));
        return;
      }
      const json::array& items = ssl->get_array();
      for (size_t i = 0; i < items.size(); ++i) {
        std::string path = index_path("apisix.ssl.listen", i);
        if (!items[i].is_object()) {
          r.fail(path, "expected an {ip, port} mapping, got " + describe(items[i]));
          return;
        }
        const json::value* pv = items[i].get_object().if_contains("port");
        uint16_t port = pv == nullptr ? 9443 : r.port_value(path + ".port", *pv, 9443);
        check(port, path + ".port");
      }
    }
  }
}

int resolve_worker_processes(TreeReader& r, const GatewayConfig& c, const EnvLookup& env) {
  auto cpu_count = [] {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(std::min<unsigned>(n, 1024));
  };
  auto parse = [&](std::string_view path, const json::value& v) -> int {
    if (v.is_string() && v.get_string() == "auto") {
      return cpu_count();
    }
    std::optional<int64_t> n = as_integral_or_numeric_string(v);
    if (!n || *n < 1 || *n > 1024) {
      r.fail(path, "expected \"auto\" or an integer 1..1024, got " + describe(v));
      return 1;
    }
    return static_cast<int>(*n);
  };
  if (std::optional<std::string> from_env = env ? env("APISIX_WORKER_PROCESSES") : std::nullopt) {
    return parse("APISIX_WORKER_PROCESSES", json::value(json::string_view(*from_env)));
  }
  if (c.enable_dev_mode) {
    return 1;
  }
  const json::value* v = r.find("nginx_config.worker_processes");
  return v == nullptr ? cpu_count() : parse("nginx_config.worker_processes", *v);
}

void read_role(TreeReader& r, GatewayConfig& c) {
  const json::value* role = r.find("deployment.role");
  if (role != nullptr && role->is_string() && role->get_string() == "standalone") {
    r.fail("deployment.role",
           "\"standalone\" is not a role; use role data_plane with config_provider yaml or json");
    return;
  }
  c.role =
      r.one_of("deployment.role", "traditional", {"traditional", "control_plane", "data_plane"});
  if (r.failed()) {
    return;
  }
  std::string path = "deployment.role_" + c.role + ".config_provider";
  if (c.role == "traditional") {
    c.config_provider = r.one_of(path, "embedded", {"embedded", "etcd", "yaml"});
  } else if (c.role == "control_plane") {
    c.config_provider = r.one_of(path, "", {"embedded", "etcd"});
    c.enable_admin = true;
  } else {
    const json::value* v = r.find(path);
    if (v != nullptr && v->is_string() && v->get_string() == "xds") {
      r.fail(path, "config_provider xds is not supported");
      return;
    }
    c.config_provider = r.one_of(path, "", {"etcd", "yaml", "json"});
    c.enable_admin = false;
  }
  if (!r.failed() && c.config_provider.empty()) {
    r.fail(path, "required when deployment.role is " + c.role);
  }
}

void check_etcd(TreeReader& r) {
  const json::value* hosts = r.find("deployment.etcd.host");
  if (hosts == nullptr || !hosts->is_array() || hosts->get_array().empty()) {
    r.fail("deployment.etcd.host",
           "expected a non-empty list of http(s) URLs, got " +
               (hosts == nullptr ? std::string("nothing") : describe(*hosts)));
    return;
  }
  const json::array& items = hosts->get_array();
  for (size_t i = 0; i < items.size(); ++i) {
    const json::value& h = items[i];
    if (!h.is_string() ||
        (h.get_string().subview(0, 7) != "http://" && h.get_string().subview(0, 8) != "https://")) {
      r.fail(index_path("deployment.etcd.host", i),
             "expected an http:// or https:// URL, got " + describe(h));
      return;
    }
  }
  (void)r.integer("deployment.etcd.timeout", 30, 1, std::numeric_limits<int32_t>::max());
  // TLS to https hosts (core.md §1.3): file paths for the client certificate, which come as a
  // pair, the server name to send and verify, and whether to verify at all.
  (void)r.boolean("deployment.etcd.tls.verify", true);
  std::string cert = r.string("deployment.etcd.tls.cert", "");
  std::string key = r.string("deployment.etcd.tls.key", "");
  (void)r.string("deployment.etcd.tls.sni", "");
  if (!r.failed() && cert.empty() != key.empty()) {
    r.fail(cert.empty() ? "deployment.etcd.tls.cert" : "deployment.etcd.tls.key",
           cert.empty() ? "required with deployment.etcd.tls.key"
                        : "required with deployment.etcd.tls.cert");
  }
}

std::vector<std::string> read_plugins(TreeReader& r) {
  std::vector<std::string> out;
  const json::value* v = r.find("plugins");
  if (v == nullptr) {
    return out;
  }
  if (!v->is_array()) {
    r.fail("plugins", "expected a list of plugin names, got " + describe(*v));
    return out;
  }
  std::set<std::string> seen;
  const json::array& items = v->get_array();
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_string() || items[i].get_string().empty()) {
      r.fail(index_path("plugins", i), "expected a plugin name, got " + describe(items[i]));
      return out;
    }
    std::string name(items[i].get_string());
    if (seen.insert(name).second) {
      out.push_back(std::move(name));
    }
  }
  return out;
}

// Reserved variable APISIX_DEPLOYMENT_ETCD_HOST: a JSON array that replaces etcd.host.
Result<void> apply_etcd_host_env(json::value& merged, const EnvLookup& env) {
  std::optional<std::string> text = env ? env("APISIX_DEPLOYMENT_ETCD_HOST") : std::nullopt;
  if (!text) {
    return {};
  }
  boost::system::error_code ec;
  json::value hosts = json::parse(*text, ec);
  if (ec || !hosts.is_array()) {
    return Error::config(std::string(kInvalid) +
                         "APISIX_DEPLOYMENT_ETCD_HOST: expected a JSON array of URLs, got " +
                         describe(json::value(json::string_view(*text))));
  }
  json::object& root = merged.get_object();
  json::value& deployment = root["deployment"];
  if (!deployment.is_object()) {
    deployment = json::object();
  }
  json::value& etcd = deployment.get_object()["etcd"];
  if (!etcd.is_object()) {
    etcd = json::object();
  }
  etcd.get_object()["host"] = std::move(hosts);
  return {};
}

Result<GatewayConfig> read_config(json::value merged, const EnvLookup& env) {
  GatewayConfig c;
  TreeReader r(merged);
  for (std::string_view section : {"apisix", "nginx_config", "deployment", "plugin_attr"}) {
    if (const json::value* v = r.find(section); v != nullptr && !v->is_object()) {
      r.fail(section, "expected a mapping, got " + describe(*v));
    }
  }
  c.enable_ipv6 = r.boolean("apisix.enable_ipv6", true);
  c.enable_dev_mode = r.boolean("apisix.enable_dev_mode", false);
  c.enable_reuseport = r.boolean("apisix.enable_reuseport", true) && !c.enable_dev_mode;
  c.enable_server_tokens = r.boolean("apisix.enable_server_tokens", true);
  c.show_upstream_status_in_response_header =
      r.boolean("apisix.show_upstream_status_in_response_header", false);
  c.enable_http2 = r.boolean("apisix.enable_http2", true);
  c.enable_admin = r.boolean("apisix.enable_admin", true);
  c.enable_control = r.boolean("apisix.enable_control", true);
  read_node_listen(r, c);
  // With apisix.router present but no http key APISIX falls back to radixtree_uri; the
  // shipped default is radixtree_host_uri (core.md §1.3).
  c.router_http = r.one_of("apisix.router.http", "radixtree_uri",
                           {"radixtree_uri", "radixtree_host_uri", "radixtree_uri_with_parameter"});
  c.control = r.listen("apisix.control", ListenAddr{"127.0.0.1", 9090});
  c.admin_listen = r.listen("deployment.admin.admin_listen", ListenAddr{"0.0.0.0", 9180});
  read_role(r, c);
  if (!r.failed() && c.config_provider == "etcd") {
    check_etcd(r);
  }
  c.etcd_prefix = r.string("deployment.etcd.prefix", "/apisix");

  c.keepalive_timeout = r.duration("nginx_config.http.keepalive_timeout", c.keepalive_timeout);
  c.client_header_timeout =
      r.duration("nginx_config.http.client_header_timeout", c.client_header_timeout);
  c.client_body_timeout =
      r.duration("nginx_config.http.client_body_timeout", c.client_body_timeout);
  c.send_timeout = r.duration("nginx_config.http.send_timeout", c.send_timeout);
  c.client_max_body_size = r.size("nginx_config.http.client_max_body_size", 0);
  c.worker_connections =
      static_cast<uint32_t>(r.integer("nginx_config.event.worker_connections", 10620, 1, 1 << 24));
  c.worker_shutdown_timeout =
      r.duration("nginx_config.worker_shutdown_timeout", c.worker_shutdown_timeout);
  c.underscores_in_headers = r.flag("nginx_config.http.underscores_in_headers", true);
  c.upstream_keepalive =
      static_cast<uint32_t>(r.integer("nginx_config.http.upstream.keepalive", 320, 0, 1 << 24));
  c.upstream_keepalive_requests =
      static_cast<uint32_t>(r.integer("nginx_config.http.upstream.keepalive_requests", 1000, 0,
                                      std::numeric_limits<int32_t>::max()));
  c.upstream_keepalive_timeout =
      r.duration("nginx_config.http.upstream.keepalive_timeout", c.upstream_keepalive_timeout);
  c.error_log = r.string("nginx_config.error_log", c.error_log);
  c.error_log_level =
      r.one_of("nginx_config.error_log_level", "warn",
               {"debug", "info", "notice", "warn", "error", "crit", "alert", "emerg"});
  c.access_log = r.string("nginx_config.http.access_log", c.access_log);
  c.enable_access_log = r.boolean("nginx_config.http.enable_access_log", true);
  c.plugins = read_plugins(r);
  c.worker_processes = resolve_worker_processes(r, c, env);
  if (!r.failed()) {
    check_port_conflicts(r, c);
  }
  if (r.failed()) {
    return r.error();
  }
  c.raw = std::move(merged);
  return c;
}

// Parsed once; every load merges into its own copy.
const Result<json::value>& parsed_defaults() {
  static const Result<json::value> kDefaults = parse_yaml(default_config_yaml());
  return kDefaults;
}

}  // namespace

Result<GatewayConfig> load_gateway_config(std::string_view user_yaml, const EnvLookup& env) {
  Result<json::value> defaults = parsed_defaults();
  if (!defaults) {
    return Error{ErrorKind::Invalid, ErrorSource::Internal, false,
                 "built-in defaults: " + defaults.error().context};
  }
  Result<json::value> user = parse_yaml(user_yaml);
  if (!user) {
    return Error::config("failed to read config.yaml: " + user.error().context);
  }
  if (user->is_null()) {
    *user = json::object();
  }
  if (!user->is_object()) {
    return Error::config(std::string(kInvalid) + "the top level must be a mapping, got " +
                         describe(*user));
  }
  if (auto r = substitute_env_in_tree(*user, env); !r) {
    return r.error();
  }
  json::value merged = std::move(*defaults);
  if (auto r = merge_config_tree(merged, *user); !r) {
    return r.error();
  }
  if (auto r = apply_etcd_host_env(merged, env); !r) {
    return r.error();
  }
  return read_config(std::move(merged), env);
}

Result<GatewayConfig> load_gateway_config_file(const std::string& path, const EnvLookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{ErrorKind::NotFound, ErrorSource::Config, false,
                 "cannot open config file " + path};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return Error{ErrorKind::Io, ErrorSource::Config, false, "cannot read config file " + path};
  }
  return load_gateway_config(text.str(), env);
}

}  // namespace apisix::config
