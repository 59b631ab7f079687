// redirect (plugins.md §5.13): schema, compile errors, the `uri` template grammar and what the
// rewrite phase answers.
#include "plugins/redirect/redirect.h"

#include <gtest/gtest.h>

#include "plugins/testing.h"

namespace apisix::plugins {
namespace {

using testing::exit_header;
using testing::get;
using testing::schema_error;
using testing::TestRequest;

std::shared_ptr<const Plugin> make(std::string_view conf,
                                   const boost::json::value* attr = nullptr) {
  auto made = testing::compile<Redirect>(conf, attr);
  EXPECT_TRUE(made) << made.error().context;
  return made ? *made : nullptr;
}

std::string compile_error(std::string_view conf) {
  auto made = testing::compile<Redirect>(conf);
  return made ? "(compiled)" : made.error().context;
}

// The Location of the exit, or a description of what happened instead.
std::string location_of(const PhaseResult& result, int expected_status) {
  if (!result) {
    return "(continued)";
  }
  if (result->status != expected_status) {
    return "(status " + std::to_string(result->status) + ")";
  }
  return testing::exit_header(*result, "Location").value_or("(no Location)");
}

TEST(RedirectPlugin, SchemaNeedsExactlyOneTarget) {
  EXPECT_EQ(schema_error("redirect", R"j({"uri":"/test/default.html","ret_code":301})j"),
            std::nullopt);
  EXPECT_EQ(schema_error("redirect", R"j({"http_to_https":true})j"), std::nullopt);
  EXPECT_EQ(schema_error("redirect", R"j({"regex_uri":["^/(.*)","/x/$1"]})j"), std::nullopt);
  EXPECT_EQ(schema_error("redirect", R"j({"uri":"/a","http_to_https":true})j"),
            "value should match only one schema, but matches both schemas 1 and 3");
  EXPECT_NE(schema_error("redirect", R"j({"ret_code":301})j"), std::nullopt);
  EXPECT_NE(schema_error("redirect", R"j({"uri":"/"})j"), std::nullopt);  // minLength 2
  EXPECT_NE(schema_error("redirect", R"j({"regex_uri":["a","b","c"]})j"), std::nullopt);
  EXPECT_NE(schema_error("redirect", R"j({"uri":"/a","ret_code":100})j"), std::nullopt);
}

TEST(RedirectPlugin, CompileRejectsWhatCheckSchemaRejects) {
  EXPECT_EQ(compile_error(R"j({"http_to_https":true,"append_query_string":true})j"),
            "only one of `http_to_https` and `append_query_string` can be configured.");
  EXPECT_EQ(compile_error(R"j({"regex_uri":["(a","/b"]})j"),
            "invalid regex_uri ((a, /b), err:pcre2_compile() failed: missing closing "
            "parenthesis in \"(a\"");
  EXPECT_EQ(compile_error(R"j({"regex_uri":["^/(a)","/$x"]})j"),
            "invalid regex_uri (^/(a), /$x), err:failed to compile the replacement template");
}

TEST(RedirectPlugin, UriGrammarMatchesApisix) {
  auto segments = Redirect::parse_uri(R"j(/a/${uri}/$arg_x\$host$/b\c${no.dot})j");
  std::vector<std::string> shown;
  for (const auto& s : segments) {
    shown.push_back(s.is_var ? "{" + s.text + "}" : s.text);
  }
  // `\$host` stays literal with its backslash; a lone `$` is literal; a backslash that does
  // not start `\$name` is dropped; `${no.dot}` is not a variable.
  EXPECT_EQ(shown,
            (std::vector<std::string>{"/a/", "{uri}", "/", "{arg_x}", "\\$host$/bc${no.dot}"}));
}

TEST(RedirectPlugin, FixedUriWithRetCode) {
  auto plugin = make(R"j({"uri":"/test/default.html","ret_code":301})j");
  TestRequest req(get("/test/index.html"));
  PhaseResult result = testing::rewrite(*plugin, *req);
  EXPECT_EQ(location_of(result, 301), "/test/default.html");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->body, std::nullopt);  // the server's default page
}

TEST(RedirectPlugin, UriTemplateWithVariables) {
  auto plugin = make(R"j({"uri":"$uri/index.html?from=${arg_from}&missing=$nothing"})j");
  TestRequest req(get("/test?from=x"));
  EXPECT_EQ(location_of(testing::rewrite(*plugin, *req), 302), "/test/index.html?from=x&missing=");
}

TEST(RedirectPlugin, RegexUriRedirectsOnlyOnMatch) {
  auto plugin = make(R"j({"regex_uri":["^/iresty/(.*)/(.*)/(.*)","/$1-$2-$3"]})j");
  TestRequest hit(get("/iresty/a/b/c?q=1"));
  EXPECT_EQ(location_of(testing::rewrite(*plugin, *hit), 302), "/a-b-c");
  TestRequest miss(get("/other"));
  EXPECT_EQ(testing::rewrite(*plugin, *miss), std::nullopt);
}

TEST(RedirectPlugin, AppendQueryString) {
  auto plain = make(R"j({"uri":"/new","append_query_string":true})j");
  TestRequest a(get("/old?a=1&b=2"));
  EXPECT_EQ(location_of(testing::rewrite(*plain, *a), 302), "/new?a=1&b=2");
  TestRequest no_args(get("/old"));
  EXPECT_EQ(location_of(testing::rewrite(*plain, *no_args), 302), "/new");

  auto with_query = make(R"j({"uri":"/new?x=y","append_query_string":true})j");
  TestRequest b(get("/old?a=1"));
  EXPECT_EQ(location_of(testing::rewrite(*with_query, *b), 302), "/new?x=y&a=1");
}

TEST(RedirectPlugin, EncodeUriEscapesThePathOnly) {
  auto plugin = make(R"j({"uri":"/a b/$arg_p?q=x y","encode_uri":true})j");
  TestRequest req(get("/old?p=%C3%A9"), "/old");
  // arg_p is raw ("%C3%A9"): its `%` is escaped like any other.
  EXPECT_EQ(location_of(testing::rewrite(*plugin, *req), 302), "/a%20b/%25C3%25A9?q=x y");
  auto raw = make(R"j({"uri":"/a b","encode_uri":false})j");
  TestRequest plain(get("/old"));
  EXPECT_EQ(location_of(testing::rewrite(*raw, *plain), 302), "/a b");
}

TEST(RedirectPlugin, HttpToHttpsUsesThePortAndMethod) {
  auto no_port = make(R"j({"http_to_https":true})j");
  TestRequest get_req(get("/hello?a=1"));
  EXPECT_EQ(location_of(testing::rewrite(*no_port, *get_req), 301), "https://h/hello?a=1");
  TestRequest post_req(get("/hello", "Content-Length: 0\r\n", "POST"));
  EXPECT_EQ(location_of(testing::rewrite(*no_port, *post_req), 308), "https://h/hello");

  boost::json::value attr = testing::json(R"j({"https_port":9443})j");
  auto with_port = make(R"j({"http_to_https":true,"ret_code":302})j", &attr);
  TestRequest head_req(get("/hello", {}, "HEAD"));
  EXPECT_EQ(location_of(testing::rewrite(*with_port, *head_req), 301), "https://h:9443/hello");

  boost::json::value port_443 = testing::json(R"j({"https_port":443})j");
  auto default_port = make(R"j({"http_to_https":true})j", &port_443);
  TestRequest c(get("/x"));
  EXPECT_EQ(location_of(testing::rewrite(*default_port, *c), 301), "https://h/x");
}

TEST(RedirectPlugin, HttpToHttpsLeavesHttpsRequestsAlone) {
  auto plugin = make(R"j({"http_to_https":true})j");
  TestRequest forwarded(get("/hello", "X-Forwarded-Proto: https\r\n"));
  EXPECT_EQ(testing::rewrite(*plugin, *forwarded), std::nullopt);
  TestRequest forwarded_http(get("/hello", "X-Forwarded-Proto: http\r\n"));
  EXPECT_EQ(location_of(testing::rewrite(*plugin, *forwarded_http), 301), "https://h/hello");
}

TEST(RedirectPlugin, RetCode200IsAnEmptyAnswer) {
  auto plugin = make(R"j({"uri":"/x","ret_code":200})j");
  TestRequest req(get("/y"));
  PhaseResult result = testing::rewrite(*plugin, *req);
  EXPECT_EQ(location_of(result, 200), "/x");
}

}  // namespace
}  // namespace apisix::plugins
