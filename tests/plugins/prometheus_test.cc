// prometheus through the real binary (plugins.md §6.1; APISIX docs/en/latest/plugins/
// prometheus.md): requests on a route with "prometheus":{} show up on the export server
// (plugin_attr.prometheus.export_addr) with APISIX's metric names and labels; prefer_name, extra
// labels and the metadata's disabled_labels change the labels as the doc's examples show; other
// paths of the export server answer 404; and a real Prometheus scraping the export server reads
// the counts back through its query API.

#include <string>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/harness/admin_client.h"
#include "tests/harness/etcd_server.h"
#include "tests/harness/gateway_process.h"
#include "tests/harness/prometheus_server.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kMetricsPath = "/apisix/prometheus/metrics";

// A loopback port nobody listens on right now (the export port cannot be 0 in config.yaml).
uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// The value of the series `series` (name and labels exactly as rendered) in `text`, or -1.
double value_of(const std::string& text, std::string_view series) {
  std::string prefix = std::string(series) + " ";
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) {
      end = text.size();
    }
    std::string_view line(text.data() + at, end - at);
    if (line.starts_with(prefix)) {
      return std::stod(std::string(line.substr(prefix.size())));
    }
    at = end + 1;
  }
  return -1;
}

std::string status_series(std::string_view code, std::string_view route, std::string_view uri,
                          std::string_view node, std::string_view source,
                          std::string_view consumer = "", std::string_view extra = "") {
  return "apisix_http_status{code=\"" + std::string(code) + "\",route=\"" + std::string(route) +
         "\",matched_uri=\"" + std::string(uri) + "\",matched_host=\"\",service=\"\",consumer=\"" +
         std::string(consumer) + "\",node=\"" + std::string(node) +
         "\",request_type=\"traditional_http\",request_llm_model=\"\",llm_model=\"\","
         "response_source=\"" +
         std::string(source) + "\"" + std::string(extra) + "}";
}

std::string per_service(std::string_view type, std::string_view route, std::string_view node) {
  return "type=\"" + std::string(type) + "\",route=\"" + std::string(route) +
         "\",service=\"\",consumer=\"\",node=\"" + std::string(node) +
         "\",request_type=\"traditional_http\",request_llm_model=\"\",llm_model=\"\"";
}

// One gateway (one worker, so a route is live everywhere once it answered once) with the
// Admin API and the export server on a free port, refreshing its exposition every second.
class PrometheusPlugin : public ::testing::Test {
 protected:
  void start(std::string_view extra_attr = {}) {
    export_port_ = free_loopback_port();
    ASSERT_NE(export_port_, 0);
    std::string yaml =
        "plugin_attr:\n"
        "  prometheus:\n"
        "    refresh_interval: 1\n"
        "    export_addr:\n"
        "      ip: 127.0.0.1\n"
        "      port: " +
        std::to_string(export_port_) + "\n" + std::string(extra_attr);
    GatewayOptions options;
    options.config_yaml = embedded_admin_config(1, yaml);
    ASSERT_TRUE(gateway_.start(options));
    admin_ = gateway_.admin_port();
    port_ = gateway_.http_port();
    // The gateway may report its export listener; that one wins.
    for (const Listener& l : gateway_.listeners()) {
      if (l.kind.find("prometheus") != std::string::npos && l.port != 0) {
        export_port_ = l.port;
      }
    }
  }

  // PUTs route `id` and waits until it answers `probe` with 200 (that request counts).
  void put_route(std::string_view id, const std::string& body, std::string_view probe) {
    HttpResponse put = admin_call(admin_, "PUT", "/apisix/admin/routes/" + std::string(id), body);
    ASSERT_TRUE(put.status == 201 || put.status == 200) << put.describe();
    ASSERT_TRUE(wait_until([&] { return http_get(port_, probe).status == 200; }, 5s))
        << gateway_.describe_logs();
  }

