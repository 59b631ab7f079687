#include "config/env.h"

#include <gtest/gtest.h>

namespace apisix::config {
namespace {

const EnvLookup kEnv = env_from_map({{"HOST", "10.0.0.1"}, {"PORT", "9081"}, {"EMPTY", ""}});

struct SubstCase {
  const char* name;
  const char* input;
  const char* expected;
  bool replaced;
};

class SubstituteEnvTest : public testing::TestWithParam<SubstCase> {};

TEST_P(SubstituteEnvTest, Replaces) {
  const SubstCase& c = GetParam();
  Result<Substituted> r = substitute_env(c.input, kEnv);
  ASSERT_TRUE(r.ok()) << r.error().context;
  EXPECT_EQ(r->text, c.expected);
  EXPECT_EQ(r->replaced_any, c.replaced);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SubstituteEnvTest,
    testing::Values(SubstCase{"plain", "no refs here", "no refs here", false},
                    SubstCase{"whole", "${{PORT}}", "9081", true},
                    SubstCase{"inside", "http://${{HOST}}:${{PORT}}/x", "http://10.0.0.1:9081/x",
                              true},
                    SubstCase{"spaces", "${{ PORT }}", "9081", true},
                    SubstCase{"default_unused", "${{PORT:=80}}", "9081", true},
                    SubstCase{"default_used", "${{NOPE:=80}}", "80", true},
                    SubstCase{"default_trimmed", "${{NOPE := a b }}", "a b", true},
                    SubstCase{"default_empty", "${{NOPE:=}}", "", true},
                    SubstCase{"set_but_empty", "[${{EMPTY}}]", "[]", true},
                    SubstCase{"nginx_style_kept", "$host ${host} ${{", "$host ${host} ${{", false},
                    SubstCase{"not_a_name_kept", "${{-x}}", "${{-x}}", false},
                    SubstCase{"unterminated_kept", "a ${{PORT", "a ${{PORT", false}),
    [](const testing::TestParamInfo<SubstCase>& info) { return info.param.name; });

TEST(SubstituteEnv, MissingVariableIsAnErrorNamingIt) {
  Result<Substituted> r = substitute_env("x: ${{MISSING_VAR}}", kEnv);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().context, "can't find environment variable MISSING_VAR");
}

TEST(SubstituteEnv, NullLookupBehavesLikeAnEmptyEnvironment) {
  Result<Substituted> r = substitute_env("${{A:=1}}", EnvLookup());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->text, "1");
}

}  // namespace
}  // namespace apisix::config
