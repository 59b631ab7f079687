// The exposition of src/metrics scraped by a real Prometheus: the text is accepted (the target
// is up), and counters, labelled series (escaped label values included), histogram buckets
// and removed series read back through Prometheus's query API as they were counted.

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "metrics/registry.h"
#include "tests/harness/prometheus_server.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;
using metrics::Registry;

constexpr std::string_view kMetricsPath = "/apisix/prometheus/metrics";

// Serves the registry's exposition at kMetricsPath, rendered per scrape on the server's
// connection threads (Registry::render may run on any thread).
class ExpositionServer {
 public:
  explicit ExpositionServer(Registry& registry) {
    server_.set_handler([&registry](const RecordedRequest& request, ResponseWriter& writer) {
      if (request.target != kMetricsPath) {
        writer.respond(404);
        return;
      }
      writer.respond(200, {{"Content-Type", "text/plain; version=0.0.4"}}, registry.render());
    });
  }
  std::string address() const { return server_.address(); }
  size_t scrapes() const { return server_.request_count(); }

 private:
  UpstreamServer server_;
};

TEST(PrometheusScrape, CountersLabelsAndHistogramQuantiles) {
  Registry registry({.shard_count = 2});
  auto requests = registry.counter("http_requests", "Requests served");
  auto status = registry.counter("http_status", "HTTP status codes per service in APISIX",
                                 {"code", "route", "service"});
  auto latency = registry.histogram(
      "http_latency", "HTTP request latency in milliseconds per service in APISIX", {"type"});
  auto odd = registry.counter("odd_labels", "Label values that need escaping", {"value"});

  requests.with({}).inc(0, 4);
  requests.with({}).inc(1, 3);
  status.lookup(0, {"200", "1", ""}).inc(0, 3);
  status.lookup(1, {"200", "1", ""}).inc(1, 2);
  status.lookup(1, {"404", "", ""}).inc(1);
  // 50 requests of 3 ms (bucket le=5) and 50 of 150 ms (bucket le=200), over two shards.
  for (int i = 0; i < 50; ++i) {
    latency.lookup(i % 2, {"request"}).observe(i % 2, 3);
    latency.lookup(i % 2, {"request"}).observe(i % 2, 150);
  }
  odd.with({"q\"uo\\te\nnl"}).inc(0, 9);

  ExpositionServer exposition(registry);
  PrometheusServer prometheus(
      {.target = exposition.address(), .metrics_path = std::string(kMetricsPath)});
  ASSERT_TRUE(prometheus.ok()) << prometheus.error();
  ASSERT_TRUE(prometheus.wait_for_target_up(30s))
      << prometheus.get("/api/v1/targets").value_or("") << prometheus.log_tail();

  EXPECT_EQ(prometheus.query_value("apisix_http_requests"), 7);
  EXPECT_EQ(prometheus.query_value("apisix_http_status{code=\"200\",route=\"1\",service=\"\"}"), 5);
  EXPECT_EQ(prometheus.query_value("apisix_http_status{code=\"404\"}"), 1);
  EXPECT_EQ(prometheus.query_value("count(apisix_http_status)"), 2);
  // PromQL string escapes are Go's, so this matches only if the exposition escaped correctly.
  EXPECT_EQ(prometheus.query_value("apisix_odd_labels{value=\"q\\\"uo\\\\te\\nnl\"}"), 9);

  EXPECT_EQ(prometheus.query_value("apisix_http_latency_count{type=\"request\"}"), 100);
  EXPECT_EQ(prometheus.query_value("apisix_http_latency_sum{type=\"request\"}"), 7650);
  EXPECT_EQ(prometheus.query_value("apisix_http_latency_bucket{type=\"request\",le=\"5\"}"), 50);
  EXPECT_EQ(prometheus.query_value("apisix_http_latency_bucket{type=\"request\",le=\"+Inf\"}"),
            100);
  EXPECT_EQ(prometheus.query_value("count(apisix_http_latency_bucket)"), 16);
  // Linear interpolation inside the bucket holding the rank: the median is the top of le=5
  // (0 below 2, 50 at 5); the 75th percentile is halfway through (100, 200].
  EXPECT_EQ(prometheus.query_value(
                "histogram_quantile(0.5, apisix_http_latency_bucket{type=\"request\"})"),
            5);
  EXPECT_EQ(prometheus.query_value(
                "histogram_quantile(0.75, apisix_http_latency_bucket{type=\"request\"})"),
            150);

  // Later counts show up in a later scrape.
  status.lookup(0, {"200", "1", ""}).inc(0, 10);
  EXPECT_TRUE(prometheus.wait_for_value("apisix_http_status{code=\"200\",route=\"1\",service=\"\"}",
                                        15, 30s))
      << prometheus.query("apisix_http_status");
}

TEST(PrometheusScrape, RemovedSeriesGoStale) {
  Registry registry({.shard_count = 1});
  auto status = registry.counter("http_status", "HTTP status codes", {"code", "route"});
  status.lookup(0, {"200", "1"}).inc(0);
  status.lookup(0, {"200", "2"}).inc(0, 2);

  ExpositionServer exposition(registry);
  PrometheusServer prometheus(
      {.target = exposition.address(), .metrics_path = std::string(kMetricsPath)});
  ASSERT_TRUE(prometheus.ok()) << prometheus.error();
  ASSERT_TRUE(prometheus.wait_for_target_up(30s)) << prometheus.log_tail();
  ASSERT_TRUE(prometheus.wait_for_value("count(apisix_http_status)", 2, 30s));

  // Route 1 is deleted: its series leaves the exposition, and Prometheus marks it stale.
  EXPECT_EQ(status.remove_where("route", "1"), 1u);
  EXPECT_TRUE(prometheus.wait_for_value("absent(apisix_http_status{route=\"1\"})", 1, 30s))
      << prometheus.query("apisix_http_status");
  EXPECT_EQ(prometheus.query_value("apisix_http_status{route=\"2\"}"), 2);
}

}  // namespace
}  // namespace apisix::test
