#include "config/standalone.h"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace apisix::config {
namespace {

namespace json = boost::json;

const EnvLookup kEnv = env_from_map({{"UPSTREAM_HOST", "10.0.0.5"}, {"PORT", "1980"}});

StandaloneConfig parse_ok(std::string_view text,
                          const std::vector<std::string>* enabled = nullptr) {
  Result<StandaloneConfig> r = parse_standalone_yaml(text, kEnv, enabled);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().context);
  return r.ok() ? std::move(r).value() : StandaloneConfig{};
}

TEST(Standalone, EndFlagRules) {
  struct Case {
    const char* text;
    bool ok;
  };
  for (const Case& c :
       {Case{"routes: []\n#END", true}, Case{"routes: []\n#END\n", true},
        Case{"routes: []\n#END  \n\n", true}, Case{"#END", true}, Case{"routes: []\n", false},
        Case{"", false}, Case{"routes: []\n#END\n\n\n\n\n\n\n", false},
        Case{"#END\nroutes: []\n# trailing comment\n", false},
        Case{"routes: []\n# END\n", false}}) {
    Result<StandaloneConfig> r = parse_standalone_yaml(c.text, kEnv);
    EXPECT_EQ(r.ok(), c.ok) << c.text;
    if (!r.ok() && !c.ok) {
      EXPECT_EQ(r.error().context, "missing valid end flag") << c.text;
    }
  }
}

