// echo (plugins.md §5.17): the schema, the headers header_filter sets and removes, and how
// body_filter puts before_body / body / after_body around the pieces of a streamed body.
#include "plugins/echo/echo.h"

#include <memory>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "plugins/builtin.h"
#include "plugins/request.h"

namespace apisix::plugins {
namespace {

namespace json = boost::json;

std::optional<std::string> schema_error(std::string_view text) {
  Registry registry;
  return registry.schema_of("echo")->check(json::parse(text));
}

std::shared_ptr<const Plugin> compile_echo(std::string_view text) {
  Registry registry;
  json::value conf = json::parse(text);
  auto err = registry.schema_of("echo")->validate(conf);
  EXPECT_FALSE(err) << *err;
  CompileContext ctx;
  auto plugin = Echo::compile(conf, ctx);
  EXPECT_TRUE(plugin) << plugin.error().context;
  return plugin ? *plugin : nullptr;
}

// The body a client gets when the upstream sends `pieces` (the last call has last = true).
std::string filtered(const Plugin& plugin, Request& request,
                     const std::vector<std::string>& pieces) {
  std::string out;
  for (size_t i = 0; i < pieces.size(); ++i) {
    std::string chunk = pieces[i];
    plugin.body_filter(request, chunk, i + 1 == pieces.size());
    out += chunk;
  }
  return out;
}

// An upstream response head: 200 with a length, an encoding and cache validators.
struct UpstreamHead {
  UpstreamHead() {
    response.status = 200;
    response.set_original(fields.data(), fields.size());
  }
  std::vector<http::Header> fields{{"Content-Length", "11"},
                                   {"Content-Encoding", "identity"},
                                   {"Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"},
                                   {"ETag", "\"abc\""},
                                   {"Content-Type", "text/plain"}};
  Response response;
};

TEST(EchoPlugin, SchemaNeedsOneBodyField) {
  EXPECT_FALSE(schema_error(R"({"before_body":"a"})"));
  EXPECT_FALSE(schema_error(R"({"body":"a","headers":{"X":"1"}})"));
  EXPECT_EQ(schema_error(R"({})"), "expect object to have at least 1 properties");
  EXPECT_TRUE(schema_error(R"({"headers":{"X":"1"}})"));
  EXPECT_EQ(schema_error(R"({"body":1})"),
            "property \"body\" validation failed: wrong type: expected string, got number");
  EXPECT_EQ(schema_error(R"({"body":"a","headers":{}})"),
            "property \"headers\" validation failed: expect object to have at least 1 properties");
}

TEST(EchoPlugin, HeaderFilterDropsBodyHeadersAndSetsConfiguredOnes) {
  auto plugin = compile_echo(R"({"before_body":"x","headers":{"Location":"https://x","X-N":3}})");
  Request request(nullptr, nullptr);
  UpstreamHead up;
  plugin->header_filter(request, up.response);
  EXPECT_TRUE(up.response.body_modified());
  EXPECT_FALSE(up.response.header("Content-Length"));
  EXPECT_FALSE(up.response.header("Content-Encoding"));
  EXPECT_FALSE(up.response.header("Last-Modified"));
  EXPECT_FALSE(up.response.header("ETag"));
  EXPECT_EQ(up.response.header("Content-Type"), "text/plain");
  EXPECT_EQ(up.response.header("Location"), "https://x");
  EXPECT_EQ(up.response.header("X-N"), "3");
}

TEST(EchoPlugin, HeadersOnlyWithoutBodyFieldsKeepTheBodyHeaders) {
  // The schema wants a body field; compile() on its own accepts headers alone, and then the
  // body is not touched (APISIX clears the headers only when a body field is set).
  CompileContext ctx;
  auto plugin = Echo::compile(json::parse(R"({"headers":{"X-A":"a"}})"), ctx);
  ASSERT_TRUE(plugin);
  Request request(nullptr, nullptr);
  UpstreamHead up;
  (*plugin)->header_filter(request, up.response);
  EXPECT_FALSE(up.response.body_modified());
  EXPECT_EQ(up.response.header("Content-Length"), "11");
  EXPECT_EQ(up.response.header("X-A"), "a");
}

TEST(EchoPlugin, BeforeAndAfterBodyWrapAStreamedBody) {
  auto plugin = compile_echo(R"({"before_body":"before ","after_body":" after"})");
  Request request(nullptr, nullptr);
  EXPECT_EQ(filtered(*plugin, request, {"hello", " ", "world", ""}), "before hello world after");
}

TEST(EchoPlugin, BeforeBodyGoesOutWithTheFirstPieceOnly) {
  auto plugin = compile_echo(R"({"before_body":"<"})");
  Request request(nullptr, nullptr);
  std::string first = "a";
  plugin->body_filter(request, first, false);
  std::string second = "b";
  plugin->body_filter(request, second, true);
  EXPECT_EQ(first, "<a");
  EXPECT_EQ(second, "b");
}

TEST(EchoPlugin, BodyReplacesTheUpstreamBodyAndEndsIt) {
  auto plugin = compile_echo(R"({"before_body":"[","body":"new","after_body":"]"})");
  Request request(nullptr, nullptr);
  EXPECT_EQ(filtered(*plugin, request, {"old 1", "old 2", "old 3"}), "[new]");
}

TEST(EchoPlugin, BodyOnAnEmptyUpstreamBody) {
  auto plugin = compile_echo(R"({"body":"hello upstream"})");
  Request request(nullptr, nullptr);
  EXPECT_EQ(filtered(*plugin, request, {""}), "hello upstream");
}

TEST(EchoPlugin, AfterBodyAloneNeedsNoState) {
  auto plugin = compile_echo(R"({"after_body":"!"})");
  Request request(nullptr, nullptr);
  EXPECT_EQ(filtered(*plugin, request, {"a", "b"}), "ab!");
}

TEST(EchoPlugin, BadHeaderValuesAreLeftOut) {
  CompileContext ctx;
  auto plugin =
      Echo::compile(json::parse(R"({"body":"x","headers":{"X-Obj":{},"":"e","X-Ok":"ok"}})"), ctx);
  ASSERT_TRUE(plugin);
  Request request(nullptr, nullptr);
  UpstreamHead up;
  (*plugin)->header_filter(request, up.response);
  EXPECT_FALSE(up.response.header("X-Obj"));
  EXPECT_EQ(up.response.header("X-Ok"), "ok");
}

}  // namespace
}  // namespace apisix::plugins
