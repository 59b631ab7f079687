// mocking through the real binary (plugins.md §5.18): the examples of APISIX's
// docs/en/latest/plugins/mocking.md (a fixed example with its status, headers and variables,
// a JSON-schema-generated body) plus XML output and the delay, with routes written over the
// Admin API; the upstream is never called.

#include <chrono>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

class MockingPlugin : public PluginTest {
 protected:
  HttpResponse put_route(const std::string& plugins) {
    return admin_call(admin_, "PUT", "/apisix/admin/routes/mocking-route", route(plugins));
  }

  // Waits until GET /anything carries the x-mock-by header (the route is applied).
  HttpResponse mocked(std::string_view header = "x-mock-by") {
    return wait_for_response([&] { return http_get(port_, "/anything"); },
                             [&](const HttpResponse& r) { return r.headers.has(header); });
  }
};

// "Generate Specific Mock Responses".
TEST_F(MockingPlugin, AnswersWithTheExampleAndStatus) {
  HttpResponse put = put_route(R"({"mocking":{"response_status":201,
      "response_example":"{\"Lastname\":\"Brown\",\"Age\":56}"}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  HttpResponse r = mocked();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"Lastname":"Brown","Age":56})");
  EXPECT_EQ(r.header("Content-Type"), "application/json;charset=utf8");
  EXPECT_EQ(r.header("x-mock-by"), "APISIX/3.18.0");
  EXPECT_EQ(upstream_.request_count(), 0u);
}

// "Generate Mock Response Headers".
TEST_F(MockingPlugin, AddsHeadersAndResolvesVariables) {
  HttpResponse put = put_route(R"({"mocking":{
      "response_headers":{"X-User-Id":"100","X-Product-Id":"apac-398-472","X-Route":"$route_id"},
      "response_example":"Client IP: $remote_addr"}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  HttpResponse r = mocked("X-User-Id");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Client IP: 127.0.0.1");
  EXPECT_EQ(r.header("X-User-Id"), "100");
  EXPECT_EQ(r.header("X-Product-Id"), "apac-398-472");
  EXPECT_EQ(r.header("X-Route"), "mocking-route");
}

// "Generate Mock Responses Using JSON Schema".
TEST_F(MockingPlugin, GeneratesABodyFromASchema) {
  HttpResponse put = put_route(R"({"mocking":{"response_schema":{"type":"object","properties":{
      "id":{"type":"string","example":"abcd"},
      "ip":{"type":"number","example":192.168},
      "random_str_arr":{"type":"array","items":{"type":"string"}},
      "nested_obj":{"type":"object","properties":{
        "random_str":{"type":"string"},
        "child_nested_obj":{"type":"object","properties":{
          "random_bool":{"type":"boolean","example":true},
          "random_int_arr":{"type":"array","items":{"type":"integer","example":155}}}}}}}}}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  HttpResponse r = mocked();
  EXPECT_EQ(r.status, 200);
  // lua-cjson's encoding, fields in the schema's order; random strings are 1-10 lower-case
  // letters and arrays have 1-3 items.
  const std::string word = R"("[a-z]{1,10}")";
  const std::regex shape(R"(\{"id":"abcd","ip":192\.168,"random_str_arr":\[)" + word + "(," + word +
                         R"(){0,2}\],"nested_obj":\{"random_str":)" + word +
                         R"(,"child_nested_obj":\{"random_bool":true,)"
                         R"("random_int_arr":\[155(,155){0,2}\]\}\}\})");
  EXPECT_TRUE(std::regex_match(r.body, shape)) << r.body;
}

TEST_F(MockingPlugin, GeneratesXml) {
  HttpResponse put = put_route(R"({"mocking":{"content_type":"application/xml",
      "response_schema":{"type":"object","properties":{"field1":{"type":"string","example":"hello"}}}}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  HttpResponse r = mocked();
  EXPECT_EQ(r.header("Content-Type"), "application/xml");
  EXPECT_EQ(r.body, "<data>\n  <field1>hello</field1>\n</data>\n");
}

TEST_F(MockingPlugin, DelaysTheAnswer) {
  HttpResponse put = put_route(
      R"({"mocking":{"delay":1,"content_type":"text/plain","response_example":"hello world",
          "with_mock_header":false,"response_headers":{"X-Ready":"1"}}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  HttpResponse first = mocked("X-Ready");
  EXPECT_FALSE(first.headers.has("x-mock-by"));
  auto start = std::chrono::steady_clock::now();
  HttpResponse r = http_get(port_, "/anything");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 990ms);
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(r.header("Content-Type"), "text/plain");
}

TEST_F(MockingPlugin, AdminApiRejectsUnsupportedContentTypes) {
  HttpResponse r = put_route(R"({"mocking":{"response_example":"x","content_type":"image/png"}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("failed to check the configuration of plugin mocking err: unsupported "
                        "content type!"),
            std::string::npos)
      << r.body;
}

}  // namespace
}  // namespace apisix::test
