#include "config/resource_parse.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "config/schema_check.h"

namespace apisix::config {
namespace json = boost::json;
using schema::is_ipv4;
using schema::is_ipv6;
using schema::Msg;
namespace {

constexpr int64_t kIntMax = std::numeric_limits<int32_t>::max();
constexpr int64_t kIntMin = std::numeric_limits<int32_t>::min();

constexpr std::string_view kVarsKeyPattern =
    "^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|"
    "hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$";
constexpr std::string_view kHeaderKeyPattern = "^[a-zA-Z0-9-_]+$";

Error invalid(std::string msg) { return Error::config("invalid configuration: " + msg); }

// APISIX leaves most integers unbounded; the typed model keeps them in an int or uint32.
int saturate_int(int64_t n) { return static_cast<int>(std::clamp(n, kIntMin, kIntMax)); }
uint32_t saturate_uint32(int64_t n) {
  return static_cast<uint32_t>(std::clamp<int64_t>(n, 0, std::numeric_limits<uint32_t>::max()));
}

std::string str(const json::value& v) { return std::string(v.get_string()); }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool is_bracketed(std::string_view s) {
  return s.size() > 2 && s.front() == '[' && s.back() == ']';
}

bool host_is_ip(const std::string& host) {
  if (is_bracketed(host)) {
    return is_ipv6(host.substr(1, host.size() - 2));
  }
  return is_ipv4(host);
}

uint16_t default_port(std::string_view scheme) {
  if (scheme == "http" || scheme == "grpc") {
    return 80;
  }
  if (scheme == "https" || scheme == "grpcs") {
    return 443;
  }
  return 0;
}

using schema::Check;
using schema::integer_in;
using schema::number_in;
using schema::string_enum;
using schema::string_len;

Msg string_or_object(const json::value& v) {
  return v.is_string() || v.is_object() ? Msg() : schema::wrong_type("string or object", v);
}

// id, name, desc, labels and timestamps: common to every resource (core.md §4.1).
Msg check_common(const json::object& o) {
  return schema::check_fields(o, {
                                     {"id", schema::check_id},
                                     {"name", string_len(1, 256)},
                                     {"desc", string_len(0, 256)},
                                     {"labels", schema::check_labels},
                                     {"create_time", integer_in(std::nullopt, std::nullopt)},
                                     {"update_time", integer_in(std::nullopt, std::nullopt)},
                                 });
}

// An object with `additionalProperties: false`: its type, then unknown keys, then fields.
Msg check_closed_object(const json::value& v, std::initializer_list<std::string_view> known,
                        std::initializer_list<schema::FieldCheck> fields) {
  if (Msg m = schema::check_object(v)) {
    return m;
  }
  if (Msg m = schema::check_known(v.get_object(), known)) {
    return m;
  }
  return schema::check_fields(v.get_object(), fields);
}

// An object whose other keys are allowed: its type, then the listed fields.
Msg check_open_object(const json::value& v, std::initializer_list<schema::FieldCheck> fields) {
  if (Msg m = schema::check_object(v)) {
    return m;
  }
  return schema::check_fields(v.get_object(), fields);
}

// `_meta` inside one plugin's configuration (core.md §4.16).
Msg check_plugin_meta(const json::value& v) {
  return check_closed_object(v, {"disable", "priority", "filter", "error_response", "pre_function"},
                             {
                                 {"disable", schema::check_bool},
                                 {"priority", integer_in(kIntMin, kIntMax)},
                                 {"filter", schema::array_of(0, false)},
                                 {"error_response", string_or_object},
                                 {"pre_function", string_len(0)},
                             });
}

// The container only; each plugin's own schema is checked where the plugin is compiled.
Msg check_plugins(const json::value& v) {
  if (Msg m = schema::check_object(v)) {
    return m;
  }
  for (const auto& kv : v.get_object()) {
    if (Msg m = check_open_object(kv.value(), {{"_meta", check_plugin_meta}})) {
      return "failed to check the configuration of plugin " + std::string(kv.key()) + " err: " + *m;
    }
  }
  return std::nullopt;
}

Check http_statuses() { return schema::array_of(1, true, integer_in(200, 599)); }

// Health checks (core.md §4.4.2). Thresholds are 1..254 for active checks and 0..254 for
// passive ones, where 0 disables the counter.
Msg check_active(const json::value& v) {
  Check threshold = integer_in(1, 254);
  Check healthy = [threshold](const json::value& x) {
    return check_open_object(x, {
                                    {"interval", integer_in(1, std::nullopt)},
                                    {"http_statuses", http_statuses()},
                                    {"successes", threshold},
                                });
  };
  Check unhealthy = [threshold](const json::value& x) {
    return check_open_object(x, {
                                    {"interval", integer_in(1, std::nullopt)},
                                    {"http_statuses", http_statuses()},
                                    {"http_failures", threshold},
                                    {"tcp_failures", threshold},
                                    {"timeouts", threshold},
                                });
  };
  return check_open_object(v, {
                                  {"type", string_enum({"http", "https", "tcp"})},
                                  {"timeout", number_in(std::nullopt, std::nullopt)},
                                  {"concurrency", integer_in(std::nullopt, std::nullopt)},
                                  {"host", schema::check_host},
                                  {"port", integer_in(1, 65535)},
                                  {"http_method", schema::check_method},
                                  {"http_path", string_len(0)},
                                  {"http_req_body", string_len(0)},
                                  {"https_verify_certificate", schema::check_bool},
                                  // Not unique: APISIX put uniqueItems inside `items`,
                                  // where it has no effect.
                                  {"req_headers", schema::array_of(1, false, string_len(0))},
                                  {"healthy", healthy},
                                  {"unhealthy", unhealthy},
                              });
}

Msg check_passive(const json::value& v) {
  Check threshold = integer_in(0, 254);
  Check healthy = [threshold](const json::value& x) {
    return check_open_object(x, {{"http_statuses", http_statuses()}, {"successes", threshold}});
  };
  Check unhealthy = [threshold](const json::value& x) {
    return check_open_object(x, {
                                    {"http_statuses", http_statuses()},
                                    {"http_failures", threshold},
                                    {"tcp_failures", threshold},
                                    {"timeouts", threshold},
                                });
  };
  return check_open_object(v, {
                                  {"type", string_enum({"http", "https", "tcp"})},
                                  {"healthy", healthy},
                                  {"unhealthy", unhealthy},
                              });
}

// `active` is required; `passive` only together with it.
Msg check_checks(const json::value& v) {
  if (Msg m = schema::check_object(v)) {
    return m;
  }
  if (!v.get_object().contains("active")) {
    return std::string(
        R"(object matches none of the required: ["active"] or ["active","passive"])");
  }
  return schema::check_fields(v.get_object(),
                              {{"active", check_active}, {"passive", check_passive}});
}

// PEM text, unless it is a secret reference, which skips the field's checks.
Check certificate_text(size_t min_len) {
  return [min_len](const json::value& v) {
    return schema::is_secret_ref(v) ? Msg() : schema::check_string(v, min_len, 65536);
  };
}

Msg check_tls(const json::value& v) {
  if (Msg m = check_open_object(v, {
                                       {"client_cert", certificate_text(128)},
                                       {"client_key", certificate_text(64)},
                                       {"client_cert_id", schema::check_id},
                                       {"verify", schema::check_bool},
                                   })) {
    return m;
  }
  const json::object& o = v.get_object();
  if (o.contains("client_cert") && !o.contains("client_key")) {
    return "failed to validate dependent schema for \"client_cert\": " +
           *schema::required("client_key");
  }
  if (o.contains("client_key") && !o.contains("client_cert")) {
    return "failed to validate dependent schema for \"client_key\": " +
           *schema::required("client_cert");
  }
  if (o.contains("client_cert_id") && o.contains("client_cert")) {
    return std::string(
        "value wasn't supposed to match schema (\"client_cert_id\" cannot be used with "
        "\"client_cert\" and \"client_key\")");
  }
  return std::nullopt;
}

// An open object in APISIX, without upper bounds.
Msg check_keepalive_pool(const json::value& v) {
  return check_open_object(v, {
                                  {"size", integer_in(1, std::nullopt)},
                                  {"idle_timeout", number_in(0.0, std::nullopt)},
                                  {"requests", integer_in(1, std::nullopt)},
                              });
}

Msg check_discovery_args(const json::value& v) {
  return check_open_object(v, {{"namespace_id", string_len(0)}, {"group_name", string_len(0)}});
}

// Splits a map-form node key "host[:port]" as APISIX's core.utils.parse_addr reads it
// (core.md §4.4.1):
//   "[v6]" or "[v6]:port"  a bracketed IPv6 address; the brackets are kept.
//   a second ':' before any '.'  an address without a port, e.g. "::1" or "fe80::1" (brackets
//       are added), or "a:b:c", which is no address and so a host name to resolve.
//   otherwise  host and port split at the last ':', if any.
// Unlike parse_addr, a port must be a number 1..65535 where APISIX would ignore a non-number.
Msg split_node_key(const std::string& key, std::string& host, std::optional<uint16_t>& port) {
  auto bad = [&](std::string why) -> Msg { return "invalid node address \"" + key + "\": " + why; };
  std::string port_text;
  bool has_port = false;
  if (!key.empty() && key.front() == '[') {
    size_t close = key.find(']');
    if (close == std::string::npos || !is_ipv6(key.substr(1, close - 1))) {
      return bad("expected [IPv6]:port");
    }
    host = key.substr(0, close + 1);
    std::string rest = key.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return bad("expected [IPv6]:port");
      }
      port_text = rest.substr(1);
      has_port = true;
    }
  } else {
    size_t first_colon = key.find(':');
    size_t second_colon =
        first_colon == std::string::npos ? std::string::npos : key.find(':', first_colon + 1);
    if (second_colon != std::string::npos && second_colon < key.find('.')) {
      host = is_ipv6(key) ? "[" + key + "]" : key;
    } else if (size_t colon = key.rfind(':'); colon != std::string::npos) {
      host = key.substr(0, colon);
      port_text = key.substr(colon + 1);
      has_port = true;
    } else {
      host = key;
    }
  }
  if (host.empty()) {
    return bad("empty host");
  }
  if (has_port) {
    if (port_text.empty()) {
      return bad("missing port after ':'");
    }
    if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(),
                                             [](char c) { return c >= '0' && c <= '9'; })) {
      return bad("port must be a number 1..65535");
    }
    int p = std::stoi(port_text);
    if (p < 1 || p > 65535) {
      return bad("port must be a number 1..65535");
    }
    port = static_cast<uint16_t>(p);
  }
  return std::nullopt;
}