  std::string scrape(std::string_view target = kMetricsPath) {
    HttpResponse r = http_get(export_port_, target);
    last_scrape_ = r.status == 200 ? r.body : r.describe();
    return r.status == 200 ? r.body : "";
  }

  // Waits until `series` has `value` on the export server (the exposition lags by up to
  // refresh_interval).
  bool wait_for(const std::string& series, double value) {
    return wait_until([&] { return value_of(scrape(), series) == value; }, 20s, 100ms);
  }

  GatewayProcess gateway_;
  uint16_t admin_ = 0;
  uint16_t port_ = 0;
  uint16_t export_port_ = 0;
  std::string last_scrape_;
};

// prometheus.md "Get APISIX Metrics": the route's status, latency and bandwidth series, the
// node info, on the export server's default path.
TEST_F(PrometheusPlugin, ExportServerShowsRequestMetrics) {
  ASSERT_NO_FATAL_FAILURE(start());
  UpstreamServer up(named_upstream("a"));
  ASSERT_NO_FATAL_FAILURE(put_route("1",
                                    R"({"uri":"/hello","plugins":{"prometheus":{}},)"
                                    R"("upstream":{"type":"roundrobin","nodes":{")" +
                                        up.address() + R"(":1}}})",
                                    "/hello"));
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(http_get(port_, "/hello").status, 200);
  }
  std::string status = status_series("200", "1", "/hello", "127.0.0.1", "upstream");
  ASSERT_TRUE(wait_for(status, 5)) << status << "\n" << last_scrape_;

  std::string text = scrape();
  EXPECT_NE(text.find("# HELP apisix_http_status HTTP status codes per service in APISIX\n"
                      "# TYPE apisix_http_status counter\n"),
            std::string::npos);
  for (std::string_view type : {"request", "upstream", "apisix"}) {
    EXPECT_EQ(
        value_of(text, "apisix_http_latency_count{" + per_service(type, "1", "127.0.0.1") + "}"), 5)
        << type << "\n"
        << text;
  }
  EXPECT_EQ(value_of(text, "apisix_http_latency_bucket{" +
                               per_service("request", "1", "127.0.0.1") + ",le=\"+Inf\"}"),
            5);
  EXPECT_GT(value_of(text, "apisix_bandwidth{" + per_service("ingress", "1", "127.0.0.1") + "}"),
            5 * 30);
  EXPECT_GT(value_of(text, "apisix_bandwidth{" + per_service("egress", "1", "127.0.0.1") + "}"),
            5 * 60);
  EXPECT_NE(text.find("\napisix_node_info{hostname=\""), std::string::npos) << text;

  // Only GET of the export path is served there.
  EXPECT_EQ(http_get(export_port_, "/apisix/prometheus/other").status, 404);
  EXPECT_EQ(fetch(export_port_,
                  "POST /apisix/prometheus/metrics HTTP/1.1\r\nHost: x\r\n"
                  "Content-Length: 0\r\n\r\n")
                .status,
            404);
  HttpResponse ok = http_get(export_port_, kMetricsPath);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.header("Content-Type").rfind("text/plain", 0), 0u) << ok.describe();
}

// prometheus.md's node metrics: apisix_http_requests_total counts every client request (with
// or without the plugin), apisix_nginx_http_current_connections the client connections.
TEST_F(PrometheusPlugin, NodeGaugesCountRequestsAndConnections) {
  ASSERT_NO_FATAL_FAILURE(start());
  UpstreamServer up(named_upstream("a"));
  ASSERT_NO_FATAL_FAILURE(put_route("1",
                                    R"({"uri":"/hello","upstream":{"type":"roundrobin",)"
                                    R"("nodes":{")" +
                                        up.address() + R"(":1}}})",
                                    "/hello"));
  // Each http_get is one connection and one request; an unmatched one counts too.
  ASSERT_EQ(http_get(port_, "/nothing").status, 404);
  double requests = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        requests = value_of(scrape(), "apisix_http_requests_total");
        return requests >= 2;
      },
      20s, 100ms))
      << last_scrape_;
  std::string text = scrape();
  double accepted = value_of(text, R"(apisix_nginx_http_current_connections{state="accepted"})");
  EXPECT_GE(accepted, requests) << text;  // one request per connection here
  EXPECT_EQ(value_of(text, R"(apisix_nginx_http_current_connections{state="handled"})"), accepted);
  for (std::string_view state : {"active", "reading", "writing", "waiting"}) {
    EXPECT_GE(value_of(text, "apisix_nginx_http_current_connections{state=\"" + std::string(state) +
                                 "\"}"),
              0)
        << state << "\n"
        << text;
  }
  // More requests move the counter on.
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(http_get(port_, "/hello").status, 200);
  }
  EXPECT_TRUE(wait_until(
      [&] { return value_of(scrape(), "apisix_http_requests_total") >= requests + 3; }, 20s, 100ms))
      << last_scrape_;
}

