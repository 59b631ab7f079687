// response-rewrite through the real binary (plugins.md §5.15): the examples of APISIX's
// docs/en/latest/plugins/response-rewrite.md with routes written over the Admin API and a local
// upstream, plus large chunked bodies — regex filters over a multi-megabyte body, the memory
// bound max_resp_body_size puts on them, and a header-only rewrite that leaves the body
// streaming.

#include <chrono>
#include <future>
#include <string>

#include <gtest/gtest.h>

#include "tests/harness/body.h"
#include "tests/harness/http_codec.h"
#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

constexpr size_t kMaxRead = size_t{64} << 10;  // bytes read_until may collect

constexpr std::string_view kHeadersBody =
    "{\n  \"headers\": {\n    \"Accept\": \"*/*\",\n    \"Host\": \"127.0.0.1\",\n"
    "    \"X-Amzn-Trace-Id\": \"Root=1-6500095d-1041b05e2ba9c6b37232dbc7\"\n  }\n}\n";

// `lines` lines of "hello world\n".
std::string hello_lines(size_t lines) {
  std::string out;
  out.reserve(lines * 12);
  for (size_t i = 0; i < lines; ++i) {
    out += "hello world\n";
  }
  return out;
}

class ResponseRewritePlugin : public PluginTest {
 protected:
  void SetUp() override {
    upstream_.set_handler([this](const RecordedRequest& r, ResponseWriter& w) { serve(r, w); });
    PluginTest::SetUp();
  }

  // httpbin-like answers: /headers, /get, /missing (404), /big (a chunked body of
  // big_lines_ lines, 64 KiB per chunk), /gated (one chunk, then the rest once released).
  void serve(const RecordedRequest& r, ResponseWriter& w) {
    std::string path = r.target.substr(0, r.target.find('?'));
    if (path == "/headers") {
      w.respond(200, {{"Content-Type", "application/json"}}, kHeadersBody);
    } else if (path == "/get") {
      w.respond(200, {{"Content-Type", "application/json"}}, "{\"args\": {}}\n");
    } else if (path == "/missing") {
      w.respond(404, {{"Content-Type", "text/plain"}}, "not here\n");
    } else if (path == "/big") {
      w.head(200, {{"Content-Type", "text/plain"}, {"Transfer-Encoding", "chunked"}});
      const std::string block = hello_lines(64 * 1024 / 12);
      size_t sent = 0;
      while (sent < big_lines_ && w.ok()) {
        size_t n = std::min(big_lines_ - sent, block.size() / 12);
        w.chunk(std::string_view(block).substr(0, n * 12));
        sent += n;
      }
      w.end_chunks();
    } else if (path == "/gated") {
      w.head(200, {{"Content-Type", "text/plain"}, {"Transfer-Encoding", "chunked"}});
      w.chunk("first-piece;");
      release_.wait_for(scaled(10s));
      w.chunk("second-piece;");
      w.end_chunks();
    } else {
      UpstreamServer::default_handler(r, w, "");
    }
  }

  // A route to the local upstream: `fields` are the route's other fields ("uri", "plugins"...).
  std::string route(const std::string& fields) const {
    return "{" + fields + R"(,"upstream":)" + upstream_of(upstream_) + "}";
  }

  HttpResponse get(std::string_view target, Headers headers = {}, uint64_t store_limit = 0) {
    headers.add("Host", "example.com");
    ReadOptions read;
    read.timeout = 30s;
    if (store_limit != 0) {
      read.store_limit = store_limit;
    }
    return fetch(port_, make_request("GET", target, headers), read);
  }

  size_t big_lines_ = 0;
  std::promise<void> release_promise_;
  std::shared_future<void> release_ = release_promise_.get_future().share();
};

// "Rewrite Header and Body": only 200 responses get the new body and headers.
TEST_F(ResponseRewritePlugin, RewritesHeaderAndBodyOfOkResponses) {
  const std::string plugin = R"("response-rewrite":{
      "body":"{\"code\":\"ok\",\"message\":\"new json body\"}",
      "headers":{"set":{"X-Server-id":3,"X-Server-status":"on",
                        "X-Server-balancer-addr":"$balancer_ip:$balancer_port"}},
      "vars":[["status","==",200]]})";
  write("PUT", "/apisix/admin/routes/response-rewrite-route",
        route(R"("methods":["GET"],"uris":["/headers","/missing"],"plugins":{)" + plugin + "}"));
  ASSERT_TRUE(wait_until([&] { return get("/headers").header("X-Server-status") == "on"; }, 5s));

  HttpResponse ok = get("/headers");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, R"({"code":"ok","message":"new json body"})");
  EXPECT_EQ(ok.header("X-Server-id"), "3");
  EXPECT_EQ(ok.header("X-Server-status"), "on");
  EXPECT_EQ(ok.header("Content-Type"), "application/json");

  // vars do not match a 404: the upstream's answer goes out as it is.
  HttpResponse missing = get("/missing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "not here\n");
  EXPECT_FALSE(missing.headers.has("X-Server-id"));
}

