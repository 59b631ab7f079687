// echo through the real binary (plugins.md §5.17): the example of APISIX's
// docs/en/latest/plugins/echo.md and the cases of t/plugin/echo.t (replaced body and headers,
// chunked upstreams), with routes written over the Admin API and a local upstream; and the
// body going out piece by piece as the upstream sends it.

#include <chrono>
#include <future>
#include <string>

#include <gtest/gtest.h>

#include "tests/harness/http_codec.h"
#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

constexpr size_t kMaxRead = size_t{64} << 10;  // bytes read_until may collect

class EchoPlugin : public PluginTest {
 protected:
  void SetUp() override {
    upstream_.set_handler([this](const RecordedRequest& r, ResponseWriter& w) {
      if (r.target == "/hello_chunked") {
        w.head(200, {{"Content-Type", "text/plain"}, {"Transfer-Encoding", "chunked"}});
        w.chunk("hello ");
        w.chunk("world\n");
        w.end_chunks();
      } else if (r.target == "/gated") {
        w.head(200, {{"Content-Type", "text/plain"}, {"Transfer-Encoding", "chunked"}});
        w.chunk("first-piece;");
        release_.wait_for(scaled(10s));
        w.chunk("second-piece;");
        w.end_chunks();
      } else {
        w.respond(200, {{"Content-Type", "text/plain"}, {"ETag", "\"v1\""}}, "hello world\n");
      }
    });
    PluginTest::SetUp();
  }

  void put_route(const std::string& uris, const std::string& echo) {
    write("PUT", "/apisix/admin/routes/1",
          R"({"uris":)" + uris + R"(,"plugins":{"echo":)" + echo + R"(},"upstream":)" +
              upstream_of(upstream_) + "}");
  }

  std::promise<void> release_promise_;
  std::shared_future<void> release_ = release_promise_.get_future().share();
};

// The doc page's example: before_body in front of the upstream's body.
TEST_F(EchoPlugin, BeforeBodyPrecedesTheUpstreamBody) {
  put_route(R"(["/hello"])", R"({"before_body":"before the body modification "})");
  const std::string expected = "before the body modification hello world\n";
  ASSERT_TRUE(wait_until([&] { return get("/hello").body == expected; }, 5s))
      << get("/hello").describe();
  HttpResponse r = get("/hello");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.headers.has("ETag"));  // the body changed: its validator goes
  EXPECT_EQ(r.header("Content-Type"), "text/plain");
}

// echo.t TEST 3-4: body replaces the upstream's, with before/after and headers.
TEST_F(EchoPlugin, BodyHeadersAndSurroundings) {
  put_route(R"(["/hello"])", R"({"before_body":"before the body modification ",
      "body":"hello upstream","after_body":" after the body modification.",
      "headers":{"Location":"https://www.iresty.com","Authorization":"userpass"}})");
  const std::string expected =
      "before the body modification hello upstream after the body modification.";
  ASSERT_TRUE(wait_until([&] { return get("/hello").body == expected; }, 5s))
      << get("/hello").describe();
  HttpResponse r = get("/hello");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Location"), "https://www.iresty.com");
  EXPECT_EQ(r.header("Authorization"), "userpass");
}

// echo.t TEST 8-11: a chunked upstream body.
TEST_F(EchoPlugin, ChunkedUpstreamBody) {
  put_route(R"(["/hello_chunked"])", R"({"body":"hello upstream"})");
  ASSERT_TRUE(wait_until([&] { return get("/hello_chunked").body == "hello upstream"; }, 5s))
      << get("/hello_chunked").describe();

  put_route(R"(["/hello_chunked"])", R"({"before_body":"before the body modification ",
      "after_body":" after the body modification."})");
  const std::string expected =
      "before the body modification hello world\n after the body modification.";
  ASSERT_TRUE(wait_until([&] { return get("/hello_chunked").body == expected; }, 5s))
      << get("/hello_chunked").describe();
}

// body_filter sees the body piece by piece: before_body and the first piece reach the client
// while the upstream still holds back the rest; after_body comes at the end.
TEST_F(EchoPlugin, BodyStreamsPieceByPiece) {
  put_route(R"(["/gated","/hello"])", R"({"before_body":"BEGIN;","after_body":"END;"})");
  ASSERT_TRUE(wait_until([&] { return get("/hello").body == "BEGIN;hello world\nEND;"; }, 5s));

  RawClient client(port_);
  ASSERT_TRUE(client.send(make_request("GET", "/gated")));
  std::string head;
  ASSERT_EQ(client.stream().read_until("\r\n\r\n", kMaxRead, deadline_in(5s), head), IoStatus::Ok);
  std::string first;
  EXPECT_EQ(client.stream().read_until("first-piece;", kMaxRead, deadline_in(5s), first),
            IoStatus::Ok)
      << "the first piece did not arrive before the upstream finished";
  EXPECT_NE(first.find("BEGIN;"), std::string::npos) << first;
  release_promise_.set_value();
  std::string rest;
  ASSERT_EQ(client.stream().read_until("0\r\n\r\n", kMaxRead, deadline_in(5s), rest), IoStatus::Ok);
  EXPECT_NE(rest.find("second-piece;"), std::string::npos) << rest;
  EXPECT_NE(rest.find("END;"), std::string::npos) << rest;
}

}  // namespace
}  // namespace apisix::test
