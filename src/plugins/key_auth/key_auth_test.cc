// key-auth (plugins.md §4.1, §3.1): schema, where the key is read from, the 401 answers,
// hide_credentials and the anonymous consumer, over a fake request and a ConsumerIndex.
#include "plugins/key_auth/key_auth.h"

#include <memory>
#include <string>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "plugins/builtin.h"
#include "plugins/consumers.h"
#include "plugins/request.h"
#include "plugins/request_vars.h"
#include "plugins/testing.h"

namespace apisix::plugins {
namespace {

namespace json = boost::json;

// A parsed request head with its variables and the Request over them.
struct FakeRequest {
  explicit FakeRequest(std::string raw_head) : raw(std::move(raw_head)) {
    parsed = http::parse_request_head(raw, head, {}).status == http::ParseStatus::Complete;
    vars = std::make_unique<RequestVars>(head, facts);
    request = std::make_unique<Request>(&head, vars.get());
  }
  std::string raw;
  http::RequestHead head;
  RequestFacts facts{"/anything", "h", "127.0.0.1", 5000, 9080};
  std::unique_ptr<RequestVars> vars;
  std::unique_ptr<Request> request;
  bool parsed = false;
};

std::unique_ptr<FakeRequest> get(std::string_view target, std::string_view headers = {}) {
  std::string raw =
      "GET " + std::string(target) + " HTTP/1.1\r\nHost: h\r\n" + std::string(headers) + "\r\n";
  auto r = std::make_unique<FakeRequest>(std::move(raw));
  EXPECT_TRUE(r->parsed);
  return r;
}

std::shared_ptr<const Plugin> compile_conf(std::string_view text) {
  return testing::compile_or_null<KeyAuth>(text);
}

std::string exit_header(const Exit& exit, std::string_view name) {
  for (const auto& [n, v] : exit.headers) {
    if (http::iequals(n, name)) {
      return v;
    }
  }
  return "(none)";
}

// jack (custom id 495aec6a) with key jack-key through credential cred-jack; rose with key
// rose-key in her own plugins; anonymous with no key.
class KeyAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto jack = std::make_shared<Consumer>();
    jack->username = "jack";
    jack->custom_id = "495aec6a";
    auto rose = std::make_shared<Consumer>();
    rose->username = "rose";
    rose->group_id = "g1";
    auto anonymous = std::make_shared<Consumer>();
    anonymous->username = "anonymous";
    anonymous->custom_id = "anon-label";
    index_.add_consumer(jack);
    index_.add_consumer(rose);
    index_.add_consumer(anonymous);
    index_.add_auth("key-auth", "jack-key",
                    ConsumerAuth{jack, "cred-jack", json::parse(R"({"key":"jack-key"})")});
    index_.add_auth("key-auth", "rose-key",
                    ConsumerAuth{rose, "", json::parse(R"({"key":"rose-key"})")});
    index_.add_auth("key-auth", "a b", ConsumerAuth{rose, "", json::parse(R"({"key":"a b"})")});
  }

  PhaseResult rewrite(const Plugin& plugin, FakeRequest& r) {
    r.request->consumers = &index_;
    return testing::run_now(plugin.rewrite(*r.request));
  }

  ConsumerIndex index_;
};

TEST(KeyAuthSchema, DefaultsAreFilled) {
  Registry registry;
  json::value conf = json::parse("{}");
  EXPECT_FALSE(registry.schema_of("key-auth")->validate(conf));
  EXPECT_EQ(conf,
            json::parse(
                R"({"header":"apikey","query":"apikey","realm":"key","hide_credentials":false})"));
}

TEST(KeyAuthSchema, RejectsBadValues) {
  Registry registry;
  const schema::Schema* s = registry.schema_of("key-auth");
  EXPECT_EQ(s->check(json::parse(R"({"header":1})")).value_or(""),
            R"(property "header" validation failed: wrong type: expected string, got number)");
  EXPECT_EQ(
      s->check(json::parse(R"({"hide_credentials":"yes"})")).value_or(""),
      R"(property "hide_credentials" validation failed: wrong type: expected boolean, got string)");
  EXPECT_EQ(
      s->check(json::parse(R"({"anonymous_consumer":""})")).value_or(""),
      R"(property "anonymous_consumer" validation failed: string too short, expected at least 1, got 0)");
  // realm: printable ASCII without `"` and `\` (§3.1).
  EXPECT_TRUE(s->check(json::parse(R"({"realm":"a\"b"})")));
  EXPECT_TRUE(s->check(json::parse(R"({"realm":"a\\b"})")));
  EXPECT_TRUE(s->check(json::parse(R"({"realm":""})")));
  EXPECT_TRUE(s->check(json::parse("{\"realm\":\"" + std::string(129, 'r') + "\"}")));
  EXPECT_FALSE(s->check(json::parse(R"({"realm":"my custom realm!"})")));
}

TEST(KeyAuthSchema, ConsumerSchemaWantsAStringKey) {
  Registry registry;
  const schema::Schema* s = registry.consumer_schema_of("key-auth");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->check(json::parse("{}")).value_or(""), R"(property "key" is required)");
  EXPECT_EQ(s->check(json::parse(R"({"key":123})")).value_or(""),
            R"(property "key" validation failed: wrong type: expected string, got number)");
  EXPECT_FALSE(s->check(json::parse(R"({"key":"k"})")));
}

