#include "plugins/catalog.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "schema/json_schema.h"

namespace apisix::plugins {
namespace {

namespace json = boost::json;

// Which of a plugin's documents a check uses (plugins.md §1.5).
enum class Doc { Route, Consumer, Metadata };

std::string_view text_of(const PluginFacts& facts, Doc doc) {
  switch (doc) {
    case Doc::Route:
      return facts.schema;
    case Doc::Consumer:
      return facts.consumer_schema;
    case Doc::Metadata:
      return facts.metadata_schema;
  }
  return {};
}

// The compiled document of a built-in plugin, compiled once per test binary; nullptr (and a
// test failure) when the plugin or document is missing or does not compile.
const schema::Schema* compiled(std::string_view name, Doc doc) {
  static std::map<std::pair<std::string, Doc>, std::shared_ptr<const schema::Schema>> cache;
  auto key = std::make_pair(std::string(name), doc);
  if (auto it = cache.find(key); it != cache.end()) {
    return it->second.get();
  }
  const PluginFacts* facts = find_facts(name);
  if (facts == nullptr || text_of(*facts, doc).empty()) {
    ADD_FAILURE() << "no such document for " << name;
    return nullptr;
  }
  auto result = schema::Schema::compile(json::parse(text_of(*facts, doc)));
  if (!result) {
    ADD_FAILURE() << name << " does not compile: " << result.error().context;
    return nullptr;
  }
  return (cache[key] = *result).get();
}

// What checking `text` against the plugin's document says: "" when it is valid. Like APISIX's
// check_schema, this validates with defaults written in (on a copy): APISIX's `if` clauses on
// `policy` see the filled-in "local" (plugins.md §0.1).
std::string message(std::string_view name, std::string_view text, Doc doc = Doc::Route) {
  const schema::Schema* s = compiled(name, doc);
  if (s == nullptr) {
    return "<no schema>";
  }
  json::value value = json::parse(text);
  std::optional<std::string> error = s->validate(value);
  return error ? *error : "";
}

// `text` after validate(), which writes the defaults in; fails the test if it is invalid.
json::value validated(std::string_view name, std::string_view text, Doc doc = Doc::Route) {
  json::value value = json::parse(text);
  const schema::Schema* s = compiled(name, doc);
  if (s == nullptr) {
    return value;
  }
  std::optional<std::string> error = s->validate(value);
  EXPECT_FALSE(error) << name << ": " << text << ": " << error.value_or("");
  return value;
}

// One configuration and what the schema says about it: "" = accepted, otherwise APISIX's
// message (taken from t/plugin/<name>.t where it has one).
struct Example {
  std::string_view json;
  std::string_view error;
};

void expect_examples(std::string_view name, const std::vector<Example>& examples,
                     Doc doc = Doc::Route) {
  for (const Example& e : examples) {
    EXPECT_EQ(message(name, e.json, doc), e.error) << name << ": " << e.json;
  }
}

// Asserts that validating `input` yields exactly `expected` (defaults included).
void expect_filled(std::string_view name, std::string_view input, std::string_view expected,
                   Doc doc = Doc::Route) {
  EXPECT_EQ(validated(name, input, doc), json::parse(expected))
      << name << ": " << input << " became " << json::serialize(validated(name, input, doc));
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// ---------------------------------------------------------------------------------------
// The catalogue itself.

struct ExpectedFacts {
  std::string_view name;
  int priority;
  bool has_consumer_schema;
  bool has_metadata_schema;
  std::string_view version;
  std::string_view type;
  std::string_view run_policy;
};

// APISIX 3.18's module tables (plugins.md, plugin index): name, priority, whether it has a
// consumer schema and a metadata schema, version, type, run_policy. None has a scope.
constexpr ExpectedFacts kExpected[] = {
    {"basic-auth", 2520, true, false, "0.1", "auth", ""},
    {"consumer-restriction", 2400, false, false, "0.1", "", ""},
    {"cors", 4000, false, true, "0.1", "", ""},
    {"echo", 412, false, false, "0.1", "", ""},
    {"fault-injection", 11000, false, false, "0.1", "", ""},
    {"ip-restriction", 3000, false, false, "0.1", "", ""},
    {"key-auth", 2500, true, false, "0.1", "auth", ""},
    {"limit-conn", 1003, false, false, "0.1", "", ""},
    {"limit-count", 1002, false, true, "0.5", "", ""},
    {"limit-req", 1001, false, false, "0.1", "", ""},
    {"mocking", 10900, false, false, "0.1", "", ""},
    {"prometheus", 500, false, true, "0.2", "", "prefer_route"},
    {"proxy-rewrite", 1008, false, false, "0.1", "", ""},
    {"redirect", 900, false, false, "0.1", "", ""},
    {"request-id", 12015, false, false, "0.1", "", ""},
    {"response-rewrite", 899, false, false, "0.1", "", ""},
};

TEST(PluginCatalog, ListsTheFirstSixteenPluginsAlphabeticallyWithApisixFacts) {
  std::span<const PluginFacts> facts = builtin_facts();
  ASSERT_EQ(facts.size(), std::size(kExpected));
  for (size_t i = 0; i < facts.size(); ++i) {
    const ExpectedFacts& want = kExpected[i];
    const PluginFacts& got = facts[i];
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.priority, want.priority) << want.name;
    EXPECT_EQ(got.version, want.version) << want.name;
    EXPECT_EQ(got.type, want.type) << want.name;
    EXPECT_EQ(got.scope, "") << want.name;
    EXPECT_EQ(got.run_policy, want.run_policy) << want.name;
    EXPECT_FALSE(got.schema.empty()) << want.name;
    EXPECT_EQ(!got.consumer_schema.empty(), want.has_consumer_schema) << want.name;
    EXPECT_EQ(!got.metadata_schema.empty(), want.has_metadata_schema) << want.name;
  }
  EXPECT_TRUE(std::ranges::is_sorted(facts, {}, &PluginFacts::name));
}

TEST(PluginCatalog, FindsPluginsByApisixName) {
  for (const ExpectedFacts& want : kExpected) {
    const PluginFacts* got = find_facts(want.name);
    ASSERT_NE(got, nullptr) << want.name;
    EXPECT_EQ(got->name, want.name);
    EXPECT_EQ(got->priority, want.priority);
  }
  EXPECT_EQ(find_facts("jwt-auth"), nullptr);  // an APISIX plugin we do not have yet
  EXPECT_EQ(find_facts("limit_count"), nullptr);
  EXPECT_EQ(find_facts("Limit-Count"), nullptr);
  EXPECT_EQ(find_facts(""), nullptr);
  EXPECT_EQ(find_facts("zzz"), nullptr);
}

TEST(PluginCatalog, EveryDocumentParsesAndCompiles) {
  for (const PluginFacts& facts : builtin_facts()) {
    for (Doc doc : {Doc::Route, Doc::Consumer, Doc::Metadata}) {
      std::string_view text = text_of(facts, doc);
      if (text.empty()) {
        continue;
      }
      boost::system::error_code ec;
      json::value document = json::parse(text, ec);
      ASSERT_FALSE(ec) << facts.name << ": " << ec.message();
      ASSERT_TRUE(document.is_object()) << facts.name;
      EXPECT_EQ(document.at("type"), "object") << facts.name;
      auto result = schema::Schema::compile(document);
      EXPECT_TRUE(result) << facts.name << ": " << (result ? "" : result.error().context);
    }
  }
}

// The folders under src/plugins/ that hold a schema.json are exactly the catalogue (folder
// names are the snake_case of APISIX's names), and what is embedded is what the folders hold.
TEST(PluginCatalog, MatchesThePluginFoldersInTheSourceTree) {
  const std::filesystem::path root = std::filesystem::path(APISIX_SOURCE_DIR) / "src" / "plugins";
  ASSERT_TRUE(std::filesystem::is_directory(root)) << root;
  std::set<std::string> folders;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (entry.is_directory() && std::filesystem::exists(entry.path() / "schema.json")) {
      folders.insert(entry.path().filename().string());
    }
  }
  std::set<std::string> catalogue;
  for (const PluginFacts& facts : builtin_facts()) {
    std::string folder(facts.name);
    std::ranges::replace(folder, '-', '_');
    catalogue.insert(folder);

    const std::filesystem::path dir = root / folder;
    EXPECT_EQ(read_file(dir / "schema.json"), facts.schema) << folder;
    const std::pair<const char*, std::string_view> optional_docs[] = {
        {"consumer_schema.json", facts.consumer_schema},
        {"metadata_schema.json", facts.metadata_schema},
    };
    for (const auto& [file, text] : optional_docs) {
      if (std::filesystem::exists(dir / file)) {
        EXPECT_EQ(read_file(dir / file), text) << folder << "/" << file;
      } else {
        EXPECT_EQ(text, "") << folder << "/" << file;
      }
    }
  }
  EXPECT_EQ(folders, catalogue);
}

// ---------------------------------------------------------------------------------------
// Per plugin: examples from APISIX's docs and t/plugin/<name>.t, and the defaults filled in.
// Messages are the schema's; where APISIX's check_schema adds a check of its own (noted), the
// schema alone accepts the configuration and the plugin's compile step will reject it.

TEST(KeyAuthSchema, ConsumerExamples) {
  expect_examples(
      "key-auth",
      {
          {R"({"key": "test-key"})", ""},
          {R"({"key": 123})",
           R"(property "key" validation failed: wrong type: expected string, got number)"},
          {R"({})", R"(property "key" is required)"},
          {R"({"key": "$secret://vault/1/jack/key"})", ""},
      },
      Doc::Consumer);
}

TEST(KeyAuthSchema, RouteExamplesAndDefaults) {
  expect_examples(
      "key-auth",
      {
          {R"({})", ""},
          {R"({"header": "Authorization", "query": "auth", "hide_credentials": true})", ""},
          {R"({"anonymous_consumer": ""})",
           R"(property "anonymous_consumer" validation failed: string too short, expected at least 1, got 0)"},
          {R"({"realm": "my realm!"})", ""},
          {R"({"realm": "a\"b"})",
           R"(property "realm" validation failed: failed to match pattern "^[ -!#-[\\]-~]+$" with "a\"b")"},
          {R"({"realm": "a\\b"})",
           R"(property "realm" validation failed: failed to match pattern "^[ -!#-[\\]-~]+$" with "a\\b")"},
          {R"({"realm": ""})",
           R"(property "realm" validation failed: string too short, expected at least 1, got 0)"},
          {R"({"hide_credentials": "yes"})",
           R"(property "hide_credentials" validation failed: wrong type: expected boolean, got string)"},
      });
  expect_filled("key-auth", R"({})",
                R"({"header": "apikey", "query": "apikey", "realm": "key",
                    "hide_credentials": false})");
}

TEST(BasicAuthSchema, ConsumerExamples) {
  expect_examples(
      "basic-auth",
      {
          {R"({"username": "foo", "password": "bar"})", ""},
          {R"({"username": 123, "password": "bar"})",
           R"(property "username" validation failed: wrong type: expected string, got number)"},
          {R"({"username": "foo"})", R"(property "password" is required)"},
          {R"({"password": "bar"})", R"(property "username" is required)"},
      },
      Doc::Consumer);
}

TEST(BasicAuthSchema, RouteExamplesAndDefaults) {
  // t/plugin/basic-auth-anonymous-consumer.t TEST 8.
  expect_examples(
      "basic-auth",
      {
          {R"({"anonymous_consumer": 123})",
           R"(property "anonymous_consumer" validation failed: wrong type: expected string, got number)"},
          {R"({"anonymous_consumer": true})",
           R"(property "anonymous_consumer" validation failed: wrong type: expected string, got boolean)"},
          {R"({"anonymous_consumer": {}})",
           R"(property "anonymous_consumer" validation failed: wrong type: expected string, got table)"},
          {R"({"anonymous_consumer": ""})",
           R"(property "anonymous_consumer" validation failed: string too short, expected at least 1, got 0)"},
          {R"({"anonymous_consumer": "anonymous"})", ""},
      });
  expect_filled("basic-auth", R"({})", R"({"hide_credentials": false, "realm": "basic"})");
}

TEST(ConsumerRestrictionSchema, ExamplesAndDefaults) {
  expect_examples(
      "consumer-restriction",
      {
          // t/plugin/consumer-restriction.t TEST 2: all three lists at once are fine.
          {R"({"whitelist": ["jack1"], "blacklist": ["jack2"], "allowed_by_methods": []})", ""},
          {R"({"type": "consumer_group_id", "blacklist": ["company_a"]})", ""},
          {R"({"allowed_by_methods": [{"user": "jack1", "methods": ["POST", "PURGE"]}]})", ""},
          {R"({})",
           R"(object matches none of the required: ["blacklist"] or ["whitelist"] or ["allowed_by_methods"])"},
          {R"({"rejected_code": 401})",
           R"(object matches none of the required: ["blacklist"] or ["whitelist"] or ["allowed_by_methods"])"},
          {R"({"type": "consumer_id", "whitelist": ["jack1"]})",
           R"(property "type" validation failed: matches none of the enum values)"},
          {R"({"whitelist": []})",
           R"(property "whitelist" validation failed: expect array to have at least 1 items)"},
          {R"({"blacklist": [1]})",
           R"(property "blacklist" validation failed: failed to validate item 1: wrong type: expected string, got number)"},
          {R"({"allowed_by_methods": [{"user": "jack1", "methods": ["POST", "GETT"]}]})",
           R"(property "allowed_by_methods" validation failed: failed to validate item 1: property "methods" validation failed: failed to validate item 2: matches none of the enum values)"},
          {R"({"allowed_by_methods": [{"user": "jack1", "methods": []}]})",
           R"(property "allowed_by_methods" validation failed: failed to validate item 1: property "methods" validation failed: expect array to have at least 1 items)"},
          {R"({"whitelist": ["jack1"], "rejected_code": 199})",
           R"(property "rejected_code" validation failed: expected 199 to be at least 200)"},
      });
  // t/plugin/consumer-restriction.t TEST 1 (unknown properties are kept).
  expect_filled("consumer-restriction",
                R"({"title": "whitelist", "whitelist": ["jack1", "jack2"]})",
                R"({"rejected_code": 403, "title": "whitelist", "type": "consumer_name",
                    "whitelist": ["jack1", "jack2"]})");
}

TEST(LimitCountSchema, Examples) {
  expect_examples(
      "limit-count",
      {
          {R"({"count": 2, "time_window": 60, "rejected_code": 503, "key": "remote_addr"})", ""},
          {R"({"count": "${http_count ?? 2}", "time_window": "$arg_window"})", ""},
          {R"({"count": 2, "time_window": 60, "key_type": "constant", "key": "all"})", ""},
          // t/plugin/limit-count.t TEST 8, 9, 41, 42.
          {R"({"time_window": 60, "rejected_code": 503})",
           "value should match only one schema, but matches none"},
          {R"({"count": -100, "time_window": 60, "rejected_code": 503, "key": "remote_addr"})",
           R"(property "count" validation failed: value should match only one schema, but matches none)"},
          {R"({"count": 0, "time_window": 60, "rejected_code": 503, "key": "remote_addr"})",
           R"(property "count" validation failed: value should match only one schema, but matches none)"},
          {R"({"count": 2, "time_window": 0, "rejected_code": 503, "key": "remote_addr"})",
           R"(property "time_window" validation failed: value should match only one schema, but matches none)"},
          {R"({"count": 1.5, "time_window": 60})",
           R"(property "count" validation failed: value should match only one schema, but matches none)"},
          // t/plugin/limit-count2.t TEST 2, 3.
          {R"({"count": 1, "time_window": 600, "rejected_code": 503, "rejected_msg": true, "key": "remote_addr"})",
           R"(property "rejected_msg" validation failed: wrong type: expected string, got boolean)"},
          {R"({"count": 1, "time_window": 600, "rejected_code": 503, "rejected_msg": "", "key": "remote_addr"})",
           R"(property "rejected_msg" validation failed: string too short, expected at least 1, got 0)"},
          {R"({"count": 1, "time_window": 60, "rejected_code": 600})",
           R"(property "rejected_code" validation failed: expected 600 to be at most 599)"},
          {R"({"count": 1, "time_window": 60, "key_type": "vars"})",
           R"(property "key_type" validation failed: matches none of the enum values)"},
          {R"({"count": 1, "time_window": 60, "window_type": "rolling"})",
           R"(property "window_type" validation failed: matches none of the enum values)"},
          {R"({"count": 1, "time_window": 60, "policy": "memcached"})",
           R"(property "policy" validation failed: matches none of the enum values)"},
          // count/time_window with rules: the schema's oneOf; APISIX's check_schema then
          // rewrites this to "count/time_window and rules cannot be specified at the same time".
          {R"({"count": 1, "time_window": 60, "rules": [{"count": 1, "time_window": 60, "key": "k"}]})",
           "value should match only one schema, but matches both schemas 1 and 2"},
          {R"({"rules": [{"count": 1, "time_window": 60, "key": "${http_user}", "header_prefix": "u"}]})",
           ""},
          {R"({"rules": [{"count": 1, "time_window": 60}]})",
           R"(property "rules" validation failed: failed to validate item 1: property "key" is required)"},
          {R"({"rules": [{"count": 0, "time_window": 60, "key": "k"}]})",
           R"(property "rules" validation failed: failed to validate item 1: property "count" validation failed: value should match only one schema, but matches none)"},
          // Duplicate rule keys, group with rules and sync_interval bounds are checks of
          // APISIX's check_schema, not of the schema.
          {R"({"rules": [{"count": 1, "time_window": 60, "key": "k"}, {"count": 2, "time_window": 60, "key": "k"}]})",
           ""},
          {R"({"count": 1, "time_window": 60, "sync_interval": "1"})",
           R"(property "sync_interval" validation failed: wrong type: expected number, got string)"},
      });
}

TEST(LimitCountSchema, RedisPolicies) {
  expect_examples(
      "limit-count",
      {
          // t/plugin/limit-count-redis.t TEST 1, limit-count-redis-cluster.t TEST 1: the
          // policy's own fields are in an if/then/else chain, so the message names the clause.
          {R"({"count": 2, "time_window": 60, "rejected_code": 503, "key": "remote_addr", "policy": "redis"})",
           "then clause did not match"},
          {R"({"count": 2, "time_window": 60, "rejected_code": 503, "key": "remote_addr", "policy": "redis-cluster"})",
           "else clause did not match"},
          // t/plugin/limit-count-redis-sentinel.t TEST 1, 2.
          {R"({"count": 2, "time_window": 2, "policy": "redis-sentinel", "redis_sentinels": [{"host": "127.0.0.1", "port": 26379}], "redis_role": "master"})",
           "else clause did not match"},
          {R"({"count": 2, "time_window": 2, "policy": "redis-sentinel", "redis_master_name": "mymaster", "redis_role": "master", "redis_database": 1})",
           "else clause did not match"},
          {R"({"count": 2, "time_window": 2, "policy": "redis-sentinel", "redis_master_name": "mymaster", "redis_sentinels": [{"host": "127.0.0.1", "port": 26379, "weight": 1}]})",
           "else clause did not match"},
          {R"({"count": 2, "time_window": 2, "policy": "redis-sentinel", "redis_master_name": "mymaster", "redis_sentinels": [{"host": "127.0.0.1", "port": 26379}]})",
           ""},
          {R"({"count": 2, "time_window": 60, "policy": "redis", "redis_host": "127.0.0.1"})", ""},
          {R"({"count": 2, "time_window": 60, "policy": "redis", "redis_host": "1"})",
           "then clause did not match"},
          {R"({"count": 2, "time_window": 60, "policy": "redis", "redis_host": "127.0.0.1", "redis_keepalive_timeout": 999})",
           "then clause did not match"},
          {R"({"count": 2, "time_window": 60, "policy": "redis-cluster", "redis_cluster_nodes": ["127.0.0.1:5000"], "redis_cluster_name": "c"})",
           ""},
          {R"({"count": 2, "time_window": 60, "policy": "redis-cluster", "redis_cluster_nodes": [], "redis_cluster_name": "c"})",
           "else clause did not match"},
          // The Redis fields are not checked for other policies.
          {R"({"count": 2, "time_window": 60, "redis_host": 1})", ""},
          {R"({"count": 2, "time_window": 60, "policy": "redis", "redis_host": "$secret://vault/redis/host"})",
           ""},
      });
}

TEST(LimitCountSchema, Defaults) {
  expect_filled("limit-count", R"({"count": 1, "time_window": 60})",
                R"({"count": 1, "time_window": 60, "window_type": "fixed", "key": "remote_addr",
                    "key_type": "var", "rejected_code": 503, "policy": "local",
                    "allow_degradation": false, "show_limit_quota_header": true,
                    "sync_interval": -1})");
  expect_filled("limit-count",
                R"({"count": 1, "time_window": 60, "policy": "redis", "redis_host": "127.0.0.1"})",
                R"({"count": 1, "time_window": 60, "window_type": "fixed", "key": "remote_addr",
                    "key_type": "var", "rejected_code": 503, "policy": "redis",
                    "allow_degradation": false, "show_limit_quota_header": true,
                    "sync_interval": -1, "redis_host": "127.0.0.1", "redis_port": 6379,
                    "redis_database": 0, "redis_timeout": 1000, "redis_ssl": false,
                    "redis_ssl_verify": false, "redis_keepalive_timeout": 10000,
                    "redis_keepalive_pool": 100})");
  expect_filled("limit-count",
                R"({"count": 1, "time_window": 60, "policy": "redis-cluster",
                    "redis_cluster_nodes": ["127.0.0.1:5000", "127.0.0.1:5001"],
                    "redis_cluster_name": "redis-cluster-1"})",
                R"({"count": 1, "time_window": 60, "window_type": "fixed", "key": "remote_addr",
                    "key_type": "var", "rejected_code": 503, "policy": "redis-cluster",
                    "allow_degradation": false, "show_limit_quota_header": true,
                    "sync_interval": -1,
                    "redis_cluster_nodes": ["127.0.0.1:5000", "127.0.0.1:5001"],
                    "redis_cluster_name": "redis-cluster-1", "redis_timeout": 1000,
                    "redis_cluster_ssl": false, "redis_cluster_ssl_verify": false,
                    "redis_keepalive_timeout": 10000, "redis_keepalive_pool": 100})");
  json::value sentinel = validated("limit-count", R"({"count": 1, "time_window": 60,
      "policy": "redis-sentinel", "redis_master_name": "mymaster",
      "redis_sentinels": [{"host": "127.0.0.1", "port": 26379}]})");
  EXPECT_EQ(sentinel.at("redis_role"), "master");
  EXPECT_EQ(sentinel.at("redis_connect_timeout"), 1000);
  EXPECT_EQ(sentinel.at("redis_read_timeout"), 1000);
  EXPECT_EQ(sentinel.at("redis_keepalive_timeout"), 60000);
  EXPECT_EQ(sentinel.at("redis_database"), 0);
  EXPECT_FALSE(sentinel.as_object().contains("redis_port"));
}