Msg check_array_node(const json::value& v) {
  if (Msg m = schema::check_object(v)) {
    return m;
  }
  const json::object& o = v.get_object();
  for (std::string_view key : {"host", "weight"}) {
    if (!o.contains(key)) {
      return schema::required(key);
    }
  }
  if (Msg m = schema::check_fields(o, {
                                          {"host", schema::check_host},
                                          {"port", integer_in(1, 65535)},
                                          {"weight", integer_in(0, std::nullopt)},
                                          {"priority", integer_in(std::nullopt, std::nullopt)},
                                          {"metadata", schema::check_object},
                                      })) {
    return m;
  }
  std::string host = str(o.at("host"));
  if (is_ipv6(host)) {
    return "IPv6 address must be enclosed with '[' and ']': " + host;
  }
  if (host.front() == '[' && !host_is_ip(host)) {
    return schema::in_property("host", "invalid IPv6 address " + host);
  }
  return std::nullopt;
}

// Scales the weights of `nodes` (given in the same order as `weights`) down in proportion
// when one exceeds Node::kMaxWeight; see Node::kMaxWeight.
void set_weights(const std::vector<int64_t>& weights, std::vector<Node>& nodes) {
  int64_t largest = weights.empty() ? 0 : *std::max_element(weights.begin(), weights.end());
  for (size_t i = 0; i < weights.size(); ++i) {
    int64_t w = weights[i];
    if (largest > Node::kMaxWeight && w > 0) {
      double scaled = std::round(static_cast<double>(w) / static_cast<double>(largest) *
                                 static_cast<double>(Node::kMaxWeight));
      w = std::clamp<int64_t>(static_cast<int64_t>(scaled), 1, Node::kMaxWeight);
    }
    nodes[i].weight = static_cast<int>(w);
  }
}