// apisix_upstream_status{name,ip,port}: 1 while the health checker finds the node healthy,
// 0 once the active checks fail.
TEST_F(PrometheusPlugin, UpstreamStatusFollowsHealthChecks) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto up = std::make_unique<UpstreamServer>(named_upstream("a"));
  const std::string node = up->address();
  const std::string port = node.substr(node.find(':') + 1);
  ASSERT_NO_FATAL_FAILURE(put_route(
      "1",
      R"({"uri":"/hello","upstream":{"type":"roundrobin","nodes":{")" + node +
          R"(":1},"checks":{"active":{"timeout":1,"http_path":"/",)"
          R"("healthy":{"interval":1,"successes":1},)"
          R"("unhealthy":{"interval":1,"http_failures":1,"tcp_failures":1,"timeouts":1}}}}})",
      "/hello"));
  const std::string series =
      R"(apisix_upstream_status{name="/apisix/routes/1",ip="127.0.0.1",port=")" + port + R"("})";
  ASSERT_TRUE(wait_for(series, 1)) << series << "\n" << last_scrape_;
  up.reset();  // the node goes away: the active checks fail
  EXPECT_TRUE(wait_for(series, 0)) << series << "\n" << last_scrape_;
}

// apisix_etcd_reachable (etcd provider only): 1 while the watch works, 0 once etcd is gone.
TEST(PrometheusPluginEtcd, EtcdReachableFollowsTheWatch) {
  EtcdServer etcd;
  ASSERT_TRUE(etcd.ok()) << etcd.error();
  const uint16_t export_port = free_loopback_port();
  std::string attr =
      "plugin_attr:\n  prometheus:\n    refresh_interval: 1\n"
      "    export_addr:\n      ip: 127.0.0.1\n      port: " +
      std::to_string(export_port) + "\n";
  GatewayOptions options;
  options.config_yaml = etcd_admin_config(etcd.client_url(), true, 1, attr);
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(options));
  uint16_t port = export_port;
  for (const Listener& l : gateway.listeners()) {
    if (l.kind == "prometheus" && l.port != 0) {
      port = l.port;
    }
  }
  auto reachable = [&] {
    HttpResponse r = http_get(port, kMetricsPath);
    return r.status == 200 ? value_of(r.body, "apisix_etcd_reachable") : -2;
  };
  ASSERT_TRUE(wait_until([&] { return reachable() == 1; }, 20s, 100ms)) << reachable();
  etcd.stop();
  EXPECT_TRUE(wait_until([&] { return reachable() == 0; }, 60s, 200ms)) << reachable();
}