// The same example's X-Server-balancer-addr: $balancer_ip:$balancer_port name the node that
// answered, known once a node was picked (the gateway records it in Request::outcome).
TEST_F(ResponseRewritePlugin, BalancerAddressInAHeaderTemplate) {
  write("PUT", "/apisix/admin/routes/response-rewrite-route",
        route(R"("uri":"/headers","plugins":{"response-rewrite":{"headers":{"set":{
            "X-Server-status":"on","X-Server-balancer-addr":"$balancer_ip:$balancer_port"}}}})"));
  ASSERT_TRUE(wait_until([&] { return get("/headers").header("X-Server-status") == "on"; }, 5s));
  EXPECT_EQ(get("/headers").header("X-Server-balancer-addr"), upstream_.address());
}

// "Rewrite Header With RegEx Filter".
TEST_F(ResponseRewritePlugin, RegexFilterRewritesTheBody) {
  write("PUT", "/apisix/admin/routes/response-rewrite-route",
        route(R"("methods":["GET"],"uri":"/headers","plugins":{"response-rewrite":{
            "filters":[{"regex":"X-Amzn-Trace-Id","scope":"global",
                        "replace":"X-Amzn-Trace-Id-Replace"}]}})"));
  ASSERT_TRUE(wait_until(
      [&] { return get("/headers").body.find("Trace-Id-Replace") != std::string::npos; }, 5s));
  HttpResponse r = get("/headers");
  EXPECT_EQ(r.status, 200);
  std::string expected(kHeadersBody);
  expected.replace(expected.find("X-Amzn-Trace-Id"), 15, "X-Amzn-Trace-Id-Replace");
  EXPECT_EQ(r.body, expected);
}

// "Decode Body from Base64".
TEST_F(ResponseRewritePlugin, BodyFromBase64) {
  write("PUT", "/apisix/admin/routes/response-rewrite-route",
        route(R"("methods":["GET"],"uri":"/get","plugins":{"response-rewrite":{
            "body":"SGVsbG8gV29ybGQ=","body_base64":true}})"));
  ASSERT_TRUE(wait_until([&] { return get("/get").body == "Hello World"; }, 5s))
      << get("/get").describe();
}

// The Admin API refuses what check_schema refuses.
TEST_F(ResponseRewritePlugin, AdminRefusesBadConfigurations) {
  for (const auto& [conf, message] : std::vector<std::pair<std::string, std::string>>{
           {R"({"body":"1","body_base64":true})", "invalid base64 content"},
           {R"({"headers":{"":"x"},"status_code":200})", "invalid field length in header"},
           {R"({"filters":[{"regex":"hello","replace":"HELLO","options":"h"}]})",
            R"(regex \"hello\" validation failed: unknown flag \"h\" (flags \"h\"))"},
           {R"({"vars":["status","==",200]})", "failed to validate the 'vars' expression"}}) {
    HttpResponse r =
        admin_call(admin_, "PUT", "/apisix/admin/routes/bad",
                   route(R"("uri":"/get","plugins":{"response-rewrite":)" + conf + "}"));
    EXPECT_EQ(r.status, 400) << conf << ": " << r.body;
    EXPECT_NE(r.body.find(message), std::string::npos) << conf << ": " << r.body;
  }
}

// "Rewrite Response and Its Connection with Execution Phases": key-auth's 401 is rewritten
// too, because header_filter and body_filter run after an exit.
TEST_F(ResponseRewritePlugin, RewritesRejectionsOfEarlierPhases) {
  write("PUT", "/apisix/admin/consumers", R"({"username":"jack"})");
  write("PUT", "/apisix/admin/consumers/jack/credentials/cred-jack-key-auth",
        R"({"plugins":{"key-auth":{"key":"jack-key"}}})");
  write("PUT", "/apisix/admin/routes/response-rewrite-route",
        route(R"("uri":"/get","plugins":{"key-auth":{},"response-rewrite":{
            "status_code":200,"body":"{\"code\": 200, \"msg\": \"success\"}"}})"));
  const std::string success = R"({"code": 200, "msg": "success"})";
  ASSERT_TRUE(wait_until(
      [&] {
        return get("/get", {{"apikey", "jack-key"}}).body == success;
      },
      5s));
  size_t seen = upstream_.request_count();

  HttpResponse rejected = get("/get");
  EXPECT_EQ(rejected.status, 200);
  EXPECT_EQ(rejected.body, success);
  EXPECT_EQ(upstream_.request_count(), seen) << "key-auth let the request through";
}