// Validates `nodes` in either form and fills `out` (core.md §4.4.1, §7.2).
Msg read_nodes(const json::value& v, std::string_view scheme, std::vector<Node>& out) {
  uint16_t fallback_port = default_port(scheme);
  std::vector<int64_t> weights;
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      std::string key(kv.key());
      if (Msg m = schema::check_integer(kv.value(), 0, std::nullopt)) {
        return "failed to validate " + key + " (matching \".*\"): " + *m;
      }
      Node node;
      std::optional<uint16_t> port;
      if (Msg m = split_node_key(key, node.host, port)) {
        return m;
      }
      node.port = port.value_or(fallback_port);
      weights.push_back(schema::integer_of(kv.value()));
      node.host_is_ip = host_is_ip(node.host);
      out.push_back(std::move(node));
    }
    set_weights(weights, out);
    return std::nullopt;
  }
  if (v.is_array()) {
    const json::array& arr = v.get_array();
    for (size_t i = 0; i < arr.size(); ++i) {
      if (Msg m = check_array_node(arr[i])) {
        return schema::in_item(i, std::move(m));
      }
      const json::object& o = arr[i].get_object();
      Node node;
      node.host = str(o.at("host"));
      const json::value* port = o.if_contains("port");
      node.port =
          port != nullptr ? static_cast<uint16_t>(schema::integer_of(*port)) : fallback_port;
      weights.push_back(schema::integer_of(o.at("weight")));
      if (const json::value* p = o.if_contains("priority")) {
        node.priority = saturate_int(schema::integer_of(*p));
      }
      node.host_is_ip = host_is_ip(node.host);
      out.push_back(std::move(node));
    }
    set_weights(weights, out);
    return std::nullopt;
  }
  return schema::wrong_type("object or array", v);
}

