#include "schema/core_schemas.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "config/resource_parse.h"

namespace apisix::schema {
namespace {

namespace json = boost::json;

// A self-signed P-256 certificate for test.com and its key: the schemas only check lengths
// (certificate 128..65536, key 64..65536 characters), but real PEM keeps the examples honest.
constexpr std::string_view kCert = R"(-----BEGIN CERTIFICATE-----
MIIBfTCCASOgAwIBAgIUODOiTF4MGsQhTEk8+saJIpsTuvEwCgYIKoZIzj0EAwIw
EzERMA8GA1UEAwwIdGVzdC5jb20wIBcNMjYxMTIyMTEwMjIyWhgPMjEyNjEwMjkx
MTAyMjJaMBMxETAPBgNVBAMMCHRlc3QuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAE44CUonixVDUuREOqPKY0crZ5AKfoOqPtEsfuc82x+erML3ayXye7Dpyf
mextocyNkxzaxYLk3ji28Y6dbIBSYqNTMFEwHQYDVR0OBBYEFGU4VXU/HZOOfgfQ
73XJ2rPgDEOOMB8GA1UdIwQYMBaAFGU4VXU/HZOOfgfQ73XJ2rPgDEOOMA8GA1Ud
EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAIIZUmwZ6u71B4AVD2p15xgT
391W+0xMAChNhVkg0/JvAiBQ9FUr7PfeRLk2TlS6XabD7szZOICa3qDVPoH8AF2S
Ag==
-----END CERTIFICATE-----
)";
constexpr std::string_view kKey = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgdeQ1unQ9oh52KlAA
QXwPh+5SQm5gbXqTMuzduzFeJdKhRANCAATjgJSieLFUNS5EQ6o8pjRytnkAp+g6
o+0Sx+5zzbH56swvdrJfJ7sOnJ+Z7G2hzI2THNrFguTeOLbxjp1sgFJi
-----END PRIVATE KEY-----
)";

// Replaces every "@CERT@" and "@KEY@" (quotes included) with the PEM texts as JSON strings.
std::string with_pem(std::string_view text) {
  std::string out(text);
  auto replace_all = [&out](std::string_view from, std::string_view pem) {
    std::string to = json::serialize(json::value(json::string(pem)));
    for (size_t at = out.find(from); at != std::string::npos; at = out.find(from, at + to.size())) {
      out.replace(at, from.size(), to);
    }
  };
  replace_all("\"@CERT@\"", kCert);
  replace_all("\"@KEY@\"", kKey);
  return out;
}

// What checking `text` against the named schema says: "" when valid.
std::string message(std::string_view name, std::string_view text) {
  const Schema* schema = core_schema(name);
  if (schema == nullptr) {
    return "<no schema " + std::string(name) + ">";
  }
  std::optional<std::string> error = schema->check(json::parse(with_pem(text)));
  return error ? *error : "";
}

// `text` after validate(), which writes the defaults in; fails the test if it is invalid.
json::value validated(std::string_view name, std::string_view text) {
  json::value value = json::parse(with_pem(text));
  const Schema* schema = core_schema(name);
  if (schema == nullptr) {
    ADD_FAILURE() << "no schema " << name;
    return value;
  }
  std::optional<std::string> error = schema->validate(value);
  EXPECT_FALSE(error) << name << ": " << *error;
  return value;
}

struct Example {
  const char* json;
  const char* message;  // "" = accepted
};

void expect_examples(std::string_view name, const std::vector<Example>& examples) {
  for (const Example& example : examples) {
    EXPECT_EQ(message(name, example.json), example.message) << name << ": " << example.json;
  }
}

bool contains_ref(const json::value& v) {
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      if (kv.key() == "$ref" || contains_ref(kv.value())) {
        return true;
      }
    }
  } else if (v.is_array()) {
    for (const json::value& item : v.get_array()) {
      if (contains_ref(item)) {
        return true;
      }
    }
  }
  return false;
}

constexpr std::string_view kExpectedNames[] = {
    "route",
    "service",
    "upstream",
    "consumer",
    "credential",
    "consumer_group",
    "ssl",
    "global_rule",
    "plugin_config",
    "proto",
    "stream_route",
    "graphql_cost_decoration",
    "plugins",
    "id_schema",
    "host_def",
    "ip_def",
    "uri_def",
    "label_value_def",
    "method_schema",
    "anonymous_consumer_schema",
    "health_checker",
    "health_checker_active",
    "health_checker_passive",
    "discovery_nodes",
    "upstream_hash_vars_schema",
    "upstream_hash_header_schema",
    "upstream_hash_vars_combinations_schema",
    "plugin_injected_schema",
    "secret_vault",
    "secret_aws",
    "secret_gcp",
};

TEST(CoreSchemasTest, NamesAreTheExpectedSet) {
  std::vector<std::string_view> names = core_schema_names();
  std::vector<std::string_view> expected(std::begin(kExpectedNames), std::end(kExpectedNames));
  std::sort(names.begin(), names.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names, expected);
}

TEST(CoreSchemasTest, EveryNameCompilesAndHasAnExpandedDocument) {
  for (std::string_view name : core_schema_names()) {
    EXPECT_NE(core_schema(name), nullptr) << name;
    const json::value* document = core_schema_document(name);
    ASSERT_NE(document, nullptr) << name;
    EXPECT_FALSE(contains_ref(*document)) << name << ": " << json::serialize(*document);
  }
}

TEST(CoreSchemasTest, UnknownNamesAreNull) {
  for (std::string_view name :
       {"", "routes", "Route", "definitions", "ip_def_any", "rule_name_def", "secret", "version"}) {
    EXPECT_EQ(core_schema(name), nullptr) << name;
    EXPECT_EQ(core_schema_document(name), nullptr) << name;
  }
}

TEST(CoreSchemasTest, CompiledOnceAndShared) {
  EXPECT_EQ(core_schema("route"), core_schema("route"));
  EXPECT_EQ(core_schema_document("route"), core_schema_document("route"));
}

TEST(CoreSchemasTest, RouteDocumentIsExpandedInPlace) {
  const json::value* route = core_schema_document("route");
  ASSERT_NE(route, nullptr);
  const json::object& properties = route->at("properties").as_object();
  // The inline upstream is the whole upstream schema, nodes and health checker included.
  const json::value& upstream = properties.at("upstream");
  EXPECT_EQ(upstream.at("additionalProperties"), json::value(false));
  EXPECT_EQ(upstream.at("properties").at("nodes").at("anyOf").as_array().size(), 2u);
  EXPECT_EQ(upstream.at("properties")
                .at("checks")
                .at("properties")
                .at("active")
                .at("properties")
                .at("healthy")
                .at("properties")
                .at("successes")
                .at("default"),
            json::value(2));
  EXPECT_EQ(properties.at("id").at("anyOf").as_array().size(), 2u);
  EXPECT_EQ(properties.at("methods").at("items").at("enum").as_array().size(), 10u);
  EXPECT_EQ(properties.at("remote_addr").at("anyOf").as_array().size(), 4u);
  EXPECT_EQ(route->at("anyOf").as_array().size(), 10u);
  EXPECT_EQ(route->at("allOf").as_array().size(), 3u);
}

