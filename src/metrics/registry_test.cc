#include "metrics/registry.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace apisix::metrics {
namespace {

// The value of the sample line starting with `series` ("name{labels}"), or -1 when absent.
double sample(const std::string& text, const std::string& series) {
  std::string needle = "\n" + series + " ";
  size_t at = ("\n" + text).find(needle);
  if (at == std::string::npos) {
    return -1;
  }
  return std::strtod(text.c_str() + at + needle.size() - 1, nullptr);
}

TEST(MetricsFormat, Values) {
  auto format = [](double v) {
    std::string out;
    append_value(out, v);
    return out;
  };
  EXPECT_EQ(format(0), "0");
  EXPECT_EQ(format(500), "500");
  EXPECT_EQ(format(60000), "60000");
  EXPECT_EQ(format(-3), "-3");
  EXPECT_EQ(format(0.5), "0.5");
  EXPECT_EQ(format(2.25), "2.25");
  EXPECT_EQ(format(0.1), "0.1");
  EXPECT_EQ(format(1e20), "1e+20");
  EXPECT_EQ(format(HUGE_VAL), "+Inf");
  EXPECT_EQ(format(-HUGE_VAL), "-Inf");
  EXPECT_EQ(format(std::nan("")), "NaN");
}

TEST(MetricsRegistry, CounterExposition) {
  Registry registry({.shard_count = 1});
  Counter status = registry.counter("http_status", "HTTP status codes per service in APISIX",
                                    {"code", "route", "service"});
  status.with({"200", "1", ""}).inc(0);
  status.with({"200", "1", ""}).inc(0, 2);
  status.with({"404", "", ""}).inc(0);
  EXPECT_EQ(registry.render(),
            "# HELP apisix_http_status HTTP status codes per service in APISIX\n"
            "# TYPE apisix_http_status counter\n"
            "apisix_http_status{code=\"200\",route=\"1\",service=\"\"} 3\n"
            "apisix_http_status{code=\"404\",route=\"\",service=\"\"} 1\n");
}

TEST(MetricsRegistry, GaugeExpositionAndFamilyOrder) {
  Registry registry({.shard_count = 2});
  Gauge connections =
      registry.gauge("nginx_http_current_connections", "Number of HTTP connections", {"state"});
  Gauge reachable = registry.gauge("etcd_reachable",
                                   "Config server etcd reachable from APISIX, 0 is unreachable");
  Gauge info = registry.gauge("node_info", "Info of APISIX node", {"hostname", "version"});
  connections.with({"active"}).inc(0, 3);
  connections.with({"active"}).dec(1);
  connections.with({"accepted"}).set(1, 7.5);
  info.with({"host-1", "3.11.0"}).set(1, 1);
  EXPECT_EQ(registry.render(),
            "# HELP apisix_etcd_reachable Config server etcd reachable from APISIX, 0 is "
            "unreachable\n"
            "# TYPE apisix_etcd_reachable gauge\n"
            "apisix_etcd_reachable 0\n"
            "# HELP apisix_nginx_http_current_connections Number of HTTP connections\n"
            "# TYPE apisix_nginx_http_current_connections gauge\n"
            "apisix_nginx_http_current_connections{state=\"accepted\"} 7.5\n"
            "apisix_nginx_http_current_connections{state=\"active\"} 2\n"
            "# HELP apisix_node_info Info of APISIX node\n"
            "# TYPE apisix_node_info gauge\n"
            "apisix_node_info{hostname=\"host-1\",version=\"3.11.0\"} 1\n");
  reachable.with({}).set(0, 1);
  EXPECT_NE(registry.render().find("apisix_etcd_reachable 1\n"), std::string::npos);
}

TEST(MetricsRegistry, HistogramExposition) {
  Registry registry({.shard_count = 1});
  const double bounds[] = {1, 2.5, 10};
  Histogram latency = registry.histogram("http_latency", "HTTP request latency", {"type"}, bounds);
  HistogramSeries request = latency.with({"request"});
  request.observe(0, 0.5);
  request.observe(0, 1);  // le is inclusive
  request.observe(0, 2);
  request.observe(0, 11);
  EXPECT_EQ(registry.render(),
            "# HELP apisix_http_latency HTTP request latency\n"
            "# TYPE apisix_http_latency histogram\n"
            "apisix_http_latency_bucket{type=\"request\",le=\"1\"} 2\n"
            "apisix_http_latency_bucket{type=\"request\",le=\"2.5\"} 3\n"
            "apisix_http_latency_bucket{type=\"request\",le=\"10\"} 3\n"
            "apisix_http_latency_bucket{type=\"request\",le=\"+Inf\"} 4\n"
            "apisix_http_latency_sum{type=\"request\"} 14.5\n"
            "apisix_http_latency_count{type=\"request\"} 4\n");
}

TEST(MetricsRegistry, HistogramDefaultBucketsWithoutLabels) {
  Registry registry({.shard_count = 1});
  Histogram latency = registry.histogram("latency", "Latency");
  latency.with({}).observe(0, 3);
  std::string expected =
      "# HELP apisix_latency Latency\n"
      "# TYPE apisix_latency histogram\n";
  const char* les[] = {"1",   "2",    "5",    "10",   "20",    "50",    "100",   "200",
                       "500", "1000", "2000", "5000", "10000", "30000", "60000", "+Inf"};
  for (size_t i = 0; i < std::size(les); ++i) {
    expected +=
        std::string("apisix_latency_bucket{le=\"") + les[i] + "\"} " + (i < 2 ? "0" : "1") + "\n";
  }
  expected += "apisix_latency_sum 3\napisix_latency_count 1\n";
  EXPECT_EQ(registry.render(), expected);
}

TEST(MetricsRegistry, Escaping) {
  Registry registry({.shard_count = 1});
  Counter counter = registry.counter("escaped", "Back\\slash and\nnewline", {"v"});
  counter.with({"a\\b\"c\nd"}).inc(0);
  counter.with({"ok\xC3\xA9\xFFtail"}).inc(0);  // cut at the first invalid UTF-8 byte
  EXPECT_EQ(registry.render(),
            "# HELP apisix_escaped Back\\\\slash and\\nnewline\n"
            "# TYPE apisix_escaped counter\n"
            "apisix_escaped{v=\"a\\\\b\\\"c\\nd\"} 1\n"
            "apisix_escaped{v=\"ok\xC3\xA9\"} 1\n");
}

TEST(MetricsRegistry, Prefix) {
  Registry registry({.shard_count = 1, .prefix = "gw_"});
  registry.counter("requests", "Requests").with({}).inc(0);
  EXPECT_EQ(registry.render(),
            "# HELP gw_requests Requests\n# TYPE gw_requests counter\ngw_requests 1\n");
}

TEST(MetricsRegistry, ShardsAreSummed) {
  Registry registry({.shard_count = 4});
  Counter counter = registry.counter("c", "C", {"k"});
  Histogram histogram = registry.histogram("h", "H", {}, std::vector<double>{1, 10});
  for (ShardId shard = 0; shard < 4; ++shard) {
    counter.lookup(shard, {"x"}).inc(shard, shard + 1);  // 1 + 2 + 3 + 4
    histogram.lookup(shard, {}).observe(shard, shard == 0 ? 0.5 : 5);
  }
  histogram.with({}).observe(3, 100);
  std::string text = registry.render();
  EXPECT_EQ(sample(text, "apisix_c{k=\"x\"}"), 10);
  // Cumulative across buckets and shards: le=1 has one, le=10 adds three, +Inf adds one.
  EXPECT_EQ(sample(text, "apisix_h_bucket{le=\"1\"}"), 1);
  EXPECT_EQ(sample(text, "apisix_h_bucket{le=\"10\"}"), 4);
  EXPECT_EQ(sample(text, "apisix_h_bucket{le=\"+Inf\"}"), 5);
  EXPECT_EQ(sample(text, "apisix_h_count"), 5);
  EXPECT_EQ(sample(text, "apisix_h_sum"), 115.5);
}

TEST(MetricsRegistry, LookupIsCachedPerShardAndMatchesWith) {
  Registry registry({.shard_count = 2});
  Counter counter = registry.counter("c", "C", {"a", "b"});
  CounterSeries first = counter.lookup(0, {"1", "2"});
  EXPECT_TRUE(first);
  std::string a = "1", b = "2";  // different storage, same values
  counter.lookup(0, {a, b}).inc(0);
  counter.lookup(1, {"1", "2"}).inc(1);
  counter.with({"1", "2"}).inc(0);
  // Values that differ only by where a boundary falls are different series.
  counter.lookup(0, {"12", ""}).inc(0);
  EXPECT_EQ(counter.series_count(), 2u);
  std::string text = registry.render();
  EXPECT_EQ(sample(text, "apisix_c{a=\"1\",b=\"2\"}"), 3);
  EXPECT_EQ(sample(text, "apisix_c{a=\"12\",b=\"\"}"), 1);
  // Many series through one shard's cache (it grows).
  for (int i = 0; i < 1000; ++i) {
    counter.lookup(1, {std::to_string(i), "x"}).inc(1);
  }
  for (int i = 0; i < 1000; ++i) {
    counter.lookup(1, {std::to_string(i), "x"}).inc(1);
  }
  text = registry.render();
  EXPECT_EQ(sample(text, "apisix_c{a=\"999\",b=\"x\"}"), 2);
  EXPECT_EQ(counter.series_count(), 1002u);
}

TEST(MetricsRegistry, SeriesRemoval) {
  Registry registry({.shard_count = 2});
  Counter status = registry.counter("status", "S", {"code", "route"});
  Histogram latency = registry.histogram("latency", "L", {"route"}, std::vector<double>{1});
  status.lookup(0, {"200", "1"}).inc(0);
  status.lookup(1, {"500", "1"}).inc(1);
  status.lookup(0, {"200", "2"}).inc(0);
  latency.lookup(0, {"1"}).observe(0, 1);
  latency.lookup(0, {"2"}).observe(0, 1);

  // Route 1 deleted: its series go, route 2's stay.
  EXPECT_EQ(status.remove_where("route", "1"), 2u);
  EXPECT_TRUE(latency.remove({"1"}));
  EXPECT_FALSE(latency.remove({"1"}));
  EXPECT_EQ(status.remove_where("no_such_label", "1"), 0u);
  EXPECT_EQ(registry.retired_count_for_test(), 3u);
  EXPECT_EQ(registry.render(),
            "# HELP apisix_latency L\n"
            "# TYPE apisix_latency histogram\n"
            "apisix_latency_bucket{route=\"2\",le=\"1\"} 1\n"
            "apisix_latency_bucket{route=\"2\",le=\"+Inf\"} 1\n"
            "apisix_latency_sum{route=\"2\"} 1\n"
            "apisix_latency_count{route=\"2\"} 1\n"
            "# HELP apisix_status S\n"
            "# TYPE apisix_status counter\n"
            "apisix_status{code=\"200\",route=\"2\"} 1\n");
  // Not freed until every shard has moved past the removal.
  EXPECT_EQ(registry.retired_count_for_test(), 3u);
  status.lookup(0, {"200", "2"}).inc(0);  // shard 0 catches up through a lookup
  registry.render();
  EXPECT_EQ(registry.retired_count_for_test(), 3u);
  registry.quiesce(1);
  registry.render();
  EXPECT_EQ(registry.retired_count_for_test(), 0u);

  // The same labels again start a fresh series, also through a shard's stale cache.
  status.lookup(1, {"500", "1"}).inc(1);
  std::string text = registry.render();
  EXPECT_EQ(sample(text, "apisix_status{code=\"500\",route=\"1\"}"), 1);
  EXPECT_EQ(sample(text, "apisix_status{code=\"200\",route=\"2\"}"), 2);
  EXPECT_EQ(sample(text, "apisix_status{code=\"200\",route=\"1\"}"), -1);

  // A family whose last series went is not shown.
  EXPECT_TRUE(latency.remove({"2"}));
  EXPECT_EQ(registry.render().find("apisix_latency"), std::string::npos);
}

TEST(MetricsRegistry, RegisteringAgainReturnsTheSameFamily) {
  Registry registry({.shard_count = 1});
  registry.counter("c", "C", {"k"}).with({"v"}).inc(0);
  registry.counter("c", "C", {"k"}).with({"v"}).inc(0);
  EXPECT_EQ(sample(registry.render(), "apisix_c{k=\"v\"}"), 2);
}

// Workers increment their own shards (through the per-shard lookup, as the request path
// will) while the main thread scrapes and removes churning series; the totals are exact.
TEST(MetricsRegistry, ConcurrentShardsAndScrapes) {
  constexpr uint32_t kThreads = 4;
  constexpr int kIterations = 20000;
  Registry registry({.shard_count = kThreads});
  Counter status = registry.counter("status", "S", {"code", "route"});
  Counter churn = registry.counter("churn", "Churn", {"route"});
  Histogram latency = registry.histogram("latency", "L", {"route"});
  Gauge active = registry.gauge("active", "A");

  std::atomic<uint32_t> done{0};
  std::vector<std::thread> threads;
  for (ShardId shard = 0; shard < kThreads; ++shard) {
    threads.emplace_back([&, shard] {
      for (int i = 0; i < kIterations; ++i) {
        std::string route = std::to_string(i % 7);
        active.lookup(shard, {}).inc(shard);
        status.lookup(shard, {i % 2 == 0 ? "200" : "404", route}).inc(shard);
        latency.lookup(shard, {route}).observe(shard, static_cast<double>(i % 100));
        churn.lookup(shard, {std::to_string(i % 50)}).inc(shard);
        active.lookup(shard, {}).dec(shard);
      }
      registry.quiesce(shard);
      done.fetch_add(1);
    });
  }
  double last_total = 0;
  int scrapes = 0;
  while (done.load() < kThreads) {
    std::string text = registry.render();
    ++scrapes;
    double total = 0;
    for (int r = 0; r < 7; ++r) {
      for (const char* code : {"200", "404"}) {
        double v = sample(text, "apisix_status{code=\"" + std::string(code) + "\",route=\"" +
                                    std::to_string(r) + "\"}");
        total += v < 0 ? 0 : v;
      }
    }
    EXPECT_GE(total, last_total);  // counters never go back
    last_total = total;
    churn.remove_where("route", std::to_string(scrapes % 50));
  }
  for (auto& t : threads) {
    t.join();
  }
  // The workers are gone: nothing holds a handle, whatever their last quiesce() saw.
  for (ShardId shard = 0; shard < kThreads; ++shard) {
    registry.quiesce(shard);
  }
  std::string text = registry.render();
  double total = 0;
  double latency_count = 0;
  for (int r = 0; r < 7; ++r) {
    std::string route = std::to_string(r);
    total += sample(text, "apisix_status{code=\"200\",route=\"" + route + "\"}");
    total += sample(text, "apisix_status{code=\"404\",route=\"" + route + "\"}");
    latency_count += sample(text, "apisix_latency_count{route=\"" + route + "\"}");
  }
  EXPECT_EQ(total, double(kThreads) * kIterations);
  EXPECT_EQ(latency_count, double(kThreads) * kIterations);
  EXPECT_EQ(sample(text, "apisix_active"), 0);
  // Every shard has caught up: all removed series are freed.
  EXPECT_EQ(registry.retired_count_for_test(), 0u);
  EXPECT_GT(scrapes, 0);
}

}  // namespace
}  // namespace apisix::metrics
