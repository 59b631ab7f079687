// consumer-restriction (plugins.md §4.5): schema, and the access decision by consumer name,
// consumer group, route and service, blacklist before whitelist before allowed_by_methods.
#include "plugins/consumer_restriction/consumer_restriction.h"

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

struct RestrictedRequest {
  explicit RestrictedRequest(std::string raw_head) : raw(std::move(raw_head)) {
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

std::shared_ptr<const Plugin> compile_restriction(std::string_view text) {
  return testing::compile_or_null<ConsumerRestriction>(text);
}

class ConsumerRestrictionTest : public ::testing::Test {
 protected:
  ConsumerRestrictionTest() {
    jack_.username = "jack";
    jack_.group_id = "company_a";
    rose_.username = "rose";
  }

  // What access answers for `method` by `consumer` (null: none attached) on route r1 of
  // service s1 (or no service): "pass" or "<status> <body>".
  std::string verdict(std::string_view conf, const Consumer* consumer,
                      std::string_view method = "GET", bool with_service = true) {
    auto plugin = compile_restriction(conf);
    if (plugin == nullptr) {
      return "(no plugin)";
    }
    RestrictedRequest r(std::string(method) + " /anything HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_TRUE(r.parsed);
    r.request->route.route_id = "r1";
    if (with_service) {
      r.request->route.service_id = "s1";
    }
    if (consumer != nullptr) {
      r.request->attach_consumer(*consumer, "");
    }
    PhaseResult result = testing::run_now(plugin->access(*r.request));
    if (!result) {
      return "pass";
    }
    std::string body = result->body.value_or("");
    if (!body.empty() && body.back() == '\n') {
      body.pop_back();
    }
    return std::to_string(result->status) + " " + body;
  }

  Consumer jack_;
  Consumer rose_;
};

TEST(ConsumerRestrictionSchema, DefaultsAndAnyOf) {
  Registry registry;
  const schema::Schema* s = registry.schema_of("consumer-restriction");
  json::value conf = json::parse(R"({"title":"whitelist","whitelist":["jack1","jack2"]})");
  EXPECT_FALSE(s->validate(conf));
  EXPECT_EQ(conf, json::parse(R"({"rejected_code":403,"title":"whitelist","type":"consumer_name",
                                  "whitelist":["jack1","jack2"]})"));
  // One of blacklist, whitelist, allowed_by_methods is needed; all three together are fine.
  EXPECT_TRUE(s->check(json::parse("{}")));
  EXPECT_TRUE(s->check(json::parse(R"({"rejected_code":403})")));
  EXPECT_FALSE(s->check(
      json::parse(R"({"whitelist":["jack1"],"blacklist":["jack2"],"allowed_by_methods":[]})")));
}

TEST(ConsumerRestrictionSchema, Rejections) {
  Registry registry;
  const schema::Schema* s = registry.schema_of("consumer-restriction");
  EXPECT_EQ(s->check(json::parse(R"({"whitelist":[]})")).value_or(""),
            R"(property "whitelist" validation failed: expect array to have at least 1 items)");
  EXPECT_EQ(s->check(json::parse(R"({"whitelist":["a"],"type":"host"})")).value_or(""),
            R"(property "type" validation failed: matches none of the enum values)");
  EXPECT_EQ(s->check(json::parse(R"({"whitelist":["a"],"rejected_code":199})")).value_or(""),
            R"(property "rejected_code" validation failed: expected 199 to be at least 200)");
  EXPECT_TRUE(
      s->check(json::parse(R"({"allowed_by_methods":[{"user":"a","methods":["FETCH"]}]})")));
  EXPECT_TRUE(s->check(json::parse(R"({"allowed_by_methods":[{"user":"a","methods":[]}]})")));
  EXPECT_FALSE(
      s->check(json::parse(R"({"allowed_by_methods":[{"user":"a","methods":["PURGE"]}]})")));
}

TEST_F(ConsumerRestrictionTest, Whitelist) {
  constexpr std::string_view conf = R"({"whitelist":["rose"]})";
  EXPECT_EQ(verdict(conf, &rose_), "pass");
  EXPECT_EQ(verdict(conf, &jack_), R"(403 {"message":"The consumer_name is forbidden."})");
  EXPECT_EQ(
      verdict(conf, nullptr),
      R"(401 {"message":"The request is rejected, please check the consumer_name for this request"})");
}

TEST_F(ConsumerRestrictionTest, BlacklistWithOwnCodeAndMessage) {
  constexpr std::string_view conf =
      R"({"blacklist":["jack"],"rejected_code":401,"rejected_msg":"request is forbidden"})";
  EXPECT_EQ(verdict(conf, &jack_), R"(401 {"message":"request is forbidden"})");
  EXPECT_EQ(verdict(conf, &rose_), "pass");
}

TEST_F(ConsumerRestrictionTest, BlacklistBeatsWhitelist) {
  EXPECT_EQ(verdict(R"({"blacklist":["jack"],"whitelist":["jack"]})", &jack_),
            R"(403 {"message":"The consumer_name is forbidden."})");
}

TEST_F(ConsumerRestrictionTest, AllowedByMethods) {
  constexpr std::string_view conf =
      R"({"allowed_by_methods":[{"user":"jack","methods":["GET"]},
                                {"user":"rose","methods":["POST"]},
                                {"user":"jack","methods":["POST"]}]})";
  EXPECT_EQ(verdict(conf, &jack_, "GET"), "pass");
  // The first entry naming the consumer decides.
  EXPECT_EQ(verdict(conf, &jack_, "POST"), R"(403 {"message":"The consumer_name is forbidden."})");
  EXPECT_EQ(verdict(conf, &rose_, "POST"), "pass");
  EXPECT_EQ(verdict(conf, &rose_, "GET"), R"(403 {"message":"The consumer_name is forbidden."})");
  // A consumer no entry names is not restricted by this rule.
  Consumer tom;
  tom.username = "tom";
  EXPECT_EQ(verdict(conf, &tom, "DELETE"), "pass");
}

