#include "config/resource_parse.h"

#include <limits>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace apisix::config {
namespace {

namespace json = boost::json;

enum class Kind { Route, Service, Upstream };

struct ParseCase {
  const char* name;
  Kind kind;
  const char* json;
  const char* error;  // "" = accepted
};

std::optional<std::string> parse_error(Kind kind, const json::value& v) {
  switch (kind) {
    case Kind::Route: {
      auto r = parse_route(v);
      return r.ok() ? std::nullopt : std::optional(r.error().context);
    }
    case Kind::Service: {
      auto r = parse_service(v);
      return r.ok() ? std::nullopt : std::optional(r.error().context);
    }
    case Kind::Upstream: {
      auto r = parse_upstream(v);
      return r.ok() ? std::nullopt : std::optional(r.error().context);
    }
  }
  return std::nullopt;
}

class ResourceParseTest : public testing::TestWithParam<ParseCase> {};

TEST_P(ResourceParseTest, AcceptsOrRejects) {
  const ParseCase& c = GetParam();
  std::optional<std::string> error = parse_error(c.kind, json::parse(c.json));
  if (std::string_view(c.error).empty()) {
    EXPECT_FALSE(error.has_value()) << *error;
  } else {
    ASSERT_TRUE(error.has_value()) << "accepted: " << c.json;
    EXPECT_EQ(*error, c.error);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Routes, ResourceParseTest,
    testing::Values(
        ParseCase{"minimal_with_upstream_id", Kind::Route, R"({"uri":"/a","upstream_id":"u1"})",
                  ""},
        ParseCase{"uris_and_plugins", Kind::Route,
                  R"({"uris":["/a","/b/*"],"plugins":{"echo":{}}})", ""},
        ParseCase{"full", Kind::Route,
                  R"({"id":"r-1.x_y","name":"r","desc":"d","labels":{"env":"prod"},
                      "uri":"/a","hosts":["a.com","*.b.com"],"methods":["GET","POST"],
                      "remote_addrs":["10.0.0.0/8","::1","fe80::/10"],"priority":-3,
                      "vars":[["arg_a","==","1"]],"filter_func":"function(vars) return true end",
                      "service_id":1,"plugin_config_id":"pc","timeout":{"connect":1,"send":2.5,"read":3},
                      "enable_websocket":true,"status":0,"create_time":1,"update_time":2,
                      "upstream":{"nodes":[{"host":"[::1]","port":80,"weight":1}]}})",
                  ""},
        ParseCase{"integer_id", Kind::Route, R"({"id":12,"uri":"/a","service_id":"s"})", ""},
        ParseCase{"script_alone", Kind::Route, R"({"uri":"/a","script":"local _M = {} return _M"})",
                  ""},
        ParseCase{
            "only_uri", Kind::Route, R"({"uri":"/a"})",
            R"(invalid configuration: object matches none of the required: ["plugins"] or ["script"] or ["upstream"] or ["upstream_id"] or ["service_id"])"},
        ParseCase{"no_uri", Kind::Route, R"({"upstream_id":"u"})",
                  "invalid configuration: allOf 1 failed: value should match only one schema, "
                  "but matches none (\"uri\" or \"uris\" is required)"},
        ParseCase{"uri_and_uris", Kind::Route, R"({"uri":"/a","uris":["/b"],"upstream_id":"u"})",
                  "invalid configuration: allOf 1 failed: value should match only one schema, "
                  "but matches both schemas 1 and 2 (\"uri\" and \"uris\" cannot be used "
                  "together)"},
        ParseCase{"host_and_hosts", Kind::Route,
                  R"({"uri":"/a","host":"a.com","hosts":["b.com"],"upstream_id":"u"})",
                  "invalid configuration: allOf 2 failed: value should match only one schema, "
                  "but matches both schemas 1 and 2 (\"host\" and \"hosts\" cannot be used "
                  "together)"},
        ParseCase{
            "remote_addr_and_addrs", Kind::Route,
            R"({"uri":"/a","remote_addr":"1.1.1.1","remote_addrs":["1.1.1.2"],"upstream_id":"u"})",
            "invalid configuration: allOf 3 failed: value should match only one schema, "
            "but matches both schemas 1 and 2 (\"remote_addr\" and \"remote_addrs\" "
            "cannot be used together)"},
        ParseCase{"script_with_plugins", Kind::Route,
                  R"({"uri":"/a","script":"local _M = {} return _M","plugins":{}})",
                  "invalid configuration: value wasn't supposed to match schema (\"script\" "
                  "cannot be used with \"plugins\" or \"plugin_config_id\")"},
        ParseCase{"unknown_field", Kind::Route, R"({"uri":"/a","upstream_id":"u","foo":1})",
                  "invalid configuration: additional properties forbidden, found foo"},
        ParseCase{"not_an_object", Kind::Route, R"("route")",
                  "invalid configuration: wrong type: expected object, got string"},
        ParseCase{"uri_wrong_type", Kind::Route, R"({"uri":5,"upstream_id":"u"})",
                  "invalid configuration: property \"uri\" validation failed: wrong type: "
                  "expected string, got number"},
        ParseCase{"uri_empty", Kind::Route, R"({"uri":"","upstream_id":"u"})",
                  "invalid configuration: property \"uri\" validation failed: string too short, "
                  "expected at least 1, got 0"},
        ParseCase{"uris_empty", Kind::Route, R"({"uris":[],"upstream_id":"u"})",
                  "invalid configuration: property \"uris\" validation failed: expect array to "
                  "have at least 1 items"},
        ParseCase{"uris_duplicate", Kind::Route, R"({"uris":["/a","/a"],"upstream_id":"u"})",
                  "invalid configuration: property \"uris\" validation failed: expected unique "
                  "items but items 1 and 2 are equal"},
        ParseCase{"bad_host", Kind::Route, R"({"uri":"/a","host":"a b","upstream_id":"u"})",
                  "invalid configuration: property \"host\" validation failed: failed to match "
                  "pattern \"^\\*?[0-9a-zA-Z-._\\[\\]:]+$\" with \"a b\""},
        ParseCase{"bad_hosts_item", Kind::Route,
                  R"({"uri":"/a","hosts":["ok.com","bad/host"],"upstream_id":"u"})",
                  "invalid configuration: property \"hosts\" validation failed: failed to "
                  "validate item 2: failed to match pattern \"^\\*?[0-9a-zA-Z-._\\[\\]:]+$\" "
                  "with \"bad/host\""},
        ParseCase{"bad_method", Kind::Route,
                  R"({"uri":"/a","methods":["GET","FETCH"],"upstream_id":"u"})",
                  "invalid configuration: property \"methods\" validation failed: failed to "
                  "validate item 2: matches none of the enum values"},
        ParseCase{"bad_remote_addr", Kind::Route,
                  R"({"uri":"/a","remote_addr":"10.0.0.0/33","upstream_id":"u"})",
                  "invalid configuration: property \"remote_addr\" validation failed: "
                  "\"10.0.0.0/33\" is not an IPv4 or IPv6 address or CIDR"},
        ParseCase{"bad_id_pattern", Kind::Route, R"({"id":"a/b","uri":"/a","upstream_id":"u"})",
                  "invalid configuration: property \"id\" validation failed: failed to match "
                  "pattern \"^[a-zA-Z0-9-_.]+$\" with \"a/b\""},
        ParseCase{
            "id_too_long", Kind::Route,
            R"({"id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","uri":"/a","upstream_id":"u"})",
            "invalid configuration: property \"id\" validation failed: string too long, "
            "expected at most 64, got 65"},
        ParseCase{"id_zero", Kind::Route, R"({"id":0,"uri":"/a","upstream_id":"u"})",
                  "invalid configuration: property \"id\" validation failed: expected 0 to be at "
                  "least 1"},
        ParseCase{"status_two", Kind::Route, R"({"uri":"/a","status":2,"upstream_id":"u"})",
                  "invalid configuration: property \"status\" validation failed: matches none "
                  "of the enum values"},
        ParseCase{"priority_fraction", Kind::Route,
                  R"({"uri":"/a","priority":1.5,"upstream_id":"u"})",
                  "invalid configuration: property \"priority\" validation failed: wrong type: "
                  "expected integer, got number"},
        ParseCase{"timeout_missing_read", Kind::Route,
                  R"({"uri":"/a","timeout":{"connect":1,"send":1},"upstream_id":"u"})",
                  "invalid configuration: property \"timeout\" validation failed: property "
                  "\"read\" is required"},
        ParseCase{"timeout_zero", Kind::Route,
                  R"({"uri":"/a","timeout":{"connect":0,"send":1,"read":1},"upstream_id":"u"})",
                  "invalid configuration: property \"timeout\" validation failed: property "
                  "\"connect\" validation failed: expected 0 to be greater than 0"},
        ParseCase{"filter_func_not_function", Kind::Route,
                  R"({"uri":"/a","filter_func":"return function() end","upstream_id":"u"})",
                  "invalid configuration: property \"filter_func\" validation failed: failed to "
                  "match pattern \"^function\" with \"return function() end\""},
        ParseCase{"plugin_not_object", Kind::Route, R"({"uri":"/a","plugins":{"echo":true}})",
                  "invalid configuration: property \"plugins\" validation failed: failed to "
                  "check the configuration of plugin echo err: wrong type: expected object, got "
                  "boolean"},
        ParseCase{"plugin_meta_unknown", Kind::Route,
                  R"({"uri":"/a","plugins":{"echo":{"_meta":{"disabled":true}}}})",
                  "invalid configuration: property \"plugins\" validation failed: failed to "
                  "check the configuration of plugin echo err: property \"_meta\" validation "
                  "failed: additional properties forbidden, found disabled"},
        ParseCase{"websocket_string", Kind::Route,
                  R"({"uri":"/a","enable_websocket":"yes","upstream_id":"u"})",
                  "invalid configuration: property \"enable_websocket\" validation failed: wrong "
                  "type: expected boolean, got string"},
        ParseCase{"label_with_space", Kind::Route,
                  R"({"uri":"/a","labels":{"k":"a b"},"upstream_id":"u"})",
                  "invalid configuration: property \"labels\" validation failed: failed to "
                  "validate k (matching \".*\"): failed to match pattern \"^\\S+$\" with \"a b\""},
        // APISIX's schema is looser than these fields look (core.md §4.2, §4.1):
        ParseCase{"uris_items_any_length", Kind::Route, R"({"uris":["","/a"],"upstream_id":"u"})",
                  ""},
        ParseCase{"priority_beyond_32_bits", Kind::Route,
                  R"({"uri":"/a","priority":4294967296,"upstream_id":"u"})", ""},
        ParseCase{"ipv6_cidr_prefix_above_128", Kind::Route,
                  R"({"uri":"/a","remote_addrs":["::1/200","fe80::/999"],"upstream_id":"u"})", ""},
        ParseCase{"ipv6_cidr_prefix_four_digits", Kind::Route,
                  R"({"uri":"/a","remote_addr":"::1/1000","upstream_id":"u"})",
                  "invalid configuration: property \"remote_addr\" validation failed: "
                  "\"::1/1000\" is not an IPv4 or IPv6 address or CIDR"},
        ParseCase{"inline_upstream_bad_port", Kind::Route,
                  R"({"uri":"/a","upstream":{"nodes":[{"host":"a.com","port":70000,"weight":1}]}})",
                  "invalid configuration: property \"upstream\" validation failed: property "
                  "\"nodes\" validation failed: failed to validate item 1: property \"port\" "
                  "validation failed: expected 70000 to be at most 65535"}),
    [](const testing::TestParamInfo<ParseCase>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Services, ResourceParseTest,
    testing::Values(
        ParseCase{"empty_service", Kind::Service, R"({})", ""},
        ParseCase{"service_full", Kind::Service,
                  R"({"id":"s1","name":"s","hosts":["A.com"],"plugins":{"key-auth":{}},
                      "upstream":{"type":"chash","key":"remote_addr","nodes":{"a.com":1}},
                      "enable_websocket":false})",
                  ""},
        ParseCase{"service_uri", Kind::Service, R"({"uri":"/a"})",
                  "invalid configuration: additional properties forbidden, found uri"},
        ParseCase{"service_hosts_empty", Kind::Service, R"({"hosts":[]})",
                  "invalid configuration: property \"hosts\" validation failed: expect array to "
                  "have at least 1 items"},
        ParseCase{"service_bad_upstream_id", Kind::Service, R"({"upstream_id":"a b"})",
                  "invalid configuration: property \"upstream_id\" validation failed: failed to "
                  "match pattern \"^[a-zA-Z0-9-_.]+$\" with \"a b\""}),
    [](const testing::TestParamInfo<ParseCase>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Upstreams, ResourceParseTest,
    testing::Values(
        ParseCase{"map_nodes", Kind::Upstream, R"({"nodes":{"127.0.0.1:1980":1}})", ""},
        ParseCase{"empty_nodes_placeholder", Kind::Upstream, R"({"nodes":{}})", ""},
        ParseCase{"empty_array_nodes", Kind::Upstream, R"({"nodes":[]})", ""},
        ParseCase{
            "discovery", Kind::Upstream,
            R"({"service_name":"svc","discovery_type":"dns","discovery_args":{"group_name":"g"}})",
            ""},
        ParseCase{
            "everything", Kind::Upstream,
            R"({"id":"u1","type":"least_conn","nodes":[{"host":"a.com","weight":0,"priority":-1,"metadata":{}}],
                      "retries":0,"retry_timeout":0.5,"timeout":{"connect":1,"send":1,"read":1},
                      "scheme":"https","pass_host":"rewrite","upstream_host":"b.com",
                      "keepalive_pool":{"size":10,"idle_timeout":0,"requests":5},
                      "checks":{"active":{"http_path":"/ping","healthy":{"interval":2,"successes":1},
                                "unhealthy":{"http_statuses":[500],"http_failures":3}},
                                "passive":{"unhealthy":{"tcp_failures":0}}},
                      "tls":{"verify":true},"labels":{"a":"b"}})",
            ""},
        ParseCase{"no_nodes", Kind::Upstream, R"({"type":"roundrobin"})",
                  "invalid configuration: value should match only one schema, but matches none "
                  "(\"nodes\", or \"service_name\" with \"discovery_type\", is required)"},
        ParseCase{"nodes_and_discovery", Kind::Upstream,
                  R"({"nodes":{},"service_name":"s","discovery_type":"dns"})",
                  "invalid configuration: value should match only one schema, but matches both "
                  "schemas 1 and 2 (\"nodes\" cannot be used with \"service_name\" and "
                  "\"discovery_type\")"},
        ParseCase{"negative_weight", Kind::Upstream, R"({"nodes":{"127.0.0.1:80":-1}})",
                  "invalid configuration: property \"nodes\" validation failed: failed to "
                  "validate 127.0.0.1:80 (matching \".*\"): expected -1 to be at least 0"},
        ParseCase{"map_port_out_of_range", Kind::Upstream, R"({"nodes":{"127.0.0.1:0":1}})",
                  "invalid configuration: property \"nodes\" validation failed: invalid node "
                  "address \"127.0.0.1:0\": port must be a number 1..65535"},
        ParseCase{"array_missing_weight", Kind::Upstream, R"({"nodes":[{"host":"a.com"}]})",
                  "invalid configuration: property \"nodes\" validation failed: failed to "
                  "validate item 1: property \"weight\" is required"},
        ParseCase{"array_bad_host", Kind::Upstream, R"({"nodes":[{"host":"a b","weight":1}]})",
                  "invalid configuration: property \"nodes\" validation failed: failed to "
                  "validate item 1: property \"host\" validation failed: failed to match "
                  "pattern \"^\\*?[0-9a-zA-Z-._\\[\\]:]+$\" with \"a b\""},
        ParseCase{"array_unbracketed_ipv6", Kind::Upstream,
                  R"({"nodes":[{"host":"::1","port":80,"weight":1}]})",
                  "invalid configuration: property \"nodes\" validation failed: failed to "
                  "validate item 1: IPv6 address must be enclosed with '[' and ']': ::1"},
        ParseCase{"nodes_wrong_type", Kind::Upstream, R"({"nodes":"a.com"})",
                  "invalid configuration: property \"nodes\" validation failed: wrong type: "
                  "expected object or array, got string"},
        ParseCase{"negative_retries", Kind::Upstream, R"({"nodes":{},"retries":-1})",
                  "invalid configuration: property \"retries\" validation failed: expected -1 to "
                  "be at least 0"},
        ParseCase{"bad_scheme", Kind::Upstream, R"({"nodes":{},"scheme":"ftp"})",
                  "invalid configuration: property \"scheme\" validation failed: matches none of "
                  "the enum values"},
        ParseCase{"rewrite_without_host", Kind::Upstream, R"({"nodes":{},"pass_host":"rewrite"})",
                  "invalid configuration: then clause did not match: property \"upstream_host\" "
                  "is required when \"pass_host\" is \"rewrite\""},
        ParseCase{"chash_without_key", Kind::Upstream, R"({"nodes":{},"type":"chash"})",
                  "invalid configuration: missing key (\"key\" is required for type chash unless "
                  "hash_on is \"consumer\")"},
        ParseCase{"chash_consumer_needs_no_key", Kind::Upstream,
                  R"({"nodes":{},"type":"chash","hash_on":"consumer"})", ""},
        ParseCase{"chash_bad_vars_key", Kind::Upstream,
                  R"({"nodes":{},"type":"chash","key":"http_x"})",
                  "invalid configuration: property \"key\" validation failed: failed to match "
                  "pattern \"^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|"
                  "query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$\" with "
                  "\"http_x\""},
        ParseCase{"chash_arg_key", Kind::Upstream,
                  R"({"nodes":{},"type":"chash","key":"arg_user_id"})", ""},
        ParseCase{"chash_header_key", Kind::Upstream,
                  R"({"nodes":{},"type":"chash","hash_on":"header","key":"X-User"})", ""},
        // keepalive_pool is an open object in APISIX, without upper bounds.
        ParseCase{"keepalive_unknown_key", Kind::Upstream,
                  R"({"nodes":{},"keepalive_pool":{"size":1,"max":2}})", ""},
        ParseCase{"keepalive_beyond_32_bits", Kind::Upstream,
                  R"({"nodes":{},"keepalive_pool":{"size":4294967296,"requests":1e12}})", ""},
        // APISIX's uniqueItems sits inside req_headers' items, where it does nothing.
        ParseCase{"duplicate_req_headers", Kind::Upstream,
                  R"({"nodes":{},"checks":{"active":{"req_headers":["A: b","A: b"]}}})", ""},
        ParseCase{"empty_discovery_type", Kind::Upstream,
                  R"({"service_name":"s","discovery_type":""})", ""},
        ParseCase{"weight_beyond_32_bits", Kind::Upstream,
                  R"({"nodes":[{"host":"a.com","weight":1000000000000,"priority":-4294967296}]})",
                  ""},
        ParseCase{"retries_beyond_32_bits", Kind::Upstream, R"({"nodes":{},"retries":2147483648})",
                  ""},
        ParseCase{"map_key_with_two_colons", Kind::Upstream, R"({"nodes":{"a:b:c":1}})", ""},
        ParseCase{"keepalive_zero_size", Kind::Upstream,
                  R"({"nodes":{},"keepalive_pool":{"size":0}})",
                  "invalid configuration: property \"keepalive_pool\" validation failed: "
                  "property \"size\" validation failed: expected 0 to be at least 1"},
        ParseCase{
            "passive_only_checks", Kind::Upstream,
            R"({"nodes":{},"checks":{"passive":{"type":"http"}}})",
            R"(invalid configuration: property "checks" validation failed: object matches none of the required: ["active"] or ["active","passive"])"},
        ParseCase{"checks_bad_successes", Kind::Upstream,
                  R"({"nodes":{},"checks":{"active":{"healthy":{"successes":0}}}})",
                  "invalid configuration: property \"checks\" validation failed: property "
                  "\"active\" validation failed: property \"healthy\" validation failed: "
                  "property \"successes\" validation failed: expected 0 to be at least 1"},
        ParseCase{"tls_cert_without_key", Kind::Upstream,
                  R"({"nodes":{},"tls":{"client_cert":"$secret://vault/1/cert"}})",
                  "invalid configuration: property \"tls\" validation failed: failed to "
                  "validate dependent schema for \"client_cert\": property \"client_key\" is "
                  "required"},
        ParseCase{"unknown_upstream_field", Kind::Upstream, R"({"nodes":{},"weight":1})",
                  "invalid configuration: additional properties forbidden, found weight"}),
    [](const testing::TestParamInfo<ParseCase>& info) { return info.param.name; });

TEST(ParseUpstream, NormalisesNodes) {
  Result<Upstream> up = parse_upstream(json::parse(
      R"({"scheme":"https","nodes":{"10.0.0.1:8080":3,"example.com":1,"[::1]:9000":2,"[::2]":1,"::3":1}})"));
  ASSERT_TRUE(up.ok()) << up.error().context;
  ASSERT_EQ(up->nodes.size(), 5u);
  EXPECT_EQ(up->nodes[0].host, "10.0.0.1");
  EXPECT_EQ(up->nodes[0].port, 8080);
  EXPECT_EQ(up->nodes[0].weight, 3);
  EXPECT_TRUE(up->nodes[0].host_is_ip);
  EXPECT_EQ(up->nodes[1].host, "example.com");
  EXPECT_EQ(up->nodes[1].port, 443);
  EXPECT_FALSE(up->nodes[1].host_is_ip);
  EXPECT_EQ(up->nodes[2].host, "[::1]");
  EXPECT_EQ(up->nodes[2].port, 9000);
  EXPECT_TRUE(up->nodes[2].host_is_ip);
  EXPECT_EQ(up->nodes[3].host, "[::2]");
  EXPECT_EQ(up->nodes[3].port, 443);
  EXPECT_EQ(up->nodes[4].host, "[::3]");
  EXPECT_TRUE(up->nodes[4].host_is_ip);
}

TEST(ParseUpstream, DefaultPortsBySchemeInArrayForm) {
  struct Case {
    const char* scheme;
    uint16_t port;
  };
  for (const Case& c : {Case{"http", 80}, Case{"grpc", 80}, Case{"https", 443}, Case{"grpcs", 443},
                        Case{"tcp", 0}}) {
    json::value v = json::parse(R"({"nodes":[{"host":"a.com","weight":1,"priority":2}]})");
    v.as_object()["scheme"] = c.scheme;
    Result<Upstream> up = parse_upstream(v);
    ASSERT_TRUE(up.ok()) << up.error().context;
    EXPECT_EQ(up->nodes[0].port, c.port) << c.scheme;
    EXPECT_EQ(up->nodes[0].priority, 2);
  }
}

TEST(ParseUpstream, TypedFields) {
  Result<Upstream> up = parse_upstream(json::parse(
      R"({"id":7,"name":"n","type":"chash","hash_on":"header","key":"X-Id","nodes":{},
          "retries":2,"retry_timeout":1.5,"timeout":{"connect":0.5,"send":2,"read":3},
          "pass_host":"node","keepalive_pool":{"idle_timeout":5}})"));
  ASSERT_TRUE(up.ok()) << up.error().context;
  EXPECT_EQ(up->id, "7");
  EXPECT_EQ(up->name, "n");
  EXPECT_EQ(up->type, "chash");
  EXPECT_EQ(up->hash_on, "header");
  EXPECT_EQ(up->key, "X-Id");
  EXPECT_EQ(up->retries, 2);
  EXPECT_DOUBLE_EQ(up->retry_timeout, 1.5);
  ASSERT_TRUE(up->timeout.has_value());
  EXPECT_DOUBLE_EQ(up->timeout->connect, 0.5);
  EXPECT_DOUBLE_EQ(up->timeout->read, 3);
  EXPECT_EQ(up->pass_host, Upstream::PassHost::Node);
  ASSERT_TRUE(up->keepalive_pool.has_value());
  EXPECT_EQ(up->keepalive_pool->size, 320u);
  EXPECT_DOUBLE_EQ(up->keepalive_pool->idle_timeout, 5);
  EXPECT_EQ(up->keepalive_pool->requests, 1000u);
  EXPECT_EQ(up->raw.at("name"), json::value("n"));

  Result<Upstream> defaults = parse_upstream(json::parse(R"({"nodes":{}})"));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->type, "roundrobin");
  EXPECT_EQ(defaults->retries, -1);
  EXPECT_EQ(defaults->scheme, "http");
  EXPECT_EQ(defaults->pass_host, Upstream::PassHost::Pass);
  EXPECT_FALSE(defaults->timeout.has_value());
  EXPECT_FALSE(defaults->keepalive_pool.has_value());
}

TEST(ParseRoute, TypedFields) {
  Result<Route> r = parse_route(json::parse(
      R"({"id":3,"name":"n","uri":"/x","host":"Example.COM","methods":["GET"],
          "remote_addr":"10.0.0.1","priority":5,"vars":[["a","==","b"]],
          "plugins":{"echo":{"body":"hi"}},"upstream":{"nodes":{"1.2.3.4:80":1}},
          "upstream_id":"u","service_id":"s","plugin_config_id":"p",
          "timeout":{"connect":1,"send":2,"read":3},"enable_websocket":true})"));
  ASSERT_TRUE(r.ok()) << r.error().context;
  EXPECT_EQ(r->id, "3");
  EXPECT_EQ(r->uris, std::vector<std::string>{"/x"});
  EXPECT_EQ(r->hosts, std::vector<std::string>{"example.com"});
  EXPECT_EQ(r->methods, std::vector<std::string>{"GET"});
  EXPECT_EQ(r->remote_addrs, std::vector<std::string>{"10.0.0.1"});
  EXPECT_EQ(r->priority, 5);
  EXPECT_EQ(r->status, 1);
  EXPECT_EQ(r->vars.size(), 1u);
  EXPECT_TRUE(r->plugins.contains("echo"));
  ASSERT_TRUE(r->upstream.has_value());
  EXPECT_EQ(r->upstream->nodes.at(0).host, "1.2.3.4");
  EXPECT_EQ(r->upstream_id, "u");
  EXPECT_EQ(r->service_id, "s");
  EXPECT_EQ(r->plugin_config_id, "p");
  ASSERT_TRUE(r->timeout.has_value());
  EXPECT_DOUBLE_EQ(r->timeout->send, 2);
  EXPECT_TRUE(r->enable_websocket);

  Result<Route> many = parse_route(
      json::parse(R"({"uris":["/a","/b"],"hosts":["A.b.C","*.X.com"],"upstream_id":"u"})"));
  ASSERT_TRUE(many.ok());
  EXPECT_EQ(many->uris, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(many->hosts, (std::vector<std::string>{"a.b.c", "*.x.com"}));
  EXPECT_TRUE(many->methods.empty());
  EXPECT_FALSE(many->enable_websocket);
}

TEST(ParseService, TypedFields) {
  Result<Service> s = parse_service(json::parse(
      R"({"id":"s","hosts":["Foo.com"],"upstream_id":9,"enable_websocket":false,"plugins":{}})"));
  ASSERT_TRUE(s.ok()) << s.error().context;
  EXPECT_EQ(s->hosts, std::vector<std::string>{"foo.com"});
  EXPECT_EQ(s->upstream_id, "9");
  ASSERT_TRUE(s->enable_websocket.has_value());
  EXPECT_FALSE(*s->enable_websocket);
  Result<Service> bare = parse_service(json::parse("{}"));
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->enable_websocket.has_value());
}

TEST(ParseRoute, PriorityIsSaturatedToInt) {
  Result<Route> high =
      parse_route(json::parse(R"({"uri":"/a","priority":4294967296,"upstream_id":"u"})"));
  ASSERT_TRUE(high.ok()) << high.error().context;
  EXPECT_EQ(high->priority, std::numeric_limits<int>::max());
  Result<Route> low =
      parse_route(json::parse(R"({"uri":"/a","priority":-1e15,"upstream_id":"u"})"));
  ASSERT_TRUE(low.ok()) << low.error().context;
  EXPECT_EQ(low->priority, std::numeric_limits<int>::min());
}

TEST(ParseRoute, UrisKeepItemsOfAnyLength) {
  json::value v = json::parse(R"({"uris":["","/a"],"upstream_id":"u"})");
  v.as_object()["uris"].as_array().push_back(json::value(std::string(5000, 'x')));
  Result<Route> r = parse_route(v);
  ASSERT_TRUE(r.ok()) << r.error().context;
  ASSERT_EQ(r->uris.size(), 3u);
  EXPECT_EQ(r->uris[0], "");
  EXPECT_EQ(r->uris[2].size(), 5000u);
}

// lua-resty-ipmatcher reads an IPv6 prefix length above 128 as 128; the matcher is given that.
TEST(ParseRoute, Ipv6PrefixAbove128MeansTheWholeAddress) {
  Result<Route> r = parse_route(json::parse(
      R"({"uri":"/a","remote_addrs":["::1/200","fe80::/10","10.0.0.0/8","::2/064","::3/129"],
          "upstream_id":"u"})"));
  ASSERT_TRUE(r.ok()) << r.error().context;
  EXPECT_EQ(r->remote_addrs,
            (std::vector<std::string>{"::1/128", "fe80::/10", "10.0.0.0/8", "::2/064", "::3/128"}));
  EXPECT_EQ(r->raw.at("remote_addrs").as_array().at(0), json::value("::1/200"));
}

TEST(ParseUpstream, HugeWeightsAreScaledDownInProportion) {
  Result<Upstream> up = parse_upstream(json::parse(
      R"({"nodes":{"a.com:80":1000000000000,"b.com:80":500000000000,"c.com:80":1,"d.com:80":0}})"));
  ASSERT_TRUE(up.ok()) << up.error().context;
  ASSERT_EQ(up->nodes.size(), 4u);
  EXPECT_EQ(up->nodes[0].weight, Node::kMaxWeight);
  EXPECT_EQ(up->nodes[1].weight, Node::kMaxWeight / 2);
  EXPECT_EQ(up->nodes[2].weight, 1);  // a non-zero weight stays non-zero
  EXPECT_EQ(up->nodes[3].weight, 0);

  Result<Upstream> array = parse_upstream(json::parse(
      R"({"nodes":[{"host":"a.com","weight":9223372036854775807},{"host":"b.com","weight":3}]})"));
  ASSERT_TRUE(array.ok()) << array.error().context;
  EXPECT_EQ(array->nodes[0].weight, Node::kMaxWeight);
  EXPECT_EQ(array->nodes[1].weight, 1);

  // At or below the cap, weights are kept as configured.
  Result<Upstream> small =
      parse_upstream(json::parse(R"({"nodes":{"a.com:80":1000000,"b.com:80":3}})"));
  ASSERT_TRUE(small.ok()) << small.error().context;
  EXPECT_EQ(small->nodes[0].weight, 1000000);
  EXPECT_EQ(small->nodes[1].weight, 3);
}

TEST(ParseUpstream, UnboundedIntegersAreSaturated) {
  Result<Upstream> up = parse_upstream(json::parse(
      R"({"nodes":[{"host":"a.com","weight":1,"priority":4294967296},
                   {"host":"b.com","weight":1,"priority":-4294967296}],
          "retries":1e12,"keepalive_pool":{"size":1e12,"requests":4294967296,"foo":"bar"}})"));
  ASSERT_TRUE(up.ok()) << up.error().context;
  EXPECT_EQ(up->nodes[0].priority, std::numeric_limits<int>::max());
  EXPECT_EQ(up->nodes[1].priority, std::numeric_limits<int>::min());
  EXPECT_EQ(up->retries, Upstream::kMaxRetries);
  EXPECT_GT(up->retries + 1, up->retries);  // the first try still fits
  ASSERT_TRUE(up->keepalive_pool.has_value());
  EXPECT_EQ(up->keepalive_pool->size, std::numeric_limits<uint32_t>::max());
  EXPECT_EQ(up->keepalive_pool->requests, std::numeric_limits<uint32_t>::max());
  EXPECT_DOUBLE_EQ(up->keepalive_pool->idle_timeout, 60);
}

TEST(ParseUpstream, EmptyDiscoveryTypeIsKept) {
  Result<Upstream> up = parse_upstream(json::parse(R"({"service_name":"s","discovery_type":""})"));
  ASSERT_TRUE(up.ok()) << up.error().context;
  EXPECT_EQ(up->service_name, "s");
  EXPECT_EQ(up->discovery_type, "");
  EXPECT_TRUE(up->nodes.empty());
}

// Map keys are split as APISIX's core.utils.parse_addr splits them (core.md §4.4.1).
TEST(ParseUpstream, MapKeysAreSplitLikeParseAddr) {
  Result<Upstream> up = parse_upstream(json::parse(
      R"({"nodes":{"a:b:c":1,"fe80::1":1,"::ffff:1.2.3.4":1,"a.b:c:8080":1,"::1:80":1}})"));
  ASSERT_TRUE(up.ok()) << up.error().context;
  ASSERT_EQ(up->nodes.size(), 5u);
  // A second ':' before any '.': an address without port; "a:b:c" is no IPv6 address, so a
  // host name (which will not resolve).
  EXPECT_EQ(up->nodes[0].host, "a:b:c");
  EXPECT_EQ(up->nodes[0].port, 80);
  EXPECT_FALSE(up->nodes[0].host_is_ip);
  EXPECT_EQ(up->nodes[1].host, "[fe80::1]");
  EXPECT_TRUE(up->nodes[1].host_is_ip);
  EXPECT_EQ(up->nodes[2].host, "[::ffff:1.2.3.4]");
  EXPECT_TRUE(up->nodes[2].host_is_ip);
  // A '.' first: host and port split at the last ':'.
  EXPECT_EQ(up->nodes[3].host, "a.b:c");
  EXPECT_EQ(up->nodes[3].port, 8080);
  EXPECT_FALSE(up->nodes[3].host_is_ip);
  // Ambiguous, and read as APISIX reads it: IPv6 ::1:80 with the default port.
  EXPECT_EQ(up->nodes[4].host, "[::1:80]");
  EXPECT_EQ(up->nodes[4].port, 80);

  Result<Upstream> bad = parse_upstream(json::parse(R"({"nodes":{"a.b:c:x":1}})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().context,
            "invalid configuration: property \"nodes\" validation failed: invalid node address "
            "\"a.b:c:x\": port must be a number 1..65535");
}

}  // namespace
}  // namespace apisix::config