// check() must see the defaults validate() would write: with no "policy", the "if policy is
// redis" clause must not match (APISIX sees "local" and accepts).
TEST(LimitCountSchema, CheckAgreesWithValidateOnDefaultedPolicy) {
  const std::pair<std::string_view, std::string_view> confs[] = {
      {"limit-count", R"({"count": 1, "time_window": 60})"},
      {"limit-req", R"({"rate": 1, "burst": 0, "key": "remote_addr"})"},
      {"limit-conn", R"({"conn": 1, "burst": 0, "default_conn_delay": 0.1, "key": "k"})"},
  };
  for (const auto& [name, conf] : confs) {
    const schema::Schema* s = compiled(name, Doc::Route);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->check(json::parse(conf)).value_or(""), message(name, conf)) << name;
  }
}

TEST(LimitCountSchema, Metadata) {
  expect_filled(
      "limit-count", R"({})",
      R"({"limit_header": "X-RateLimit-Limit", "remaining_header": "X-RateLimit-Remaining",
                    "reset_header": "X-RateLimit-Reset"})",
      Doc::Metadata);
  expect_filled(
      "limit-count", R"({"limit_header": "X-AI-RateLimit-Limit"})",
      R"({"limit_header": "X-AI-RateLimit-Limit", "remaining_header": "X-RateLimit-Remaining",
                    "reset_header": "X-RateLimit-Reset"})",
      Doc::Metadata);
  expect_examples(
      "limit-count",
      {{R"({"reset_header": 1})",
        R"(property "reset_header" validation failed: wrong type: expected string, got number)"}},
      Doc::Metadata);
}

