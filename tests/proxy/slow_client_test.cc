// Slow clients are cut off (slow-loris): client_header_timeout bounds the time to send a
// whole request head, client_body_timeout the gap between body reads, keepalive_timeout the
// idle time between requests (compat §1.6). The gateway keeps serving everyone else.

#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

class SlowClient : public ::testing::Test {
 protected:
  void SetUp() override {
    GatewayConfig config;
    config.client_header_timeout = "1s";
    config.client_body_timeout = "1s";
    ASSERT_TRUE(gateway_.start(proxy_options({upstream_.address()}, config)));
  }

  // Waits for the gateway to close `client` and returns how long that took. A 408 response
  // before the close is allowed; anything else is not.
  std::chrono::milliseconds time_to_close(RawClient& client, Clock::time_point since) {
    bool closed = client.wait_closed(6s);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since);
    EXPECT_TRUE(closed) << "connection still open after " << took.count() << " ms";
    const std::string& extra = client.unexpected_bytes();
    EXPECT_TRUE(extra.empty() || extra.rfind("HTTP/1.1 408", 0) == 0)
        << "unexpected bytes: " << extra;
    return took;
  }

  UpstreamServer upstream_;
  GatewayProcess gateway_;
};

TEST_F(SlowClient, HalfSentHeadIsClosedAfterHeaderTimeout) {
  RawClient client(gateway_.http_port());
  Clock::time_point start = Clock::now();
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: example.com\r\nX-Part"));
  auto took = time_to_close(client, start);
  EXPECT_GE(took, 800ms);
  EXPECT_LT(took, scaled(3500ms));
  EXPECT_EQ(upstream_.request_count(), 0u);
}

TEST_F(SlowClient, DrippedHeadIsClosedAfterHeaderTimeout) {
  // One byte every 200 ms: each byte is "progress", but the head as a whole is overdue.
  RawClient client(gateway_.http_port());
  Clock::time_point start = Clock::now();
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: example.com\r\nX-Slow: "));
  bool closed = false;
  while (!closed && Clock::now() - start < scaled(6s)) {
    closed = client.wait_closed(200ms);
    if (!closed && !client.send("a")) {
      closed = client.wait_closed(1s);
    }
  }
  auto took = Clock::now() - start;
  EXPECT_TRUE(closed) << "a client dripping its head stayed connected for 6 s";
  EXPECT_LT(took, scaled(3500ms));
}

TEST_F(SlowClient, SilentConnectionIsClosedAfterHeaderTimeout) {
  RawClient client(gateway_.http_port());
  Clock::time_point start = Clock::now();
  auto took = time_to_close(client, start);
  EXPECT_GE(took, 800ms);
  EXPECT_LT(took, scaled(3500ms));
}

TEST_F(SlowClient, StalledBodyIsClosedAfterBodyTimeout) {
  RawClient client(gateway_.http_port());
  Clock::time_point start = Clock::now();
  ASSERT_TRUE(
      client.send("POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 100\r\n\r\n"
                  "only ten b"));
  auto took = time_to_close(client, start);
  EXPECT_GE(took, 800ms);
  EXPECT_LT(took, scaled(3500ms));
  for (const auto& r : upstream_.requests()) {
    EXPECT_FALSE(r.complete) << "the upstream got a complete request from a truncated body";
  }
}

TEST_F(SlowClient, OthersAreServedWhileManySlowClientsHang) {
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 50; ++i) {
    slow.push_back(std::make_unique<RawClient>(gateway_.http_port()));
    ASSERT_TRUE(slow.back()->connected());
    ASSERT_TRUE(slow.back()->send("GET / HTTP/1.1\r\nHost: exa"));
  }
  for (int i = 0; i < 5; ++i) {
    Clock::time_point start = Clock::now();
    HttpResponse resp = http_get(gateway_.http_port(), "/");
    ASSERT_TRUE(resp.ok()) << resp.describe();
    EXPECT_EQ(resp.status, 200);
    EXPECT_LT(Clock::now() - start, scaled(500ms));
  }
}

}  // namespace
}  // namespace apisix::test