TEST_F(KeyAuthTest, HeaderKeyAttachesTheConsumer) {
  auto plugin = compile_conf("{}");
  auto r = get("/anything", "apikey: jack-key\r\nX-Consumer-Username: spoofed\r\n");
  EXPECT_FALSE(rewrite(*plugin, *r));
  ASSERT_NE(r->request->consumer(), nullptr);
  EXPECT_EQ(r->request->consumer()->username, "jack");
  EXPECT_EQ(r->request->header("X-Consumer-Username"), "jack");
  EXPECT_EQ(r->request->header("X-Credential-Identifier"), "cred-jack");
  EXPECT_EQ(r->request->header("X-Consumer-Custom-ID"), "495aec6a");
  EXPECT_EQ(r->request->var("consumer_name"), "jack");
  // Without hide_credentials the key goes upstream.
  EXPECT_EQ(r->request->header("apikey"), "jack-key");
  EXPECT_FALSE(r->request->upstream_uri());
}

TEST_F(KeyAuthTest, ConsumerOwnPluginsGiveNoCredentialHeader) {
  auto plugin = compile_conf("{}");
  auto r = get("/anything",
               "apikey: rose-key\r\nX-Credential-Identifier: x\r\n"
               "X-Consumer-Custom-ID: y\r\n");
  EXPECT_FALSE(rewrite(*plugin, *r));
  EXPECT_EQ(r->request->header("X-Consumer-Username"), "rose");
  EXPECT_EQ(r->request->header("X-Credential-Identifier"), std::nullopt);
  EXPECT_EQ(r->request->header("X-Consumer-Custom-ID"), std::nullopt);
  EXPECT_EQ(r->request->var("consumer_group_id"), "g1");
}

TEST_F(KeyAuthTest, MissingKey) {
  auto plugin = compile_conf("{}");
  auto r = get("/anything?other=1");
  PhaseResult result = rewrite(*plugin, *r);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 401);
  EXPECT_EQ(result->body, "{\"message\":\"Missing API key in request\"}\n");
  EXPECT_EQ(exit_header(*result, "WWW-Authenticate"), "apikey realm=\"key\"");
  EXPECT_EQ(r->request->consumer(), nullptr);
}

TEST_F(KeyAuthTest, InvalidKey) {
  auto plugin = compile_conf(R"({"realm":"my-custom-realm"})");
  auto r = get("/anything", "apikey: wrong-key\r\n");
  PhaseResult result = rewrite(*plugin, *r);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 401);
  EXPECT_EQ(result->body, "{\"message\":\"Invalid API key in request\"}\n");
  EXPECT_EQ(exit_header(*result, "WWW-Authenticate"), "apikey realm=\"my-custom-realm\"");
}

TEST_F(KeyAuthTest, NoConsumersAtAllIsAnInvalidKey) {
  auto plugin = compile_conf("{}");
  auto r = get("/anything", "apikey: jack-key\r\n");
  PhaseResult result =
      testing::run_now(plugin->rewrite(*r->request));  // request.consumers stays null
  ASSERT_TRUE(result);
  EXPECT_EQ(result->body, "{\"message\":\"Invalid API key in request\"}\n");
}

TEST_F(KeyAuthTest, EmptyHeaderValueIsAKeyNotAMissingOne) {
  auto plugin = compile_conf("{}");
  auto r = get("/anything?apikey=jack-key", "apikey: \r\n");
  PhaseResult result = rewrite(*plugin, *r);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->body, "{\"message\":\"Invalid API key in request\"}\n");
}