TEST(LimitReqSchema, ExamplesAndDefaults) {
  expect_examples(
      "limit-req",
      {
          {R"({"rate": 1, "burst": 0, "rejected_code": 503, "key": "remote_addr"})", ""},
          {R"({"rate": 0.1, "burst": 0.1, "key": "$remote_addr $http_x", "key_type": "var_combination"})",
           ""},
          // t/plugin/limit-req.t TEST 7, 21.
          {R"({"rate": -1, "burst": 0.1, "rejected_code": 503, "key": "remote_addr"})",
           R"(property "rate" validation failed: expected -1 to be greater than 0)"},
          {R"({"rate": 0, "burst": 0, "rejected_code": 503, "key": "remote_addr"})",
           R"(property "rate" validation failed: expected 0 to be greater than 0)"},
          {R"({"rate": 1, "burst": -1, "key": "remote_addr"})",
           R"(property "burst" validation failed: expected -1 to be at least 0)"},
          {R"({"rate": 1, "burst": 1})", R"(property "key" is required)"},
          {R"({"burst": 1, "key": "remote_addr"})", R"(property "rate" is required)"},
          {R"({"rate": 1, "burst": 1, "key": "remote_addr", "key_type": "constant"})",
           R"(property "key_type" validation failed: matches none of the enum values)"},
          {R"({"rate": 1, "burst": 1, "key": "remote_addr", "policy": "redis-sentinel"})",
           R"(property "policy" validation failed: matches none of the enum values)"},
          {R"({"rate": 1, "burst": 1, "key": "remote_addr", "rejected_msg": ""})",
           R"(property "rejected_msg" validation failed: string too short, expected at least 1, got 0)"},
          // t/plugin/limit-req-redis.t TEST 6.
          {R"({"rate": 0.1, "burst": 0.1, "rejected_code": 503, "key": "remote_addr", "policy": "redis"})",
           "then clause did not match"},
          {R"({"rate": 1, "burst": 1, "key": "remote_addr", "policy": "redis-cluster"})",
           "else clause did not match"},
          {R"({"rate": 1, "burst": 1, "key": "remote_addr", "policy": "redis-cluster", "redis_cluster_nodes": ["127.0.0.1:5000"], "redis_cluster_name": "c"})",
           ""},
      });
  expect_filled("limit-req", R"({"rate": 1, "burst": 2, "key": "remote_addr"})",
                R"({"rate": 1, "burst": 2, "key": "remote_addr", "key_type": "var",
                    "policy": "local", "rejected_code": 503, "nodelay": false,
                    "allow_degradation": false})");
  json::value redis = validated(
      "limit-req",
      R"({"rate": 1, "burst": 2, "key": "remote_addr", "policy": "redis", "redis_host": "127.0.0.1"})");
  EXPECT_EQ(redis.at("redis_port"), 6379);
  EXPECT_EQ(redis.at("redis_timeout"), 1000);
  EXPECT_FALSE(redis.as_object().contains("key_ttl"));
}

