// basic-auth (plugins.md §4.2, §3.1): schema, how the Authorization header is read, the 401
// answers, hide_credentials and the anonymous consumer, over a fake request and a
// ConsumerIndex.
#include "plugins/basic_auth/basic_auth.h"

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

struct BasicRequest {
  explicit BasicRequest(std::string raw_head) : raw(std::move(raw_head)) {
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

std::unique_ptr<BasicRequest> with_headers(std::string_view headers) {
  auto r = std::make_unique<BasicRequest>("GET /anything HTTP/1.1\r\nHost: h\r\n" +
                                          std::string(headers) + "\r\n");
  EXPECT_TRUE(r->parsed);
  return r;
}

std::unique_ptr<BasicRequest> with_authorization(std::string_view value) {
  return with_headers("Authorization: " + std::string(value) + "\r\n");
}

std::shared_ptr<const Plugin> compile_basic(std::string_view text) {
  return testing::compile_or_null<BasicAuth>(text);
}

std::string www_authenticate(const Exit& exit) {
  for (const auto& [n, v] : exit.headers) {
    if (http::iequals(n, "WWW-Authenticate")) {
      return v;
    }
  }
  return "(none)";
}

std::string message(std::string_view text) {
  return "{\"message\":\"" + std::string(text) + "\"}\n";
}

// johndoe / john-key through credential cred-john (custom id 495aec6a); foo / bar in the
// consumer's own plugins; anonymous.
class BasicAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto john = std::make_shared<Consumer>();
    john->username = "johndoe";
    john->custom_id = "495aec6a";
    auto foo = std::make_shared<Consumer>();
    foo->username = "foo";
    auto anonymous = std::make_shared<Consumer>();
    anonymous->username = "anonymous";
    anonymous->custom_id = "anon-label";
    index_.add_consumer(john);
    index_.add_consumer(foo);
    index_.add_consumer(anonymous);
    index_.add_auth("basic-auth", "johndoe",
                    ConsumerAuth{john, "cred-john",
                                 json::parse(R"({"username":"johndoe","password":"john-key"})")});
    index_.add_auth("basic-auth", "foo",
                    ConsumerAuth{foo, "", json::parse(R"({"username":"foo","password":"bar"})")});
  }

  PhaseResult rewrite(const Plugin& plugin, BasicRequest& r) {
    r.request->consumers = &index_;
    return testing::run_now(plugin.rewrite(*r.request));
  }

  // The 401 body for `authorization` with a default configuration.
  std::string rejection(std::string_view authorization) {
    auto plugin = compile_basic("{}");
    auto r = with_authorization(authorization);
    PhaseResult result = rewrite(*plugin, *r);
    if (!result) {
      return "(accepted)";
    }
    EXPECT_EQ(result->status, 401);
    EXPECT_EQ(www_authenticate(*result), "Basic realm=\"basic\"");
    return result->body.value_or("(no body)");
  }

  ConsumerIndex index_;
};

TEST(BasicAuthSchema, DefaultsAndRejections) {
  Registry registry;
  const schema::Schema* s = registry.schema_of("basic-auth");
  json::value conf = json::parse("{}");
  EXPECT_FALSE(s->validate(conf));
  EXPECT_EQ(conf, json::parse(R"({"hide_credentials":false,"realm":"basic"})"));
  EXPECT_EQ(
      s->check(json::parse(R"({"hide_credentials":1})")).value_or(""),
      R"(property "hide_credentials" validation failed: wrong type: expected boolean, got number)");
  EXPECT_TRUE(s->check(json::parse(R"({"realm":"a\"b"})")));
  EXPECT_TRUE(s->check(json::parse(R"({"anonymous_consumer":""})")));
}

TEST(BasicAuthSchema, ConsumerSchemaWantsUsernameAndPassword) {
  Registry registry;
  const schema::Schema* s = registry.consumer_schema_of("basic-auth");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->check(json::parse(R"({"password":"p"})")).value_or(""),
            R"(property "username" is required)");
  EXPECT_EQ(s->check(json::parse(R"({"username":"u"})")).value_or(""),
            R"(property "password" is required)");
  EXPECT_EQ(s->check(json::parse(R"({"username":123,"password":"p"})")).value_or(""),
            R"(property "username" validation failed: wrong type: expected string, got number)");
  EXPECT_FALSE(s->check(json::parse(R"({"username":"u","password":"p"})")));
}