TEST_F(ConsumerRestrictionTest, WhitelistedSkipsAllowedByMethods) {
  constexpr std::string_view conf =
      R"({"whitelist":["jack"],"allowed_by_methods":[{"user":"jack","methods":["POST"]}]})";
  EXPECT_EQ(verdict(conf, &jack_, "GET"), "pass");
  EXPECT_EQ(verdict(conf, &rose_, "GET"), R"(403 {"message":"The consumer_name is forbidden."})");
}

TEST_F(ConsumerRestrictionTest, EmptyAllowedByMethodsRestrictsNothing) {
  EXPECT_EQ(verdict(R"({"allowed_by_methods":[]})", &jack_, "DELETE"), "pass");
}

TEST_F(ConsumerRestrictionTest, ByServiceId) {
  constexpr std::string_view conf = R"({"type":"service_id","whitelist":["s1"]})";
  EXPECT_EQ(verdict(conf, nullptr), "pass");  // no consumer needed
  EXPECT_EQ(verdict(R"({"type":"service_id","whitelist":["s2"]})", &jack_),
            R"(403 {"message":"The service_id is forbidden."})");
  EXPECT_EQ(
      verdict(conf, &jack_, "GET", false),
      R"(401 {"message":"The request is rejected, please check the service_id for this request"})");
}

TEST_F(ConsumerRestrictionTest, ByRouteId) {
  EXPECT_EQ(verdict(R"({"type":"route_id","blacklist":["r1"]})", nullptr),
            R"(403 {"message":"The route_id is forbidden."})");
  EXPECT_EQ(verdict(R"({"type":"route_id","blacklist":["r2"]})", nullptr), "pass");
}

TEST_F(ConsumerRestrictionTest, ByConsumerGroupId) {
  constexpr std::string_view conf =
      R"({"type":"consumer_group_id","whitelist":["company_a"],"rejected_code":429})";
  EXPECT_EQ(verdict(conf, &jack_), "pass");
  EXPECT_EQ(verdict(R"({"type":"consumer_group_id","blacklist":["company_a"],"rejected_code":429})",
                    &jack_),
            R"(429 {"message":"The consumer_group_id is forbidden."})");
  // rose has no group.
  EXPECT_EQ(
      verdict(conf, &rose_),
      R"(401 {"message":"The request is rejected, please check the consumer_group_id for this request"})");
}

TEST_F(ConsumerRestrictionTest, MethodAfterProxyRewriteCounts) {
  // ngx.req.get_method() sees a method an earlier plugin changed.
  auto plugin =
      compile_restriction(R"({"allowed_by_methods":[{"user":"jack","methods":["GET"]}]})");
  RestrictedRequest r("POST /anything HTTP/1.1\r\nHost: h\r\n\r\n");
  r.request->attach_consumer(jack_, "");
  r.request->set_method("GET");
  EXPECT_FALSE(testing::run_now(plugin->access(*r.request)));
}

}  // namespace
}  // namespace apisix::plugins