TEST(LimitConnSchema, ExamplesAndDefaults) {
  expect_examples(
      "limit-conn",
      {
          {R"({"conn": 1, "burst": 0, "default_conn_delay": 0.1, "rejected_code": 503, "key": "remote_addr"})",
           ""},
          {R"({"conn": "$http_conn", "burst": "${http_burst ?? 0}", "default_conn_delay": 0.1, "key": "remote_addr"})",
           ""},
          // t/plugin/limit-conn.t TEST 2, 25, 31.
          {R"({"conn": 1, "default_conn_delay": 0.1, "rejected_code": 503, "key": "remote_addr"})",
           "value should match only one schema, but matches none"},
          {R"({"conn": 0, "burst": 0, "default_conn_delay": 0.1, "rejected_code": 503, "key": "remote_addr"})",
           R"(property "conn" validation failed: value should match only one schema, but matches none)"},
          {R"({"conn": 1, "burst": 0, "default_conn_delay": 0, "rejected_code": 503, "key": "remote_addr"})",
           R"(property "default_conn_delay" validation failed: expected 0 to be greater than 0)"},
          {R"({"conn": 1, "default_conn_delay": 0.1, "rejected_code": 503, "key": "consumer_name"})",
           "value should match only one schema, but matches none"},
          {R"({"conn": 1, "burst": -1, "default_conn_delay": 0.1, "key": "remote_addr"})",
           R"(property "burst" validation failed: value should match only one schema, but matches none)"},
          // t/plugin/limit-conn.t TEST 36, limit-conn2.t TEST 8, 9.
          {R"({"conn": 1, "burst": 1, "default_conn_delay": 0.1, "rejected_code": 503, "key": "remote_addr", "allow_degradation": "true1"})",
           R"(property "allow_degradation" validation failed: wrong type: expected boolean, got string)"},
          {R"({"conn": 1, "burst": 1, "default_conn_delay": 0.1, "key": "remote_addr", "rejected_msg": true})",
           R"(property "rejected_msg" validation failed: wrong type: expected string, got boolean)"},
          {R"({"conn": 1, "burst": 1, "default_conn_delay": 0.1, "key": "remote_addr", "rejected_msg": ""})",
           R"(property "rejected_msg" validation failed: string too short, expected at least 1, got 0)"},
          // t/plugin/limit-conn-variable.t TEST 5.
          {R"({"conn": 2, "burst": 1, "default_conn_delay": 0.01, "rejected_code": 503, "key": "remote_addr", "rules": [{"conn": 1, "burst": 0, "key": "${http_company}"}]})",
           "value should match only one schema, but matches both schemas 1 and 2"},
          {R"({"default_conn_delay": 0.1, "rules": [{"conn": 1, "burst": 0, "key": "${http_company}"}]})",
           ""},
          {R"({"default_conn_delay": 0.1, "rules": [{"conn": 1, "key": "${http_company}"}]})",
           R"(property "rules" validation failed: failed to validate item 1: property "burst" is required)"},
          // t/plugin/limit-conn-redis.t TEST 9.
          {R"({"burst": 1, "default_conn_delay": 0.1, "rejected_code": 503, "key": "remote_addr", "conn": 1, "policy": "redis"})",
           "then clause did not match"},
          {R"({"conn": 1, "burst": 1, "default_conn_delay": 0.1, "key": "remote_addr", "policy": "redis-cluster", "redis_cluster_nodes": ["127.0.0.1:5000"]})",
           "else clause did not match"},
      });
  expect_filled("limit-conn",
                R"({"conn": 1, "burst": 0, "default_conn_delay": 0.1, "key": "remote_addr"})",
                R"({"conn": 1, "burst": 0, "default_conn_delay": 0.1, "key": "remote_addr",
                    "only_use_default_delay": false, "key_type": "var", "policy": "local",
                    "rejected_code": 503, "allow_degradation": false})");
  json::value redis = validated("limit-conn", R"({"conn": 1, "burst": 0, "default_conn_delay": 0.1,
      "key": "remote_addr", "policy": "redis", "redis_host": "127.0.0.1"})");
  EXPECT_EQ(redis.at("key_ttl"), 3600);
  EXPECT_EQ(redis.at("redis_port"), 6379);
  EXPECT_EQ(redis.at("redis_keepalive_pool"), 100);
  json::value cluster =
      validated("limit-conn", R"({"conn": 1, "burst": 0, "default_conn_delay": 0.1,
      "key": "remote_addr", "policy": "redis-cluster", "redis_cluster_nodes": ["127.0.0.1:5000"],
      "redis_cluster_name": "c"})");
  EXPECT_EQ(cluster.at("key_ttl"), 3600);
  EXPECT_EQ(cluster.at("redis_cluster_ssl"), false);
}

