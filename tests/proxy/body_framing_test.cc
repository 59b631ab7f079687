// Message bodies through the gateway (RFC 9112 §6, §7; compat §7.8): request bodies with
// Content-Length or chunked coding (chunked stays chunked upstream, trailers included) and
// response bodies with Content-Length, chunked coding with trailers, or close-delimited —
// all streamed, not buffered whole.

#include <atomic>

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

TEST(RequestBody, ContentLengthBodyIsForwardedUnchanged) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  std::string body = pattern_string(100000);
  HttpResponse resp =
      fetch(gateway.http_port(), make_request("POST", "/upload", {{"Host", "example.com"}}, body));
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  auto r = upstream.last_request();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->chunked);
  EXPECT_EQ(r->headers.value_or_empty("Content-Length"), "100000");
  EXPECT_EQ(r->body_bytes, body.size());
  EXPECT_TRUE(r->body == body) << "upstream body differs from the client body";
}

TEST(RequestBody, ChunkedBodyStaysChunkedUpstreamWithTrailers) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  std::string body = chunk("hello ") + chunk(std::string(5000, 'x')) + chunk("world") +
                     last_chunk({{"X-Checksum", "abc123"}});
  HttpResponse resp = fetch(gateway.http_port(), make_request("POST", "/upload",
                                                              {{"Host", "example.com"},
                                                               {"Transfer-Encoding", "chunked"},
                                                               {"Trailer", "X-Checksum"}},
                                                              body));
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  auto r = upstream.last_request();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->chunked) << r->raw_head;
  EXPECT_FALSE(r->headers.has("Content-Length")) << r->raw_head;
  EXPECT_EQ(r->body, "hello " + std::string(5000, 'x') + "world");
  EXPECT_EQ(r->trailers.value_or_empty("X-Checksum"), "abc123")
      << "trailers seen upstream:\n"
      << r->trailers.to_string() << "raw body tail: "
      << r->raw_body.substr(r->raw_body.size() > 64 ? r->raw_body.size() - 64 : 0);
}

TEST(RequestBody, ChunkedBodyIsStreamedBeforeItEnds) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, {}, 10)));

  RawClient client(gateway.http_port());
  ASSERT_TRUE(
      client.send("POST /stream HTTP/1.1\r\nHost: example.com\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n" +
                  chunk("first-part")));
  // The upstream must see the request while the client is still sending the body.
  EXPECT_TRUE(upstream.wait_for_requests(1, 5s))
      << "request head not forwarded before the body ended";
  ASSERT_TRUE(client.send(chunk("second-part") + last_chunk()));
  HttpResponse resp = client.read_response();
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(upstream.last_request()->body, "first-partsecond-part");
}

TEST(ResponseBody, ContentLengthBodyIsRelayed) {
  UpstreamServer upstream;
  std::string body = pattern_string(300000);
  upstream.set_handler([&](const RecordedRequest&, ResponseWriter& w) {
    w.respond(200, {{"Content-Type", "application/octet-stream"}}, body);
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  HttpResponse resp = http_get(gateway.http_port(), "/file");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.header("Content-Length"), "300000");
  EXPECT_EQ(resp.header("Content-Type"), "application/octet-stream");
  EXPECT_TRUE(resp.body == body);
}

TEST(ResponseBody, ChunkedBodyWithTrailersIsRelayed) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.head(200, {{"Content-Type", "text/plain"},
                 {"Transfer-Encoding", "chunked"},
                 {"Trailer", "X-Digest"}});
    w.chunk("abc");
    w.chunk(std::string(10000, 'd'));
    w.chunk("efg");
    w.end_chunks({{"X-Digest", "sha-256=xyz"}});
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  HttpResponse resp = client.get("/chunked", {{"Host", "example.com"}, {"TE", "trailers"}});
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.framing, BodyFraming::Kind::Chunked) << resp.describe();
  EXPECT_EQ(resp.body, "abc" + std::string(10000, 'd') + "efg");
  EXPECT_EQ(resp.trailers.value_or_empty("X-Digest"), "sha-256=xyz") << resp.trailers.to_string();
  // The connection is still usable after the trailer section.
  HttpResponse next = client.get("/next");
  ASSERT_TRUE(next.ok()) << next.describe();
  EXPECT_EQ(next.status, 200);
}

TEST(ResponseBody, CloseDelimitedBodyIsRelayedWhole) {
  UpstreamServer upstream;
  std::string body = pattern_string(200000);
  upstream.set_handler([&](const RecordedRequest&, ResponseWriter& w) {
    w.head(200, {{"Content-Type", "application/octet-stream"}, {"Connection", "close"}});
    w.body(body);
    w.close_after();
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  RawClient client(gateway.http_port());
  HttpResponse resp = client.get("/legacy");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body_bytes, body.size());
  EXPECT_TRUE(resp.body == body);
  if (resp.framing != BodyFraming::Kind::Close) {
    // Re-framed for the client (chunked): the client connection may stay open.
    HttpResponse next = client.get("/again");
    ASSERT_TRUE(next.ok()) << next.describe();
    EXPECT_EQ(next.body_bytes, body.size());
  }
}

TEST(ResponseBody, IsStreamedToClientBeforeUpstreamFinishes) {
  UpstreamServer upstream;
  std::atomic<bool> release{false};
  upstream.set_handler([&](const RecordedRequest&, ResponseWriter& w) {
    w.head(200, {{"Transfer-Encoding", "chunked"}});
    w.chunk("early-bytes");
    wait_until([&] { return release.load(); }, 10s);
    w.chunk("late-bytes");
    w.end_chunks();
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, {}, 20)));

  RawClient client(gateway.http_port());
  ASSERT_TRUE(client.send(make_request("GET", "/stream")));
  std::string seen;
  IoStatus st = client.stream().read_until("early-bytes", 65536, deadline_in(5s), seen);
  release.store(true);
  EXPECT_EQ(st, IoStatus::Ok) << "first chunk not relayed while the upstream was still sending: "
                              << to_string(st) << " after '" << client.stream().peek() << "'";
  if (st == IoStatus::Ok) {
    std::string rest;
    EXPECT_EQ(client.stream().read_until("0\r\n\r\n", 65536, deadline_in(5s), rest), IoStatus::Ok);
    EXPECT_NE(rest.find("late-bytes"), std::string::npos) << rest;
  }
}

}  // namespace
}  // namespace apisix::test