// A node that refuses connections: the 502 is counted with response_source "nginx".
TEST_F(PrometheusPlugin, UpstreamFailureCountsAsNginxResponse) {
  ASSERT_NO_FATAL_FAILURE(start());
  UpstreamServer up(named_upstream("a"));
  ASSERT_NO_FATAL_FAILURE(put_route("ok",
                                    R"({"uri":"/ok","plugins":{"prometheus":{}},)"
                                    R"("upstream":{"type":"roundrobin","nodes":{")" +
                                        up.address() + R"(":1}}})",
                                    "/ok"));
  uint16_t dead = free_loopback_port();
  HttpResponse put =
      admin_call(admin_, "PUT", "/apisix/admin/routes/dead",
                 R"({"uri":"/dead","plugins":{"prometheus":{}},)"
                 R"("upstream":{"type":"roundrobin","retries":0,"nodes":{"127.0.0.1:)" +
                     std::to_string(dead) + R"(":1}}})");
  ASSERT_EQ(put.status, 201) << put.describe();
  ASSERT_TRUE(wait_until([&] { return http_get(port_, "/dead").status == 502; }, 5s));
  std::string series = status_series("502", "dead", "/dead", "127.0.0.1", "nginx");
  EXPECT_TRUE(wait_for(series, 1)) << series << "\n" << last_scrape_;
}

// prometheus.md attributes: prefer_name labels the route by its name.
TEST_F(PrometheusPlugin, PreferNameUsesRouteName) {
  ASSERT_NO_FATAL_FAILURE(start());
  UpstreamServer up(named_upstream("a"));
  ASSERT_NO_FATAL_FAILURE(put_route("7",
                                    R"({"uri":"/named","name":"named-route",)"
                                    R"("plugins":{"prometheus":{"prefer_name":true}},)"
                                    R"("upstream":{"type":"roundrobin","nodes":{")" +
                                        up.address() + R"(":1}}})",
                                    "/named"));
  std::string series = status_series("200", "named-route", "/named", "127.0.0.1", "upstream");
  EXPECT_TRUE(wait_for(series, 1)) << series << "\n" << last_scrape_;
  EXPECT_EQ(last_scrape_.find("route=\"7\""), std::string::npos);
}

// prometheus.md "Add Extra Labels for Metrics": upstream_addr and route_name after the
// built-in labels of apisix_http_status.
TEST_F(PrometheusPlugin, ExtraLabelsFromVariables) {
  ASSERT_NO_FATAL_FAILURE(
      start("    metrics:\n"
            "      http_status:\n"
            "        extra_labels:\n"
            "          - upstream_addr: $upstream_addr\n"
            "          - route_name: $route_name\n"));
  UpstreamServer up(named_upstream("a"));
  ASSERT_NO_FATAL_FAILURE(put_route("1",
                                    R"({"uri":"/get","name":"extra-label",)"
                                    R"("plugins":{"prometheus":{}},)"
                                    R"("upstream":{"type":"roundrobin","nodes":{")" +
                                        up.address() + R"(":1}}})",
                                    "/get"));
  std::string series =
      status_series("200", "1", "/get", "127.0.0.1", "upstream", "",
                    ",upstream_addr=\"" + up.address() + "\",route_name=\"extra-label\"");
  EXPECT_TRUE(wait_for(series, 1)) << series << "\n" << last_scrape_;
}

// prometheus.md "Reduce Metric Cardinality by Disabling Labels": node and consumer collapse to
// "" on apisix_http_status, node on apisix_http_latency; apisix_bandwidth keeps its labels.
TEST_F(PrometheusPlugin, MetadataDisabledLabelsCollapseValues) {
  ASSERT_NO_FATAL_FAILURE(start());
  HttpResponse meta = admin_call(admin_, "PUT", "/apisix/admin/plugin_metadata/prometheus",
                                 R"({"disabled_labels":{"http_status":["node","consumer"],)"
                                 R"("http_latency":["node"]}})");
  ASSERT_TRUE(meta.status == 201 || meta.status == 200) << meta.describe();
  UpstreamServer up(named_upstream("a"));
  ASSERT_NO_FATAL_FAILURE(put_route("prometheus-route",
                                    R"({"uri":"/get","plugins":{"prometheus":{}},)"
                                    R"("upstream":{"type":"roundrobin","nodes":{")" +
                                        up.address() + R"(":1}}})",
                                    "/get"));
  std::string series = status_series("200", "prometheus-route", "/get", "", "upstream");
  EXPECT_TRUE(wait_for(series, 1)) << series << "\n" << last_scrape_;
  std::string text = last_scrape_;
  EXPECT_EQ(value_of(text, "apisix_http_latency_count{" +
                               per_service("request", "prometheus-route", "") + "}"),
            1)
      << text;
  EXPECT_GT(value_of(text, "apisix_bandwidth{" +
                               per_service("egress", "prometheus-route", "127.0.0.1") + "}"),
            0)
      << text;
}