TEST(PrometheusSchema, RouteAndMetadata) {
  expect_filled("prometheus", R"({})", R"({"prefer_name": false})");
  expect_examples(
      "prometheus",
      {{R"({"prefer_name": true})", ""},
       {R"({"prefer_name": "yes"})",
        R"(property "prefer_name" validation failed: wrong type: expected boolean, got string)"}});
  expect_examples(
      "prometheus",
      {
          {R"({})", ""},
          {R"({"disabled_labels": {"http_status": ["node", "consumer"], "bandwidth": ["route"]}})",
           ""},
          {R"({"disabled_labels": {"ai_cache_misses_total": ["route"], "llm_latency": ["route_id"]}})",
           ""},
          // t/plugin/prometheus-label-filter.t TEST 6, 7: structural labels and unknown metrics.
          {R"({"disabled_labels": {"http_status": ["code"]}})",
           R"(property "disabled_labels" validation failed: property "http_status" validation failed: failed to validate item 1: matches none of the enum values)"},
          {R"({"disabled_labels": {"unknown_metric": ["node"]}})",
           R"(property "disabled_labels" validation failed: additional properties forbidden, found unknown_metric)"},
          {R"({"disabled_labels": {"http_latency": ["node", "type"]}})",
           R"(property "disabled_labels" validation failed: property "http_latency" validation failed: failed to validate item 2: matches none of the enum values)"},
          {R"({"disabled_labels": {"ai_cache_hits_total": ["layer"]}})",
           R"(property "disabled_labels" validation failed: property "ai_cache_hits_total" validation failed: failed to validate item 1: matches none of the enum values)"},
          {R"({"disabled_labels": {"bandwidth": ["matched_uri"]}})",
           R"(property "disabled_labels" validation failed: property "bandwidth" validation failed: failed to validate item 1: matches none of the enum values)"},
      },
      Doc::Metadata);
}