bool matches_vars_key(std::string_view key) {
  for (std::string_view name :
       {"uri", "server_name", "server_addr", "request_uri", "remote_port", "remote_addr",
        "query_string", "host", "hostname", "mqtt_client_id"}) {
    if (key == name) {
      return true;
    }
  }
  if (key.size() <= 4 || key.substr(0, 4) != "arg_") {
    return false;
  }
  // [0-9a-zA-z_-]: the A-z range of the original pattern also admits [\]^_`.
  return std::all_of(key.begin() + 4, key.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'z') || c == '_' || c == '-';
  });
}

bool matches_header_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

Msg check_upstream_fields(const json::object& o) {
  if (Msg m = schema::check_known(
          o, {"id",           "name",           "desc",           "labels",
              "create_time",  "update_time",    "type",           "nodes",
              "service_name", "discovery_type", "discovery_args", "hash_on",
              "key",          "retries",        "retry_timeout",  "timeout",
              "scheme",       "pass_host",      "upstream_host",  "keepalive_pool",
              "tls",          "checks"})) {
    return m;
  }
  if (Msg m = check_common(o)) {
    return m;
  }
  return schema::check_fields(
      o,
      {
          {"type", string_len(0)},
          {"service_name", string_len(1, 256)},
          {"discovery_type", string_len(0)},
          {"discovery_args", check_discovery_args},
          {"hash_on", string_enum({"vars", "header", "cookie", "consumer", "vars_combinations"})},
          {"key", string_len(0)},
          {"retries", integer_in(0, std::nullopt)},
          {"retry_timeout", number_in(0.0, std::nullopt)},
          {"timeout", schema::check_timeout},
          {"scheme", string_enum({"http", "https", "grpc", "grpcs", "tcp", "tls", "udp", "kafka"})},
          {"pass_host", string_enum({"pass", "node", "rewrite"})},
          {"upstream_host", schema::check_host},
          {"keepalive_pool", check_keepalive_pool},
          {"tls", check_tls},
          {"checks", check_checks},
      });
}

