#include "config/yaml_json.h"

#include <cmath>
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace apisix::config {
namespace {

namespace json = boost::json;

struct ScalarCase {
  const char* yaml;  // the value of key `v`
  const char* json;  // expected, as JSON text
};

class YamlScalarTest : public testing::TestWithParam<ScalarCase> {};

TEST_P(YamlScalarTest, TypesLikeApisix) {
  const ScalarCase& c = GetParam();
  Result<json::value> r = parse_yaml(std::string("v: ") + c.yaml);
  ASSERT_TRUE(r.ok()) << r.error().context;
  EXPECT_EQ(r->at("v"), json::parse(c.json)) << c.yaml << " -> " << json::serialize(r->at("v"));
}

INSTANTIATE_TEST_SUITE_P(
    Scalars, YamlScalarTest,
    testing::Values(ScalarCase{"123", "123"}, ScalarCase{"-7", "-7"}, ScalarCase{"+7", "7"},
                    ScalarCase{"0x1f", "31"}, ScalarCase{"0o17", "15"}, ScalarCase{"1.5", "1.5"},
                    ScalarCase{"-2e3", "-2000.0"}, ScalarCase{".5", "0.5"},
                    ScalarCase{"true", "true"}, ScalarCase{"False", "false"},
                    ScalarCase{"yes", "true"}, ScalarCase{"off", "false"}, ScalarCase{"ON", "true"},
                    ScalarCase{"~", "null"}, ScalarCase{"null", "null"}, ScalarCase{"", "null"},
                    ScalarCase{"\"123\"", "\"123\""}, ScalarCase{"'true'", "\"true\""},
                    ScalarCase{"'null'", "\"null\""}, ScalarCase{"\"\"", "\"\""},
                    ScalarCase{"y", "\"y\""}, ScalarCase{"1.2.3", "\"1.2.3\""},
                    ScalarCase{"127.0.0.1:80", "\"127.0.0.1:80\""}, ScalarCase{"60s", "\"60s\""},
                    ScalarCase{"!!str 123", "\"123\""}, ScalarCase{"!!int \"42\"", "42"},
                    ScalarCase{"!!float 1", "1.0"}, ScalarCase{"!!bool \"yes\"", "true"},
                    ScalarCase{"|\n  12\n", "\"12\\n\""},
                    ScalarCase{"18446744073709551615", "18446744073709551615"},
                    ScalarCase{"-9223372036854775808", "-9223372036854775808"}));

TEST(ParseYaml, SpecialFloats) {
  Result<json::value> r = parse_yaml("a: .inf\nb: -.Inf\nc: .nan\n");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(std::isinf(r->at("a").get_double()));
  EXPECT_LT(r->at("b").get_double(), 0);
  EXPECT_TRUE(std::isnan(r->at("c").get_double()));
}

TEST(ParseYaml, StructureAndKeys) {
  Result<json::value> r =
      parse_yaml("a:\n  - 1\n  - {x: y}\n8080: port\ntrue: t\n\"quoted key\": 1\ndup: 1\ndup: 2\n");
  ASSERT_TRUE(r.ok()) << r.error().context;
  EXPECT_EQ(*r, json::parse(R"({"a":[1,{"x":"y"}],"8080":"port","true":"t","quoted key":1,
                                "dup":2})"));
}

TEST(ParseYaml, EmptyDocumentIsNull) {
  for (const char* text : {"", "\n\n", "# only a comment\n", "---\n"}) {
    Result<json::value> r = parse_yaml(text);
    ASSERT_TRUE(r.ok()) << text;
    EXPECT_TRUE(r->is_null()) << text;
  }
}

TEST(ParseYaml, AliasesAreExpanded) {
  Result<json::value> r = parse_yaml("a: &x {k: 1}\nb: *x\n");
  ASSERT_TRUE(r.ok()) << r.error().context;
  EXPECT_EQ(r->at("b"), json::parse(R"({"k":1})"));
}

TEST(ParseYaml, Errors) {
  Result<json::value> bad = parse_yaml("a: [1, 2\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().context.rfind("invalid YAML: line ", 0), 0u) << bad.error().context;

  Result<json::value> complex_key = parse_yaml("? [a, b]\n: 1\n");
  ASSERT_FALSE(complex_key.ok());
  EXPECT_NE(complex_key.error().context.find("complex mapping keys"), std::string::npos);

  EXPECT_FALSE(parse_yaml("v: !!int abc\n").ok());
}

TEST(ParseYaml, DeepNestingIsRejected) {
  std::string deep(kMaxYamlDepth + 10, '[');
  deep += std::string(kMaxYamlDepth + 10, ']');
  Result<json::value> r = parse_yaml(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().context.find("nesting"), std::string::npos) << r.error().context;

  std::string very_deep(100000, '[');
  EXPECT_FALSE(parse_yaml(very_deep).ok());
}

TEST(ParseYaml, AliasBombIsRejected) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev + ", " + prev +
            ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev +
            ", " + prev + ", " + prev + "]\n";
  }
  Result<json::value> r = parse_yaml(text);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().context.find("too many values"), std::string::npos) << r.error().context;
}

TEST(ParseYaml, SelfReferencingAliasFails) { EXPECT_FALSE(parse_yaml("a: &x [*x]\n").ok()); }

}  // namespace
}  // namespace apisix::config
