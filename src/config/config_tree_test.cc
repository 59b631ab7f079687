#include "config/config_tree.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace apisix::config {
namespace {

namespace json = boost::json;

struct MergeCase {
  const char* name;
  const char* base;
  const char* user;
  const char* expected;  // JSON, or the error message when `fails`
  bool fails = false;
};

class MergeTest : public testing::TestWithParam<MergeCase> {};

TEST_P(MergeTest, FollowsApisixRules) {
  const MergeCase& c = GetParam();
  json::value base = json::parse(c.base);
  Result<void> r = merge_config_tree(base, json::parse(c.user));
  if (c.fails) {
    ASSERT_FALSE(r.ok()) << json::serialize(base);
    EXPECT_EQ(r.error().context, c.expected);
    return;
  }
  ASSERT_TRUE(r.ok()) << r.error().context;
  EXPECT_EQ(base, json::parse(c.expected)) << json::serialize(base);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, MergeTest,
    testing::Values(
        MergeCase{"maps_merge_recursively", R"({"a":{"x":1,"y":{"p":1,"q":2}}})",
                  R"({"a":{"y":{"q":3,"r":4}}})", R"({"a":{"x":1,"y":{"p":1,"q":3,"r":4}}})"},
        MergeCase{"new_keys_are_added", R"({"a":1})", R"({"b":{"c":[1]}})",
                  R"({"a":1,"b":{"c":[1]}})"},
        MergeCase{"lists_replace", R"({"plugins":["a","b","c"]})", R"({"plugins":["z"]})",
                  R"({"plugins":["z"]})"},
        MergeCase{"empty_list_replaces", R"({"plugins":["a"]})", R"({"plugins":[]})",
                  R"({"plugins":[]})"},
        MergeCase{"null_deletes", R"({"a":{"x":1,"y":2}})", R"({"a":{"x":null}})",
                  R"({"a":{"y":2}})"},
        MergeCase{"null_deletes_a_section", R"({"a":{"x":1},"b":2})", R"({"a":null})",
                  R"({"b":2})"},
        MergeCase{"null_for_absent_key_is_ignored", R"({"a":1})", R"({"b":null})", R"({"a":1})"},
        MergeCase{"same_type_scalar_replaces", R"({"a":{"on":true,"n":1,"s":"x"}})",
                  R"({"a":{"on":false,"n":2.5,"s":"y"}})", R"({"a":{"on":false,"n":2.5,"s":"y"}})"},
        MergeCase{"scalar_type_mismatch", R"({"apisix":{"enable_admin":true}})",
                  R"({"apisix":{"enable_admin":"yes"}})",
                  "failed to merge, path[apisix->enable_admin] expect: boolean, but got: string",
                  true},
        MergeCase{"number_for_string", R"({"deployment":{"role":"traditional"}})",
                  R"({"deployment":{"role":1}})",
                  "failed to merge, path[deployment->role] expect: string, but got: number", true},
        MergeCase{"scalar_over_table", R"({"apisix":{"router":{"http":"x"}}})",
                  R"({"apisix":{"router":"x"}})",
                  "failed to merge, path[apisix->router] expect: table, but got: string", true},
        MergeCase{"table_over_scalar", R"({"apisix":{"enable_admin":true}})",
                  R"({"apisix":{"enable_admin":{"x":1}}})",
                  "failed to merge, path[apisix->enable_admin] expect: boolean, but got: table",
                  true},
        MergeCase{"node_listen_accepts_number", R"({"apisix":{"node_listen":[9080]}})",
                  R"({"apisix":{"node_listen":9000}})", R"({"apisix":{"node_listen":9000}})"},
        MergeCase{"node_listen_rejects_string", R"({"apisix":{"node_listen":[9080]}})",
                  R"({"apisix":{"node_listen":"9000"}})",
                  "failed to merge, path[apisix->node_listen] expect: table, but got: string",
                  true},
        MergeCase{"keyring_accepts_string", R"({"apisix":{"data_encryption":{"keyring":["a"]}}})",
                  R"({"apisix":{"data_encryption":{"keyring":"b"}}})",
                  R"({"apisix":{"data_encryption":{"keyring":"b"}}})"},
        MergeCase{"nginx_config_number_for_string",
                  R"({"nginx_config":{"worker_processes":"auto"}})",
                  R"({"nginx_config":{"worker_processes":4}})",
                  R"({"nginx_config":{"worker_processes":4}})"},
        MergeCase{"nginx_config_string_for_number",
                  R"({"nginx_config":{"event":{"worker_connections":10620}}})",
                  R"({"nginx_config":{"event":{"worker_connections":"512"}}})",
                  R"({"nginx_config":{"event":{"worker_connections":"512"}}})"},
        MergeCase{"nginx_config_boolean_still_checked",
                  R"({"nginx_config":{"http":{"underscores_in_headers":"on"}}})",
                  R"({"nginx_config":{"http":{"underscores_in_headers":false}}})",
                  "failed to merge, path[nginx_config->http->underscores_in_headers] expect: "
                  "string, but got: boolean",
                  true},
        MergeCase{"empty_map_changes_nothing", R"({"a":{"x":1}})", R"({"a":{}})",
                  R"({"a":{"x":1}})"},
        MergeCase{"map_replaces_list", R"({"a":[1]})", R"({"a":{"x":1}})", R"({"a":{"x":1}})"}),
    [](const testing::TestParamInfo<MergeCase>& info) { return info.param.name; });

TEST(MergeConfigTree, BothSidesMustBeMappings) {
  json::value base = json::parse("{}");
  EXPECT_FALSE(merge_config_tree(base, json::parse("[1]")).ok());
}

const EnvLookup kEnv = env_from_map({{"PORT", "9081"},
                                     {"RATIO", "0.25"},
                                     {"HEX", "0x10"},
                                     {"YES", "true"},
                                     {"NO", "false"},
                                     {"WORD", "hello"},
                                     {"KEY", "renamed"},
                                     {"SPACED", " 42 "}});

struct EnvTreeCase {
  const char* name;
  const char* input;
  const char* expected;
};

class EnvTreeTest : public testing::TestWithParam<EnvTreeCase> {};

TEST_P(EnvTreeTest, SubstitutesAndRetypes) {
  const EnvTreeCase& c = GetParam();
  json::value tree = json::parse(c.input);
  Result<void> r = substitute_env_in_tree(tree, kEnv);
  ASSERT_TRUE(r.ok()) << r.error().context;
  EXPECT_EQ(tree, json::parse(c.expected)) << json::serialize(tree);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EnvTreeTest,
    testing::Values(EnvTreeCase{"integer", R"({"p":"${{PORT}}"})", R"({"p":9081})"},
                    EnvTreeCase{"float", R"({"p":"${{RATIO}}"})", R"({"p":0.25})"},
                    EnvTreeCase{"hex", R"({"p":"${{HEX}}"})", R"({"p":16})"},
                    EnvTreeCase{"spaces_around_number", R"({"p":"${{SPACED}}"})", R"({"p":42})"},
                    EnvTreeCase{"boolean_true", R"({"b":"${{YES}}"})", R"({"b":true})"},
                    EnvTreeCase{"boolean_false", R"({"b":"${{NO}}"})", R"({"b":false})"},
                    EnvTreeCase{"string", R"({"s":"${{WORD}}"})", R"({"s":"hello"})"},
                    EnvTreeCase{"default_used_and_retyped", R"({"p":"${{UNSET:=8080}}"})",
                                R"({"p":8080})"},
                    EnvTreeCase{"default_string", R"({"p":"${{UNSET:=abc}}"})", R"({"p":"abc"})"},
                    EnvTreeCase{"mixed_text_stays_string", R"({"u":"http://h:${{PORT}}"})",
                                R"({"u":"http://h:9081"})"},
                    EnvTreeCase{"numeric_text_without_reference_stays_string", R"({"p":"123"})",
                                R"({"p":"123"})"},
                    EnvTreeCase{"in_lists", R"({"l":["${{PORT}}",{"x":"${{WORD}}"}]})",
                                R"({"l":[9081,{"x":"hello"}]})"},
                    EnvTreeCase{"in_keys", R"({"${{KEY}}":{"${{UNSET:=k2}}":1},"after":2})",
                                R"({"renamed":{"k2":1},"after":2})"},
                    EnvTreeCase{"key_stays_a_string", R"({"${{PORT}}":1})", R"({"9081":1})"}),
    [](const testing::TestParamInfo<EnvTreeCase>& info) { return info.param.name; });

TEST(SubstituteEnvInTree, MissingVariableNamesVariableAndKey) {
  json::value tree = json::parse(R"({"apisix":{"node_listen":["${{NO_SUCH_PORT}}"]}})");
  Result<void> r = substitute_env_in_tree(tree, kEnv);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().context,
            "failed to handle configuration: can't find environment variable NO_SUCH_PORT "
            "(at apisix.node_listen[0])");
}

TEST(SubstituteEnvInTree, MissingVariableInKey) {
  json::value tree = json::parse(R"({"${{NO_SUCH_KEY}}":1})");
  Result<void> r = substitute_env_in_tree(tree, kEnv);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().context.find("NO_SUCH_KEY"), std::string::npos);
}

}  // namespace
}  // namespace apisix::config