// A several-megabyte chunked body through `filters`: every match in every chunk is replaced,
// including matches that straddle two chunks (the filter sees the whole body).
TEST_F(ResponseRewritePlugin, LargeChunkedBodyThroughFilters) {
  big_lines_ = 6 * 1024 * 1024 / 12;  // 6 MiB in 64 KiB chunks
  write("PUT", "/apisix/admin/routes/big", route(R"("uri":"/big","plugins":{"response-rewrite":{
            "filters":[{"regex":"hello","scope":"global","replace":"HELLO"},
                       {"regex":"d\\nH","scope":"global","replace":"d|H"}]}})"));
  ASSERT_TRUE(wait_until([&] { return get("/big", {}, 64).body.starts_with("HELLO"); }, 5s));

  HttpResponse r = get("/big", {}, 16 << 20);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.framing, BodyFraming::Kind::Chunked);
  std::string expected;
  expected.reserve(big_lines_ * 12);
  for (size_t i = 0; i < big_lines_; ++i) {
    expected += i + 1 < big_lines_ ? "HELLO world|" : "HELLO world\n";
  }
  EXPECT_EQ(r.body_bytes, expected.size());
  EXPECT_TRUE(r.body == expected) << "the body differs (" << r.body.size() << " bytes)";
}

// Filters hold at most max_resp_body_size bytes: a 40 MiB body is cut at 1 MiB, the rest is
// dropped as it arrives, and the gateway's memory does not grow with the body.
TEST_F(ResponseRewritePlugin, FiltersHoldAtMostMaxRespBodySize) {
  big_lines_ = 40 * 1024 * 1024 / 12;
  write("PUT", "/apisix/admin/routes/big",
        route(R"("uri":"/big","plugins":{"response-rewrite":{"max_resp_body_size":1048576,
            "filters":[{"regex":"hello","scope":"global","replace":"HELLO"}]}})"));
  ASSERT_TRUE(wait_until([&] { return get("/big", {}, 64).body.starts_with("HELLO"); }, 10s));
  long peak_before = gateway_.peak_rss_kb();

  HttpResponse r = get("/big", {}, 2 << 20);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(r.body_bytes, 1048576u);
  std::string expected = hello_lines(1048576 / 12 + 1).substr(0, 1048576);
  for (size_t pos = 0; (pos = expected.find("hello", pos)) != std::string::npos; pos += 5) {
    expected.replace(pos, 5, "HELLO");
  }
  EXPECT_TRUE(r.body == expected) << "the cut body differs";
  EXPECT_TRUE(r.body.ends_with("\nhell"));  // the cut falls inside a line

  long growth = gateway_.peak_rss_kb() - peak_before;
  EXPECT_LT(growth, 20 * 1024) << "peak RSS grew by " << growth << " KiB for a 40 MiB body";
}

// Without body or filters the body is not touched and streams: the client has the first chunk
// (with the rewritten headers) while the upstream still holds back the second.
TEST_F(ResponseRewritePlugin, HeaderOnlyRewriteLeavesTheBodyStreaming) {
  write("PUT", "/apisix/admin/routes/gated",
        route(R"("uris":["/gated","/get"],"plugins":{"response-rewrite":{
            "headers":{"add":["X-Seen: $uri"],"remove":["Content-Type"]}}})"));
  ASSERT_TRUE(wait_until([&] { return get("/get").header("X-Seen") == "/get"; }, 5s));

  RawClient client(port_);
  ASSERT_TRUE(client.send(make_request("GET", "/gated")));
  std::string head;
  ASSERT_EQ(client.stream().read_until("\r\n\r\n", kMaxRead, deadline_in(5s), head), IoStatus::Ok);
  EXPECT_NE(head.find("X-Seen: /gated"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Type"), std::string::npos) << head;
  std::string first;
  EXPECT_EQ(client.stream().read_until("first-piece;", kMaxRead, deadline_in(5s), first),
            IoStatus::Ok)
      << "the first chunk did not arrive before the upstream finished";
  release_promise_.set_value();
  std::string rest;
  ASSERT_EQ(client.stream().read_until("0\r\n\r\n", kMaxRead, deadline_in(5s), rest), IoStatus::Ok);
  EXPECT_NE(rest.find("second-piece;"), std::string::npos) << rest;
}

}  // namespace
}  // namespace apisix::test