TEST(CoreSchemasTest, IpDefDocumentIsTheListOfFourForms) {
  const json::value* ip_def = core_schema_document("ip_def");
  ASSERT_NE(ip_def, nullptr);
  ASSERT_TRUE(ip_def->is_array());
  std::vector<std::string> titles;
  for (const json::value& form : ip_def->as_array()) {
    titles.emplace_back(form.at("title").as_string());
  }
  EXPECT_EQ(titles, (std::vector<std::string>{"IPv4", "IPv4/CIDR", "IPv6", "IPv6/CIDR"}));
  // Checking against ip_def means matching one of the four.
  expect_examples("ip_def", {
                                {R"("10.0.0.1")", ""},
                                {R"("10.0.0.0/8")", ""},
                                {R"("::1")", ""},
                                {R"("fe80::/64")", ""},
                                {R"("localhost")", "object matches none of the required"},
                                {R"("10.0.0.0/33")", "object matches none of the required"},
                            });
}

constexpr const char* kRouteAnyOf =
    R"(object matches none of the required: ["plugins","uri"] or ["upstream","uri"] or )"
    R"(["upstream_id","uri"] or ["service_id","uri"] or ["plugins","uris"] or )"
    R"(["upstream","uris"] or ["upstream_id","uris"] or ["service_id","uris"] or )"
    R"(["script","uri"] or ["script","uris"])";

