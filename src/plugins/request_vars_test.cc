#include "plugins/request_vars.h"

#include <string>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "router/expr.h"

namespace apisix::plugins {
namespace {

// Parses `raw` and evaluates route `vars` expressions (core.md §5.7) against it.
class RequestVarsTest : public ::testing::Test {
 protected:
  void parse(const std::string& raw) {
    raw_ = raw;
    http::ParseResult r = http::parse_request_head(raw_, head_, http::ParseLimits{});
    ASSERT_EQ(r.status, http::ParseStatus::Complete);
    facts_.uri = head_.path;
    facts_.host = "example.com";
    facts_.remote_addr = "10.1.2.3";
    facts_.remote_port = 5555;
    facts_.server_port = 9080;
  }
  bool eval(std::string_view rule_json) {
    auto rule = boost::json::parse(rule_json);
    auto expr = router::Expr::compile(rule);
    EXPECT_TRUE(expr.ok()) << (expr.ok() ? "" : expr.error().context);
    RequestVars vars(head_, facts_);
    vars.set_params(params_);
    vars.set_body(body_);
    return expr->eval(vars);
  }

  std::string raw_;
  http::RequestHead head_;
  RequestFacts facts_;
  const router::UriParams* params_ = nullptr;
  std::string_view body_;
};

// core.md §6.9: arg_*, http_* (case and '_' vs '-' insensitive), cookie_*, builtins.
TEST_F(RequestVarsTest, ResolvesArgsHeadersCookiesAndBuiltins) {
  parse(
      "GET /api/v1?env=beta&flag HTTP/1.1\r\nHost: Example.com:9080\r\nX-Api-Key: k1\r\n"
      "Cookie: a=1; session=abc\r\n\r\n");
  EXPECT_TRUE(eval(R"([["arg_env", "==", "beta"]])"));
  EXPECT_TRUE(eval(R"([["arg_flag", "~=", null]])"));  // a bare argument is present (true)
  EXPECT_TRUE(eval(R"([["http_x_api_key", "==", "k1"]])"));
  EXPECT_TRUE(eval(R"([["cookie_session", "==", "abc"]])"));
  EXPECT_TRUE(eval(R"([["uri", "==", "/api/v1"]])"));
  EXPECT_TRUE(eval(R"([["request_uri", "==", "/api/v1?env=beta&flag"]])"));
  EXPECT_TRUE(eval(R"([["remote_addr", "ipmatch", "10.0.0.0/8"]])"));
  EXPECT_TRUE(eval(R"([["server_port", "==", 9080]])"));
  EXPECT_TRUE(eval(R"([["method", "==", "GET"]])"));
  EXPECT_FALSE(eval(R"([["arg_missing", "==", "x"]])"));
  EXPECT_FALSE(eval(R"([["cookie_nope", "==", "abc"]])"));
}

TEST_F(RequestVarsTest, CombinesWithOrAndRegex) {
  parse("GET / HTTP/1.1\r\nHost: a\r\nX-Canary: YES\r\n\r\n");
  EXPECT_TRUE(
      eval(R"(["OR", ["arg_env", "==", "beta"], ["http_x_canary", "~*", "^(yes|true)$"]])"));
  EXPECT_FALSE(eval(R"(["AND", ["arg_env", "==", "beta"], ["http_x_canary", "~*", "^yes$"]])"));
}

// core.md §5.3, §6.9: uri_param_<name> reads the matched pattern's captures; nil before
// the match (no captures given) and for names the pattern did not capture.
TEST_F(RequestVarsTest, UriParamsComeFromTheMatchedPattern) {
  parse("GET /user/42/profile HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_FALSE(eval(R"([["uri_param_id", "==", "42"]])"));
  router::UriParams params;
  params.push_back("id", "42");
  params.push_back(":ext", "profile");
  params_ = &params;
  EXPECT_TRUE(eval(R"([["uri_param_id", "==", "42"]])"));
  EXPECT_TRUE(eval(R"([["uri_param_id", ">", 41]])"));
  EXPECT_FALSE(eval(R"([["uri_param_name", "~=", null]])"));
}

// core.md §6.9: post_arg_<name> reads a form body that was read whole; nil without one.
TEST_F(RequestVarsTest, PostArgsComeFromAFormBody) {
  parse("POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n");
  EXPECT_FALSE(eval(R"([["post_arg_name", "==", "jack"]])"));
  body_ = "name=jack&age=3&vip";
  EXPECT_TRUE(eval(R"([["post_arg_name", "==", "jack"]])"));
  EXPECT_TRUE(eval(R"([["post_arg_age", "<", 10]])"));
  EXPECT_TRUE(eval(R"([["post_arg_vip", "~=", null]])"));
  EXPECT_FALSE(eval(R"([["post_arg_other", "~=", null]])"));
}

}  // namespace
}  // namespace apisix::plugins
