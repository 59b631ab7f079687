// The harness checked against itself: the raw client talks straight to the recording
// upstream server, without a gateway in between.

#include <string>

#include <gtest/gtest.h>

#include "tests/harness/body.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/load_loop.h"
#include "tests/harness/process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

TEST(HarnessSelfTest, DefaultResponseAndRecordedRequest) {
  UpstreamOptions options;
  options.name = "a";
  UpstreamServer upstream(options);
  HttpResponse resp =
      http_get(upstream.port(), "/path?q=1", {{"Host", "example.com"}, {"X-A", " b "}});
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "hello world");
  EXPECT_EQ(resp.header("X-Upstream-Name"), "a");
  ASSERT_TRUE(upstream.wait_for_requests(1, 5s));
  RecordedRequest r = upstream.requests().at(0);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/path?q=1");
  EXPECT_EQ(r.version, "HTTP/1.1");
  EXPECT_EQ(r.headers.value_or_empty("host"), "example.com");
  EXPECT_EQ(r.headers.value_or_empty("X-A"), "b");
  EXPECT_TRUE(r.complete);
  EXPECT_TRUE(r.error.empty()) << r.error;
}

TEST(HarnessSelfTest, KeepAliveUsesOneConnection) {
  UpstreamServer upstream;
  RawClient client(upstream.port());
  for (int i = 0; i < 5; ++i) {
    HttpResponse resp = client.get("/" + std::to_string(i));
    ASSERT_TRUE(resp.ok()) << resp.describe();
    EXPECT_EQ(resp.status, 200);
  }
  EXPECT_EQ(upstream.connection_count(), 1u);
  EXPECT_EQ(upstream.request_count(), 5u);
}

TEST(HarnessSelfTest, PipelinedResponsesInOrder) {
  UpstreamServer upstream;
  upstream.set_handler(
      [](const RecordedRequest& r, ResponseWriter& w) { w.respond(200, {}, r.target); });
  RawClient client(upstream.port());
  ASSERT_TRUE(client.send(make_request("GET", "/1") + make_request("GET", "/2") +
                          make_request("GET", "/3")));
  auto responses = client.read_responses(3);
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[0].body, "/1");
  EXPECT_EQ(responses[1].body, "/2");
  EXPECT_EQ(responses[2].body, "/3");
}

TEST(HarnessSelfTest, ChunkedRequestWithTrailersIsDecodedAndRecordedRaw) {
  UpstreamServer upstream;
  RawClient client(upstream.port());
  std::string body = chunk("hello ") + chunk("world") + last_chunk({{"X-Checksum", "abc"}});
  HttpResponse resp = client.round_trip(
      make_request("POST", "/up", {{"Host", "h"}, {"Transfer-Encoding", "chunked"}}, body));
  ASSERT_TRUE(resp.ok()) << resp.describe();
  auto r = upstream.last_request();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->chunked);
  EXPECT_EQ(r->body, "hello world");
  EXPECT_EQ(r->raw_body, body);
  EXPECT_EQ(r->trailers.value_or_empty("X-Checksum"), "abc");
}

TEST(HarnessSelfTest, ChunkedResponseWithTrailers) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.head(200, {{"Transfer-Encoding", "chunked"}, {"Trailer", "X-T"}});
    w.chunk("abc");
    w.chunk("def");
    w.end_chunks({{"X-T", "done"}});
  });
  HttpResponse resp = http_get(upstream.port(), "/");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.framing, BodyFraming::Kind::Chunked);
  EXPECT_EQ(resp.body, "abcdef");
  EXPECT_EQ(resp.trailers.value_or_empty("X-T"), "done");
}

TEST(HarnessSelfTest, CloseDelimitedResponse) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.head(200, {{"Content-Type", "text/plain"}});
    w.body("until close");
    w.close_after();
  });
  RawClient client(upstream.port());
  HttpResponse resp = client.get("/");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.framing, BodyFraming::Kind::Close);
  EXPECT_EQ(resp.body, "until close");
  EXPECT_TRUE(client.wait_closed(1s));
}

TEST(HarnessSelfTest, InterimResponsesAreCollected) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.interim(103, {{"Link", "</a.css>; rel=preload"}});
    w.respond(200, {}, "final");
  });
  HttpResponse resp = http_get(upstream.port(), "/");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  ASSERT_EQ(resp.interim.size(), 1u);
  EXPECT_EQ(resp.interim[0].status, 103);
  EXPECT_EQ(resp.interim[0].headers.value_or_empty("Link"), "</a.css>; rel=preload");
  EXPECT_EQ(resp.body, "final");
}

TEST(HarnessSelfTest, ExpectContinueIsAnswered) {
  UpstreamServer upstream;
  RawClient client(upstream.port());
  ASSERT_TRUE(client.send(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  ReadOptions interim;
  interim.return_interim = true;
  HttpResponse cont = client.read_response(interim);
  ASSERT_TRUE(cont.ok()) << cont.describe();
  EXPECT_EQ(cont.status, 100);
  ASSERT_TRUE(client.send("hello"));
  HttpResponse resp = client.read_response();
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(upstream.last_request()->body, "hello");
}

TEST(HarnessSelfTest, HeadResponseHasNoBody) {
  UpstreamServer upstream;
  RawClient client(upstream.port());
  ReadOptions head;
  head.request_method = "HEAD";
  HttpResponse resp = client.round_trip(make_request("HEAD", "/"), head);
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.header("Content-Length"), "11");
  EXPECT_EQ(resp.body_bytes, 0u);
  // The connection stays usable: no body bytes were left behind.
  HttpResponse next = client.get("/");
  ASSERT_TRUE(next.ok()) << next.describe();
  EXPECT_EQ(next.body, "hello world");
}

TEST(HarnessSelfTest, AbortIsSeenAsCloseBeforeResponse) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) { w.abort(); });
  HttpResponse resp = http_get(upstream.port(), "/");
  EXPECT_FALSE(resp.ok());
  EXPECT_TRUE(resp.closed_before_response) << resp.describe();
}