// Validates an upstream object and builds the typed value; messages are unwrapped so that
// an inline upstream can be reported under `property "upstream"`.
Msg build_upstream(const json::value& v, Upstream& up) {
  if (Msg m = schema::check_object(v)) {
    return m;
  }
  const json::object& o = v.get_object();
  if (Msg m = check_upstream_fields(o)) {
    return m;
  }
  bool has_nodes = o.contains("nodes");
  bool has_discovery = o.contains("service_name") && o.contains("discovery_type");
  if (!has_nodes && !has_discovery) {
    return std::string(
        "value should match only one schema, but matches none (\"nodes\", or "
        "\"service_name\" with \"discovery_type\", is required)");
  }
  if (has_nodes && has_discovery) {
    return std::string(
        "value should match only one schema, but matches both schemas 1 and 2 (\"nodes\" "
        "cannot be used with \"service_name\" and \"discovery_type\")");
  }
  up.scheme = o.contains("scheme") ? str(o.at("scheme")) : "http";
  if (has_nodes) {
    if (Msg m = schema::in_property("nodes", read_nodes(o.at("nodes"), up.scheme, up.nodes))) {
      return m;
    }
  } else {
    up.service_name = str(o.at("service_name"));
    up.discovery_type = str(o.at("discovery_type"));
  }
  if (const json::value* x = o.if_contains("pass_host")) {
    std::string pass = str(*x);
    up.pass_host = pass == "node"      ? Upstream::PassHost::Node
                   : pass == "rewrite" ? Upstream::PassHost::Rewrite
                                       : Upstream::PassHost::Pass;
  }
  if (const json::value* x = o.if_contains("upstream_host")) {
    up.upstream_host = str(*x);
  }
  if (up.pass_host == Upstream::PassHost::Rewrite && up.upstream_host.empty()) {
    return "then clause did not match: " + *schema::required("upstream_host") +
           " when \"pass_host\" is \"rewrite\"";
  }
  if (const json::value* x = o.if_contains("type")) {
    up.type = str(*x);
  }
  if (const json::value* x = o.if_contains("hash_on")) {
    up.hash_on = str(*x);
  }
  if (const json::value* x = o.if_contains("key")) {
    up.key = str(*x);
  }
  if (up.type == "chash") {
    if (up.hash_on != "consumer" && !o.contains("key")) {
      return std::string(
          "missing key (\"key\" is required for type chash unless hash_on is "
          "\"consumer\")");
    }
    if (up.hash_on == "vars" && !matches_vars_key(up.key)) {
      return schema::in_property("key", schema::pattern_mismatch(kVarsKeyPattern, up.key));
    }
    if ((up.hash_on == "header" || up.hash_on == "cookie") && !matches_header_key(up.key)) {
      return schema::in_property("key", schema::pattern_mismatch(kHeaderKeyPattern, up.key));
    }
  }
  if (const json::value* x = o.if_contains("id")) {
    up.id = schema::id_text(*x);
  }
  if (const json::value* x = o.if_contains("name")) {
    up.name = str(*x);
  }
  if (const json::value* x = o.if_contains("retries")) {
    up.retries = static_cast<int>(std::min<int64_t>(schema::integer_of(*x), Upstream::kMaxRetries));
  }
  if (const json::value* x = o.if_contains("retry_timeout")) {
    up.retry_timeout = x->to_number<double>();
  }
  if (const json::value* x = o.if_contains("timeout")) {
    const json::object& t = x->get_object();
    up.timeout = Timeout{t.at("connect").to_number<double>(), t.at("send").to_number<double>(),
                         t.at("read").to_number<double>()};
  }
  if (const json::value* x = o.if_contains("keepalive_pool")) {
    const json::object& k = x->get_object();
    KeepalivePool pool;
    if (const json::value* s = k.if_contains("size")) {
      pool.size = saturate_uint32(schema::integer_of(*s));
    }
    if (const json::value* s = k.if_contains("idle_timeout")) {
      pool.idle_timeout = s->to_number<double>();
    }
    if (const json::value* s = k.if_contains("requests")) {
      pool.requests = saturate_uint32(schema::integer_of(*s));
    }
    up.keepalive_pool = pool;
  }
  up.raw = o;
  return std::nullopt;
}

