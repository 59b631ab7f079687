// Very large bodies stream through the gateway with bounded memory (compat §7.8: bodies are
// streamed). The size is APISIX_TEST_BIG_BYTES (default 1 GiB; lower it for sanitizer
// builds); the allowed growth of the gateway's peak RSS is APISIX_TEST_MAX_RSS_GROWTH
// (default 100m).

#include <gtest/gtest.h>

#include "tests/harness/body.h"
#include "tests/harness/gateway_process.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

uint64_t big_bytes() { return env_size("APISIX_TEST_BIG_BYTES", 1ULL << 30); }
long max_rss_growth_kb() {
  return static_cast<long>(env_size("APISIX_TEST_MAX_RSS_GROWTH", 100ULL << 20) >> 10);
}

// Time allowed for one big transfer: generous, at ~20 MB/s.
std::chrono::milliseconds transfer_timeout(uint64_t bytes) {
  return std::chrono::milliseconds(30000 + bytes / 20000);
}

// Warms the gateway up (one small request) and returns its peak RSS so far.
long warm_up(GatewayProcess& gateway) {
  HttpResponse resp = http_get(gateway.http_port(), "/warm-up");
  EXPECT_TRUE(resp.ok()) << resp.describe();
  return gateway.peak_rss_kb();
}

TEST(BigBody, UploadStreamsThroughWithBoundedMemory) {
  const uint64_t bytes = big_bytes();
  UpstreamOptions options;
  options.store_limit = 0;
  UpstreamServer upstream(options);
  upstream.set_handler([](const RecordedRequest& r, ResponseWriter& w) {
    w.respond(200, {}, std::to_string(r.body_bytes));
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, {}, 60)));
  long peak_before = warm_up(gateway);
  ASSERT_GT(peak_before, 0);

  RawClient client(gateway.http_port());
  ASSERT_TRUE(client.send("POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: " +
                          std::to_string(bytes) + "\r\n\r\n"));
  std::string block(1 << 18, '\0');
  BodyDigest sent;
  Deadline deadline = deadline_in(transfer_timeout(bytes));
  for (uint64_t offset = 0; offset < bytes; offset += block.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), bytes - offset));
    fill_pattern(offset, block.data(), n);
    std::string_view piece(block.data(), n);
    sent.update(piece);
    IoStatus st = client.stream().write_all(piece, deadline);
    ASSERT_EQ(st, IoStatus::Ok) << "upload stopped at byte " << offset << ": " << to_string(st);
  }
  ReadOptions read;
  read.timeout = transfer_timeout(bytes);
  HttpResponse resp = client.read_response(read);
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, std::to_string(bytes));
  auto r = upstream.last_request();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body_bytes, bytes);
  EXPECT_EQ(r->body_digest, sent.value()) << "upstream received different bytes";

  long peak_after = gateway.peak_rss_kb();
  RecordProperty("peak_rss_growth_kb", std::to_string(peak_after - peak_before));
  EXPECT_LT(peak_after - peak_before, max_rss_growth_kb())
      << "peak RSS grew from " << peak_before << " KiB to " << peak_after << " KiB for a "
      << (bytes >> 20) << " MiB upload";
}

TEST(BigBody, DownloadStreamsThroughWithBoundedMemory) {
  const uint64_t bytes = big_bytes();
  UpstreamServer upstream;
  upstream.set_handler([bytes](const RecordedRequest& r, ResponseWriter& w) {
    if (r.target != "/download") {
      w.respond(200, {}, "small");
      return;
    }
    w.head(200, {{"Content-Type", "application/octet-stream"},
                 {"Content-Length", std::to_string(bytes)}});
    w.generated_body(bytes);
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, {}, 60)));
  long peak_before = warm_up(gateway);
  ASSERT_GT(peak_before, 0);

  RawClient client(gateway.http_port());
  ReadOptions read;
  read.timeout = transfer_timeout(bytes);
  read.store_limit = 0;
  HttpResponse resp = client.round_trip(make_request("GET", "/download"), read);
  ASSERT_TRUE(resp.ok()) << resp.describe();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body_bytes, bytes);
  EXPECT_EQ(resp.body_digest, pattern_digest(bytes)) << "client received different bytes";

  long peak_after = gateway.peak_rss_kb();
  RecordProperty("peak_rss_growth_kb", std::to_string(peak_after - peak_before));
  EXPECT_LT(peak_after - peak_before, max_rss_growth_kb())
      << "peak RSS grew from " << peak_before << " KiB to " << peak_after << " KiB for a "
      << (bytes >> 20) << " MiB download";
}

}  // namespace
}  // namespace apisix::test