TEST(CoreSchemasTest, RouteExamples) {
  std::string long_name(257, 'n');
  std::string long_id(65, 'a');
  std::string with_long_name = R"({"uri":"/a","upstream_id":"1","name":")" + long_name + "\"}";
  std::string with_long_id = R"({"uri":"/a","upstream_id":"1","id":")" + long_id + "\"}";
  expect_examples(
      "route",
      {
          {R"({"uri":"/hello","upstream":{"type":"roundrobin","nodes":{"127.0.0.1:1980":1}}})", ""},
          {R"({"uri":"/hello","upstream_id":"1"})", ""},
          {R"({"uris":["/a","/b/*"],"hosts":["foo.com","*.bar.com"],
               "methods":["GET","POST","PURGE"],"service_id":1})",
           ""},
          {R"({"uri":"/a","host":"foo.com","vars":[["arg_name","==","json"],["http_x","~~","^a"]],
               "plugins":{"limit-count":{"count":2,"time_window":60}}})",
           ""},
          {R"({"uri":"/a","remote_addrs":["127.0.0.1","192.168.0.0/16","::1","fe80::/64"],
               "upstream_id":"u-1.x"})",
           ""},
          {R"({"uri":"/a","remote_addr":"10.0.0.1","priority":-5,"status":0,
               "enable_websocket":true,"timeout":{"connect":0.5,"send":3,"read":3},
               "service_id":"s1"})",
           ""},
          {R"({"uri":"/a","filter_func":"function(vars) return true end","upstream_id":2})", ""},
          {R"({"uri":"/a","script":"local _M = {} return _M"})", ""},
          {R"({"id":"r1","name":"n","desc":"","labels":{"env":"prod"},"create_time":1700000000,
               "update_time":1700000001,"uri":"/a","plugin_config_id":"pc1","plugins":{}})",
           ""},
          {R"({"id":1.0,"uri":"/a","upstream":{"nodes":[
               {"host":"127.0.0.1","port":1980,"weight":1,"priority":1},
               {"host":"[::1]","port":1981,"weight":0}]}})",
           ""},
          {R"({"uri":"/a"})", kRouteAnyOf},
          {R"({"uris":["/a"],"hosts":["a.com"]})", kRouteAnyOf},
          {R"({"uri":"/a","upstream_id":"1","foo":1})",
           "additional properties forbidden, found foo"},
          {R"({"id":"a b","uri":"/a","upstream_id":"1"})",
           R"(property "id" validation failed: object matches none of the required)"},
          {R"({"id":0,"uri":"/a","upstream_id":"1"})",
           R"(property "id" validation failed: object matches none of the required)"},
          {with_long_id.c_str(),
           R"(property "id" validation failed: object matches none of the required)"},
          {R"({"uri":"/a","upstream_id":"a/b"})",
           R"(property "upstream_id" validation failed: object matches none of the required)"},
          {R"({"upstream_id":"1"})",
           "allOf 1 failed: value should match only one schema, but matches none"},
          {R"({"uri":"/a","uris":["/b"],"upstream_id":"1"})",
           "allOf 1 failed: value should match only one schema, but matches both schemas 1 and 2"},
          {R"({"uri":"/a","host":"a.com","hosts":["b.com"],"upstream_id":"1"})",
           "allOf 2 failed: value should match only one schema, but matches both schemas 2 and 3"},
          {R"({"uri":"/a","remote_addr":"::1","remote_addrs":["::2"],"upstream_id":"1"})",
           "allOf 3 failed: value should match only one schema, but matches both schemas 2 and 3"},
          {R"({"uri":"/a","script":"local _M = {} return _M","plugins":{}})",
           "value wasn't supposed to match schema"},
          {R"({"uri":"/a","script":"local _M = {} return _M","plugin_config_id":"1"})",
           "value wasn't supposed to match schema"},
          {R"({"uri":"/a","upstream_id":"1","methods":["get"]})",
           R"(property "methods" validation failed: failed to validate item 1: matches none of the enum values)"},
          {R"({"uri":"/a","upstream_id":"1","methods":["GET","GET"]})",
           R"(property "methods" validation failed: expected unique items but items 1 and 2 are equal)"},
          {R"({"uri":"/a","upstream_id":"1","status":2})",
           R"(property "status" validation failed: matches none of the enum values)"},
          {R"({"uri":"/a","upstream_id":"1","priority":1.5})",
           R"(property "priority" validation failed: wrong type: expected integer, got number)"},
          {R"({"uri":"","upstream_id":"1"})",
           R"(property "uri" validation failed: string too short, expected at least 1, got 0)"},
          {R"({"uris":[],"upstream_id":"1"})",
           R"(property "uris" validation failed: expect array to have at least 1 items)"},
          {R"({"uri":"/a","upstream_id":"1","host":"a b"})",
           R"(property "host" validation failed: failed to match pattern "^\\*$|^\\*?[0-9a-zA-Z-._\\[\\]:]+$" with "a b")"},
          {R"({"uri":"/a","upstream_id":"1","remote_addr":"127.0.0.1/33"})",
           R"(property "remote_addr" validation failed: object matches none of the required)"},
          {R"({"uri":"/a","upstream_id":"1","filter_func":"return true end"})",
           R"(property "filter_func" validation failed: failed to match pattern "^function" with "return true end")"},
          {R"({"uri":"/a","upstream_id":"1","filter_func":"function"})",
           R"(property "filter_func" validation failed: string too short, expected at least 10, got 8)"},
          {R"({"uri":"/a","upstream_id":"1","timeout":{"connect":1,"send":1}})",
           R"(property "timeout" validation failed: property "read" is required)"},
          {R"({"uri":"/a","upstream_id":"1","timeout":{"connect":0,"send":1,"read":1}})",
           R"(property "timeout" validation failed: property "connect" validation failed: expected 0 to be greater than 0)"},
          {R"({"uri":"/a","upstream":{"nodes":{"127.0.0.1:80":-1}}})",
           R"(property "upstream" validation failed: property "nodes" validation failed: object matches none of the required)"},
          {R"({"uri":"/a","upstream":{"nodes":{"127.0.0.1:80":1},
               "checks":{"passive":{"type":"http"}}}})",
           R"(property "upstream" validation failed: property "checks" validation failed: object matches none of the required: ["active"] or ["active","passive"])"},
          {R"({"uri":"/a","upstream_id":"1","labels":{"env":"a b"}})",
           R"(property "labels" validation failed: failed to validate env (matching ".*"): failed to match pattern "^\\S+$" with "a b")"},
          {R"({"uri":"/a","upstream_id":"1","labels":{"env":1}})",
           R"(property "labels" validation failed: failed to validate env (matching ".*"): wrong type: expected string, got number)"},
          {with_long_name.c_str(),
           R"(property "name" validation failed: string too long, expected at most 256, got 257)"},
          {R"({"uri":"/a","upstream_id":"1","enable_websocket":1})",
           R"(property "enable_websocket" validation failed: wrong type: expected boolean, got number)"},
          {R"("/a")", "wrong type: expected object, got string"},
      });
}

TEST(CoreSchemasTest, ServiceExamples) {
  expect_examples(
      "service",
      {
          {R"({})", ""},
          {R"({"upstream_id":1})", ""},
          {R"({"id":"svc-1","name":"svc","desc":"d","labels":{"a":"b"},"plugins":{},
               "upstream":{"nodes":{"a.com:80":1}},"hosts":["foo.com"],
               "enable_websocket":false,"script":"local _M = {} return _M"})",
           ""},
          {R"({"uri":"/a"})", "additional properties forbidden, found uri"},
          {R"({"hosts":[]})",
           R"(property "hosts" validation failed: expect array to have at least 1 items)"},
          {R"({"hosts":["a.com","a.com"]})",
           R"(property "hosts" validation failed: expected unique items but items 1 and 2 are equal)"},
          {R"({"script":"short"})",
           R"(property "script" validation failed: string too short, expected at least 10, got 5)"},
          {R"({"upstream":{"nodes":{"a.com:80":1},"scheme":"ftp"}})",
           R"(property "upstream" validation failed: property "scheme" validation failed: matches none of the enum values)"},
      });
}

TEST(CoreSchemasTest, UpstreamExamples) {
  expect_examples(
      "upstream",
      {
          {R"({"type":"roundrobin","nodes":{"127.0.0.1:1980":1,"[::1]:80":0}})", ""},
          {R"({"nodes":[{"host":"127.0.0.1","port":1980,"weight":1,"priority":10},
               {"host":"backup.example.com","weight":1,"priority":-1,"metadata":{"zone":"a"}}]})",
           ""},
          {R"({"type":"chash","hash_on":"header","key":"X-User","nodes":{"a.com:80":1}})", ""},
          {R"({"type":"chash","hash_on":"vars_combinations","key":"$remote_addr$uri",
               "nodes":{"a.com:80":1}})",
           ""},
          {R"({"service_name":"APISIX-NACOS","discovery_type":"nacos",
               "discovery_args":{"namespace_id":"n","group_name":"g"}})",
           ""},
          {R"({"nodes":{},"checks":{"active":{"type":"https","http_path":"/status",
               "host":"foo.com","port":8443,"timeout":1.5,"concurrency":2,
               "https_verify_certificate":false,
               "healthy":{"interval":2,"successes":1,"http_statuses":[200]},
               "unhealthy":{"interval":1,"http_failures":2,"tcp_failures":1,"timeouts":1},
               "req_headers":["User-Agent: curl/7.29.0"]},
               "passive":{"healthy":{"http_statuses":[200,201],"successes":0},
               "unhealthy":{"http_statuses":[500],"http_failures":3,"tcp_failures":0}}}})",
           ""},
          {R"({"nodes":[],"scheme":"grpcs","pass_host":"rewrite","upstream_host":"foo.com",
               "retries":0,"retry_timeout":0.5,"timeout":{"connect":1,"send":1,"read":1},
               "keepalive_pool":{"size":1,"idle_timeout":0,"requests":1},
               "tls":{"client_cert_id":"ssl1","verify":true}})",
           ""},
          {R"({"nodes":{"127.0.0.1:80":1},"type":"any_balancer_name"})", ""},
          {R"({"nodes":{"127.0.0.1:80":1},"tls":{"client_cert":"@CERT@","client_key":"@KEY@"}})",
           ""},
          {R"({"nodes":{"127.0.0.1:80":1},
               "tls":{"client_cert":"$secret://vault/1/cert","client_key":"$env://CLIENT_KEY"}})",
           ""},
          {R"({})", "value should match only one schema, but matches none"},
          {R"({"service_name":"s"})", "value should match only one schema, but matches none"},
          {R"({"nodes":{"a.com:80":1},"service_name":"s","discovery_type":"dns"})",
           "value should match only one schema, but matches both schemas 1 and 2"},
          {R"({"nodes":{"a.com:80":1},"foo":1})", "additional properties forbidden, found foo"},
          {R"({"nodes":[{"host":"127.0.0.1","port":80}]})",
           R"(property "nodes" validation failed: object matches none of the required)"},
          {R"({"nodes":[{"host":"127.0.0.1","port":70000,"weight":1}]})",
           R"(property "nodes" validation failed: object matches none of the required)"},
          {R"({"nodes":{"127.0.0.1:80":-1}})",
           R"(property "nodes" validation failed: object matches none of the required)"},
          {R"({"nodes":"127.0.0.1:80"})",
           R"(property "nodes" validation failed: object matches none of the required)"},
          {R"({"nodes":{"a.com:80":1},"retries":-1})",
           R"(property "retries" validation failed: expected -1 to be at least 0)"},
          {R"({"nodes":{"a.com:80":1},"retry_timeout":-1})",
           R"(property "retry_timeout" validation failed: expected -1 to be at least 0)"},
          {R"({"nodes":{"a.com:80":1},"hash_on":"foo"})",
           R"(property "hash_on" validation failed: matches none of the enum values)"},
          {R"({"nodes":{"a.com:80":1},"scheme":"ftp"})",
           R"(property "scheme" validation failed: matches none of the enum values)"},
          {R"({"nodes":{"a.com:80":1},"pass_host":"keep"})",
           R"(property "pass_host" validation failed: matches none of the enum values)"},
          {R"({"nodes":{"a.com:80":1},"type":1})",
           R"(property "type" validation failed: wrong type: expected string, got number)"},
          {R"({"nodes":{"a.com:80":1},"keepalive_pool":{"size":0}})",
           R"(property "keepalive_pool" validation failed: property "size" validation failed: expected 0 to be at least 1)"},
          {R"({"nodes":{"a.com:80":1},"timeout":{"connect":1,"send":1,"read":-1}})",
           R"(property "timeout" validation failed: property "read" validation failed: expected -1 to be greater than 0)"},
          {R"({"nodes":{"a.com:80":1},"checks":{"passive":{}}})",
           R"(property "checks" validation failed: object matches none of the required: ["active"] or ["active","passive"])"},
          {R"({"nodes":{"a.com:80":1},"checks":{"active":{"healthy":{"successes":255}}}})",
           R"(property "checks" validation failed: property "active" validation failed: property "healthy" validation failed: property "successes" validation failed: expected 255 to be at most 254)"},
          {R"({"nodes":{"a.com:80":1},"checks":{"active":{"healthy":{"successes":0}}}})",
           R"(property "checks" validation failed: property "active" validation failed: property "healthy" validation failed: property "successes" validation failed: expected 0 to be at least 1)"},
          {R"({"nodes":{"a.com:80":1},"checks":{"active":{"healthy":{"http_statuses":[200,200]}}}})",
           R"(property "checks" validation failed: property "active" validation failed: property "healthy" validation failed: property "http_statuses" validation failed: expected unique items but items 1 and 2 are equal)"},
          {R"({"nodes":{"a.com:80":1},"checks":{"active":{"type":"udp"}}})",
           R"(property "checks" validation failed: property "active" validation failed: property "type" validation failed: matches none of the enum values)"},
          {R"({"nodes":{"a.com:80":1},"checks":{"active":{"unhealthy":{"http_failures":1.5}}}})",
           R"(property "checks" validation failed: property "active" validation failed: property "unhealthy" validation failed: property "http_failures" validation failed: wrong type: expected integer, got number)"},
          {R"({"nodes":{"a.com:80":1},"checks":{"active":{"req_headers":["a: b",2]}}})",
           R"(property "checks" validation failed: property "active" validation failed: property "req_headers" validation failed: failed to validate item 2: wrong type: expected string, got number)"},
          {R"({"nodes":{"a.com:80":1},"checks":{"active":{},
               "passive":{"unhealthy":{"http_statuses":[500,600]}}}})",
           R"(property "checks" validation failed: property "passive" validation failed: property "unhealthy" validation failed: property "http_statuses" validation failed: failed to validate item 2: expected 600 to be at most 599)"},
          {R"({"nodes":{"a.com:80":1},"tls":{"client_cert":"@CERT@"}})",
           R"(property "tls" validation failed: failed to validate dependent schema for "client_cert": property "client_key" is required)"},
          {R"({"nodes":{"a.com:80":1},"tls":{"client_key":"@KEY@"}})",
           R"(property "tls" validation failed: failed to validate dependent schema for "client_key": property "client_cert" is required)"},
          {R"({"nodes":{"a.com:80":1},
               "tls":{"client_cert_id":"1","client_cert":"@CERT@","client_key":"@KEY@"}})",
           R"(property "tls" validation failed: failed to validate dependent schema for "client_cert_id": value wasn't supposed to match schema)"},
          {R"({"nodes":{"a.com:80":1},"tls":{"client_cert":"short","client_key":"@KEY@"}})",
           R"(property "tls" validation failed: property "client_cert" validation failed: string too short, expected at least 128, got 5)"},
          {R"({"service_name":"","discovery_type":"dns"})",
           R"(property "service_name" validation failed: string too short, expected at least 1, got 0)"},
          {R"({"nodes":{"a.com:80":1},"upstream_host":"a b"})",
           R"(property "upstream_host" validation failed: failed to match pattern "^\\*$|^\\*?[0-9a-zA-Z-._\\[\\]:]+$" with "a b")"},
      });
}

TEST(CoreSchemasTest, ChashKeySchemas) {
  expect_examples(
      "upstream_hash_vars_schema",
      {
          {R"("remote_addr")", ""},
          {R"("arg_device-id")", ""},
          {R"("not_support")",
           R"(failed to match pattern "^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$" with "not_support")"},
      });
  expect_examples(
      "upstream_hash_header_schema",
      {
          {R"("X-Real-IP")", ""},
          {R"("$#^@abc")", R"(failed to match pattern "^[a-zA-Z0-9-_]+$" with "$#^@abc")"},
      });
  expect_examples("upstream_hash_vars_combinations_schema",
                  {
                      {R"("$remote_addr$request_uri")", ""},
                      {"1", "wrong type: expected string, got number"},
                  });
}

TEST(CoreSchemasTest, SharedDefinitions) {
  expect_examples("id_schema", {
                                   {R"("route-1.v2_x")", ""},
                                   {"1", ""},
                                   {"0", "object matches none of the required"},
                                   {R"("")", "object matches none of the required"},
                                   {R"("a/b")", "object matches none of the required"},
                               });
  expect_examples("method_schema", {
                                       {R"("PURGE")", ""},
                                       {R"("get")", "matches none of the enum values"},
                                   });
  expect_examples("host_def", {{R"("*")", ""}, {R"("*.foo.com")", ""}, {R"("[::1]:80")", ""}});
  expect_examples("uri_def", {
                                 {R"("http://127.0.0.1:8200")", ""},
                                 {R"("https://[::1]:8443/v1")", ""},
                             });
  expect_examples("label_value_def",
                  {{R"("v1")", ""}, {R"("")", "string too short, expected at least 1, got 0"}});
  expect_examples("anonymous_consumer_schema",
                  {{R"("anon")", ""}, {R"("")", "string too short, expected at least 1, got 0"}});
  expect_examples(
      "discovery_nodes",
      {
          {R"([{"host":"10.0.0.1","weight":1},{"host":"a.com","port":80,"weight":0}])", ""},
          {R"([{"host":"10.0.0.1"}])",
           R"(failed to validate item 1: property "weight" is required)"},
      });
  expect_examples(
      "health_checker",
      {
          {R"({"active":{}})", ""},
          {R"({"passive":{}})",
           R"(object matches none of the required: ["active"] or ["active","passive"])"},
      });
  expect_examples("health_checker_active", {{R"({"http_path":"/ping"})", ""}});
  expect_examples(
      "health_checker_passive",
      {{R"({"unhealthy":{"timeouts":0}})", ""},
       {R"({"unhealthy":{"timeouts":255}})",
        R"(property "unhealthy" validation failed: property "timeouts" validation failed: expected 255 to be at most 254)"}});
  // A marker table in APISIX, not a schema of its own: it holds the `_meta` property that is
  // merged into every plugin schema.
  const json::value* injected = core_schema_document("plugin_injected_schema");
  ASSERT_NE(injected, nullptr);
  EXPECT_EQ(injected->at("_meta").at("additionalProperties"), json::value(false));
}

TEST(CoreSchemasTest, ConsumerExamples) {
  expect_examples(
      "consumer",
      {
          {R"({"username":"jack","plugins":{"key-auth":{"key":"auth-one"}}})", ""},
          {R"({"username":"jack_2-x","id":"jack_2-x","desc":"d","labels":{"custom_id":"42"},
               "group_id":"company_a","create_time":1,"update_time":2})",
           ""},
          {R"({})", R"(property "username" is required)"},
          {R"({"plugins":{}})", R"(property "username" is required)"},
          {R"({"username":"a b"})",
           R"(property "username" validation failed: failed to match pattern "^[a-zA-Z0-9_\\-]+$" with "a b")"},
          {R"({"username":""})",
           R"(property "username" validation failed: string too short, expected at least 1, got 0)"},
          {R"({"username":"jack","name":"x"})", "additional properties forbidden, found name"},
          {R"({"username":"jack","group_id":"a b"})",
           R"(property "group_id" validation failed: object matches none of the required)"},
      });
}

TEST(CoreSchemasTest, CredentialExamples) {
  expect_examples(
      "credential",
      {
          {R"({"plugins":{"key-auth":{"key":"k"}}})", ""},
          {R"({"id":"cred-1","name":"n","desc":"d","labels":{"a":"b"}})", ""},
          {R"({"id":"jack/credentials/cred-1.a","plugins":{}})", ""},
          {R"({"plugins":{"key-auth":{"key":"k"},"basic-auth":{"username":"u","password":"p"}}})",
           R"(property "plugins" validation failed: expect object to have at most 1 properties)"},
          {R"({"id":"jack/credentials/"})",
           R"(property "id" validation failed: value should match only one schema, but matches none)"},
          {R"({"username":"jack"})", "additional properties forbidden, found username"},
      });
}

TEST(CoreSchemasTest, ConsumerGroupGlobalRulePluginConfigExamples) {
  std::string long_name(300, 'n');
  std::string plugin_config_long_name = R"({"id":"1","plugins":{},"name":")" + long_name + "\"}";
  expect_examples("consumer_group",
                  {
                      {R"({"id":"company_a","plugins":{"limit-count":{"count":1}}})", ""},
                      {R"({"id":"g","plugins":{},"name":"n","desc":"d","labels":{"a":"b"}})", ""},
                      {R"({"id":"g"})", R"(property "plugins" is required)"},
                      {R"({"plugins":{}})", R"(property "id" is required)"},
                  });
  expect_examples(
      "global_rule",
      {
          {R"({"id":1,"plugins":{"prometheus":{}}})", ""},
          {R"({"id":"1","plugins":{},"create_time":1,"update_time":1})", ""},
          {R"({"plugins":{}})", R"(property "id" is required)"},
          {R"({"id":"1"})", R"(property "plugins" is required)"},
          {R"({"id":"1","plugins":{},"name":"x"})", "additional properties forbidden, found name"},
          {R"({"id":"1","plugins":[1]})",
           R"(property "plugins" validation failed: wrong type: expected object, got table)"},
      });
  expect_examples(
      "plugin_config",
      {
          {R"({"id":"1","plugins":{},"desc":"d","labels":{"a":"b"}})", ""},
          // Unlike other resources, a plugin config's name has no length limit.
          {plugin_config_long_name.c_str(), ""},
          {R"({"id":"1","plugins":{},"name":""})", ""},
          {R"({"id":"1"})", R"(property "plugins" is required)"},
          {R"({"id":"1","plugins":{},"uri":"/"})", "additional properties forbidden, found uri"},
      });
}

TEST(CoreSchemasTest, SslExamples) {
  expect_examples(
      "ssl",
      {
          {R"({"cert":"@CERT@","key":"@KEY@","sni":"test.com"})", ""},
          {R"({"cert":"@CERT@","key":"@KEY@","snis":["test.com","*.test.com"],
               "certs":["@CERT@"],"keys":["@KEY@"],
               "client":{"ca":"@CERT@","depth":2,"skip_mtls_uri_regex":["/anything.*"]},
               "ssl_protocols":["TLSv1.2","TLSv1.3"],"status":0,"labels":{"a":"b"},
               "id":"ssl-1","desc":"d"})",
           ""},
          {R"({"type":"client","cert":"@CERT@","key":"@KEY@"})", ""},
          {R"({"cert":"$secret://vault/1/cert","key":"$secret://vault/1/key","sni":"a.com"})", ""},
          {R"({"cert":"@CERT@","key":"@KEY@"})", "then clause did not match"},
          {R"({"cert":"@CERT@","key":"@KEY@","sni":"a.com","snis":["a.com"]})",
           "then clause did not match"},
          {R"({"cert":"@CERT@","sni":"a.com"})", "then clause did not match"},
          {R"({"type":"client","cert":"@CERT@"})", "else clause did not match"},
          {R"({"type":"proxy","cert":"@CERT@","key":"@KEY@"})",
           R"(property "type" validation failed: matches none of the enum values)"},
          {R"({"cert":"@CERT@","key":"@KEY@","snis":[]})",
           R"(property "snis" validation failed: expect array to have at least 1 items)"},
          {R"({"cert":"@CERT@","key":"@KEY@","sni":"a b"})",
           R"(property "sni" validation failed: failed to match pattern "^\\*$|^\\*?[0-9a-zA-Z-._\\[\\]:]+$" with "a b")"},
          {R"({"cert":"@CERT@","key":"@KEY@","sni":"a.com","client":{"depth":1}})",
           R"(property "client" validation failed: property "ca" is required)"},
          {R"({"cert":"@CERT@","key":"@KEY@","sni":"a.com","client":{"ca":"@CERT@","depth":-1}})",
           R"(property "client" validation failed: property "depth" validation failed: expected -1 to be at least 0)"},
          {R"({"cert":"@CERT@","key":"@KEY@","sni":"a.com","ssl_protocols":["TLSv1.0"]})",
           R"(property "ssl_protocols" validation failed: failed to validate item 1: matches none of the enum values)"},
          {R"({"cert":"@CERT@","key":"@KEY@","sni":"a.com",
               "ssl_protocols":["TLSv1.1","TLSv1.2","TLSv1.3","TLSv1.3"]})",
           R"(property "ssl_protocols" validation failed: expect array to have at most 3 items)"},
          {R"({"cert":"@CERT@","key":"@KEY@","sni":"a.com","certs":["short"]})",
           R"(property "certs" validation failed: failed to validate item 1: string too short, expected at least 128, got 5)"},
          {R"({"cert":"@CERT@","key":"short","sni":"a.com"})",
           R"(property "key" validation failed: string too short, expected at least 64, got 5)"},
          {R"({"cert":"@CERT@","key":"@KEY@","sni":"a.com","status":3})",
           R"(property "status" validation failed: matches none of the enum values)"},
          {R"({"cert":"@CERT@","key":"@KEY@","sni":"a.com","name":"n"})",
           "additional properties forbidden, found name"},
      });
}

TEST(CoreSchemasTest, StreamRouteExamples) {
  expect_examples(
      "stream_route",
      {
          {R"({})", ""},
          {R"({"remote_addr":"127.0.0.1","upstream":{"nodes":{"127.0.0.1:1995":1},
               "type":"roundrobin"}})",
           ""},
          {R"({"server_addr":"::1","server_port":9100,"sni":"*.test.com","upstream_id":"1",
               "plugins":{"ip-restriction":{"whitelist":["127.0.0.0/24"]}}})",
           ""},
          {R"({"protocol":{"name":"redis","superior_id":"1","conf":{},
               "logger":[{"name":"syslog","filter":[],"conf":{}}]},"upstream_id":1})",
           ""},
          {R"({"server_port":0})",
           R"(property "server_port" validation failed: expected 0 to be at least 1)"},
          {R"({"server_addr":"localhost"})",
           R"(property "server_addr" validation failed: object matches none of the required)"},
          {R"({"protocol":{}})",
           R"(property "protocol" validation failed: property "name" is required)"},
          {R"({"protocol":{"name":"redis","logger":[{"name":"syslog"}]}})",
           R"(property "protocol" validation failed: property "logger" validation failed: failed to validate item 1: property "conf" is required when "name" is set)"},
          {R"({"protocol":{"name":"redis","logger":[{"conf":{},"level":1}]}})",
           R"(property "protocol" validation failed: property "logger" validation failed: failed to validate item 1: additional properties forbidden, found level)"},
          {R"({"uri":"/a"})", "additional properties forbidden, found uri"},
      });
}

TEST(CoreSchemasTest, ProtoAndPluginListExamples) {
  expect_examples(
      "proto",
      {
          {R"({"content":"syntax = \"proto3\";\npackage helloworld;"})", ""},
          {R"({"id":"1","name":"p","content":"x"})", ""},
          {R"({})", R"(property "content" is required)"},
          {R"({"content":""})",
           R"(property "content" validation failed: string too short, expected at least 1, got 0)"},
          {R"({"content":"x","plugins":{}})", "additional properties forbidden, found plugins"},
      });
  expect_examples(
      "plugins",
      {
          {R"([{"name":"limit-count"},{"name":"ip-restriction","stream":true}])", ""},
          {R"([{"stream":true}])", R"(failed to validate item 1: property "name" is required)"},
          {R"([{"name":""}])",
           R"(failed to validate item 1: property "name" validation failed: string too short, expected at least 1, got 0)"},
          // APISIX nests `additionalProperties: false` inside `properties`, so it names a
          // field that must be absent instead of closing the object.
          {R"([{"name":"a","version":1}])", ""},
          {R"([{"name":"a","additionalProperties":1}])",
           R"(failed to validate item 1: property "additionalProperties" validation failed: expect false always)"},
          {R"([{"name":"a","stream":"yes"}])",
           R"(failed to validate item 1: property "stream" validation failed: wrong type: expected boolean, got string)"},
      });
}

TEST(CoreSchemasTest, GraphqlCostDecorationExamples) {
  expect_examples(
      "graphql_cost_decoration",
      {
          {R"({"field_path":"Query.products.nodes","add_value":0,"mul_value":2.5,
               "add_arguments":["first"],"mul_arguments":["last"],"service_id":"1"})",
           ""},
          {R"({})", R"(property "field_path" is required)"},
          {R"({"field_path":"Query..x"})",
           R"(property "field_path" validation failed: failed to match pattern "^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$" with "Query..x")"},
          {R"({"field_path":"Query","add_value":-1})",
           R"(property "add_value" validation failed: expected -1 to be at least 0)"},
          {R"({"field_path":"Query","add_arguments":[""]})",
           R"(property "add_arguments" validation failed: failed to validate item 1: string too short, expected at least 1, got 0)"},
      });
  json::value decoration = validated("graphql_cost_decoration", R"({"field_path":"Product"})");
  EXPECT_EQ(decoration.at("add_value"), json::value(1));
  EXPECT_EQ(decoration.at("mul_value"), json::value(1));
}

TEST(CoreSchemasTest, SecretExamples) {
  expect_examples(
      "secret_vault",
      {
          {R"({"uri":"http://127.0.0.1:8200","prefix":"kv/apisix","token":"root"})", ""},
          {R"({"uri":"https://vault.example.com","prefix":"p","token":"$ENV://VAULT_TOKEN",
               "namespace":"ns","extra":"allowed"})",
           ""},
          {R"({"uri":"http://127.0.0.1:8200","prefix":"kv/apisix"})",
           R"(property "token" is required)"},
          {R"({"uri":"127.0.0.1:8200","prefix":"kv/apisix","token":"root"})",
           R"(property "uri" validation failed: failed to match pattern "^[^\\/]+:\\/\\/([\\da-zA-Z.-]+|\\[[\\da-fA-F:]+\\])(:\\d+)?" with "127.0.0.1:8200")"},
      });
  expect_examples("secret_aws",
                  {
                      {R"({"access_key_id":"a","secret_access_key":"b"})", ""},
                      {R"({"access_key_id":"a","secret_access_key":"b","session_token":"t",
               "region":"eu-west-1","endpoint_url":"http://127.0.0.1:4566"})",
                       ""},
                      {R"({"access_key_id":"a"})", R"(property "secret_access_key" is required)"},
                  });
  expect_examples(
      "secret_gcp",
      {
          {R"({"auth_file":"/etc/gcp.json"})", ""},
          {R"({"auth_config":{"client_email":"a@b.iam","private_key":"k","project_id":"p"},
               "ssl_verify":false})",
           ""},
          {R"({})", "value should match only one schema, but matches none"},
          {R"({"auth_file":"/f","auth_config":{"client_email":"e","private_key":"k",
               "project_id":"p"}})",
           "value should match only one schema, but matches both schemas 1 and 2"},
          {R"({"auth_config":{"client_email":"e","private_key":"k"}})",
           R"(property "auth_config" validation failed: property "project_id" is required)"},
      });
}

TEST(CoreSchemasTest, RouteDefaults) {
  json::value route = validated("route", R"({"uri":"/a","upstream":{"nodes":[
      {"host":"127.0.0.1","port":80,"weight":1}]}})");
  EXPECT_EQ(route.at("status"), json::value(1));
  EXPECT_EQ(route.at("priority"), json::value(0));
  // The inline upstream gets the upstream defaults, node priority included.
  const json::value& upstream = route.at("upstream");
  EXPECT_EQ(upstream.at("type"), json::value("roundrobin"));
  EXPECT_EQ(upstream.at("hash_on"), json::value("vars"));
  EXPECT_EQ(upstream.at("scheme"), json::value("http"));
  EXPECT_EQ(upstream.at("pass_host"), json::value("pass"));
  EXPECT_EQ(upstream.at("nodes").at(0).at("priority"), json::value(0));

  json::value kept =
      validated("route", R"({"uri":"/a","upstream_id":"1","status":0,"priority":7})");
  EXPECT_EQ(kept.at("status"), json::value(0));
  EXPECT_EQ(kept.at("priority"), json::value(7));
  // Defaults are written only where the parent exists: no upstream appears from nowhere.
  EXPECT_FALSE(kept.as_object().contains("upstream"));
}

TEST(CoreSchemasTest, UpstreamDefaults) {
  json::value plain = validated("upstream", R"({"nodes":{"127.0.0.1:80":1}})");
  EXPECT_EQ(plain.at("type"), json::value("roundrobin"));
  EXPECT_EQ(plain.at("hash_on"), json::value("vars"));
  EXPECT_EQ(plain.at("scheme"), json::value("http"));
  EXPECT_EQ(plain.at("pass_host"), json::value("pass"));
  for (std::string_view absent : {"tls", "keepalive_pool", "checks", "retries", "timeout"}) {
    EXPECT_FALSE(plain.as_object().contains(absent)) << absent;
  }

  json::value pooled =
      validated("upstream",
                R"({"nodes":{"127.0.0.1:80":1},"keepalive_pool":{},"tls":{"client_cert_id":"1"}})");
  EXPECT_EQ(pooled.at("keepalive_pool"),
            json::parse(R"({"size":320,"idle_timeout":60,"requests":1000})"));
  EXPECT_EQ(pooled.at("tls").at("verify"), json::value(false));
}

TEST(CoreSchemasTest, HealthCheckerDefaults) {
  json::value up = validated("upstream", R"({"nodes":{"127.0.0.1:80":1},"checks":{
      "active":{"healthy":{},"unhealthy":{}},"passive":{"healthy":{},"unhealthy":{}}}})");
  const json::value& active = up.at("checks").at("active");
  EXPECT_EQ(active.at("type"), json::value("http"));
  EXPECT_EQ(active.at("timeout"), json::value(1));
  EXPECT_EQ(active.at("concurrency"), json::value(10));
  EXPECT_EQ(active.at("http_method"), json::value("GET"));
  EXPECT_EQ(active.at("http_path"), json::value("/"));
  EXPECT_EQ(active.at("http_req_body"), json::value(""));
  EXPECT_EQ(active.at("https_verify_certificate"), json::value(true));
  EXPECT_EQ(active.at("healthy"),
            json::parse(R"({"interval":1,"http_statuses":[200,302],"successes":2})"));
  EXPECT_EQ(active.at("unhealthy"),
            json::parse(R"({"interval":1,"http_statuses":[429,404,500,501,502,503,504,505],
                            "http_failures":5,"tcp_failures":2,"timeouts":3})"));
  const json::value& passive = up.at("checks").at("passive");
  EXPECT_EQ(passive.at("type"), json::value("http"));
  EXPECT_EQ(passive.at("healthy"),
            json::parse(R"({"http_statuses":[200,201,202,203,204,205,206,207,208,226,300,301,
                            302,303,304,305,306,307,308],"successes":5})"));
  EXPECT_EQ(passive.at("unhealthy"),
            json::parse(R"({"http_statuses":[429,500,503],"tcp_failures":2,"timeouts":7,
                            "http_failures":5})"));

  // core.md §4.4.2: an omitted healthy/unhealthy object is not created, so its interval stays
  // the checker's own "never probe" default.
  json::value sparse = validated(
      "upstream", R"({"nodes":{"127.0.0.1:80":1},"checks":{"active":{"http_path":"/ping"}}})");
  const json::object& sparse_active = sparse.at("checks").at("active").as_object();
  EXPECT_FALSE(sparse_active.contains("healthy"));
  EXPECT_FALSE(sparse_active.contains("unhealthy"));
  EXPECT_FALSE(sparse.at("checks").as_object().contains("passive"));
  EXPECT_EQ(sparse_active.at("http_path"), json::value("/ping"));
}

TEST(CoreSchemasTest, SslAndSecretDefaults) {
  json::value ssl = validated(
      "ssl", R"({"cert":"@CERT@","key":"@KEY@","sni":"test.com","client":{"ca":"@CERT@"}})");
  EXPECT_EQ(ssl.at("type"), json::value("server"));
  EXPECT_EQ(ssl.at("status"), json::value(1));
  EXPECT_EQ(ssl.at("client").at("depth"), json::value(1));

  json::value aws = validated("secret_aws", R"({"access_key_id":"a","secret_access_key":"b"})");
  EXPECT_EQ(aws.at("region"), json::value("us-east-1"));

  json::value gcp = validated(
      "secret_gcp", R"({"auth_config":{"client_email":"e","private_key":"k","project_id":"p"}})");
  EXPECT_EQ(gcp.at("ssl_verify"), json::value(true));
  EXPECT_EQ(gcp.at("auth_config").at("token_uri"),
            json::value("https://oauth2.googleapis.com/token"));
  EXPECT_EQ(gcp.at("auth_config").at("entries_uri"),
            json::value("https://secretmanager.googleapis.com/v1"));
  EXPECT_EQ(gcp.at("auth_config").at("scope"),
            json::parse(R"(["https://www.googleapis.com/auth/cloud-platform"])"));
}

TEST(CoreSchemasTest, CheckDoesNotWriteDefaults) {
  const Schema* route = core_schema("route");
  ASSERT_NE(route, nullptr);
  constexpr std::string_view kText = R"({"uri":"/a","upstream_id":"1"})";
  json::value value = json::parse(kText);
  EXPECT_FALSE(route->check(value));
  EXPECT_EQ(value, json::parse(kText));
}

// Parity with the hand-written validators of src/config/resource_parse.cc. Both verdicts are
// stated per document: `schema_accepts` is what APISIX's schema (schema_def.lua) decides, and
// `parser_accepts` what parse_route/parse_service/parse_upstream decide today. They differ
// only where the row says why:
//   Beyond:  APISIX rejects too, but in a check that runs after the schema (upstream.lua's
//            check_upstream_conf, the admin's plugin checks), which the parser folds in.
//   Stricter: the parser rejects what APISIX accepts; a parser discrepancy (when the parser is
//             fixed, the row becomes Same).
enum class Kind { Route, Service, Upstream };
enum class Relation { Same, Beyond, Stricter };

struct ParityCase {
  Kind kind;
  const char* json;
  bool schema_accepts;
  Relation relation;
};

std::optional<std::string> parser_error(Kind kind, const json::value& value) {
  switch (kind) {
    case Kind::Route: {
      auto r = config::parse_route(value);
      return r.ok() ? std::nullopt : std::optional(r.error().context);
    }
    case Kind::Service: {
      auto r = config::parse_service(value);
      return r.ok() ? std::nullopt : std::optional(r.error().context);
    }
    case Kind::Upstream: {
      auto r = config::parse_upstream(value);
      return r.ok() ? std::nullopt : std::optional(r.error().context);
    }
  }
  return std::nullopt;
}

std::string_view schema_name(Kind kind) {
  switch (kind) {
    case Kind::Route:
      return "route";
    case Kind::Service:
      return "service";
    case Kind::Upstream:
      return "upstream";
  }
  return "";
}

constexpr bool kAccept = true;
constexpr bool kReject = false;
using enum Kind;
using enum Relation;

constexpr ParityCase kParityCases[] = {
    {Route, R"({"uri":"/a","upstream":{"nodes":{"127.0.0.1:80":1}}})", kAccept, Same},
    {Route, R"({"uri":"/a","upstream_id":"1"})", kAccept, Same},
    {Route, R"({"uris":["/a","/b"],"hosts":["a.com","*.b.com"],"service_id":1})", kAccept, Same},
    {Route, R"({"uri":"/a","plugins":{"limit-count":{"count":1,"_meta":{"disable":true}}}})",
     kAccept, Same},
    {Route, R"({"uri":"/a"})", kReject, Same},
    {Route, R"({"upstream_id":"1"})", kReject, Same},
    {Route, R"({"uri":"/a","uris":["/b"],"upstream_id":"1"})", kReject, Same},
    {Route, R"({"uri":"/a","host":"a.com","hosts":["b.com"],"upstream_id":"1"})", kReject, Same},
    {Route, R"({"uri":"/a","remote_addr":"::1","remote_addrs":["::2"],"upstream_id":"1"})", kReject,
     Same},
    {Route, R"({"uri":"/a","upstream_id":"1","foo":1})", kReject, Same},
    {Route, R"({"id":"a b","uri":"/a","upstream_id":"1"})", kReject, Same},
    {Route, R"({"id":0,"uri":"/a","upstream_id":"1"})", kReject, Same},
    {Route, R"({"id":1.0,"uri":"/a","upstream_id":"1"})", kAccept, Same},
    {Route, R"({"uri":"/a","upstream_id":"1","methods":["get"]})", kReject, Same},
    {Route, R"({"uri":"/a","upstream_id":"1","methods":[]})", kAccept, Same},
    {Route, R"({"uri":"/a","upstream_id":"1","status":2})", kReject, Same},
    {Route, R"({"uri":"/a","upstream_id":"1","priority":1.5})", kReject, Same},
    {Route, R"({"uri":"/a","upstream_id":"1","remote_addr":"127.0.0.1/33"})", kReject, Same},
    {Route, R"({"uri":"/a","upstream_id":"1","remote_addrs":["fe80::/64","10.0.0.0/8"]})", kAccept,
     Same},
    {Route, R"({"uri":"/a","upstream_id":"1","filter_func":"return true end"})", kReject, Same},
    {Route, R"({"uri":"/a","upstream_id":"1","timeout":{"connect":1,"send":1}})", kReject, Same},
    {Route, R"({"uri":"/a","script":"local _M = {} return _M","plugins":{}})", kReject, Same},
    {Route, R"({"uri":"/a","script":"local _M = {} return _M"})", kAccept, Same},
    {Route, R"({"uri":"/a","upstream_id":"1","labels":{"a":"b c"}})", kReject, Same},
    {Route, R"({"uri":"/a","upstream_id":"1","enable_websocket":"yes"})", kReject, Same},
    {Route, R"({"uri":"/a","upstream":{"nodes":{"a.com:80":1},"checks":{"passive":{}}}})", kReject,
     Same},
    // APISIX's uris items are any strings (uri's 1..4096 length does not apply to them).
    {Route, R"({"uris":[""],"upstream_id":"1"})", kAccept, Same},
    // APISIX's priority is any integer, beyond 32 bits too.
    {Route, R"({"uri":"/a","upstream_id":"1","priority":4294967296})", kAccept, Same},
    // APISIX's IPv6/CIDR pattern takes any 1..3 digit prefix length.
    {Route, R"({"uri":"/a","upstream_id":"1","remote_addr":"::1/200"})", kAccept, Same},
    // APISIX's admin check rejects a non-object plugin conf after the schema.
    {Route, R"({"uri":"/a","plugins":{"foo":1}})", kAccept, Beyond},
    {Service, R"({})", kAccept, Same},
    {Service, R"({"upstream":{"nodes":[{"host":"a.com","weight":1}]},"hosts":["a.com"]})", kAccept,
     Same},
    {Service, R"({"uri":"/a"})", kReject, Same},
    {Service, R"({"hosts":[]})", kReject, Same},
    {Service, R"({"upstream_id":"bad id"})", kReject, Same},
    {Service, R"({"name":""})", kReject, Same},
    {Upstream, R"({"nodes":{"127.0.0.1:80":1}})", kAccept, Same},
    {Upstream, R"({"nodes":{"[::1]:80":1,"::2":1}})", kAccept, Same},
    {Upstream, R"({"service_name":"s","discovery_type":"dns"})", kAccept, Same},
    {Upstream, R"({})", kReject, Same},
    {Upstream, R"({"nodes":{"a.com:80":1},"service_name":"s","discovery_type":"dns"})", kReject,
     Same},
    {Upstream, R"({"nodes":[{"host":"127.0.0.1","port":80}]})", kReject, Same},
    {Upstream, R"({"nodes":{"127.0.0.1:80":-1}})", kReject, Same},
    {Upstream, R"({"nodes":{"a.com:80":1},"retries":-1})", kReject, Same},
    {Upstream, R"({"nodes":{"a.com:80":1},"scheme":"ftp"})", kReject, Same},
    {Upstream, R"({"nodes":{"a.com:80":1},"checks":{"active":{"healthy":{"successes":255}}}})",
     kReject, Same},
    {Upstream, R"({"nodes":{"a.com:80":1},"tls":{"client_cert":"$secret://vault/1/cert"}})",
     kReject, Same},
    {Upstream, R"({"nodes":{"a.com:80":1},"type":"chash","hash_on":"consumer"})", kAccept, Same},
    // keepalive_pool is an open object in APISIX, with no upper bounds.
    {Upstream, R"({"nodes":{"a.com:80":1},"keepalive_pool":{"size":1,"foo":1}})", kAccept, Same},
    {Upstream, R"({"nodes":{"a.com:80":1},"keepalive_pool":{"size":4294967296}})", kAccept, Same},
    // APISIX puts uniqueItems inside req_headers' items, where it has no effect.
    {Upstream, R"({"nodes":{"a.com:80":1},"checks":{"active":{"req_headers":["A: b","A: b"]}}})",
     kAccept, Same},
    // discovery_type has no minimum length in APISIX.
    {Upstream, R"({"service_name":"s","discovery_type":""})", kAccept, Same},
    // Node weights and retries have no upper bound in APISIX.
    {Upstream, R"({"nodes":{"a.com:80":2147483648}})", kAccept, Same},
    {Upstream, R"({"nodes":{"a.com:80":1},"retries":2147483648})", kAccept, Same},
    // A map key with two colons that is no IPv6 address: APISIX reads it as a host without
    // a port and accepts it at write time.
    {Upstream, R"({"nodes":{"a:b:c":1}})", kAccept, Same},
    // The rest are upstream.lua's checks after the schema, which APISIX also applies.
    {Upstream, R"({"nodes":{"a.com:80":1},"type":"chash"})", kAccept, Beyond},
    {Upstream, R"({"nodes":{"a.com:80":1},"type":"chash","key":"not_support"})", kAccept, Beyond},
    {Upstream, R"({"nodes":{"a.com:80":1},"pass_host":"rewrite"})", kAccept, Beyond},
    {Upstream, R"({"nodes":[{"host":"::1","port":80,"weight":1}]})", kAccept, Beyond},
    {Upstream, R"({"nodes":{"127.0.0.1:70000":1}})", kAccept, Beyond},
};

TEST(CoreSchemasTest, ParityWithHandWrittenParsers) {
  for (const ParityCase& row : kParityCases) {
    json::value value = json::parse(row.json);
    const Schema* schema = core_schema(schema_name(row.kind));
    ASSERT_NE(schema, nullptr);
    std::optional<std::string> schema_error = schema->check(value);
    std::optional<std::string> parse_error = parser_error(row.kind, value);
    bool parser_accepts = row.relation == Same ? row.schema_accepts : false;
    std::string both = "\n  schema: " + schema_error.value_or("(accepted)") +
                       "\n  parser: " + parse_error.value_or("(accepted)");
    EXPECT_EQ(!schema_error.has_value(), row.schema_accepts)
        << schema_name(row.kind) << " " << row.json << both;
    EXPECT_EQ(!parse_error.has_value(), parser_accepts)
        << schema_name(row.kind) << " " << row.json << both;
  }
}

}  // namespace
}  // namespace apisix::schema