TEST_F(KeyAuthTest, QueryKeyIsUsedOnlyWithoutTheHeader) {
  auto plugin = compile_conf(R"({"query":"auth"})");
  {
    auto r = get("/anything?auth=jack-key");
    EXPECT_FALSE(rewrite(*plugin, *r));
    EXPECT_EQ(r->request->header("X-Consumer-Username"), "jack");
  }
  {
    // The header wins even when the query holds a wrong key.
    auto r = get("/anything?auth=wrong-key", "apikey: rose-key\r\n");
    EXPECT_FALSE(rewrite(*plugin, *r));
    EXPECT_EQ(r->request->header("X-Consumer-Username"), "rose");
  }
  {
    // ... and when the header's key is wrong, the right one in the query does not help.
    auto r = get("/anything?auth=jack-key", "apikey: wrong-key\r\n");
    PhaseResult result = rewrite(*plugin, *r);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->body, "{\"message\":\"Invalid API key in request\"}\n");
  }
  {
    auto r = get("/anything?auth=wrong-key");
    PhaseResult result = rewrite(*plugin, *r);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->body, "{\"message\":\"Invalid API key in request\"}\n");
  }
}

TEST_F(KeyAuthTest, QueryKeyIsDecoded) {
  auto plugin = compile_conf("{}");
  for (std::string_view target : {"/x?apikey=a+b", "/x?apikey=a%20b", "/x?api%6bey=a%20b"}) {
    auto r = get(target);
    EXPECT_FALSE(rewrite(*plugin, *r)) << target;
    EXPECT_EQ(r->request->header("X-Consumer-Username"), "rose") << target;
  }
}

TEST_F(KeyAuthTest, RepeatedOrBareQueryArgumentNeverMatches) {
  auto plugin = compile_conf("{}");
  for (std::string_view target :
       {"/x?apikey=jack-key&apikey=jack-key", "/x?apikey", "/x?apikey&apikey=jack-key"}) {
    auto r = get(target);
    PhaseResult result = rewrite(*plugin, *r);
    ASSERT_TRUE(result) << target;
    EXPECT_EQ(result->body, "{\"message\":\"Invalid API key in request\"}\n") << target;
  }
}

TEST_F(KeyAuthTest, CustomHeaderIsCaseInsensitiveAndFindsDashesForUnderscores) {
  auto plugin = compile_conf(R"({"header":"Api_Key"})");
  auto r = get("/x", "api-key: jack-key\r\n");
  EXPECT_FALSE(rewrite(*plugin, *r));
  EXPECT_EQ(r->request->header("X-Consumer-Username"), "jack");
  auto first = get("/x", "API_KEY: rose-key\r\napi_key: jack-key\r\n");
  EXPECT_FALSE(rewrite(*plugin, *first));
  EXPECT_EQ(first->request->header("X-Consumer-Username"), "rose");  // the first value
}

TEST_F(KeyAuthTest, HideCredentialsRemovesTheHeaderOnly) {
  auto plugin = compile_conf(R"({"hide_credentials":true})");
  auto r = get("/anything?apikey=jack-key", "apikey: jack-key\r\ntest: auth-two\r\n");
  EXPECT_FALSE(rewrite(*plugin, *r));
  EXPECT_EQ(r->request->header("apikey"), std::nullopt);
  EXPECT_EQ(r->request->header("test"), "auth-two");
  // The key came from the header: the query keeps its argument.
  EXPECT_FALSE(r->request->upstream_uri());
}

TEST_F(KeyAuthTest, HideCredentialsRemovesTheQueryArgumentOnly) {
  auto plugin = compile_conf(R"({"query":"auth","hide_credentials":true})");
  auto r = get("/anything?a=1&auth=jack-key&test=auth%20two", "auth: jack-key\r\n");
  EXPECT_FALSE(rewrite(*plugin, *r));
  ASSERT_TRUE(r->request->upstream_uri());
  EXPECT_EQ(*r->request->upstream_uri(), "/anything?a=1&test=auth%20two");
  // The header of the same name is not the configured header: it stays.
  EXPECT_EQ(r->request->header("auth"), "jack-key");

  auto only = get("/anything?auth=jack-key");
  EXPECT_FALSE(rewrite(*plugin, *only));
  ASSERT_TRUE(only->request->upstream_uri());
  EXPECT_EQ(*only->request->upstream_uri(), "/anything");
}

TEST_F(KeyAuthTest, HideCredentialsEditsAnUpstreamUriSetEarlier) {
  auto plugin = compile_conf(R"({"hide_credentials":true})");
  auto r = get("/anything?apikey=jack-key");
  r->request->set_upstream_uri("/rewritten?apikey=jack-key&x=1");
  EXPECT_FALSE(rewrite(*plugin, *r));
  EXPECT_EQ(r->request->upstream_uri(), "/rewritten?x=1");
}

