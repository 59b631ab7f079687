// request-id through the real binary (plugins.md §5.11): the examples of APISIX's
// docs/en/latest/plugins/request-id.md (default and custom header, a client's id kept, hidden
// from the response, nanoid and ksuid, a global rule and a route together) with routes written
// over the Admin API and a local upstream that records the id it receives.

#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "tests/harness/http_codec.h"
#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

bool matches(const std::string& text, const char* pattern) {
  return std::regex_match(text, std::regex(pattern));
}

constexpr const char* kUuid = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}";

class RequestIdPlugin : public PluginTest {
 protected:
  void write(std::string_view path, const std::string& body) {
    PluginTest::write("PUT", path, body);
  }

  void put_route(const std::string& plugins) {
    write("/apisix/admin/routes/request-id-route", route(plugins));
  }

  HttpResponse send(Headers headers = {}) {
    headers.add("Host", "example.com");
    return fetch(port_, make_request("GET", "/anything", headers));
  }

  // Waits until the response carries `header` (the route is applied) and returns it.
  HttpResponse with_header(std::string_view header, Headers headers = {}) {
    return wait_for_response(
        [&] { return send(headers); },
        [&](const HttpResponse& r) { return r.status == 200 && r.headers.has(header); });
  }

  std::string upstream_saw(std::string_view header) {
    auto got = upstream_.last_request();
    return got ? got->headers.value_or_empty(header) : "(no request)";
  }
};

// "Attach Request ID to Default Response Header".
TEST_F(RequestIdPlugin, AttachesAGeneratedIdToTheResponse) {
  put_route(R"({"request-id":{"header_name":"X-Request-Id","include_in_response":true}})");
  HttpResponse r = with_header("X-Request-Id");
  std::string id = r.header("X-Request-Id");
  EXPECT_TRUE(matches(id, kUuid)) << id;
  EXPECT_EQ(upstream_saw("X-Request-Id"), id);

  // An empty id is replaced; a non-empty one is kept, upstream and in the response.
  HttpResponse empty = send({{"X-Request-Id", ""}});
  EXPECT_TRUE(matches(empty.header("X-Request-Id"), kUuid)) << empty.raw_head;
  EXPECT_NE(empty.header("X-Request-Id"), id);
  HttpResponse custom = send({{"X-Request-Id", "some-custom-request-id"}});
  EXPECT_EQ(custom.header("X-Request-Id"), "some-custom-request-id");
  EXPECT_EQ(upstream_saw("X-Request-Id"), "some-custom-request-id");
}

// "Attach Request ID to Custom Response Header".
TEST_F(RequestIdPlugin, UsesACustomHeader) {
  put_route(R"({"request-id":{"header_name":"X-Req-Identifier","include_in_response":true}})");
  HttpResponse r = with_header("X-Req-Identifier");
  EXPECT_TRUE(matches(r.header("X-Req-Identifier"), kUuid)) << r.raw_head;
  EXPECT_FALSE(r.headers.has("X-Request-Id"));
  EXPECT_EQ(upstream_saw("X-Req-Identifier"), r.header("X-Req-Identifier"));
}

// "Hide Request ID in Response Header".
TEST_F(RequestIdPlugin, HidesTheIdFromTheResponse) {
  put_route(R"({"request-id":{"header_name":"X-Req-Identifier","include_in_response":false}})");
  HttpResponse last;
  ASSERT_TRUE(wait_until(
      [&] {
        last = send();
        return last.status == 200 && matches(upstream_saw("X-Req-Identifier"), kUuid);
      },
      5s))
      << last.describe();
  EXPECT_FALSE(last.headers.has("X-Req-Identifier"));
}

// "Use nanoid Algorithm" and "Use ksuid Algorithm".
TEST_F(RequestIdPlugin, GeneratesNanoidAndKsuid) {
  put_route(R"({"request-id":{"algorithm":"nanoid"}})");
  ASSERT_TRUE(
      wait_until([&] { return matches(send().header("X-Request-Id"), "[-_0-9a-zA-Z]{21}"); }, 5s));
  put_route(R"({"request-id":{"algorithm":"ksuid"}})");
  ASSERT_TRUE(
      wait_until([&] { return matches(send().header("X-Request-Id"), "[0-9A-Za-z]{27}"); }, 5s));
  put_route(
      R"({"request-id":{"algorithm":"range_id","range_id":{"length":10,"char_set":"ABCDEF"}}})");
  ASSERT_TRUE(wait_until([&] { return matches(send().header("X-Request-Id"), "[A-F]{10}"); }, 5s));
}

// "Attach Request ID Globally and on a Route".
TEST_F(RequestIdPlugin, GlobalRuleAndRouteAttachTwoIds) {
  write("/apisix/admin/global_rules/rule-for-request-id",
        R"({"plugins":{"request-id":{"header_name":"Global-Request-ID"}}})");
  put_route(R"({"request-id":{"header_name":"Route-Request-ID"}})");
  HttpResponse last;
  ASSERT_TRUE(wait_until(
      [&] {
        last = send();
        return last.headers.has("Global-Request-ID") && last.headers.has("Route-Request-ID");
      },
      5s))
      << last.raw_head;
  EXPECT_TRUE(matches(last.header("Global-Request-ID"), kUuid));
  EXPECT_TRUE(matches(last.header("Route-Request-ID"), kUuid));
  EXPECT_NE(last.header("Global-Request-ID"), last.header("Route-Request-ID"));
  EXPECT_EQ(upstream_saw("Global-Request-ID"), last.header("Global-Request-ID"));
  EXPECT_EQ(upstream_saw("Route-Request-ID"), last.header("Route-Request-ID"));
}

// An id the upstream sets in its response is left alone.
TEST_F(RequestIdPlugin, KeepsTheUpstreamsResponseId) {
  upstream_.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.respond(200, {{"X-Request-Id", "from-upstream"}}, "ok");
  });
  put_route(R"({"request-id":{}})");
  HttpResponse r = with_header("X-Request-Id");
  EXPECT_EQ(r.header("X-Request-Id"), "from-upstream");
  EXPECT_EQ(r.headers.count("X-Request-Id"), 1u);
  EXPECT_TRUE(matches(upstream_saw("X-Request-Id"), kUuid));
}

}  // namespace
}  // namespace apisix::test