TEST(ProxyRewriteSchema, ExamplesAndDefaults) {
  expect_examples(
      "proxy-rewrite",
      {
          {R"({"uri": "/test/home.html", "host": "apisix.iresty.com", "headers": {"X-Api-Version": "v2", "X-Num": 1}})",
           ""},
          {R"j({"regex_uri": ["^/iresty/(.*)/(.*)/(.*)", "/$1_$2_$3"], "method": "POST"})j", ""},
          {R"({"host": "test.com:8080"})", ""},
          {R"({"headers": {"add": {"X-A": ["1", 2]}, "set": {"X-B": 1}, "remove": ["X-C"]}})", ""},
          // t/plugin/proxy-rewrite.t TEST 30, proxy-rewrite3.t TEST 5.
          {R"({"uri": "home"})",
           R"(property "uri" validation failed: failed to match pattern "^\\/.*" with "home")"},
          {R"({"uri": "/apisix/home", "method": "GET1", "host": "apisix.iresty.com"})",
           R"(property "method" validation failed: matches none of the enum values)"},
          // minProperties is counted after defaults are in (as the Lua library does), and
          // use_real_request_uri_unsafe has one, so even {} passes.
          {R"({})", ""},
          {R"({"uri": ""})",
           R"(property "uri" validation failed: string too short, expected at least 1, got 0)"},
          {R"({"host": "a b"})",
           R"(property "host" validation failed: failed to match pattern "^[0-9a-zA-Z-.]+(:\\d{1,5})?$" with "a b")"},
          {R"({"regex_uri": ["^/api"]})",
           R"(property "regex_uri" validation failed: expect array to have at least 2 items)"},
          {R"({"headers": {}})",
           R"(property "headers" validation failed: value should match only one schema, but matches none)"},
          {R"({"headers": {"add": {"X-A": "1"}, "rename": {"a": "b"}}})",
           R"(property "headers" validation failed: value should match only one schema, but matches none)"},
          {R"({"headers": {"X-A": true}})",
           R"(property "headers" validation failed: value should match only one schema, but matches none)"},
          {R"({"headers": {"set": {"X-B": []}}})",
           R"(property "headers" validation failed: value should match only one schema, but matches none)"},
          // The legacy header map's name/value character checks are APISIX's check_schema's.
          {R"({"headers": {"X-A\nB": "1"}})", ""},
      });
  expect_filled("proxy-rewrite", R"({"uri": "/x"})",
                R"({"uri": "/x", "use_real_request_uri_unsafe": false})");
}

TEST(ResponseRewriteSchema, ExamplesAndDefaults) {
  expect_examples(
      "response-rewrite",
      {
          // t/plugin/response-rewrite.t TEST 1, 2, 3.
          {R"({"body": "Hello world", "headers": {"X-Server-id": 3}})", ""},
          {R"({"status_code": 599})",
           R"(property "status_code" validation failed: expected 599 to be at most 598)"},
          {R"({"body": 2, "headers": {"X-Server-id": "3"}})",
           R"(property "body" validation failed: wrong type: expected string, got number)"},
          // t/plugin/response-rewrite2.t TEST 1.
          {R"({"body": "test"})", ""},
          {R"({"filters": [{"regex": "l", "replace": "m"}]})", ""},
          {R"({"filters": []})",
           R"(property "filters" validation failed: expect array to have at least 1 items)"},
          {R"({"filters": [{"regex": "l"}]})",
           R"(property "filters" validation failed: failed to validate item 1: property "replace" is required)"},
          {R"({"filters": [{"regex": "", "replace": "m"}]})",
           R"(property "filters" validation failed: failed to validate item 1: property "regex" validation failed: string too short, expected at least 1, got 0)"},
          {R"({"filters": [{"regex": "l", "replace": "m", "scope": ""}]})",
           R"(property "filters" validation failed: failed to validate item 1: property "scope" validation failed: matches none of the enum values)"},
          // t/plugin/response-rewrite2.t TEST 19.
          {R"({"headers": {"add": [["headers:"]]}})",
           R"(property "headers" validation failed: object matches none of the required)"},
          {R"({"headers": {"remove": [["headers:"]]}})",
           R"(property "headers" validation failed: object matches none of the required)"},
          {R"({"headers": {"set": [["headers"]]}})",
           R"(property "headers" validation failed: object matches none of the required)"},
          {R"({"headers": {"set": [{"": 1}]}})",
           R"(property "headers" validation failed: object matches none of the required)"},
          {R"({"headers": {"set": [{"a": true}]}})",
           R"(property "headers" validation failed: object matches none of the required)"},
          {R"({"headers": {"add": ["X-A: 1"], "set": {"X-B": "2"}, "remove": ["X-C"]}})", ""},
          {R"({"headers": {"add": ["X-A: http://x/"]}})",
           R"(property "headers" validation failed: object matches none of the required)"},
          {R"({"vars": [["status", "==", 200]], "status_code": 403})", ""},
          {R"({"vars": "status"})",
           R"(property "vars" validation failed: wrong type: expected array, got string)"},
          {R"({"max_resp_body_size": 0, "body": "x"})",
           R"(property "max_resp_body_size" validation failed: expected 0 to be at least 1)"},
      });
  // body and filters exclude each other through two dependencies; which one APISIX reports
  // depends on Lua's table order, hence the "filters|body" of its test.
  std::string both = message("response-rewrite",
                             R"({"body": "test", "filters": [{"regex": "l", "replace": "m"}]})");
  EXPECT_TRUE(
      both ==
          R"(failed to validate dependent schema for "filters": value wasn't supposed to match schema)" ||
      both ==
          R"(failed to validate dependent schema for "body": value wasn't supposed to match schema)")
      << both;
  expect_filled("response-rewrite", R"({"body": "x"})",
                R"({"body": "x", "body_base64": false, "max_resp_body_size": 67108864})");
  expect_filled("response-rewrite", R"({"filters": [{"regex": "l", "replace": "m"}]})",
                R"({"filters": [{"regex": "l", "replace": "m", "scope": "once", "options": "jo"}],
                    "body_base64": false, "max_resp_body_size": 67108864})");
}

TEST(EchoSchema, Examples) {
  expect_examples(
      "echo",
      {
          // t/plugin/echo.t TEST 1, 2.
          {R"({"before_body": "body before", "body": "body to attach", "after_body": "body to attach"})",
           ""},
          {R"({"before_body": "body before", "body": "body to attach", "after_body": 10})",
           R"(property "after_body" validation failed: wrong type: expected string, got number)"},
          {R"({"before_body": "x", "headers": {"Location": "https://www.iresty.com", "X-N": 1}})",
           ""},
          {R"({})", "expect object to have at least 1 properties"},
          {R"({"headers": {"Location": "https://www.iresty.com"}})",
           R"(object matches none of the required: ["before_body"] or ["body"] or ["after_body"])"},
          {R"({"body": "x", "headers": {}})",
           R"(property "headers" validation failed: expect object to have at least 1 properties)"},
      });
  expect_filled("echo", R"({"body": "x"})", R"({"body": "x"})");
}