TEST(HarnessSelfTest, LargeBodiesAreStreamedAndDigested) {
  constexpr uint64_t kBytes = 64ULL << 20;
  UpstreamOptions options;
  options.store_limit = 1024;
  UpstreamServer upstream(options);
  upstream.set_handler([](const RecordedRequest& r, ResponseWriter& w) {
    if (r.method == "GET") {
      w.head(200, {{"Content-Length", std::to_string(kBytes)}});
      w.generated_body(kBytes);
    } else {
      w.respond(200, {}, std::to_string(r.body_bytes));
    }
  });
  RawClient client(upstream.port());
  ReadOptions opts;
  opts.store_limit = 0;
  HttpResponse down = client.round_trip(make_request("GET", "/big"), opts);
  ASSERT_TRUE(down.ok()) << down.describe();
  EXPECT_EQ(down.body_bytes, kBytes);
  EXPECT_EQ(down.body_digest, pattern_digest(kBytes));

  ASSERT_TRUE(client.send(
      "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(kBytes) + "\r\n\r\n"));
  std::string block(1 << 16, '\0');
  for (uint64_t off = 0; off < kBytes; off += block.size()) {
    fill_pattern(off, block.data(), block.size());
    ASSERT_TRUE(client.send(block));
  }
  HttpResponse up = client.read_response();
  ASSERT_TRUE(up.ok()) << up.describe();
  EXPECT_EQ(up.body, std::to_string(kBytes));
  auto r = upstream.last_request();
  EXPECT_EQ(r->body_digest, pattern_digest(kBytes));
  EXPECT_EQ(r->body.size(), 1024u);
}

TEST(HarnessSelfTest, GeneratedChunksMatchPattern) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    w.head(200, {{"Transfer-Encoding", "chunked"}});
    w.generated_chunks(1000003, 4096);
    w.end_chunks();
  });
  HttpResponse resp = http_get(upstream.port(), "/");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.body_bytes, 1000003u);
  EXPECT_EQ(resp.body, pattern_string(1000003));
}

TEST(HarnessSelfTest, MalformedRequestIsRecordedAsError) {
  UpstreamServer upstream;
  HttpResponse resp = fetch(upstream.port(), "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n");
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 400);
  auto r = upstream.last_request();
  ASSERT_TRUE(r);
  EXPECT_NE(r->error.find("invalid field name"), std::string::npos) << r->error;
}

TEST(HarnessSelfTest, DigestDoesNotDependOnSplitting) {
  std::string data = pattern_string(1001);
  BodyDigest whole;
  whole.update(data);
  BodyDigest pieces;
  for (size_t i = 0; i < data.size(); i += 7) {
    pieces.update(std::string_view(data).substr(i, 7));
  }
  EXPECT_EQ(whole.value(), pieces.value());
  EXPECT_EQ(whole.value(), pattern_digest(1001));
  BodyDigest other;
  other.update(data.substr(1));
  EXPECT_NE(other.value(), whole.value());
}

TEST(HarnessSelfTest, LoadLoopCountsResponses) {
  UpstreamServer upstream;
  LoadOptions opts;
  opts.port = upstream.port();
  opts.threads = 3;
  opts.max_requests = 300;
  opts.request = make_request("GET", "/load");
  LoadResult result = LoadLoop(opts).run();
  EXPECT_EQ(result.requests, 300u) << result.describe();
  EXPECT_EQ(result.failures, 0u) << result.describe();
  EXPECT_EQ(result.count(200), 300u);
  EXPECT_EQ(upstream.connection_count(), 3u);
}

TEST(HarnessSelfTest, DelayIsCutShortByStop) {
  auto upstream = std::make_unique<UpstreamServer>();
  upstream->set_handler([](const RecordedRequest&, ResponseWriter& w) {
    if (w.delay(60s)) {
      w.respond(200);
    }
  });
  RawClient client(upstream->port());
  ASSERT_TRUE(client.send(make_request("GET", "/")));
  ASSERT_TRUE(upstream->wait_for_requests(1, 5s));
  Clock::time_point before = Clock::now();
  upstream->stop();
  EXPECT_LT(Clock::now() - before, 5s);
  EXPECT_TRUE(client.wait_closed(5s));
}

TEST(HarnessSelfTest, RunCommandCapturesOutputAndExitCode) {
  CommandResult r = run_command({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(HarnessSelfTest, WaitUntilHonoursDeadline) {
  Clock::time_point before = Clock::now();
  EXPECT_FALSE(wait_until([] { return false; }, 100ms));
  EXPECT_GE(Clock::now() - before, 100ms);
  int calls = 0;
  EXPECT_TRUE(wait_until([&] { return ++calls == 3; }, 5s, 1ms));
}

TEST(HarnessSelfTest, ParseSize) {
  EXPECT_EQ(parse_size("1g", 0), 1ULL << 30);
  EXPECT_EQ(parse_size("64M", 0), 64ULL << 20);
  EXPECT_EQ(parse_size("12345", 0), 12345u);
  EXPECT_EQ(parse_size("x", 7), 7u);
}

}  // namespace
}  // namespace apisix::test
