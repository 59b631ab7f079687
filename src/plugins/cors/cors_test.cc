// cors (plugins.md §5.9): the schema and the allow_credential check, the preflight answer in
// rewrite, and the headers header_filter chooses for each kind of origin option — the cases of
// APISIX's t/plugin/cors*.t over a fake request.
#include "plugins/cors/cors.h"

#include <memory>
#include <string>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "plugins/builtin.h"
#include "plugins/request.h"
#include "plugins/request_vars.h"

namespace apisix::plugins {
namespace {

namespace json = boost::json;

std::optional<std::string> schema_error(std::string_view text) {
  Registry registry;
  return registry.schema_of("cors")->check(json::parse(text));
}

Result<std::shared_ptr<const Plugin>> compile_text(std::string_view text,
                                                   std::string_view metadata = {}) {
  Registry registry;
  json::value conf = json::parse(text);
  if (auto err = registry.schema_of("cors")->validate(conf)) {
    return Error::config("schema: " + *err);
  }
  json::value meta;
  CompileContext ctx;
  if (!metadata.empty()) {
    meta = json::parse(metadata);
    EXPECT_FALSE(registry.metadata_schema_of("cors")->validate(meta));
    ctx.metadata = &meta;
  }
  return Cors::compile(conf, ctx);
}

std::shared_ptr<const Plugin> compile_cors(std::string_view text, std::string_view metadata = {}) {
  auto plugin = compile_text(text, metadata);
  EXPECT_TRUE(plugin) << plugin.error().context;
  return plugin ? *plugin : nullptr;
}

PhaseResult run_phase(core::Task<PhaseResult> task) {
  std::optional<PhaseResult> out;
  auto body = [&]() -> core::Task<void> { out = co_await std::move(task); };
  core::spawn(body());
  EXPECT_TRUE(out.has_value()) << "the phase suspended";
  return out.value_or(PhaseResult{});
}

// One request through rewrite and header_filter; the response headers that result.
struct Exchange {
  Exchange(const Plugin& plugin, std::string_view method, std::string_view headers) {
    raw = std::string(method) + " /hello HTTP/1.1\r\nHost: h\r\n" + std::string(headers) + "\r\n";
    EXPECT_EQ(http::parse_request_head(raw, head, {}).status, http::ParseStatus::Complete);
    vars = std::make_unique<RequestVars>(head, facts);
    request = std::make_unique<Request>(&head, vars.get());
    exit = run_phase(plugin.rewrite(*request));
    request->drop_head();  // as the gateway does before the response phases
    response.status = exit ? exit->status : 200;
    response.set_original(upstream.data(), upstream.size());
    plugin.header_filter(*request, response);
  }
  std::string header(std::string_view name) const {
    return std::string(response.header(name).value_or("(none)"));
  }

  std::string raw;
  http::RequestHead head;
  RequestFacts facts{"/hello", "h", "127.0.0.1", 5000, 9080};
  std::unique_ptr<RequestVars> vars;
  std::unique_ptr<Request> request;
  PhaseResult exit;
  std::vector<http::Header> upstream{{"Content-Type", "text/plain"},
                                     {"Access-Control-Max-Age", "10"}};
  Response response;
};

TEST(CorsPlugin, SchemaOriginPatterns) {
  for (const char* good :
       {"*", "**", "null", "http://y.com.uk", "https://x.com", "https://x.com,http://y.com.uk",
        "https://x.com,http://y.com.uk:12000,http://c.tv"}) {
    EXPECT_FALSE(schema_error(R"({"allow_origins":")" + std::string(good) + "\"}")) << good;
    EXPECT_FALSE(schema_error(R"({"timing_allow_origins":")" + std::string(good) + "\"}")) << good;
  }
  for (const char* bad : {"", "*a", "*,http://y.com", "nulll", "http//y.com.uk", "x.com",
                          "https://x.com,y.com.uk", "https://x.com,*,https://y.com.uk"}) {
    EXPECT_TRUE(schema_error(R"({"allow_origins":")" + std::string(bad) + "\"}")) << bad;
  }
  EXPECT_EQ(schema_error(R"({"allow_origins_by_regex":[]})"),
            "property \"allow_origins_by_regex\" validation failed: expect array to have at least "
            "1 items");
  EXPECT_EQ(schema_error(R"({"max_age":"5"})"),
            "property \"max_age\" validation failed: wrong type: expected integer, got string");
}

TEST(CorsPlugin, SchemaFillsDefaults) {
  Registry registry;
  json::value conf = json::parse("{}");
  ASSERT_FALSE(registry.schema_of("cors")->validate(conf));
  EXPECT_EQ(conf, json::parse(R"({"allow_origins":"*","allow_methods":"*","allow_headers":"*",
                                  "max_age":5,"allow_credential":false})"));
}