TEST(RequestIdSchema, ExamplesAndDefaults) {
  constexpr std::string_view kCharSet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIGKLMNOPQRSTUVWXYZ0123456789";  // APISIX's, "IGK" too
  expect_examples(
      "request-id",
      {
          // t/plugin/request-id.t TEST 1, 2, 12.
          {R"({})", ""},
          {R"({"include_in_response": "bad_type"})",
           R"(property "include_in_response" validation failed: wrong type: expected boolean, got string)"},
          {R"({"algorithm": "bad_algorithm"})",
           R"(property "algorithm" validation failed: matches none of the enum values)"},
          {R"({"algorithm": "nanoid"})", ""},
          {R"({"algorithm": "uuidv7", "header_name": "X-Trace"})", ""},
          {R"({"algorithm": "range_id", "range_id": {"length": 5}})",
           R"(property "range_id" validation failed: property "length" validation failed: expected 5 to be at least 6)"},
          {R"({"algorithm": "range_id", "range_id": {"char_set": "abc"}})",
           R"(property "range_id" validation failed: property "char_set" validation failed: string too short, expected at least 6, got 3)"},
      });
  json::value filled = validated("request-id", R"({})");
  EXPECT_EQ(filled.at("header_name"), "X-Request-Id");
  EXPECT_EQ(filled.at("include_in_response"), true);
  EXPECT_EQ(filled.at("algorithm"), "uuid");
  EXPECT_EQ(filled.at("range_id").at("length"), 16);
  EXPECT_EQ(filled.at("range_id").at("char_set").as_string(), kCharSet);
  json::value partial =
      validated("request-id", R"({"algorithm": "range_id", "range_id": {"length": 10}})");
  EXPECT_EQ(partial.at("range_id").at("length"), 10);
  EXPECT_EQ(partial.at("range_id").at("char_set").as_string(), kCharSet);
}

TEST(IpRestrictionSchema, ExamplesAndDefaults) {
  constexpr std::string_view kNotAnIp =
      R"(property "whitelist" validation failed: failed to validate item 1: object matches none of the required)";
  expect_examples(
      "ip-restriction",
      {
          // t/plugin/ip-restriction.t TEST 2-6, 19, 24.
          {R"({"whitelist": ["10.255.256.0/24", "192.168.0.0/16"]})", kNotAnIp},
          {R"({"whitelist": ["10.255.254.0/38", "192.168.0.0/16"]})", kNotAnIp},
          {R"({})", "value should match only one schema, but matches none"},
          {R"({"blacklist": []})",
           R"(property "blacklist" validation failed: expect array to have at least 1 items)"},
          {R"({"whitelist": ["172.17.40.0/24"], "blacklist": ["10.255.0.0/16"]})",
           "value should match only one schema, but matches both schemas 1 and 2"},
          {R"({"whitelist": ["::1", "fe80::/32", "2001:DB8:0:23:8:800:200C:417A"]})", ""},
          {R"({"whitelist": ["::ffgg"]})", kNotAnIp},
          {R"({"blacklist": ["127.0.0.1", "10.0.0.0/8"], "message": "Do you want to do something bad?"})",
           ""},
          // "::1/129" passes the schema's IPv6/CIDR pattern; APISIX's check_schema rejects
          // it with "invalid ip address: ::1/129".
          {R"({"whitelist": ["::1/129"]})", ""},
          {R"({"whitelist": ["127.0.0.1"], "response_code": 409})",
           R"(property "response_code" validation failed: expected 409 to be at most 404)"},
          {R"({"whitelist": ["127.0.0.1"], "message": ""})",
           R"(property "message" validation failed: string too short, expected at least 1, got 0)"},
      });
  // t/plugin/ip-restriction.t TEST 1.
  expect_filled("ip-restriction", R"({"whitelist": ["10.255.254.0/24", "192.168.0.0/16"]})",
                R"({"message": "Your IP address is not allowed", "response_code": 403,
                    "whitelist": ["10.255.254.0/24", "192.168.0.0/16"]})");
}

