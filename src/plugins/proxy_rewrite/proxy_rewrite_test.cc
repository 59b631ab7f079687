// proxy-rewrite (plugins.md §5.14): schema, compile errors and what the rewrite phase does to
// the upstream request; and the URI helpers it shares with redirect (uri_rewrite.h).
#include "plugins/proxy_rewrite/proxy_rewrite.h"

#include <gtest/gtest.h>

#include "plugins/proxy_rewrite/uri_rewrite.h"
#include "plugins/testing.h"

namespace apisix::plugins {
namespace {

using testing::added_values;
using testing::get;
using testing::schema_error;
using testing::TestRequest;

std::shared_ptr<const Plugin> make(std::string_view conf) {
  auto made = testing::compile<ProxyRewrite>(conf);
  EXPECT_TRUE(made) << made.error().context;
  return made ? *made : nullptr;
}

std::string compile_error(std::string_view conf) {
  auto made = testing::compile<ProxyRewrite>(conf);
  return made ? "(compiled)" : made.error().context;
}

// ---- uri_rewrite.h ----

TEST(ProxyRewriteUriRegex, SubstitutesFirstMatchWithCaptures) {
  auto re = UriRegex::compile("^/test/(.*)/(.*)", "/$1-${2}$$");
  ASSERT_TRUE(re) << re.error().context;
  std::string out;
  std::string error;
  std::vector<std::optional<std::string>> captures;
  EXPECT_EQ(re->substitute("/test/user/agent", out, error, &captures), UriRegex::Outcome::Matched);
  EXPECT_EQ(out, "/user-agent$");
  ASSERT_EQ(captures.size(), 3u);
  EXPECT_EQ(captures[0], "/test/user/agent");
  EXPECT_EQ(captures[1], "user");
  EXPECT_EQ(captures[2], "agent");
  EXPECT_EQ(re->substitute("/other", out, error), UriRegex::Outcome::NoMatch);
}

TEST(ProxyRewriteUriRegex, OnlyTheFirstMatchIsReplacedAndMissingCapturesAreEmpty) {
  auto re = UriRegex::compile("a(x)?", "[$1|$7]");
  ASSERT_TRUE(re) << re.error().context;
  std::string out;
  std::string error;
  EXPECT_EQ(re->substitute("baxa", out, error), UriRegex::Outcome::Matched);
  EXPECT_EQ(out, "b[x|]a");
  EXPECT_EQ(re->substitute("bab", out, error), UriRegex::Outcome::Matched);
  EXPECT_EQ(out, "b[|]b");
}

TEST(ProxyRewriteUriRegex, CompileErrorsUseLuaNginxModuleWords) {
  auto bad_pattern = UriRegex::compile("[^/test/(.*)", "/$1");
  ASSERT_FALSE(bad_pattern);
  EXPECT_EQ(bad_pattern.error().context,
            "pcre2_compile() failed: missing terminating ] for character class in "
            "\"[^/test/(.*)\"");
  auto unclosed = UriRegex::compile("(a", "x");
  ASSERT_FALSE(unclosed);
  EXPECT_EQ(unclosed.error().context,
            "pcre2_compile() failed: missing closing parenthesis in \"(a\"");
  for (std::string_view replacement : {"/$`1", "/$", "/${1", "/$name", "/${}", "/${a}"}) {
    auto bad = UriRegex::compile("^/(.*)", replacement);
    ASSERT_FALSE(bad) << replacement;
    EXPECT_EQ(bad.error().context, "failed to compile the replacement template") << replacement;
  }
}

TEST(ProxyRewriteUriRegex, EscapesAsNginxDoes) {
  EXPECT_EQ(escape_uri("/a b#c%d?e&f=g/h\x01\x7f\xc3\xa9~"),
            "/a%20b%23c%25d%3Fe&f=g/h%01%7F%C3%A9~");
  EXPECT_EQ(escape_uri_control_chars("?a=b c\r\n\x7f%"), "?a=b c%0D%0A%7F%");
}

// ---- schema and compile ----

TEST(ProxyRewritePlugin, SchemaAcceptsDocExamplesAndRejectsBadFields) {
  EXPECT_EQ(schema_error("proxy-rewrite", R"j({"host":"myapisix.demo"})j"), std::nullopt);
  EXPECT_EQ(schema_error("proxy-rewrite",
                         R"j({"uri":"/anything","headers":{"set":{"X-Api-Version":"v1"}}})j"),
            std::nullopt);
  EXPECT_EQ(schema_error("proxy-rewrite", R"j({"headers":{"set":{"X-Api-Version":["v1","v2"]}}})j"),
            std::nullopt);
  EXPECT_EQ(schema_error("proxy-rewrite", R"j({"headers":{"X-Legacy":"v","X-Num":1}})j"),
            std::nullopt);
  EXPECT_EQ(schema_error("proxy-rewrite", R"j({"uri":"home"})j"),
            R"j(property "uri" validation failed: failed to match pattern "^\\/.*" with "home")j");
  // minProperties counts the defaulted use_real_request_uri_unsafe, as in APISIX.
  EXPECT_EQ(schema_error("proxy-rewrite", R"j({})j"), std::nullopt);
  EXPECT_NE(schema_error("proxy-rewrite", R"j({"method":"get"})j"), std::nullopt);
  EXPECT_NE(schema_error("proxy-rewrite", R"j({"host":"a b"})j"), std::nullopt);
  EXPECT_NE(schema_error("proxy-rewrite", R"j({"regex_uri":["^/x"]})j"), std::nullopt);
  EXPECT_NE(schema_error("proxy-rewrite", R"j({"headers":{"add":{"X":"1"},"other":{}}})j"),
            std::nullopt);
}

TEST(ProxyRewritePlugin, DefaultsAreFilled) {
  boost::json::value conf = testing::json(R"j({"uri":"/x"})j");
  Registry registry;
  ASSERT_EQ(registry.schema_of("proxy-rewrite")->validate(conf), std::nullopt);
  EXPECT_EQ(conf.at("use_real_request_uri_unsafe"), false);
}

TEST(ProxyRewritePlugin, CompileRejectsWhatCheckSchemaRejects) {
  EXPECT_EQ(compile_error(R"j({"regex_uri":["^/a","/b","^/c"]})j"),
            "The length of regex_uri should be an even number");
  EXPECT_EQ(compile_error(R"j({"regex_uri":["[^/test/(.*)","/$1"]})j"),
            "invalid regex_uri([^/test/(.*), /$1): pcre2_compile() failed: missing terminating ] "
            "for character class in \"[^/test/(.*)\"");
  EXPECT_EQ(compile_error(R"j({"regex_uri":["^/test/(.*)","/$`1"]})j"),
            "invalid regex_uri(^/test/(.*), /$`1): failed to compile the replacement template");
  EXPECT_EQ(compile_error(R"j({"headers":{"X-A":"v\u0001"}})j"),
            "invalid value character in header");
  EXPECT_EQ(compile_error(R"j({"headers":{"X A":"v"}})j"), "invalid field character in header");
  // The new form does not check values (APISIX checks only the legacy form).
  EXPECT_EQ(compile_error(R"j({"headers":{"set":{"X-A":"v\u0001"}}})j"), "(compiled)");
}

// ---- rewrite ----

TEST(ProxyRewritePlugin, HostOnlyKeepsThePathAndArgs) {
  auto plugin = make(R"j({"host":"myapisix.demo"})j");
  TestRequest req(get("/headers?a=1&b=2"));
  ASSERT_TRUE(req.parsed());
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  EXPECT_EQ(req->upstream_host(), "myapisix.demo");
  EXPECT_EQ(req->upstream_uri(), "/headers?a=1&b=2");
}

TEST(ProxyRewritePlugin, UriAndSetHeadersReplaceTheClientsValues) {
  auto plugin = make(
      R"j({"uri":"/anything","headers":{"set":{"X-Api-Version":"v1","X-Api-Engine":"apisix"}}})j");
  TestRequest req(get("/?q=1", "X-Api-Version: v2\r\n"));
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  EXPECT_EQ(req->upstream_uri(), "/anything?q=1");
  EXPECT_TRUE(req->upstream_headers().drops("X-Api-Version"));
  EXPECT_EQ(added_values(req->upstream_headers(), "X-Api-Version"), std::vector<std::string>{"v1"});
  EXPECT_EQ(req->header("X-Api-Engine"), "apisix");
}

TEST(ProxyRewritePlugin, AddKeepsTheClientsValues) {
  auto plugin = make(R"j({"uri":"/headers","headers":{"add":{"X-Api-Version":["v1","v3"]}}})j");
  TestRequest req(get("/", "X-Api-Version: v2\r\n"));
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  EXPECT_FALSE(req->upstream_headers().drops("X-Api-Version"));
  EXPECT_EQ(added_values(req->upstream_headers(), "X-Api-Version"),
            (std::vector<std::string>{"v1", "v3"}));
}

TEST(ProxyRewritePlugin, SetWithAnArrayGivesSeveralFieldsAndRemoveDrops) {
  auto plugin = make(
      R"j({"headers":{"set":{"X-Api-Version":["v1","v2"],"X-Num":10,"X-Frac":1.5},
          "remove":["User-Agent","X-Num"]}})j");
  TestRequest req(get("/h", "User-Agent: curl\r\nX-Api-Version: old\r\n"));
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  EXPECT_EQ(added_values(req->upstream_headers(), "X-Api-Version"),
            (std::vector<std::string>{"v1", "v2"}));
  EXPECT_EQ(req->header("X-Frac"), "1.5");
  // set runs before remove (APISIX's order), so X-Num is gone.
  EXPECT_EQ(req->header("X-Num"), std::nullopt);
  EXPECT_EQ(req->header("User-Agent"), std::nullopt);
  EXPECT_EQ(req->upstream_uri(), "/h");
}

TEST(ProxyRewritePlugin, LegacyHeadersFormSets) {
  auto plugin = make(R"j({"headers":{"X-Api":"$arg_v","X-Count":3}})j");
  TestRequest req(get("/h?v=abc", "X-Api: old\r\n"));
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  EXPECT_EQ(added_values(req->upstream_headers(), "X-Api"), std::vector<std::string>{"abc"});
  EXPECT_EQ(req->header("X-Count"), "3");
}

TEST(ProxyRewritePlugin, RegexUriRewritesAndFeedsCapturesToHeaders) {
  auto plugin = make(
      R"j({"regex_uri":["^/test/(.*)/(.*)","/$1-$2"],
          "headers":{"set":{"X-Pair":"${1}:$2","X-Host":"$2@$host","X-Escaped":"\\$1"}}})j");
  TestRequest req(get("/test/user/agent?x=1"));
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  EXPECT_EQ(req->upstream_uri(), "/user-agent?x=1");
  EXPECT_EQ(req->header("X-Pair"), "user:agent");
  EXPECT_EQ(req->header("X-Host"), "agent@h");
  EXPECT_EQ(req->header("X-Escaped"), "\\$1");
}

// ngx.req.set_uri() changed $uri before the headers are rendered; $request_uri stays.
TEST(ProxyRewritePlugin, HeaderTemplatesSeeTheRewrittenUri) {
  auto plugin = make(
      R"j({"uri":"/new path","headers":{"set":{"X-Uri":"$uri","X-Request-Uri":"$request_uri"}}})j");
  TestRequest req(get("/old?a=1"));
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  EXPECT_EQ(req->upstream_uri(), "/new%20path?a=1");
  EXPECT_EQ(req->header("X-Uri"), "/new%20path");
  EXPECT_EQ(req->header("X-Request-Uri"), "/old?a=1");
}

TEST(ProxyRewritePlugin, RegexPairsAreTriedInOrder) {
  auto plugin =
      make(R"j({"regex_uri":["^/iresty/(.*)/(.*)","/$1-$2","^/theothers/*","/theothers"]})j");
  TestRequest first(get("/iresty/hello/world"));
  EXPECT_EQ(testing::rewrite(*plugin, *first), std::nullopt);
  EXPECT_EQ(first->upstream_uri(), "/hello-world");
  TestRequest second(get("/theothers/hello/world"));
  EXPECT_EQ(testing::rewrite(*plugin, *second), std::nullopt);
  EXPECT_EQ(second->upstream_uri(), "/theothershello/world");
  TestRequest none(get("/nothing?a=b"));
  EXPECT_EQ(testing::rewrite(*plugin, *none), std::nullopt);
  EXPECT_EQ(none->upstream_uri(), "/nothing?a=b");
}

TEST(ProxyRewritePlugin, RegexReplacementMayAddAQuery) {
  auto plugin = make(R"j({"regex_uri":["^/(.*)/(.*)","/$1?name=$2"]})j");
  TestRequest req(get("/a/b?x=1"));
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  EXPECT_EQ(req->upstream_uri(), "/a?name=b&x=1");
}

TEST(ProxyRewritePlugin, UriWithItsOwnQueryGetsTheArgsWithAmpersand) {
  auto plugin = make(R"j({"uri":"/get?arg1=apisix&arg2=plugin"})j");
  TestRequest plain(get("/get"));
  EXPECT_EQ(testing::rewrite(*plugin, *plain), std::nullopt);
  EXPECT_EQ(plain->upstream_uri(), "/get?arg1=apisix&arg2=plugin");
  TestRequest with_args(get("/get?b=2"));
  EXPECT_EQ(testing::rewrite(*plugin, *with_args), std::nullopt);
  EXPECT_EQ(with_args->upstream_uri(), "/get?arg1=apisix&arg2=plugin&b=2");
}

// APISIX t/plugin/proxy-rewrite3.t TEST 22 and 24: a `?` and CR/LF decoded from the client's
// path cannot split the upstream request line.
TEST(ProxyRewritePlugin, DecodedSeparatorsAndControlCharactersStayEscaped) {
  const std::string raw_target =
      "/hello%3f0z=700%26a=c%20HTTP/1.1%0D%0AHost:google.com%0d%0a%0d%0a";
  const std::string decoded = "/hello?0z=700&a=c HTTP/1.1\r\nHost:google.com\r\n\r\n";
  auto host_only = make(R"j({"host":"test.xxxx.com"})j");
  TestRequest a(get(raw_target), decoded);
  EXPECT_EQ(testing::rewrite(*host_only, *a), std::nullopt);
  EXPECT_EQ(a->upstream_uri(), "/hello%3F0z=700&a=c%20HTTP/1.1%0D%0AHost:google.com%0D%0A%0D%0A");

  auto templated = make(R"j({"uri":"/$uri/remain","host":"test.xxxx.com"})j");
  TestRequest b(get(raw_target), decoded);
  EXPECT_EQ(testing::rewrite(*templated, *b), std::nullopt);
  EXPECT_EQ(b->upstream_uri(),
            "//hello%253F0z=700&a=c%20HTTP/1.1%0D%0AHost:google.com%0D%0A%0D%0A/remain");
}

TEST(ProxyRewritePlugin, UnsafeModeKeepsTheRawRequestUri) {
  auto raw_only = make(R"j({"use_real_request_uri_unsafe":true,"host":"x"})j");
  TestRequest a(get("/a%20b/../c?x=1"), "/c");
  EXPECT_EQ(testing::rewrite(*raw_only, *a), std::nullopt);
  EXPECT_EQ(a->upstream_uri(), "/a%20b/../c?x=1");

  auto with_uri = make(R"j({"use_real_request_uri_unsafe":true,"uri":"/new?y=2"})j");
  TestRequest b(get("/old?x=1"));
  EXPECT_EQ(testing::rewrite(*with_uri, *b), std::nullopt);
  EXPECT_EQ(b->upstream_uri(), "/new?y=2&x=1");

  auto plain_uri = make(R"j({"use_real_request_uri_unsafe":true,"uri":"/new"})j");
  TestRequest c(get("/old?x=1"));
  EXPECT_EQ(testing::rewrite(*plain_uri, *c), std::nullopt);
  EXPECT_EQ(c->upstream_uri(), "/new?x=1");
}

TEST(ProxyRewritePlugin, MethodIsRewritten) {
  auto plugin = make(R"j({"uri":"/anything","method":"POST"})j");
  TestRequest req(get("/get"));
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  EXPECT_EQ(req->method(), "POST");
  EXPECT_EQ(req->upstream_uri(), "/anything");
}

TEST(ProxyRewritePlugin, UriTemplateUsesVariables) {
  auto plugin = make(R"j({"uri":"/v2$uri/${arg_user ?? anon}"})j");
  TestRequest named(get("/x?user=jack"));
  EXPECT_EQ(testing::rewrite(*plugin, *named), std::nullopt);
  EXPECT_EQ(named->upstream_uri(), "/v2/x/jack?user=jack");
  TestRequest anonymous(get("/x"));
  EXPECT_EQ(testing::rewrite(*plugin, *anonymous), std::nullopt);
  EXPECT_EQ(anonymous->upstream_uri(), "/v2/x/anon");
}

}  // namespace
}  // namespace apisix::plugins