TEST(CorsPlugin, MetadataSchema) {
  Registry registry;
  const schema::Schema* s = registry.metadata_schema_of("cors");
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(
      s->check(json::parse(R"({"allow_origins":{"a":"*","b":"https://x.com,http://y"}})")));
  EXPECT_TRUE(s->check(json::parse(R"({"allow_origins":{"a":"x.com"}})")));
}

TEST(CorsPlugin, StarWithCredentialsIsRejected) {
  const std::string message =
      "you can not set '*' for other option when 'allow_credential' is true";
  auto refused = [&](std::string_view conf) {
    auto r = compile_text(conf);
    return r ? std::string("(accepted)") : r.error().context;
  };
  EXPECT_EQ(refused(R"({"allow_origins":"*","allow_credential":true})"), message);
  // allow_methods and allow_headers default to "*" as well.
  EXPECT_EQ(refused(R"({"allow_origins":"http://a.com","allow_credential":true})"), message);
  EXPECT_EQ(refused(R"({"allow_origins":"http://a.com","allow_methods":"GET",
                        "allow_headers":"h","expose_headers":"*","allow_credential":true})"),
            message);
  EXPECT_EQ(refused(R"({"allow_origins":"http://a.com","allow_methods":"GET",
                        "allow_headers":"h","timing_allow_origins":"*","allow_credential":true})"),
            message);
  EXPECT_EQ(refused(R"({"allow_origins":"**","allow_methods":"**","allow_headers":"**",
                        "allow_credential":true})"),
            "(accepted)");
  EXPECT_EQ(refused(R"({"allow_credential":false})"), "(accepted)");
}

TEST(CorsPlugin, BadRegexIsRejected) {
  auto r = compile_text(R"({"allow_origins_by_regex":["ok\\.com$","(unclosed"]})");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().context.starts_with("pcre_compile() failed: ")) << r.error().context;
  EXPECT_NE(r.error().context.find("in \"(unclosed\""), std::string::npos) << r.error().context;
  EXPECT_FALSE(compile_text(R"({"timing_allow_origins_by_regex":["["]})"));
}

TEST(CorsPlugin, OptionsIsAnsweredInRewrite) {
  auto plugin = compile_cors("{}");
  Exchange preflight(*plugin, "OPTIONS", "Origin: http://a.com\r\n");
  ASSERT_TRUE(preflight.exit);
  EXPECT_EQ(preflight.exit->status, 200);
  EXPECT_FALSE(preflight.exit->body);
  EXPECT_EQ(preflight.header("Access-Control-Allow-Origin"), "*");

  Exchange get(*plugin, "GET", "Origin: http://a.com\r\n");
  EXPECT_FALSE(get.exit);
}

TEST(CorsPlugin, DefaultsAllowEverything) {
  auto plugin = compile_cors("{}");
  Exchange e(*plugin, "GET", "");
  EXPECT_EQ(e.header("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(e.header("Access-Control-Allow-Methods"), "*");
  EXPECT_EQ(e.header("Access-Control-Allow-Headers"), "*");
  EXPECT_EQ(e.header("Access-Control-Max-Age"), "5");  // replaces the upstream's 10
  EXPECT_EQ(e.header("Access-Control-Expose-Headers"), "(none)");
  EXPECT_EQ(e.header("Access-Control-Allow-Credentials"), "(none)");
  EXPECT_EQ(e.header("Vary"), "(none)");  // allow_origins "*" adds no Vary
}

TEST(CorsPlugin, OriginListOfTheDocExample) {
  auto plugin = compile_cors(R"({"allow_origins":"http://sub.domain.com,http://sub2.domain.com",
      "allow_methods":"GET,POST","allow_headers":"headr1,headr2",
      "expose_headers":"ex-headr1,ex-headr2","max_age":50,"allow_credential":true})");
  Exchange allowed(*plugin, "GET", "Origin: http://sub2.domain.com\r\n");
  EXPECT_EQ(allowed.header("Access-Control-Allow-Origin"), "http://sub2.domain.com");
  EXPECT_EQ(allowed.header("Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(allowed.header("Vary"), "Origin");
  EXPECT_EQ(allowed.header("Access-Control-Allow-Methods"), "GET,POST");
  EXPECT_EQ(allowed.header("Access-Control-Max-Age"), "50");
  EXPECT_EQ(allowed.header("Access-Control-Expose-Headers"), "ex-headr1,ex-headr2");
  EXPECT_EQ(allowed.header("Access-Control-Allow-Headers"), "headr1,headr2");

  Exchange refused(*plugin, "GET", "Origin: http://sub3.domain.com\r\n");
  EXPECT_EQ(refused.header("Access-Control-Allow-Origin"), "(none)");
  EXPECT_EQ(refused.header("Access-Control-Allow-Methods"), "(none)");
  EXPECT_EQ(refused.header("Access-Control-Max-Age"), "10");  // the upstream's, untouched
  EXPECT_EQ(refused.header("Vary"), "Origin");

  // An entry must equal the whole Origin.
  Exchange prefix(*plugin, "GET", "Origin: http://sub.domain.co\r\n");
  EXPECT_EQ(prefix.header("Access-Control-Allow-Origin"), "(none)");
}

TEST(CorsPlugin, SingleOriginMustMatch) {
  auto plugin = compile_cors(R"({"allow_origins":"http://sub.domain.com"})");
  EXPECT_EQ(Exchange(*plugin, "GET", "Origin: http://sub.domain.com\r\n")
                .header("Access-Control-Allow-Origin"),
            "http://sub.domain.com");
  EXPECT_EQ(Exchange(*plugin, "GET", "Origin: http://other.domain.com\r\n")
                .header("Access-Control-Allow-Origin"),
            "(none)");
  EXPECT_EQ(Exchange(*plugin, "GET", "").header("Access-Control-Allow-Origin"), "(none)");
}

TEST(CorsPlugin, ForcedWildcards) {
  auto plugin = compile_cors(
      R"({"allow_origins":"**","allow_methods":"**","allow_headers":"**","expose_headers":"*"})");
  Exchange e(*plugin, "GET",
             "Origin: https://sub.domain.com\r\n"
             "Access-Control-Request-Headers: req-header1,req-header2\r\n");
  EXPECT_EQ(e.header("Access-Control-Allow-Origin"), "https://sub.domain.com");
  EXPECT_EQ(e.header("Vary"), "Origin");
  EXPECT_EQ(e.header("Access-Control-Allow-Methods"),
            "GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS,CONNECT,TRACE");
  EXPECT_EQ(e.header("Access-Control-Allow-Headers"), "req-header1,req-header2");
  EXPECT_EQ(e.header("Access-Control-Expose-Headers"), "*");

  Exchange no_origin(*plugin, "GET", "");
  EXPECT_EQ(no_origin.header("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(no_origin.header("Access-Control-Allow-Headers"), "(none)");
}

TEST(CorsPlugin, OriginsByRegex) {
  auto plugin = compile_cors(R"({"allow_methods":"GET,POST","allow_headers":"headr1,headr2",
      "expose_headers":"ex-headr1,ex-headr2","max_age":50,
      "allow_origins_by_regex":[".*\\.test.com$",".*\\.example.org$"]})");
  Exchange a(*plugin, "GET", "Origin: http://a.test.com\r\n");
  EXPECT_EQ(a.header("Access-Control-Allow-Origin"), "http://a.test.com");
  EXPECT_EQ(a.header("Access-Control-Max-Age"), "50");
  EXPECT_EQ(a.header("Vary"), "(none)");  // allow_origins stays "*"
  EXPECT_EQ(Exchange(*plugin, "GET", "Origin: https://x.example.org\r\n")
                .header("Access-Control-Allow-Origin"),
            "https://x.example.org");
  Exchange other(*plugin, "GET", "Origin: http://a.test2.com\r\n");
  EXPECT_EQ(other.header("Access-Control-Allow-Origin"), "(none)");
  EXPECT_EQ(other.header("Access-Control-Allow-Methods"), "(none)");
  EXPECT_EQ(Exchange(*plugin, "GET", "").header("Access-Control-Allow-Origin"), "(none)");
}

constexpr std::string_view kMetadata = R"({"allow_origins":{"key_1":"https://domain.com",
    "key_2":"https://sub.domain.com,https://sub2.domain.com","key_3":"*"}})";

TEST(CorsPlugin, OriginsByMetadataWithLocalOrigins) {
  auto plugin = compile_cors(
      R"({"allow_origins":"https://test.com","allow_origins_by_metadata":["key_1","key_2"]})",
      kMetadata);
  Exchange none(*plugin, "GET", "Origin: http://foo.example.org\r\n");
  EXPECT_EQ(none.header("Access-Control-Allow-Origin"), "(none)");
  EXPECT_EQ(none.header("Vary"), "Origin");
  EXPECT_EQ(Exchange(*plugin, "GET", "Origin: https://test.com\r\n")
                .header("Access-Control-Allow-Origin"),
            "https://test.com");
  EXPECT_EQ(Exchange(*plugin, "GET", "Origin: https://domain.com\r\n")
                .header("Access-Control-Allow-Origin"),
            "https://domain.com");
  Exchange second(*plugin, "GET", "Origin: https://sub.domain.com\r\n");
  EXPECT_EQ(second.header("Access-Control-Allow-Origin"), "https://sub.domain.com");
  EXPECT_EQ(second.header("Access-Control-Allow-Methods"), "*");
}

TEST(CorsPlugin, OriginsByMetadataWildcard) {
  auto plugin = compile_cors(
      R"({"allow_origins":"https://test.com","allow_origins_by_metadata":["key_3"]})", kMetadata);
  EXPECT_EQ(Exchange(*plugin, "GET", "Origin: http://foo.example.org\r\n")
                .header("Access-Control-Allow-Origin"),
            "http://foo.example.org");
}

TEST(CorsPlugin, OriginsByMetadataIgnoreTheDefaultStar) {
  // allow_origins "*" is not used once allow_origins_by_metadata is set (cors3.t TEST 14).
  auto plugin = compile_cors(R"({"allow_origins_by_metadata":["key_1"]})", kMetadata);
  Exchange other(*plugin, "GET", "Origin: http://foo.example.org\r\n");
  EXPECT_EQ(other.header("Access-Control-Allow-Origin"), "(none)");
  EXPECT_EQ(other.header("Vary"), "(none)");
  EXPECT_EQ(Exchange(*plugin, "GET", "Origin: https://domain.com\r\n")
                .header("Access-Control-Allow-Origin"),
            "https://domain.com");
  // A key the metadata does not have allows nothing; no metadata at all neither.
  auto missing = compile_cors(R"({"allow_origins_by_metadata":["nope"]})", kMetadata);
  EXPECT_EQ(Exchange(*missing, "GET", "Origin: https://domain.com\r\n")
                .header("Access-Control-Allow-Origin"),
            "(none)");
  auto no_metadata = compile_cors(R"({"allow_origins_by_metadata":["key_1"]})");
  EXPECT_EQ(Exchange(*no_metadata, "GET", "Origin: https://domain.com\r\n")
                .header("Access-Control-Allow-Origin"),
            "(none)");
}

TEST(CorsPlugin, TimingAllowOrigin) {
  auto plugin = compile_cors(R"({"allow_origins":"http://one.domain.com",
      "timing_allow_origins":"http://another.domain.com"})");
  Exchange one(*plugin, "GET", "Origin: http://one.domain.com\r\n");
  EXPECT_EQ(one.header("Access-Control-Allow-Origin"), "http://one.domain.com");
  EXPECT_EQ(one.header("Timing-Allow-Origin"), "(none)");
  Exchange another(*plugin, "GET", "Origin: http://another.domain.com\r\n");
  EXPECT_EQ(another.header("Access-Control-Allow-Origin"), "(none)");
  EXPECT_EQ(another.header("Timing-Allow-Origin"), "http://another.domain.com");

  auto by_regex = compile_cors(R"({"timing_allow_origins":"http://x.com",
      "timing_allow_origins_by_regex":[".*\\.test.com$"]})");
  EXPECT_EQ(
      Exchange(*by_regex, "GET", "Origin: http://a.test.com\r\n").header("Timing-Allow-Origin"),
      "http://a.test.com");
  // The regex takes precedence over the list.
  EXPECT_EQ(Exchange(*by_regex, "GET", "Origin: http://x.com\r\n").header("Timing-Allow-Origin"),
            "(none)");
}

TEST(CorsPlugin, OriginIsTheOneTheClientSent) {
  // A later change of the request's Origin header (proxy-rewrite) does not count.
  auto plugin = compile_cors(R"({"allow_origins":"http://a.com,http://b.com"})");
  std::string raw = "GET /hello HTTP/1.1\r\nHost: h\r\nOrigin: http://a.com\r\n\r\n";
  http::RequestHead head;
  ASSERT_EQ(http::parse_request_head(raw, head, {}).status, http::ParseStatus::Complete);
  RequestFacts facts{"/hello", "h", "127.0.0.1", 5000, 9080};
  RequestVars vars(head, facts);
  Request request(&head, &vars);
  EXPECT_FALSE(run_phase(plugin->rewrite(request)));
  request.set_header("Origin", "http://evil.com");
  request.drop_head();
  Response response;
  response.status = 200;
  plugin->header_filter(request, response);
  EXPECT_EQ(response.header("Access-Control-Allow-Origin"), "http://a.com");
}

TEST(CorsPlugin, HeadersGoOnResponsesWhoseRewriteNeverRan) {
  // An earlier plugin ended the request before cors's rewrite: no Origin is known.
  auto plugin = compile_cors("{}");
  Request request(nullptr, nullptr);
  Response response;
  response.status = 401;
  plugin->header_filter(request, response);
  EXPECT_EQ(response.header("Access-Control-Allow-Origin"), "*");
}

}  // namespace
}  // namespace apisix::plugins