// A consumer identified by key-auth shows in the consumer label (plugins.md §6.1).
TEST_F(PrometheusPlugin, ConsumerLabelFromKeyAuth) {
  ASSERT_NO_FATAL_FAILURE(start());
  HttpResponse consumer =
      admin_call(admin_, "PUT", "/apisix/admin/consumers/jack",
                 R"({"username":"jack","plugins":{"key-auth":{"key":"jack-key"}}})");
  ASSERT_TRUE(consumer.status == 201 || consumer.status == 200) << consumer.describe();
  UpstreamServer up(named_upstream("a"));
  HttpResponse put = admin_call(admin_, "PUT", "/apisix/admin/routes/auth",
                                R"({"uri":"/auth","plugins":{"prometheus":{},"key-auth":{}},)"
                                R"("upstream":{"type":"roundrobin","nodes":{")" +
                                    up.address() + R"(":1}}})");
  ASSERT_EQ(put.status, 201) << put.describe();
  Headers with_key{{"Host", "example.com"}, {"apikey", "jack-key"}};
  ASSERT_TRUE(wait_until([&] { return http_get(port_, "/auth", with_key).status == 200; }, 5s));
  // Without a key: rejected by key-auth, still counted (the log phase runs after an exit).
  EXPECT_EQ(http_get(port_, "/auth").status, 401);

  EXPECT_TRUE(wait_for(status_series("200", "auth", "/auth", "127.0.0.1", "upstream", "jack"), 1))
      << last_scrape_;
  EXPECT_TRUE(wait_for(status_series("401", "auth", "/auth", "", "apisix"), 1)) << last_scrape_;
}

// A real Prometheus scrapes the export server; the counts read back through /api/v1/query.
TEST_F(PrometheusPlugin, RealPrometheusScrapesExportServer) {
  ASSERT_NO_FATAL_FAILURE(start());
  UpstreamServer up(named_upstream("a"));
  ASSERT_NO_FATAL_FAILURE(put_route("1",
                                    R"({"uri":"/hello","plugins":{"prometheus":{}},)"
                                    R"("upstream":{"type":"roundrobin","nodes":{")" +
                                        up.address() + R"(":1}}})",
                                    "/hello"));
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(http_get(port_, "/hello").status, 200);
  }

  PrometheusServer prometheus({.target = "127.0.0.1:" + std::to_string(export_port_),
                               .metrics_path = std::string(kMetricsPath)});
  ASSERT_TRUE(prometheus.ok()) << prometheus.error();
  ASSERT_TRUE(prometheus.wait_for_target_up(30s))
      << prometheus.get("/api/v1/targets").value_or("") << prometheus.log_tail();

  EXPECT_TRUE(prometheus.wait_for_value(
      R"(apisix_http_status{code="200",route="1",matched_uri="/hello",node="127.0.0.1",)"
      R"(response_source="upstream"})",
      3, 30s))
      << prometheus.query("apisix_http_status");
  EXPECT_TRUE(
      prometheus.wait_for_value(R"(apisix_http_latency_count{type="request",route="1"})", 3, 30s))
      << prometheus.query("apisix_http_latency_count");
  EXPECT_EQ(
      prometheus.query_value(R"(count(apisix_http_latency_bucket{type="request",route="1"}))"), 16);

  // Later requests reach Prometheus through later scrapes.
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(http_get(port_, "/hello").status, 200);
  }
  EXPECT_TRUE(prometheus.wait_for_value(R"(sum(apisix_http_status{route="1"}))", 7, 30s))
      << prometheus.query("apisix_http_status");
}

}  // namespace
}  // namespace apisix::test