std::vector<std::string> strings_of(const json::value& v) {
  std::vector<std::string> out;
  for (const json::value& x : v.get_array()) {
    out.push_back(str(x));
  }
  return out;
}

Check unique_list_of(Check item) { return schema::array_of(1, true, std::move(item)); }

std::vector<std::string> lowered_hosts(const json::object& o) {
  std::vector<std::string> out;
  if (const json::value* h = o.if_contains("host")) {
    out.push_back(lower(str(*h)));
  } else if (const json::value* hs = o.if_contains("hosts")) {
    for (std::string& s : strings_of(*hs)) {
      out.push_back(lower(std::move(s)));
    }
  }
  return out;
}

// "<ipv6>/<n>" with n above 128 (which check_ip lets through, as APISIX does) becomes
// "<ipv6>/128", as lua-resty-ipmatcher reads it: the address must match in full.
std::string clamp_ipv6_prefix(std::string addr) {
  size_t slash = addr.find('/');
  if (slash == std::string::npos || addr.find(':') > slash) {
    return addr;
  }
  std::string_view prefix = std::string_view(addr).substr(slash + 1);
  int bits = 0;
  for (char c : prefix) {
    bits = bits * 10 + (c - '0');  // check_ip: 1..3 digits
  }
  if (bits > 128) {
    addr.replace(slash + 1, std::string::npos, "128");
  }
  return addr;
}

Msg check_filter_func(const json::value& v) {
  if (Msg m = schema::check_string(v, 10, std::numeric_limits<size_t>::max())) {
    return m;
  }
  std::string_view text(v.get_string().data(), v.get_string().size());
  return text.starts_with("function") ? Msg() : schema::pattern_mismatch("^function", text);
}

Msg check_route_status(const json::value& v) {
  if (Msg m = schema::check_integer(v, std::nullopt, std::nullopt)) {
    return m;
  }
  int64_t s = schema::integer_of(v);
  return s == 0 || s == 1 ? Msg() : Msg("matches none of the enum values");
}