TEST_F(KeyAuthTest, FailedAuthLeavesCredentialsInPlace) {
  auto plugin = compile_conf(R"({"hide_credentials":true})");
  auto r = get("/anything?apikey=wrong", "apikey: wrong\r\n");
  EXPECT_TRUE(rewrite(*plugin, *r));
  EXPECT_EQ(r->request->header("apikey"), "wrong");
  EXPECT_FALSE(r->request->upstream_uri());
}

TEST_F(KeyAuthTest, AnonymousConsumerOnAnyFailure) {
  auto plugin = compile_conf(R"({"anonymous_consumer":"anonymous"})");
  for (std::string_view headers : {"", "apikey: wrong-key\r\n"}) {
    auto r = get("/anything", std::string(headers) + "X-Credential-Identifier: spoof\r\n");
    EXPECT_FALSE(rewrite(*plugin, *r));
    ASSERT_NE(r->request->consumer(), nullptr);
    EXPECT_EQ(r->request->consumer()->username, "anonymous");
    EXPECT_EQ(r->request->header("X-Consumer-Username"), "anonymous");
    EXPECT_EQ(r->request->header("X-Credential-Identifier"), std::nullopt);
    // APISIX attaches the anonymous consumer without its custom id.
    EXPECT_EQ(r->request->header("X-Consumer-Custom-ID"), std::nullopt);
  }
  // A valid key still authenticates as its own consumer.
  auto r = get("/anything", "apikey: jack-key\r\n");
  EXPECT_FALSE(rewrite(*plugin, *r));
  EXPECT_EQ(r->request->consumer()->username, "jack");
}

TEST_F(KeyAuthTest, AnonymousFallbackHidesBothCredentialPlaces) {
  auto plugin = compile_conf(R"({"anonymous_consumer":"anonymous","hide_credentials":true})");
  auto r = get("/anything?apikey=bad&b=2", "apikey: wrong-key\r\n");
  EXPECT_FALSE(rewrite(*plugin, *r));
  EXPECT_EQ(r->request->consumer()->username, "anonymous");
  EXPECT_EQ(r->request->header("apikey"), std::nullopt);
  EXPECT_EQ(r->request->upstream_uri(), "/anything?b=2");
}

TEST_F(KeyAuthTest, MissingAnonymousConsumer) {
  auto plugin = compile_conf(R"({"anonymous_consumer":"nobody","realm":"r"})");
  auto r = get("/anything", "apikey: wrong-key\r\n");
  PhaseResult result = rewrite(*plugin, *r);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 401);
  EXPECT_EQ(result->body, "{\"message\":\"Invalid user authorization\"}\n");
  EXPECT_EQ(exit_header(*result, "WWW-Authenticate"), "apikey realm=\"r\"");
  EXPECT_EQ(r->request->consumer(), nullptr);
}

TEST(KeyAuthQuery, FindsArgumentsAsGetUriArgs) {
  using key_auth::find_query_arg;
  using Kind = key_auth::QueryArg::Kind;
  EXPECT_EQ(find_query_arg("", "k").kind, Kind::Absent);
  EXPECT_EQ(find_query_arg("kk=1&k2=2", "k").kind, Kind::Absent);
  EXPECT_EQ(find_query_arg("k=", "k").kind, Kind::Single);
  EXPECT_EQ(find_query_arg("k=", "k").value, "");
  EXPECT_EQ(find_query_arg("a=1&&k=v=w", "k").value, "v=w");
  EXPECT_EQ(find_query_arg("k=%41%4a%zz%4", "k").value, "AJzz");
  EXPECT_EQ(find_query_arg("K=1", "k").kind, Kind::Absent);  // keys are case-sensitive
  EXPECT_EQ(find_query_arg("k", "k").kind, Kind::Unusable);
  EXPECT_EQ(find_query_arg("k=1&k=1", "k").kind, Kind::Unusable);
  // Only the first 100 arguments are read.
  std::string many;
  for (int i = 0; i < 100; ++i) {
    many += 'a';
    many += std::to_string(i);
    many += "=1&";
  }
  EXPECT_EQ(find_query_arg(many + "k=1", "k").kind, Kind::Absent);
}

TEST(KeyAuthQuery, RemovesOnlyTheNamedArgument) {
  using key_auth::remove_query_arg;
  EXPECT_EQ(remove_query_arg("a=1&b=2", "k"), std::nullopt);
  EXPECT_EQ(remove_query_arg("k=1", "k"), "");
  EXPECT_EQ(remove_query_arg("a=%20&k=1&kk=2&k&b", "k"), "a=%20&kk=2&b");
  EXPECT_EQ(remove_query_arg("%6b=1&a=1", "k"), "a=1");
}

}  // namespace
}  // namespace apisix::plugins
