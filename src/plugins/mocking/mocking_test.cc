// mocking (plugins.md §5.18): schema, content types, the schema-driven generator and its JSON
// and XML encodings, and the access phase's answer.
#include "plugins/mocking/mocking.h"

#include <chrono>
#include <regex>

#include <gtest/gtest.h>

#include "plugins/testing.h"

namespace apisix::plugins {
namespace {

using namespace std::chrono_literals;
using testing::get;
using testing::json;
using testing::schema_error;
using testing::TestRequest;

std::shared_ptr<const Plugin> make(std::string_view conf) {
  auto made = testing::compile<Mocking>(conf);
  EXPECT_TRUE(made) << made.error().context;
  return made ? *made : nullptr;
}

bool matches(const std::string& text, const char* pattern) {
  return std::regex_match(text, std::regex(pattern));
}

TEST(MockingPlugin, SchemaNeedsAnExampleOrASchema) {
  EXPECT_EQ(schema_error("mocking", R"({"response_example":"x"})"), std::nullopt);
  EXPECT_EQ(schema_error("mocking", R"({"response_schema":{"type":"object"}})"), std::nullopt);
  EXPECT_NE(schema_error("mocking", R"({"response_status":201})"), std::nullopt);
  EXPECT_NE(schema_error("mocking", R"({"response_example":"x","response_status":99})"),
            std::nullopt);
  EXPECT_NE(schema_error("mocking", R"({"response_example":"x","delay":0.5})"), std::nullopt);
  EXPECT_NE(schema_error("mocking", R"({"response_example":"x","response_headers":{}})"),
            std::nullopt);
}

TEST(MockingPlugin, DefaultsAreFilled) {
  boost::json::value conf = json(R"({"response_example":"x"})");
  Registry registry;
  ASSERT_EQ(registry.schema_of("mocking")->validate(conf), std::nullopt);
  EXPECT_EQ(conf.at("delay"), 0);
  EXPECT_EQ(conf.at("response_status"), 200);
  EXPECT_EQ(conf.at("content_type"), "application/json;charset=utf8");
  EXPECT_EQ(conf.at("with_mock_header"), true);
}

TEST(MockingPlugin, ContentTypeMustBeSupported) {
  EXPECT_EQ(Mocking::media_type("application/json;charset=utf8"), "application/json");
  EXPECT_EQ(Mocking::media_type("text/plain"), "text/plain");
  EXPECT_EQ(Mocking::media_type("text/xml; a=b; c=d"), "text/xml; a=b");
  auto bad = testing::compile<Mocking>(R"({"response_example":"x","content_type":"image/png"})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().context, "unsupported content type!");
  auto bad_params =
      testing::compile<Mocking>(R"({"response_example":"x","content_type":"text/xml; a=b; c=d"})");
  EXPECT_FALSE(bad_params);
  EXPECT_TRUE(testing::compile<Mocking>(
      R"({"response_example":"x","content_type":"text/html; charset=utf-8"})"));
}

TEST(MockingPlugin, GeneratorUsesExamplesAndTypes) {
  auto out = Mocking::generate(json(R"({"type":"object","properties":{
      "id":{"type":"string","example":"abcd"},
      "ip":{"type":"number","example":192.168},
      "count":{"type":"integer","example":4.7},
      "flag":{"type":"boolean","example":true},
      "obj":{"type":"object"},
      "unknown":{"type":"null"},
      "no_items":{"type":"array"},
      "UPPER":{"type":"STRING","example":"u"}}})"));
  ASSERT_TRUE(out);
  EXPECT_EQ(Mocking::encode_json(*out),
            R"({"id":"abcd","ip":192.168,"count":4,"flag":true,"obj":{},"UPPER":"u"})");
}

TEST(MockingPlugin, GeneratorRandomValuesHaveTheRightShape) {
  auto schema = json(R"({"properties":{
      "s":{"type":"string"},"n":{"type":"number"},"i":{"type":"integer"},
      "b":{"type":"boolean","example":false},
      "arr":{"type":"array","items":{"type":"integer","example":155}}}})");
  for (int round = 0; round < 20; ++round) {
    auto out = Mocking::generate(schema);
    ASSERT_TRUE(out);
    const auto& obj = out->as_object();
    ASSERT_TRUE(obj.at("s").is_string());
    EXPECT_TRUE(matches(std::string(obj.at("s").as_string()), "[a-z]{1,10}"));
    double n = obj.at("n").to_number<double>();
    EXPECT_GE(n, 0);
    EXPECT_LT(n, 10000);
    double i = obj.at("i").to_number<double>();
    EXPECT_GE(i, 1);
    EXPECT_LE(i, 10000);
    EXPECT_EQ(i, static_cast<double>(static_cast<int>(i)));
    EXPECT_TRUE(obj.at("b").is_bool());
    const auto& arr = obj.at("arr").as_array();
    EXPECT_GE(arr.size(), 1u);
    EXPECT_LE(arr.size(), 3u);
    for (const auto& item : arr) {
      EXPECT_EQ(item.to_number<double>(), 155);
    }
  }
}

TEST(MockingPlugin, GeneratorFailsOnAPropertyWithoutType) {
  EXPECT_EQ(Mocking::generate(json(R"({"properties":{"a":{"example":"x"}}})")), std::nullopt);
  EXPECT_EQ(Mocking::generate(json(R"({"properties":{"a":{"type":"array","items":"x"}}})")),
            std::nullopt);
}

