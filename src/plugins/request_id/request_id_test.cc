// request-id (plugins.md §5.11): schema defaults, the id generators and the rewrite /
// header_filter pair.
#include "plugins/request_id/request_id.h"

#include <algorithm>
#include <regex>
#include <set>

#include <gtest/gtest.h>

#include "plugins/testing.h"

namespace apisix::plugins {
namespace {

using testing::get;
using testing::schema_error;
using testing::TestRequest;

std::shared_ptr<const Plugin> make(std::string_view conf) {
  auto made = testing::compile<RequestId>(conf);
  EXPECT_TRUE(made) << made.error().context;
  return made ? *made : nullptr;
}

bool matches(const std::string& text, const char* pattern) {
  return std::regex_match(text, std::regex(pattern));
}

TEST(RequestIdPlugin, SchemaFillsDefaults) {
  boost::json::value conf = testing::json("{}");
  Registry registry;
  ASSERT_EQ(registry.schema_of("request-id")->validate(conf), std::nullopt);
  EXPECT_EQ(conf, testing::json(R"({"header_name":"X-Request-Id","include_in_response":true,
      "algorithm":"uuid","range_id":{"length":16,
      "char_set":"abcdefghijklmnopqrstuvwxyzABCDEFGHIGKLMNOPQRSTUVWXYZ0123456789"}})"));
}

TEST(RequestIdPlugin, SchemaRejectsBadValues) {
  EXPECT_EQ(schema_error("request-id", R"({"algorithm":"ksuid"})"), std::nullopt);
  EXPECT_EQ(schema_error("request-id", R"({"algorithm":"uuidv7"})"), std::nullopt);
  EXPECT_NE(schema_error("request-id", R"({"algorithm":"snowflake"})"), std::nullopt);
  EXPECT_NE(schema_error("request-id", R"({"range_id":{"length":5}})"), std::nullopt);
  EXPECT_NE(schema_error("request-id", R"({"range_id":{"char_set":"abc"}})"), std::nullopt);
  EXPECT_NE(schema_error("request-id", R"({"include_in_response":"yes"})"), std::nullopt);
}

TEST(RequestIdPlugin, UuidV4Format) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = RequestId::uuid_v4();
    EXPECT_TRUE(matches(id, "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"))
        << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(RequestIdPlugin, NanoidAndRangeIdUseTheirAlphabets) {
  for (int i = 0; i < 50; ++i) {
    std::string id = RequestId::nanoid();
    EXPECT_TRUE(matches(id, "[-_0-9a-zA-Z]{21}")) << id;
  }
  std::string range = RequestId::range_id(40, "xyz123");
  EXPECT_EQ(range.size(), 40u);
  EXPECT_TRUE(matches(range, "[xyz123]{40}")) << range;
  // Every character of the set is reachable.
  std::string many = RequestId::range_id(2000, "abcdef");
  for (char c : std::string("abcdef")) {
    EXPECT_NE(many.find(c), std::string::npos) << c;
  }
}

TEST(RequestIdPlugin, KsuidEncodingMatchesTheReference) {
  // The example of APISIX's request-id doc: raw 15430DBBD7F68AD7CA0AE277772AB36DDB1A3C13.
  const unsigned char raw[20] = {0x15, 0x43, 0x0D, 0xBB, 0xD7, 0xF6, 0x8A, 0xD7, 0xCA, 0x0A,
                                 0xE2, 0x77, 0x77, 0x2A, 0xB3, 0x6D, 0xDB, 0x1A, 0x3C, 0x13};
  EXPECT_EQ(RequestId::ksuid_text(raw), "325ghCANEKjw6Jsfejg5p6QrLYB");
  const unsigned char zero[20] = {};
  EXPECT_EQ(RequestId::ksuid_text(zero), std::string(27, '0'));
  std::string fresh = RequestId::ksuid();
  EXPECT_TRUE(matches(fresh, "[0-9A-Za-z]{27}")) << fresh;
  // Current timestamps (after 2025) start with a digit >= 2 in base62 order.
  EXPECT_GT(fresh, "2");
}

TEST(RequestIdPlugin, UuidV7IsTimeOrdered) {
  std::vector<std::string> ids;
  for (int i = 0; i < 500; ++i) {
    ids.push_back(RequestId::uuid_v7());
  }
  for (const std::string& id : ids) {
    EXPECT_TRUE(matches(id, "[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"))
        << id;
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
}

TEST(RequestIdPlugin, GeneratesIdUpstreamAndInTheResponse) {
  auto plugin = make("{}");
  TestRequest req(get("/anything"));
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  std::optional<std::string_view> sent = req->header("X-Request-Id");
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->size(), 36u);
  Response response;
  response.status = 200;
  plugin->header_filter(*req, response);
  EXPECT_EQ(response.header("X-Request-Id"), sent);
}

TEST(RequestIdPlugin, EmptyClientIdIsReplacedAndAGivenOneKept) {
  auto plugin = make("{}");
  TestRequest empty(get("/anything", "X-Request-Id: \r\n"));
  EXPECT_EQ(testing::rewrite(*plugin, *empty), std::nullopt);
  ASSERT_TRUE(empty->header("X-Request-Id"));
  EXPECT_EQ(empty->header("X-Request-Id")->size(), 36u);

  TestRequest given(get("/anything", "X-Request-Id: some-custom-request-id\r\n"));
  EXPECT_EQ(testing::rewrite(*plugin, *given), std::nullopt);
  EXPECT_TRUE(given->upstream_headers().empty());
  Response response;
  plugin->header_filter(*given, response);
  EXPECT_EQ(response.header("X-Request-Id"), "some-custom-request-id");
}

TEST(RequestIdPlugin, CustomHeaderAndAlgorithm) {
  auto plugin = make(R"({"header_name":"X-Req-Identifier","algorithm":"nanoid"})");
  TestRequest req(get("/anything"));
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  ASSERT_TRUE(req->header("X-Req-Identifier"));
  EXPECT_EQ(req->header("X-Req-Identifier")->size(), 21u);
  EXPECT_EQ(req->header("X-Request-Id"), std::nullopt);

  auto ranged = make(R"({"algorithm":"range_id","range_id":{"length":8,"char_set":"ABCDEF"}})");
  TestRequest r(get("/anything"));
  EXPECT_EQ(testing::rewrite(*ranged, *r), std::nullopt);
  ASSERT_TRUE(r->header("X-Request-Id"));
  EXPECT_TRUE(matches(std::string(*r->header("X-Request-Id")), "[A-F]{8}"));
}

TEST(RequestIdPlugin, HiddenFromTheResponseWhenAsked) {
  auto plugin = make(R"({"header_name":"X-Req-Identifier","include_in_response":false})");
  TestRequest req(get("/anything"));
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  EXPECT_TRUE(req->header("X-Req-Identifier"));
  Response response;
  plugin->header_filter(*req, response);
  EXPECT_EQ(response.header("X-Req-Identifier"), std::nullopt);
}

TEST(RequestIdPlugin, AnUpstreamIdInTheResponseIsKept) {
  auto plugin = make("{}");
  TestRequest req(get("/anything"));
  EXPECT_EQ(testing::rewrite(*plugin, *req), std::nullopt);
  Response response;
  response.set_header("X-Request-Id", "from-upstream");
  plugin->header_filter(*req, response);
  EXPECT_EQ(response.header("X-Request-Id"), "from-upstream");
}

TEST(RequestIdPlugin, HeaderFilterWithoutRewriteDoesNothing) {
  auto plugin = make("{}");
  TestRequest req(get("/anything"));
  Response response;
  plugin->header_filter(*req, response);
  EXPECT_EQ(response.header("X-Request-Id"), std::nullopt);
}

}  // namespace
}  // namespace apisix::plugins