Msg check_route_fields(const json::object& o) {
  if (Msg m = schema::check_known(o, {"id",
                                      "name",
                                      "desc",
                                      "labels",
                                      "create_time",
                                      "update_time",
                                      "uri",
                                      "uris",
                                      "host",
                                      "hosts",
                                      "remote_addr",
                                      "remote_addrs",
                                      "methods",
                                      "priority",
                                      "vars",
                                      "filter_func",
                                      "plugins",
                                      "plugin_config_id",
                                      "script",
                                      "script_id",
                                      "upstream",
                                      "upstream_id",
                                      "service_id",
                                      "timeout",
                                      "enable_websocket",
                                      "status"})) {
    return m;
  }
  if (Msg m = check_common(o)) {
    return m;
  }
  return schema::check_fields(o, {
                                     {"uri", string_len(1, 4096)},
                                     // Unlike `uri`, any strings (APISIX's schema).
                                     {"uris", unique_list_of(string_len(0))},
                                     {"host", schema::check_host},
                                     {"hosts", unique_list_of(schema::check_host)},
                                     {"remote_addr", schema::check_ip},
                                     {"remote_addrs", unique_list_of(schema::check_ip)},
                                     {"methods", schema::array_of(0, true, schema::check_method)},
                                     {"priority", integer_in(std::nullopt, std::nullopt)},
                                     {"vars", schema::array_of(0, false)},
                                     {"filter_func", check_filter_func},
                                     {"plugins", check_plugins},
                                     {"plugin_config_id", schema::check_id},
                                     {"script", string_len(10, 102400)},
                                     {"script_id", schema::check_id},
                                     {"upstream_id", schema::check_id},
                                     {"service_id", schema::check_id},
                                     {"timeout", schema::check_timeout},
                                     {"enable_websocket", schema::check_bool},
                                     {"status", check_route_status},
                                 });
}

Msg check_service_fields(const json::object& o) {
  if (Msg m = schema::check_known(
          o, {"id", "name", "desc", "labels", "create_time", "update_time", "plugins", "upstream",
              "upstream_id", "hosts", "enable_websocket", "script"})) {
    return m;
  }
  if (Msg m = check_common(o)) {
    return m;
  }
  return schema::check_fields(o, {
                                     {"plugins", check_plugins},
                                     {"upstream_id", schema::check_id},
                                     {"hosts", unique_list_of(schema::check_host)},
                                     {"enable_websocket", schema::check_bool},
                                     {"script", string_len(10, 102400)},
                                 });
}

// The route's structural rules (core.md §4.2), in the shape of APISIX's allOf/anyOf/not.
Msg check_route_structure(const json::object& o) {
  auto has = [&](std::string_view k) { return o.contains(k); };
  auto one_of = [&](int index, std::string_view a, std::string_view b, bool required) -> Msg {
    std::string prefix = "allOf " + std::to_string(index) + " failed: ";
    if (has(a) && has(b)) {
      return prefix + "value should match only one schema, but matches both schemas 1 and 2 (\"" +
             std::string(a) + "\" and \"" + std::string(b) + "\" cannot be used together)";
    }
    if (required && !has(a) && !has(b)) {
      return prefix + "value should match only one schema, but matches none (\"" + std::string(a) +
             "\" or \"" + std::string(b) + "\" is required)";
    }
    return std::nullopt;
  };
  if (Msg m = one_of(1, "uri", "uris", true)) {
    return m;
  }
  if (Msg m = one_of(2, "host", "hosts", false)) {
    return m;
  }
  if (Msg m = one_of(3, "remote_addr", "remote_addrs", false)) {
    return m;
  }
  if (!has("plugins") && !has("script") && !has("upstream") && !has("upstream_id") &&
      !has("service_id")) {
    return std::string(
        R"(object matches none of the required: ["plugins"] or ["script"] or ["upstream"] or ["upstream_id"] or ["service_id"])");
  }
  if (has("script") && (has("plugins") || has("plugin_config_id"))) {
    return std::string(
        "value wasn't supposed to match schema (\"script\" cannot be used with \"plugins\" "
        "or \"plugin_config_id\")");
  }
  return std::nullopt;
}

}  // namespace

Result<Upstream> parse_upstream(const json::value& value) {
  Upstream up;
  if (Msg m = build_upstream(value, up)) {
    return invalid(std::move(*m));
  }
  return up;
}