TEST(BasicAuthParse, Base64AsNginxDecodesIt) {
  using basic_auth::decode_base64;
  EXPECT_EQ(decode_base64("am9obmRvZTpqb2huLWtleQ=="), "johndoe:john-key");
  EXPECT_EQ(decode_base64("am9obmRvZTpqb2huLWtleQ"), "johndoe:john-key");  // no padding
  EXPECT_EQ(decode_base64("Zm9v=garbage"), "foo");                         // stops at the first '='
  EXPECT_EQ(decode_base64(""), "");
  EXPECT_EQ(decode_base64("aca_a"), std::nullopt);  // '_' is not in the alphabet
  EXPECT_EQ(decode_base64("Zm9vY"), std::nullopt);  // 4n+1 characters
  EXPECT_EQ(decode_base64("Zm9 v"), std::nullopt);
}

TEST(BasicAuthParse, SchemeAndFields) {
  using basic_auth::parse_authorization;
  auto creds = parse_authorization("Basic am9obmRvZTpqb2huLWtleQ==");
  ASSERT_TRUE(creds);
  EXPECT_EQ(creds->username, "johndoe");
  EXPECT_EQ(creds->password, "john-key");
  // Any case, anywhere in the value, with one whitespace character after it.
  EXPECT_TRUE(parse_authorization("bAsIc Zm9vOmJhcg=="));
  EXPECT_TRUE(parse_authorization("xbasic\tZm9vOmJhcg=="));
  EXPECT_FALSE(parse_authorization("Basic"));
  EXPECT_FALSE(parse_authorization("Basic "));
  EXPECT_FALSE(parse_authorization("Basic  Zm9vOmJhcg=="));  // the second space is decoded
  EXPECT_FALSE(parse_authorization("Bearer Zm9vOmJhcg=="));
  // "foo:foo\n": whitespace is deleted from both fields.
  EXPECT_EQ(parse_authorization("Basic Zm9vOmZvbwo=")->password, "foo");
  // "a b:c d" -> "ab" / "cd"; "u:p:q" -> the password is the second field only.
  EXPECT_EQ(parse_authorization("Basic YSBiOmMgZA==")->username, "ab");
  EXPECT_EQ(parse_authorization("Basic YSBiOmMgZA==")->password, "cd");
  EXPECT_EQ(parse_authorization("Basic dTpwOnE=")->password, "p");
  // "bar" has one field; "bar:" and "bar::" lose their empty trailing fields.
  EXPECT_FALSE(parse_authorization("Basic YmFy"));
  EXPECT_FALSE(parse_authorization("Basic YmFyOg=="));
  EXPECT_FALSE(parse_authorization("Basic YmFyOjo="));
  // ":p" has an empty user name; "u::p" an empty password.
  EXPECT_EQ(parse_authorization("Basic OnA=")->username, "");
  EXPECT_EQ(parse_authorization("Basic dTo6cA==")->password, "");
}

TEST_F(BasicAuthTest, ValidCredentialsAttachTheConsumer) {
  auto plugin = compile_basic("{}");
  auto r = with_authorization("Basic am9obmRvZTpqb2huLWtleQ==");
  EXPECT_FALSE(rewrite(*plugin, *r));
  ASSERT_NE(r->request->consumer(), nullptr);
  EXPECT_EQ(r->request->consumer()->username, "johndoe");
  EXPECT_EQ(r->request->header("X-Consumer-Username"), "johndoe");
  EXPECT_EQ(r->request->header("X-Credential-Identifier"), "cred-john");
  EXPECT_EQ(r->request->header("X-Consumer-Custom-ID"), "495aec6a");
  EXPECT_EQ(r->request->header("Authorization"), "Basic am9obmRvZTpqb2huLWtleQ==");
}