TEST(MockingPlugin, JsonEncodingIsCjsons) {
  EXPECT_EQ(Mocking::encode_json(json(R"({"a":"x/y\"z\u0001\u007f","b":[],"c":[1.5,2],"d":{}})")),
            R"({"a":"x\/y\"z\u0001\u007f","b":{},"c":[1.5,2],"d":{}})");
  EXPECT_EQ(Mocking::encode_json(json(R"({"big":123456789012345678,"small":0.1})")),
            R"({"big":1.2345678901235e+17,"small":0.1})");
}

TEST(MockingPlugin, XmlEncodingIsXml2luas) {
  EXPECT_EQ(Mocking::encode_xml(json(R"({"field1":"hello","n":4})")),
            "<data>\n  <field1>hello</field1>\n  <n>4</n>\n</data>\n");
  EXPECT_EQ(Mocking::encode_xml(json(R"({})")), "<data>\n</data>\n");
  // Arrays repeat their field's tag; a nested object gets its own tag; each table-valued
  // field deepens what follows it (xml2lua's `level` keeps growing).
  EXPECT_EQ(Mocking::encode_xml(json(R"({"arr":["a","b"],"obj":{"x":true},"last":1})")),
            "<data>\n"
            "    <arr>a</arr>\n"
            "    <arr>b</arr>\n"
            "  <obj>\n"
            "        <x>true</x>\n"
            "  </obj>\n"
            "  <last>1</last>\n"
            "</data>\n");
}

TEST(MockingPlugin, AnswersWithTheExample) {
  auto plugin =
      make(R"({"response_status":201,"response_example":"{\"Lastname\":\"Brown\",\"Age\":56}"})");
  TestRequest req(get("/anything"));
  PhaseResult result = testing::access(*plugin, *req);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 201);
  EXPECT_EQ(result->body, R"({"Lastname":"Brown","Age":56})");
  EXPECT_EQ(req->response().header("Content-Type"), "application/json;charset=utf8");
  EXPECT_EQ(req->response().header("x-mock-by"), "APISIX/3.18.0");
}

TEST(MockingPlugin, HeadersAndVariables) {
  auto plugin = make(
      R"({"response_headers":{"X-User-Id":"100","X-Product-Id":"apac-398-472","X-Route":"$arg_r",
          "X-Num":5},
          "response_example":"Client IP: $remote_addr, empty_var:$foo","with_mock_header":false,
          "content_type":"text/plain"})");
  TestRequest req(get("/anything?r=7"), {}, "192.168.65.1");
  PhaseResult result = testing::access(*plugin, *req);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "Client IP: 192.168.65.1, empty_var:");
  const Response& response = req->response();
  EXPECT_EQ(response.header("X-User-Id"), "100");
  EXPECT_EQ(response.header("X-Product-Id"), "apac-398-472");
  EXPECT_EQ(response.header("X-Route"), "7");
  EXPECT_EQ(response.header("X-Num"), "5");
  EXPECT_EQ(response.header("x-mock-by"), std::nullopt);
  EXPECT_EQ(response.header("Content-Type"), "text/plain");
}

TEST(MockingPlugin, AnswersWithAGeneratedBody) {
  auto json_plugin = make(R"({"content_type":"text/plain","response_schema":{"type":"object",
      "properties":{"field1":{"type":"string","example":"hello"}}}})");
  TestRequest a(get("/hello"));
  PhaseResult json_result = testing::access(*json_plugin, *a);
  ASSERT_TRUE(json_result);
  EXPECT_EQ(json_result->body, R"({"field1":"hello"})");

  auto xml_plugin = make(R"({"content_type":"application/xml","response_schema":{
      "properties":{"field1":{"type":"integer","example":4}}}})");
  TestRequest b(get("/hello"));
  PhaseResult xml_result = testing::access(*xml_plugin, *b);
  ASSERT_TRUE(xml_result);
  EXPECT_EQ(xml_result->body, "<data>\n  <field1>4</field1>\n</data>\n");

  auto html_plugin = make(R"({"content_type":"text/html","response_schema":{
      "properties":{"field1":{"type":"integer","example":4}}}})");
  TestRequest c(get("/hello"));
  PhaseResult html_result = testing::access(*html_plugin, *c);
  ASSERT_TRUE(html_result);
  EXPECT_EQ(html_result->body, "");

  auto broken = make(R"({"response_schema":{"properties":{"a":{}}}})");
  TestRequest d(get("/hello"));
  PhaseResult broken_result = testing::access(*broken, *d);
  ASSERT_TRUE(broken_result);
  EXPECT_EQ(broken_result->status, 500);
}

TEST(MockingPlugin, ExamplePrecedesSchema) {
  auto plugin = make(R"({"response_example":"fixed","response_schema":{"properties":{
      "a":{"type":"string","example":"gen"}}}})");
  TestRequest req(get("/x"));
  PhaseResult result = testing::access(*plugin, *req);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->body, "fixed");
}

TEST(MockingPlugin, DelayIsInSeconds) {
  auto plugin = make(R"({"delay":1,"response_example":"hello world"})");
  TestRequest req(get("/hello"));
  auto start = std::chrono::steady_clock::now();
  PhaseResult result = testing::access(*plugin, *req);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 990ms);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->body, "hello world");
}

}  // namespace
}  // namespace apisix::plugins