Result<Route> parse_route(const json::value& value) {
  if (Msg m = schema::check_object(value)) {
    return invalid(std::move(*m));
  }
  const json::object& o = value.get_object();
  if (Msg m = check_route_fields(o)) {
    return invalid(std::move(*m));
  }
  Route route;
  if (const json::value* x = o.if_contains("upstream")) {
    Upstream up;
    if (Msg m = schema::in_property("upstream", build_upstream(*x, up))) {
      return invalid(std::move(*m));
    }
    route.upstream = std::move(up);
  }
  if (Msg m = check_route_structure(o)) {
    return invalid(std::move(*m));
  }
  if (const json::value* x = o.if_contains("id")) {
    route.id = schema::id_text(*x);
  }
  if (const json::value* x = o.if_contains("name")) {
    route.name = str(*x);
  }
  if (const json::value* x = o.if_contains("uri")) {
    route.uris.push_back(str(*x));
  } else {
    route.uris = strings_of(o.at("uris"));
  }
  route.hosts = lowered_hosts(o);
  if (const json::value* x = o.if_contains("methods")) {
    route.methods = strings_of(*x);
  }
  if (const json::value* x = o.if_contains("remote_addr")) {
    route.remote_addrs.push_back(str(*x));
  } else if (const json::value* xs = o.if_contains("remote_addrs")) {
    route.remote_addrs = strings_of(*xs);
  }
  for (std::string& addr : route.remote_addrs) {
    addr = clamp_ipv6_prefix(std::move(addr));
  }
  if (const json::value* x = o.if_contains("priority")) {
    route.priority = saturate_int(schema::integer_of(*x));
  }
  if (const json::value* x = o.if_contains("status")) {
    route.status = static_cast<int>(schema::integer_of(*x));
  }
  if (const json::value* x = o.if_contains("vars")) {
    route.vars = x->get_array();
  }
  if (const json::value* x = o.if_contains("filter_func")) {
    route.filter_func = str(*x);
  }
  if (const json::value* x = o.if_contains("plugins")) {
    route.plugins = x->get_object();
  }
  if (const json::value* x = o.if_contains("upstream_id")) {
    route.upstream_id = schema::id_text(*x);
  }
  if (const json::value* x = o.if_contains("service_id")) {
    route.service_id = schema::id_text(*x);
  }
  if (const json::value* x = o.if_contains("plugin_config_id")) {
    route.plugin_config_id = schema::id_text(*x);
  }
  if (const json::value* x = o.if_contains("timeout")) {
    const json::object& t = x->get_object();
    route.timeout = Timeout{t.at("connect").to_number<double>(), t.at("send").to_number<double>(),
                            t.at("read").to_number<double>()};
  }
  if (const json::value* x = o.if_contains("enable_websocket")) {
    route.enable_websocket = x->get_bool();
  }
  route.raw = o;
  return route;
}

Result<Service> parse_service(const json::value& value) {
  if (Msg m = schema::check_object(value)) {
    return invalid(std::move(*m));
  }
  const json::object& o = value.get_object();
  if (Msg m = check_service_fields(o)) {
    return invalid(std::move(*m));
  }
  Service service;
  if (const json::value* x = o.if_contains("upstream")) {
    Upstream up;
    if (Msg m = schema::in_property("upstream", build_upstream(*x, up))) {
      return invalid(std::move(*m));
    }
    service.upstream = std::move(up);
  }
  if (const json::value* x = o.if_contains("id")) {
    service.id = schema::id_text(*x);
  }
  if (const json::value* x = o.if_contains("name")) {
    service.name = str(*x);
  }
  service.hosts = lowered_hosts(o);
  if (const json::value* x = o.if_contains("plugins")) {
    service.plugins = x->get_object();
  }
  if (const json::value* x = o.if_contains("upstream_id")) {
    service.upstream_id = schema::id_text(*x);
  }
  if (const json::value* x = o.if_contains("enable_websocket")) {
    service.enable_websocket = x->get_bool();
  }
  service.raw = o;
  return service;
}

}  // namespace apisix::config