TEST_F(BasicAuthTest, Rejections) {
  EXPECT_EQ(rejection("Bad_header YmFyOmJhcgo="), message("Invalid authorization in request"));
  EXPECT_EQ(rejection("Basic aca_a"), message("Invalid authorization in request"));
  EXPECT_EQ(rejection("Basic YmFy"), message("Invalid authorization in request"));
  EXPECT_EQ(rejection("Basic YmFyOmJhcgo="), message("Invalid user authorization"));  // bar:bar
  EXPECT_EQ(rejection("Basic Zm9vOmZvbwo="), message("Invalid user authorization"));  // foo:foo
  EXPECT_EQ(rejection("Basic Zm9vOmJhcg=="), "(accepted)");                           // foo:bar
  EXPECT_EQ(rejection("basic Zm9vOmJhcg=="), "(accepted)");
  EXPECT_EQ(rejection("BASIC Zm9vOmJhcg=="), "(accepted)");
  // "foo:bar:baz" -> password "bar".
  EXPECT_EQ(rejection("Basic Zm9vOmJhcjpiYXo="), "(accepted)");
  // The password is compared exactly: "foo:Bar", "foo:ba".
  EXPECT_EQ(rejection("Basic Zm9vOkJhcg=="), message("Invalid user authorization"));
  EXPECT_EQ(rejection("Basic Zm9vOmJh"), message("Invalid user authorization"));
}

TEST_F(BasicAuthTest, MissingAuthorization) {
  auto plugin = compile_basic(R"({"realm":"secure-zone"})");
  auto r = with_headers("");
  PhaseResult result = rewrite(*plugin, *r);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 401);
  EXPECT_EQ(result->body, message("Missing authorization in request"));
  EXPECT_EQ(www_authenticate(*result), "Basic realm=\"secure-zone\"");
}

TEST_F(BasicAuthTest, HideCredentials) {
  auto plugin = compile_basic(R"({"hide_credentials":true})");
  auto r = with_authorization("Basic am9obmRvZTpqb2huLWtleQ==");
  EXPECT_FALSE(rewrite(*plugin, *r));
  EXPECT_EQ(r->request->header("Authorization"), std::nullopt);
  EXPECT_EQ(r->request->header("X-Consumer-Username"), "johndoe");
  // A rejected request keeps it (it does not go upstream anyway).
  auto bad = with_authorization("Basic YmFyOmJhcgo=");
  EXPECT_TRUE(rewrite(*plugin, *bad));
  EXPECT_EQ(bad->request->header("Authorization"), "Basic YmFyOmJhcgo=");
}

TEST_F(BasicAuthTest, AnonymousConsumer) {
  auto plugin = compile_basic(R"({"anonymous_consumer":"anonymous","hide_credentials":true})");
  for (std::string_view headers :
       {std::string_view(""), std::string_view("Authorization: Basic YmFyOmJhcgo=\r\n"),
        std::string_view("Authorization: nonsense\r\n")}) {
    auto r = with_headers(std::string(headers) + "X-Credential-Identifier: spoof\r\n");
    EXPECT_FALSE(rewrite(*plugin, *r)) << headers;
    ASSERT_NE(r->request->consumer(), nullptr);
    EXPECT_EQ(r->request->consumer()->username, "anonymous");
    EXPECT_EQ(r->request->header("X-Consumer-Username"), "anonymous");
    EXPECT_EQ(r->request->header("X-Credential-Identifier"), std::nullopt);
    EXPECT_EQ(r->request->header("X-Consumer-Custom-ID"), std::nullopt);
    EXPECT_EQ(r->request->header("Authorization"), std::nullopt);
  }
  auto r = with_authorization("Basic am9obmRvZTpqb2huLWtleQ==");
  EXPECT_FALSE(rewrite(*plugin, *r));
  EXPECT_EQ(r->request->consumer()->username, "johndoe");
}

TEST_F(BasicAuthTest, MissingAnonymousConsumer) {
  auto plugin = compile_basic(R"({"anonymous_consumer":"nobody"})");
  auto r = with_headers("");
  PhaseResult result = rewrite(*plugin, *r);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 401);
  EXPECT_EQ(result->body, message("Invalid user authorization"));
  EXPECT_EQ(www_authenticate(*result), "Basic realm=\"basic\"");
  EXPECT_EQ(r->request->consumer(), nullptr);
}

}  // namespace
}  // namespace apisix::plugins