TEST(Standalone, ParsesResourcesAndIds) {
  StandaloneConfig c = parse_ok(R"(
upstreams:
  - id: web
    nodes:
      "10.0.0.11:8080": 3
  - id: 42
    nodes: {"a.com": 1}
  - nodes: {"b.com": 1}
services:
  - id: s1
    upstream_id: web
routes:
  - id: r1
    uri: /api/*
    hosts: ["API.example.com"]
    upstream_id: web
  - uri: /two
    service_id: s1
#END
)");
  EXPECT_TRUE(c.item_errors.empty()) << c.item_errors.front();
  ASSERT_EQ(c.upstreams.size(), 3u);
  EXPECT_EQ(c.upstreams[0].id, "web");
  EXPECT_EQ(c.upstreams[1].id, "42");
  EXPECT_EQ(c.upstreams[2].id, "arr_3");
  ASSERT_EQ(c.services.size(), 1u);
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].id, "r1");
  EXPECT_EQ(c.routes[0].hosts, std::vector<std::string>{"api.example.com"});
  EXPECT_EQ(c.routes[1].id, "arr_2");
  // raw carries the normalised ids.
  EXPECT_EQ(c.raw.at("upstreams").at(1).at("id"), json::value("42"));
  EXPECT_EQ(c.raw.at("routes").at(1).at("id"), json::value("arr_2"));
}

TEST(Standalone, InvalidItemsAreSkippedAndReported) {
  StandaloneConfig c = parse_ok(R"(
routes:
  - id: good
    uri: /a
    upstream_id: u
  - id: bad
    uri: /b
  - uri: /c
    upstream_id: u
    bogus: 1
  - "not a route"
  - id: good
    uri: /d
    upstream_id: u
upstreams:
  - id: u
    nodes: {"127.0.0.1:0": 1}
#END
)");
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].id, "good");
  EXPECT_TRUE(c.upstreams.empty());
  ASSERT_EQ(c.item_errors.size(), 5u);
  EXPECT_EQ(c.item_errors[0],
            "upstream u: invalid configuration: property \"nodes\" validation failed: invalid "
            "node address \"127.0.0.1:0\": port must be a number 1..65535");
  EXPECT_EQ(
      c.item_errors[1],
      R"(route bad: invalid configuration: object matches none of the required: ["plugins"] or ["script"] or ["upstream"] or ["upstream_id"] or ["service_id"])");
  EXPECT_EQ(c.item_errors[2],
            "route arr_3: invalid configuration: additional properties forbidden, found bogus");
  EXPECT_EQ(c.item_errors[3],
            "route arr_4: invalid configuration: wrong type: expected object, got string");
  EXPECT_EQ(c.item_errors[4], "route good: duplicate id, item 5 skipped");
}

TEST(Standalone, NullPluginIsEmptyObject) {
  StandaloneConfig c = parse_ok(R"(
routes:
  - uri: /a
    plugins:
      key-auth:
      echo: {body: hi}
consumers:
  - username: jack
    plugins:
      key-auth:
#END
)");
  ASSERT_EQ(c.routes.size(), 1u) << (c.item_errors.empty() ? "" : c.item_errors.front());
  EXPECT_EQ(c.routes[0].plugins.at("key-auth"), json::object());
  EXPECT_EQ(c.raw.at("consumers").at(0).at("plugins").at("key-auth"), json::object());
  // Consumers are keyed by username and get no synthetic id.
  EXPECT_FALSE(c.raw.at("consumers").at(0).as_object().contains("id"));
}

TEST(Standalone, EnvSubstitutionIsTextualSoQuotingDecidesType) {
  StandaloneConfig c = parse_ok(R"(
upstreams:
  - id: u
    nodes:
      - host: ${{UPSTREAM_HOST}}
        port: ${{PORT}}
        weight: 1
  - id: v
    nodes:
      - host: a.com
        port: "${{PORT}}"
        weight: 1
  - id: w
    nodes:
      - host: ${{MISSING_HOST:=b.com}}
        weight: 1
#END
)");
  ASSERT_EQ(c.upstreams.size(), 2u);
  EXPECT_EQ(c.upstreams[0].nodes.at(0).host, "10.0.0.5");
  EXPECT_EQ(c.upstreams[0].nodes.at(0).port, 1980);
  EXPECT_EQ(c.upstreams[1].id, "w");
  EXPECT_EQ(c.upstreams[1].nodes.at(0).host, "b.com");
  ASSERT_EQ(c.item_errors.size(), 1u);
  EXPECT_EQ(c.item_errors[0],
            "upstream v: invalid configuration: property \"nodes\" validation failed: failed "
            "to validate item 1: property \"port\" validation failed: wrong type: expected "
            "integer, got string");
}

TEST(Standalone, MissingEnvFailsTheFile) {
  Result<StandaloneConfig> r = parse_standalone_yaml("routes:\n  - uri: ${{NOPE}}\n#END\n", kEnv);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().context,
            "failed to handle configuration: can't find environment variable NOPE");
}

TEST(Standalone, PlainAndQuotedScalars) {
  StandaloneConfig c = parse_ok(R"(
routes:
  - id: "007"
    uri: /a
    priority: 10
    enable_websocket: yes
    upstream_id: u
  - id: 8
    uri: /b
    priority: "10"
    upstream_id: u
  - id: 9
    uri: "123"
    upstream_id: u
  - id: 10
    uri: 123
    upstream_id: u
#END
)");
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].id, "007");
  EXPECT_EQ(c.routes[0].priority, 10);
  EXPECT_TRUE(c.routes[0].enable_websocket);
  EXPECT_EQ(c.routes[1].id, "9");
  EXPECT_EQ(c.routes[1].uris, std::vector<std::string>{"123"});
  ASSERT_EQ(c.item_errors.size(), 2u);
  EXPECT_EQ(c.item_errors[0],
            "route 8: invalid configuration: property \"priority\" validation failed: wrong "
            "type: expected integer, got string");
  EXPECT_EQ(c.item_errors[1],
            "route 10: invalid configuration: property \"uri\" validation failed: wrong type: "
            "expected string, got number");
}

TEST(Standalone, YamlErrorFailsTheWholeFile) {
  Result<StandaloneConfig> r = parse_standalone_yaml("routes: [\n#END\n", kEnv);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().context.rfind("invalid YAML: ", 0), 0u) << r.error().context;
  Result<StandaloneConfig> list = parse_standalone_yaml("- a\n#END\n", kEnv);
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.error().context,
            "invalid standalone configuration: the top level must be a mapping, got array");
}

TEST(Standalone, EmptyFileIsAnEmptyConfiguration) {
  StandaloneConfig c = parse_ok("#END\n");
  EXPECT_TRUE(c.routes.empty());
  EXPECT_TRUE(c.item_errors.empty());
  EXPECT_FALSE(c.plugins.has_value());
  EXPECT_TRUE(c.raw.is_object());
}

// A collection that is not a list fails the whole file, so the previous one stays in force.
TEST(Standalone, CollectionThatIsNotAListFailsTheFile) {
  auto c = parse_standalone_yaml("routes:\n  uri: /a\n#END\n", kEnv);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().context, "routes: expected a list, got object");
  auto n = parse_standalone_yaml("routes: 42\n#END\n", kEnv);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().context, "routes: expected a list, got number");
}

TEST(Standalone, ModifiedIndexIsAccepted) {
  StandaloneConfig c =
      parse_ok("routes:\n  - uri: /a\n    upstream_id: u\n    modifiedIndex: 3\n#END\n");
  EXPECT_EQ(c.routes.size(), 1u);
  EXPECT_TRUE(c.item_errors.empty());
}

TEST(Standalone, PluginsMustBeEnabled) {
  const std::string text = R"(
routes:
  - id: a
    uri: /a
    plugins: {key-auth: {}}
  - id: b
    uri: /b
    plugins: {limit-count: {count: 1, time_window: 1}}
services:
  - id: s
    plugins: {limit-count: {}}
#END
)";
  std::vector<std::string> enabled{"key-auth"};
  StandaloneConfig c = parse_ok(text, &enabled);
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].id, "a");
  EXPECT_TRUE(c.services.empty());
  EXPECT_EQ(c.item_errors, (std::vector<std::string>{"service s: unknown plugin [limit-count]",
                                                     "route b: unknown plugin [limit-count]"}));

  // Without a list nothing is checked.
  EXPECT_EQ(parse_ok(text).routes.size(), 2u);

  // The file's own plugins list replaces the enabled list; stream plugins do not count.
  StandaloneConfig own = parse_ok(
      "plugins:\n  - name: limit-count\n  - name: key-auth\n    stream: true\n" + text, &enabled);
  ASSERT_TRUE(own.plugins.has_value());
  EXPECT_EQ(*own.plugins, std::vector<std::string>{"limit-count"});
  ASSERT_EQ(own.routes.size(), 1u);
  EXPECT_EQ(own.routes[0].id, "b");
  EXPECT_EQ(own.services.size(), 1u);
}

TEST(Standalone, OtherKindsStayRaw) {
  StandaloneConfig c = parse_ok(R"(
global_rules:
  - id: 1
    plugins:
      prometheus:
ssls:
  - snis: [a.com]
plugin_metadata:
  - id: http-logger
    log_format: {host: $host}
#END
)");
  EXPECT_EQ(c.raw.at("global_rules").at(0).at("id"), json::value("1"));
  EXPECT_EQ(c.raw.at("global_rules").at(0).at("plugins").at("prometheus"), json::object());
  EXPECT_EQ(c.raw.at("ssls").at(0).at("id"), json::value("arr_1"));
  EXPECT_EQ(c.raw.at("plugin_metadata").at(0).at("id"), json::value("http-logger"));
}

}  // namespace
}  // namespace apisix::config