TEST(CorsSchema, ExamplesAndDefaults) {
  expect_examples(
      "cors",
      {
          // t/plugin/cors.t TEST 1, 2.
          {R"({"allow_origins": "http://test.com", "allow_methods": "", "allow_headers": "", "expose_headers": "", "max_age": 600, "allow_credential": true})",
           ""},
          {R"({"allow_origins": "http://test.com", "allow_methods": "", "allow_headers": "", "expose_headers": "", "max_age": "600", "allow_credential": true})",
           R"(property "max_age" validation failed: wrong type: expected integer, got string)"},
          {R"({"allow_origins_by_regex": [".*\\.domain.com$"]})", ""},
          {R"({"allow_origins_by_regex": []})",
           R"(property "allow_origins_by_regex" validation failed: expect array to have at least 1 items)"},
          {R"({"allow_origins_by_metadata": ["key_1", "key_1"]})",
           R"(property "allow_origins_by_metadata" validation failed: expected unique items but items 1 and 2 are equal)"},
          {R"({"timing_allow_origins": "x.com"})",
           R"(property "timing_allow_origins" validation failed: failed to match pattern "^(\\*|\\*\\*|null|\\w+://[^,]+(,\\w+://[^,]+)*)$" with "x.com")"},
          // allow_credential with "*" is rejected by APISIX's check_schema, not the schema.
          {R"({"allow_credential": true})", ""},
      });
  // t/plugin/cors2.t TEST 1.
  for (std::string_view good :
       {"*", "**", "null", "http://y.com.uk", "https://x.com", "https://x.com,http://y.com.uk",
        "https://x.com,http://y.com.uk,http://c.tv",
        "https://x.com,http://y.com.uk:12000,http://c.tv"}) {
    json::object conf{{"allow_origins", good}};
    EXPECT_EQ(message("cors", json::serialize(conf)), "") << good;
  }
  for (std::string_view bad :
       {"", "*a", "*,http://y.com", "nulll", "http//y.com.uk", "x.com", "https://x.com,y.com.uk",
        "https://x.com,*,https://y.com.uk", "https://x.com,http://y.com.uk,http:c.tv"}) {
    json::object conf{{"allow_origins", bad}};
    EXPECT_EQ(
        message("cors", json::serialize(conf)),
        R"(property "allow_origins" validation failed: failed to match pattern "^(\\*|\\*\\*|null|\\w+://[^,]+(,\\w+://[^,]+)*)$" with ")" +
            std::string(bad) + "\"")
        << bad;
  }
  expect_filled("cors", R"({})",
                R"({"allow_origins": "*", "allow_methods": "*", "allow_headers": "*",
                    "max_age": 5, "allow_credential": false})");
}

TEST(CorsSchema, Metadata) {
  // t/plugin/cors3.t TEST 1, 2.
  expect_examples(
      "cors",
      {
          {R"({"allow_origins": {"key_1": "*", "key_2": "**", "key_3": "null", "key_4": "http://y.com.uk", "key_5": "https://x.com", "key_6": "https://x.com,http://y.com.uk", "key_7": "https://x.com,http://y.com.uk,http://c.tv", "key_8": "https://x.com,http://y.com.uk:12000,http://c.tv"}})",
           ""},
          {R"({"allow_origins": {"key_1": "https://domain.com", "key_3": "*"}, "inactive_timeout": 1})",
           ""},
          {R"({"allow_origins": {"key": "*a"}})",
           R"(property "allow_origins" validation failed: failed to validate additional property key: failed to match pattern "^(\\*|\\*\\*|null|\\w+://[^,]+(,\\w+://[^,]+)*)$" with "*a")"},
          {R"({"allow_origins": {"key": ""}})",
           R"(property "allow_origins" validation failed: failed to validate additional property key: failed to match pattern "^(\\*|\\*\\*|null|\\w+://[^,]+(,\\w+://[^,]+)*)$" with "")"},
          {R"({"allow_origins": "*"})",
           R"(property "allow_origins" validation failed: wrong type: expected object, got string)"},
      },
      Doc::Metadata);
}

TEST(FaultInjectionSchema, Examples) {
  expect_examples(
      "fault-injection",
      {
          // t/plugin/fault-injection.t TEST 1-5.
          {R"({"abort": {"http_status": 100, "body": "Fault Injection!\n"}})",
           R"(property "abort" validation failed: property "http_status" validation failed: expected 100 to be at least 200)"},
          {R"({"abort": {}})",
           R"(property "abort" validation failed: property "http_status" is required)"},
          {R"({})", "expect object to have at least 1 properties"},
          {R"({"delay": {}})",
           R"(property "delay" validation failed: property "duration" is required)"},
          {R"({"delay": {"duration": "test"}})",
           R"(property "delay" validation failed: property "duration" validation failed: wrong type: expected number, got string)"},
          {R"({"abort": {"http_status": 200, "body": "Fault Injection!\n", "percentage": 50}})",
           ""},
          {R"({"delay": {"duration": 0.5, "percentage": 100}})", ""},
          {R"({"abort": {"http_status": 403, "headers": {"X-Fault": "$remote_addr", "X-N": 1}}})",
           ""},
          {R"({"abort": {"http_status": 403, "percentage": 101}})",
           R"(property "abort" validation failed: property "percentage" validation failed: expected 101 to be at most 100)"},
          {R"({"delay": {"duration": -1}})",
           R"(property "delay" validation failed: property "duration" validation failed: expected -1 to be at least 0)"},
          {R"({"abort": {"http_status": 403, "headers": {}}})",
           R"(property "abort" validation failed: property "headers" validation failed: expect object to have at least 1 properties)"},
          {R"({"abort": {"http_status": 403, "vars": ["arg_name"]}})",
           R"(property "abort" validation failed: property "vars" validation failed: failed to validate item 1: wrong type: expected array, got string)"},
          {R"({"abort": {"http_status": 403, "vars": [[], [], [], [], [], [], [], [], [], [], [], [], [], [], [], [], [], [], [], [], []]}})",
           R"(property "abort" validation failed: property "vars" validation failed: expect array to have at most 20 items)"},
          // t/plugin/fault-injection.t TEST 27: the schema accepts it; compiling the
          // expression is what fails ("rule should be wrapped inside brackets").
          {R"({"abort": {"http_status": 403, "vars": [["arg_name", "!=", "jack"]]}})", ""},
      });
  expect_filled("fault-injection", R"({"delay": {"duration": 1}})",
                R"({"delay": {"duration": 1}})");
}

TEST(RedirectSchema, ExamplesAndDefaults) {
  expect_examples(
      "redirect",
      {
          // t/plugin/redirect.t TEST 1, 2, 25.
          {R"({"ret_code": 302, "uri": "/foo"})", ""},
          {R"({"uri": "/foo"})", ""},
          {R"({"http_to_https": true, "uri": "/hello"})",
           "value should match only one schema, but matches both schemas 1 and 3"},
          {R"({"uri": "/test/add", "ret_code": 301})", ""},
          {R"({"uri": "$uri/test/add", "ret_code": 301})", ""},
          {R"j({"regex_uri": ["^/iresty/(.)/(.)/(.*)", "/$1-$2-$3"]})j", ""},
          {R"({"http_to_https": true})", ""},
          {R"({})", "value should match only one schema, but matches none"},
          {R"({"ret_code": 302})", "value should match only one schema, but matches none"},
          {R"({"uri": "/"})",
           R"(property "uri" validation failed: string too short, expected at least 2, got 1)"},
          {R"({"uri": "/foo", "ret_code": 199})",
           R"(property "ret_code" validation failed: expected 199 to be at least 200)"},
          {R"({"regex_uri": ["^/a", "/b", "/c"]})",
           R"(property "regex_uri" validation failed: expect array to have at most 2 items)"},
          {R"({"uri": "/foo", "regex_uri": ["^/a", "/b"]})",
           "value should match only one schema, but matches both schemas 1 and 2"},
          // Only APISIX's check_schema rejects http_to_https with append_query_string.
          {R"({"http_to_https": true, "append_query_string": true})", ""},
      });
  expect_filled("redirect", R"({"uri": "/foo"})",
                R"({"uri": "/foo", "ret_code": 302, "encode_uri": false,
                    "append_query_string": false})");
  expect_filled("redirect", R"({"http_to_https": true})",
                R"({"http_to_https": true, "ret_code": 302, "encode_uri": false,
                    "append_query_string": false})");
}

TEST(MockingSchema, ExamplesAndDefaults) {
  expect_examples(
      "mocking",
      {
          {R"({"response_example": "{\"a\":1,\"b\":2}"})", ""},
          {R"({"response_schema": {"type": "object", "properties": {"a": {"type": "string"}}}, "content_type": "application/xml"})",
           ""},
          {R"({"response_example": "x", "response_headers": {"X-Mock": "$remote_addr", "X-N": 1}})",
           ""},
          {R"({})",
           R"(object matches none of the required: ["response_example"] or ["response_schema"])"},
          {R"({"delay": 1, "response_status": 201})",
           R"(object matches none of the required: ["response_example"] or ["response_schema"])"},
          {R"({"response_example": "x", "response_status": 99})",
           R"(property "response_status" validation failed: expected 99 to be at least 100)"},
          {R"({"response_example": "x", "delay": 0.5})",
           R"(property "delay" validation failed: wrong type: expected integer, got number)"},
          {R"({"response_schema": "string"})",
           R"(property "response_schema" validation failed: wrong type: expected object, got string)"},
          {R"({"response_example": "x", "response_headers": {}})",
           R"(property "response_headers" validation failed: expect object to have at least 1 properties)"},
          {R"({"response_example": "x", "response_headers": {"X-A": true}})",
           R"(property "response_headers" validation failed: failed to validate X-A (matching "^[^:]+$"): value should match only one schema, but matches none)"},
          // The media type check ("unsupported content type!") is APISIX's check_schema's.
          {R"({"response_example": "x", "content_type": "image/png"})", ""},
      });
  expect_filled("mocking", R"({"response_example": "x"})",
                R"({"response_example": "x", "delay": 0, "response_status": 200,
                    "content_type": "application/json;charset=utf8", "with_mock_header": true})");
}

}  // namespace
}  // namespace apisix::plugins
