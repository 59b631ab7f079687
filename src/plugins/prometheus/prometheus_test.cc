// prometheus (plugins.md §6.1): the schemas, plugin_attr and metadata parsing, the metric set an
// Exporter renders (names, labels, buckets, HELP texts), what the log phase records from a
// request, and the export server answering on a loop.
#include "plugins/prometheus/prometheus.h"

#include <memory>
#include <string>
#include <thread>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/loop.h"
#include "core/socket.h"
#include "core/task.h"
#include "plugins/builtin.h"
#include "plugins/consumers.h"
#include "plugins/prometheus/export_server.h"
#include "plugins/prometheus/exporter.h"
#include "plugins/request.h"

// A Result that failed: fail the test and leave the coroutine (ASSERT_* cannot co_return).
#define APISIX_EXPECT_OK_OR_RETURN(result)     \
  if (!(result)) {                             \
    ADD_FAILURE() << (result).error().context; \
    co_return;                                 \
  }

namespace apisix::plugins {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using prometheus::DisabledLabels;
using prometheus::Exporter;
using prometheus::ExporterOptions;
using prometheus::ExportServer;
using prometheus::ExportServerOptions;
using prometheus::RequestRecord;
using prometheus::ResponseSource;

// The line of `text` that starts with `prefix` (a series name with its labels), "" if none.
std::string line_of(const std::string& text, std::string_view prefix) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) {
      end = text.size();
    }
    std::string_view line(text.data() + at, end - at);
    if (line.starts_with(prefix)) {
      return std::string(line);
    }
    at = end + 1;
  }
  return "";
}

// The value of the series `series` (name and labels, exactly as rendered), or -1.
double value_of(const std::string& text, std::string_view series) {
  std::string prefix = std::string(series) + " ";
  std::string line = line_of(text, prefix);
  return line.empty() ? -1 : std::stod(line.substr(prefix.size()));
}

size_t count_lines(const std::string& text, std::string_view prefix) {
  size_t n = 0;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) {
      end = text.size();
    }
    if (std::string_view(text.data() + at, end - at).starts_with(prefix)) {
      ++n;
    }
    at = end + 1;
  }
  return n;
}

ExporterOptions options_for(uint32_t workers) {
  ExporterOptions o;
  o.worker_count = workers;
  o.hostname = "node-1";
  return o;
}

RequestRecord proxied_200() {
  RequestRecord r;
  r.status = 200;
  r.route = "1";
  r.matched_uri = "/hello";
  r.service = "";
  r.node = "127.0.0.1";
  r.source = ResponseSource::Upstream;
  r.request_ms = 12;
  r.upstream_ms = 7;
  r.request_bytes = 80;
  r.sent_bytes = 150;
  return r;
}

constexpr std::string_view kStatus200 =
    R"(apisix_http_status{code="200",route="1",matched_uri="/hello",matched_host="",service="",)"
    R"(consumer="",node="127.0.0.1",request_type="traditional_http",request_llm_model="",)"
    R"(llm_model="",response_source="upstream"})";
constexpr std::string_view kPerService =
    R"(route="1",service="",consumer="",node="127.0.0.1",request_type="traditional_http",)"
    R"(request_llm_model="",llm_model="")";

// ---- schemas ----

TEST(PrometheusPlugin, SchemaAcceptsPreferNameAndRejectsOtherTypes) {
  Registry registry;
  const schema::Schema* s = registry.schema_of("prometheus");
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(s->check(json::parse(R"({})")));
  EXPECT_FALSE(s->check(json::parse(R"({"prefer_name": true})")));
  EXPECT_EQ(
      s->check(json::parse(R"({"prefer_name": 1})")).value_or(""),
      R"(property "prefer_name" validation failed: wrong type: expected boolean, got number)");
  json::value filled = json::parse("{}");
  EXPECT_FALSE(s->validate(filled));
  EXPECT_EQ(filled, json::parse(R"({"prefer_name": false})"));
}

TEST(PrometheusPlugin, MetadataSchemaRejectsStructuralLabels) {
  Registry registry;
  const schema::Schema* m = registry.metadata_schema_of("prometheus");
  ASSERT_NE(m, nullptr);
  EXPECT_FALSE(m->check(json::parse(R"({"disabled_labels": {"http_status": ["node"]}})")));
  EXPECT_EQ(
      m->check(json::parse(R"({"disabled_labels": {"bandwidth": ["type"]}})")).value_or(""),
      R"(property "disabled_labels" validation failed: property "bandwidth" validation failed: )"
      R"(failed to validate item 1: matches none of the enum values)");
}

// ---- plugin_attr and metadata ----

TEST(PrometheusPlugin, AttrDefaults) {
  auto o = ExporterOptions::from_attr(nullptr, 3);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->worker_count, 3u);
  EXPECT_EQ(o->metric_prefix, "apisix_");
  EXPECT_TRUE(o->latency_buckets.empty());
  EXPECT_TRUE(o->http_status_extra.empty());

  auto s = ExportServerOptions::from_attr(nullptr);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->enabled);
  EXPECT_EQ(s->ip, "127.0.0.1");
  EXPECT_EQ(s->port, 9091);
  EXPECT_EQ(s->path, "/apisix/prometheus/metrics");
  EXPECT_EQ(s->refresh_interval, 15s);
}

TEST(PrometheusPlugin, AttrParsesPrefixBucketsExtraLabelsAndExportAddr) {
  json::value attr = json::parse(R"({
    "export_uri": "/m", "metric_prefix": "gw_", "enable_export_server": false,
    "export_addr": {"ip": "0.0.0.0", "port": 9300}, "refresh_interval": 0.5,
    "default_buckets": [500, 10, 50, 10],
    "metrics": {
      "http_status": {"extra_labels": [{"upstream_addr": "$upstream_addr"},
                                       {"route_name": "$route_name"}]},
      "bandwidth": {"extra_labels": [{"ua": "$http_user_agent"}], "expire": 0}
    }})");
  auto o = ExporterOptions::from_attr(&attr, 2);
  ASSERT_TRUE(o) << o.error().context;
  EXPECT_EQ(o->metric_prefix, "gw_");
  EXPECT_EQ(o->latency_buckets, (std::vector<double>{10, 50, 500}));
  ASSERT_EQ(o->http_status_extra.size(), 2u);
  EXPECT_EQ(o->http_status_extra[0].name, "upstream_addr");
  EXPECT_EQ(o->http_status_extra[0].var, router::parse_var_ref("upstream_addr"));
  EXPECT_EQ(o->http_status_extra[1].var, router::parse_var_ref("route_name"));
  EXPECT_TRUE(o->http_latency_extra.empty());
  ASSERT_EQ(o->bandwidth_extra.size(), 1u);
  EXPECT_EQ(o->bandwidth_extra[0].var.kind, router::VarKind::Http);

  auto s = ExportServerOptions::from_attr(&attr);
  ASSERT_TRUE(s) << s.error().context;
  EXPECT_FALSE(s->enabled);
  EXPECT_EQ(s->ip, "0.0.0.0");
  EXPECT_EQ(s->port, 9300);
  EXPECT_EQ(s->path, "/m");
  EXPECT_EQ(s->refresh_interval, 500ms);
}

TEST(PrometheusPlugin, AttrRejectsBadValues) {
  auto error_of = [](std::string_view text) {
    json::value attr = json::parse(text);
    auto o = ExporterOptions::from_attr(&attr, 1);
    return o ? std::string("(accepted)") : o.error().context;
  };
  EXPECT_EQ(error_of(R"({"default_buckets": ["a"]})"),
            "plugin_attr.prometheus.default_buckets: should hold numbers");
  EXPECT_EQ(error_of(R"({"metrics": {"http_status": {"extra_labels": [{"route": "$uri"}]}}})"),
            "plugin_attr.prometheus.metrics.http_status.extra_labels: label \"route\" is already "
            "defined");
  EXPECT_EQ(error_of(R"({"metrics": {"bandwidth": {"extra_labels": [{"a-b": "$uri"}]}}})"),
            "plugin_attr.prometheus.metrics.bandwidth.extra_labels: invalid label name \"a-b\"");
  json::value bad_port = json::parse(R"({"export_addr": {"port": 70000}})");
  EXPECT_FALSE(ExportServerOptions::from_attr(&bad_port));
}

TEST(PrometheusPlugin, DisabledLabelsFromMetadata) {
  json::value meta = json::parse(R"({"disabled_labels": {
      "http_status": ["node", "consumer"], "http_latency": ["node"], "llm_latency": ["node"]}})");
  DisabledLabels d = DisabledLabels::from_metadata(&meta);
  EXPECT_EQ(d.http_status, (1u << 6) | (1u << 5));  // node, consumer
  EXPECT_EQ(d.http_latency, 1u << 4);               // node
  EXPECT_EQ(d.bandwidth, 0u);
  EXPECT_EQ(DisabledLabels::from_metadata(nullptr), DisabledLabels{});
}

// ---- the exporter ----

TEST(PrometheusPlugin, ExporterRendersApisixMetricSet) {
  Exporter e(options_for(2));
  e.record(0, proxied_200(), {});
  e.record(1, proxied_200(), {});
  std::string text = e.render();

  EXPECT_NE(text.find("# HELP apisix_http_status HTTP status codes per service in APISIX\n"
                      "# TYPE apisix_http_status counter\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(value_of(text, kStatus200), 2) << text;

  EXPECT_NE(text.find("# HELP apisix_http_latency HTTP request latency in milliseconds per "
                      "service in APISIX\n# TYPE apisix_http_latency histogram\n"),
            std::string::npos);
  std::string request = "type=\"request\"," + std::string(kPerService);
  std::string upstream = "type=\"upstream\"," + std::string(kPerService);
  std::string apisix = "type=\"apisix\"," + std::string(kPerService);
  EXPECT_EQ(value_of(text, "apisix_http_latency_count{" + request + "}"), 2);
  EXPECT_EQ(value_of(text, "apisix_http_latency_sum{" + request + "}"), 24);
  EXPECT_EQ(value_of(text, "apisix_http_latency_sum{" + upstream + "}"), 14);
  EXPECT_EQ(value_of(text, "apisix_http_latency_sum{" + apisix + "}"), 10);  // 12 - 7, twice
  // APISIX's default buckets, 1 ms to 60 s, then +Inf.
  EXPECT_EQ(value_of(text, "apisix_http_latency_bucket{" + request + ",le=\"10\"}"), 0);
  EXPECT_EQ(value_of(text, "apisix_http_latency_bucket{" + request + ",le=\"20\"}"), 2);
  EXPECT_EQ(value_of(text, "apisix_http_latency_bucket{" + request + ",le=\"60000\"}"), 2);
  EXPECT_EQ(count_lines(text, "apisix_http_latency_bucket{" + request), 16u);

  EXPECT_NE(text.find("# HELP apisix_bandwidth Total bandwidth in bytes consumed per service in "
                      "APISIX\n# TYPE apisix_bandwidth counter\n"),
            std::string::npos);
  EXPECT_EQ(value_of(text, "apisix_bandwidth{type=\"ingress\"," + std::string(kPerService) + "}"),
            160);
  EXPECT_EQ(value_of(text, "apisix_bandwidth{type=\"egress\"," + std::string(kPerService) + "}"),
            300);

  EXPECT_EQ(value_of(text, "apisix_node_info{hostname=\"node-1\",version=\"3.18.0\"}"), 1);
  EXPECT_EQ(value_of(text, "apisix_nginx_metric_errors_total"), 0);
  // Metrics whose source the gateway has not given are left out.
  EXPECT_EQ(text.find("apisix_etcd_reachable"), std::string::npos);
  EXPECT_EQ(text.find("apisix_nginx_http_current_connections"), std::string::npos);
}

TEST(PrometheusPlugin, ExporterAddsUpstreamLatencyOnlyWhenAnUpstreamAnswered) {
  Exporter e(options_for(1));
  RequestRecord rejected;
  rejected.status = 401;
  rejected.route = "1";
  rejected.request_ms = 3;
  rejected.request_bytes = 50;
  rejected.sent_bytes = 120;
  e.record(0, rejected, {});
  std::string text = e.render();
  EXPECT_EQ(value_of(text, R"(apisix_http_status{code="401",route="1",matched_uri="",)"
                           R"(matched_host="",service="",consumer="",node="",)"
                           R"(request_type="traditional_http",request_llm_model="",)"
                           R"(llm_model="",response_source="apisix"})"),
            1)
      << text;
  EXPECT_EQ(text.find("type=\"upstream\""), std::string::npos);
  EXPECT_EQ(count_lines(text, "apisix_http_latency_count{type=\"apisix\""), 1u);

  // The same label set, now proxied: the upstream series appears next to the others.
  RequestRecord proxied = rejected;
  proxied.status = 401;
  proxied.upstream_ms = 5;
  proxied.request_ms = 4;  // earlier than the upstream's end by the clocks' difference
  e.record(0, proxied, {});
  text = e.render();
  EXPECT_EQ(count_lines(text, "apisix_http_latency_count{type=\"upstream\""), 1u);
  std::string labels = R"(route="1",service="",consumer="",node="",)"
                       R"(request_type="traditional_http",request_llm_model="",llm_model="")";
  EXPECT_EQ(value_of(text, "apisix_http_latency_sum{type=\"apisix\"," + labels + "}"), 3);  // +0
  EXPECT_EQ(value_of(text, "apisix_http_latency_count{type=\"apisix\"," + labels + "}"), 2);
}

TEST(PrometheusPlugin, ExporterSeparatesLabelSetsAndCollapsesDisabledLabels) {
  Exporter e(options_for(1));
  RequestRecord jack = proxied_200();
  jack.consumer = "jack";
  RequestRecord rose = proxied_200();
  rose.consumer = "rose";
  rose.node = "127.0.0.2";
  e.record(0, jack, {});
  e.record(0, rose, {});
  e.record(0, jack, {});
  std::string text = e.render();
  EXPECT_EQ(count_lines(text, "apisix_http_status{"), 2u) << text;
  EXPECT_NE(line_of(text, "apisix_http_status{code=\"200\"").find("consumer=\"jack\""),
            std::string::npos);
  EXPECT_EQ(value_of(text, R"(apisix_bandwidth{type="egress",route="1",service="",consumer="jack",)"
                           R"(node="127.0.0.1",request_type="traditional_http",)"
                           R"(request_llm_model="",llm_model=""})"),
            300);

  // Metadata disables node and consumer on http_status only (prometheus.md's example).
  json::value meta = json::parse(R"({"disabled_labels": {"http_status": ["node", "consumer"]}})");
  DisabledLabels d = DisabledLabels::from_metadata(&meta);
  Exporter f(options_for(1));
  f.record(0, jack, d);
  f.record(0, rose, d);
  text = f.render();
  EXPECT_EQ(value_of(text, R"(apisix_http_status{code="200",route="1",matched_uri="/hello",)"
                           R"(matched_host="",service="",consumer="",node="",)"
                           R"(request_type="traditional_http",request_llm_model="",)"
                           R"(llm_model="",response_source="upstream"})"),
            2)
      << text;
  EXPECT_EQ(count_lines(text, "apisix_bandwidth{type=\"egress\""), 2u);
}

TEST(PrometheusPlugin, ExporterHonoursPrefixBucketsAndExtraLabels) {
  json::value attr = json::parse(R"({"metric_prefix": "gw_", "default_buckets": [5, 100],
      "metrics": {"http_status": {"extra_labels": [{"upstream_addr": "$upstream_addr"}]}}})");
  auto o = ExporterOptions::from_attr(&attr, 1);
  ASSERT_TRUE(o);
  Exporter e(std::move(*o));
  RequestRecord r = proxied_200();
  std::string_view extra[] = {"127.0.0.1:1980"};
  r.http_status_extra = extra;
  e.record(0, r, {});
  std::string text = e.render();
  EXPECT_NE(line_of(text, "gw_http_status{")
                .find(R"(response_source="upstream",upstream_addr="127.0.0.1:1980"} 1)"),
            std::string::npos)
      << text;
  EXPECT_EQ(count_lines(text, "gw_http_latency_bucket{type=\"request\""), 3u);
  EXPECT_EQ(value_of(text, "gw_http_latency_bucket{type=\"request\"," + std::string(kPerService) +
                               ",le=\"100\"}"),
            1);
  EXPECT_EQ(text.find("apisix_"), std::string::npos);
}

TEST(PrometheusPlugin, ExporterCountsUnknownWorkerAsError) {
  Exporter e(options_for(1));
  e.record(5, proxied_200(), {});
  std::string text = e.render();
  EXPECT_EQ(value_of(text, "apisix_nginx_metric_errors_total"), 1);
  EXPECT_EQ(text.find("apisix_http_status"), std::string::npos);
}

TEST(PrometheusPlugin, ExporterRendersNodeSources) {
  Exporter e(options_for(1));
  prometheus::NodeSources sources;
  sources.connections = [] {
    prometheus::ConnectionStats s;
    s.active = 3;
    s.accepted = 10;
    s.handled = 10;
    s.reading = 1;
    s.writing = 1;
    s.waiting = 1;
    s.requests = 42;
    return s;
  };
  sources.etcd_reachable = [] { return std::optional<bool>(true); };
  sources.etcd_modify_indexes = [] {
    return std::vector<std::pair<std::string, int64_t>>{{"routes", 17}, {"max_modify_index", 20}};
  };
  sources.upstream_status = [] {
    return std::vector<prometheus::UpstreamNodeStatus>{
        {"/apisix/routes/1", "127.0.0.1", 1980, true},
        {"/apisix/routes/1", "127.0.0.1", 20001, false}};
  };
  e.set_node_sources(sources);
  std::string text = e.render();
  EXPECT_EQ(value_of(text, "apisix_nginx_http_current_connections{state=\"active\"}"), 3) << text;
  EXPECT_EQ(value_of(text, "apisix_nginx_http_current_connections{state=\"accepted\"}"), 10);
  EXPECT_EQ(count_lines(text, "apisix_nginx_http_current_connections{"), 6u);
  EXPECT_EQ(value_of(text, "apisix_http_requests_total"), 42);
  EXPECT_NE(text.find("# HELP apisix_http_requests_total The total number of client requests "
                      "since APISIX started\n"),
            std::string::npos);
  EXPECT_EQ(value_of(text, "apisix_etcd_reachable"), 1);
  EXPECT_EQ(value_of(text, "apisix_etcd_modify_indexes{key=\"routes\"}"), 17);
  EXPECT_EQ(
      value_of(text,
               R"(apisix_upstream_status{name="/apisix/routes/1",ip="127.0.0.1",port="1980"})"),
      1);
  EXPECT_EQ(
      value_of(text,
               R"(apisix_upstream_status{name="/apisix/routes/1",ip="127.0.0.1",port="20001"})"),
      0);
}

TEST(PrometheusPlugin, ExporterWorkersRecordConcurrently) {
  Exporter e(options_for(2));
  auto work = [&](uint32_t worker) {
    for (int i = 0; i < 20000; ++i) {
      RequestRecord r = proxied_200();
      r.consumer = i % 2 == 0 ? "a" : "b";
      e.record(worker, r, {});
    }
  };
  std::thread t0(work, 0);
  std::thread t1(work, 1);
  std::string during = e.render();  // scraping while the workers count
  t0.join();
  t1.join();
  std::string text = e.render();
  EXPECT_EQ(count_lines(text, "apisix_http_status{"), 2u);
  EXPECT_EQ(value_of(text, R"(apisix_http_status{code="200",route="1",matched_uri="/hello",)"
                           R"(matched_host="",service="",consumer="a",node="127.0.0.1",)"
                           R"(request_type="traditional_http",request_llm_model="",)"
                           R"(llm_model="",response_source="upstream"})"),
            20000);
}

// ---- the plugin's log phase ----

std::shared_ptr<const Plugin> compile_conf(std::string_view text,
                                           const json::value* metadata = nullptr) {
  Registry registry;
  json::value conf = json::parse(text);
  auto err = registry.schema_of("prometheus")->validate(conf);
  EXPECT_FALSE(err) << *err;
  CompileContext ctx;
  ctx.metadata = metadata;
  auto plugin = Prometheus::compile(conf, ctx);
  EXPECT_TRUE(plugin) << plugin.error().context;
  return plugin ? *plugin : nullptr;
}

// A finished request of route `route_id` (name `route_name`) as the log phase sees it.
struct LoggedRequest {
  LoggedRequest() : request(nullptr, nullptr) {}
  Request request;
};

std::unique_ptr<LoggedRequest> finished(std::string_view route_id, std::string_view route_name,
                                        int status, std::string_view upstream_addr) {
  auto r = std::make_unique<LoggedRequest>();
  r->request.route.route_id = route_id;
  r->request.route.route_name = route_name;
  r->request.route.matched_uri = "/get";
  r->request.route.matched_host = "*.test.com";
  r->request.response().status = status;
  r->request.outcome.upstream_addr = std::string(upstream_addr);
  r->request.outcome.proxied = !upstream_addr.empty() && status < 500;
  r->request.outcome.upstream_latency = std::chrono::milliseconds(upstream_addr.empty() ? -1 : 2);
  r->request.outcome.request_length = 77;
  r->request.outcome.bytes_sent = 200;
  return r;
}

TEST(PrometheusPlugin, LogRecordsRouteNodeAndSource) {
  auto plugin = compile_conf("{}");
  ASSERT_TRUE(plugin);
  auto ok = finished("pl-1", "named", 200, "127.0.0.1:1980");
  plugin->log(ok->request);
  plugin->log(ok->request);
  auto bad_gateway = finished("pl-1", "named", 502, "127.0.0.1:1");
  plugin->log(bad_gateway->request);

  std::string text = prometheus::exporter().render();
  EXPECT_EQ(value_of(text, R"(apisix_http_status{code="200",route="pl-1",matched_uri="/get",)"
                           R"(matched_host="*.test.com",service="",consumer="",node="127.0.0.1",)"
                           R"(request_type="traditional_http",request_llm_model="",)"
                           R"(llm_model="",response_source="upstream"})"),
            2)
      << text;
  EXPECT_EQ(value_of(text, R"(apisix_http_status{code="502",route="pl-1",matched_uri="/get",)"
                           R"(matched_host="*.test.com",service="",consumer="",node="127.0.0.1",)"
                           R"(request_type="traditional_http",request_llm_model="",)"
                           R"(llm_model="",response_source="nginx"})"),
            1);
  EXPECT_EQ(value_of(text, R"(apisix_bandwidth{type="ingress",route="pl-1",service="",consumer="",)"
                           R"(node="127.0.0.1",request_type="traditional_http",)"
                           R"(request_llm_model="",llm_model=""})"),
            231);
  EXPECT_EQ(value_of(text, R"(apisix_http_latency_count{type="upstream",route="pl-1",service="",)"
                           R"(consumer="",node="127.0.0.1",request_type="traditional_http",)"
                           R"(request_llm_model="",llm_model=""})"),
            3);
}

TEST(PrometheusPlugin, LogUsesNamesWithPreferNameAndConsumer) {
  auto plugin = compile_conf(R"({"prefer_name": true})");
  ASSERT_TRUE(plugin);
  auto named = finished("pn-1", "pn-route", 200, "10.0.0.5:80");
  named->request.route.service_id = "pn-s1";
  named->request.route.service_name = "pn-service";
  Consumer jack;
  jack.username = "jack";
  named->request.attach_consumer(jack, "");
  plugin->log(named->request);
  // No name: the id stands in.
  auto unnamed = finished("pn-2", "", 404, "");
  unnamed->request.route.service_id = "pn-s2";
  plugin->log(unnamed->request);

  std::string text = prometheus::exporter().render();
  EXPECT_EQ(value_of(text, R"(apisix_http_status{code="200",route="pn-route",matched_uri="/get",)"
                           R"(matched_host="*.test.com",service="pn-service",consumer="jack",)"
                           R"(node="10.0.0.5",request_type="traditional_http",)"
                           R"(request_llm_model="",llm_model="",response_source="upstream"})"),
            1)
      << text;
  EXPECT_EQ(value_of(text, R"(apisix_http_status{code="404",route="pn-2",matched_uri="/get",)"
                           R"(matched_host="*.test.com",service="pn-s2",consumer="",node="",)"
                           R"(request_type="traditional_http",request_llm_model="",)"
                           R"(llm_model="",response_source="apisix"})"),
            1);
}

TEST(PrometheusPlugin, LogAppliesMetadataDisabledLabels) {
  json::value meta = json::parse(R"({"disabled_labels": {"http_latency": ["node", "route"]}})");
  auto plugin = compile_conf("{}", &meta);
  ASSERT_TRUE(plugin);
  EXPECT_EQ(static_cast<const Prometheus&>(*plugin).disabled_labels().http_latency,
            (1u << 4) | (1u << 1));
  auto r = finished("dl-1", "", 200, "10.9.9.9:80");
  plugin->log(r->request);
  std::string text = prometheus::exporter().render();
  // http_latency lost route and node; http_status keeps them.
  EXPECT_NE(
      line_of(text, R"(apisix_http_status{code="200",route="dl-1")").find(R"(node="10.9.9.9")"),
      std::string::npos)
      << text;
  EXPECT_EQ(line_of(text, "apisix_http_latency_count{").find("10.9.9.9"), std::string::npos);
  EXPECT_EQ(text.find(R"(apisix_http_latency_count{type="request",route="dl-1")"),
            std::string::npos);
}

// Extra labels read the variables the log phase has: upstream_addr and route_name here;
// a request header is gone by then and reads "".
TEST(PrometheusPlugin, LogFillsExtraLabelsFromVariables) {
  json::value attr = json::parse(R"({"metrics": {"http_status": {"extra_labels": [
      {"upstream_addr": "$upstream_addr"}, {"route_name": "$route_name"},
      {"status": "$status"}, {"ua": "$http_user_agent"}]}}})");
  auto o = ExporterOptions::from_attr(&attr, 1);
  ASSERT_TRUE(o);
  Exporter e(std::move(*o));
  Prometheus plugin(e, false, {});
  auto r = finished("xl-1", "extra-label", 200, "127.0.0.1:1980");
  plugin.log(r->request);
  std::string text = e.render();
  EXPECT_EQ(value_of(text, R"(apisix_http_status{code="200",route="xl-1",matched_uri="/get",)"
                           R"(matched_host="*.test.com",service="",consumer="",node="127.0.0.1",)"
                           R"(request_type="traditional_http",request_llm_model="",llm_model="",)"
                           R"(response_source="upstream",upstream_addr="127.0.0.1:1980",)"
                           R"(route_name="extra-label",status="200",ua=""})"),
            1)
      << text;
  // Metrics without extra labels keep their built-in list.
  EXPECT_EQ(value_of(text, R"(apisix_http_latency_count{type="request",route="xl-1",service="",)"
                           R"(consumer="",node="127.0.0.1",request_type="traditional_http",)"
                           R"(request_llm_model="",llm_model=""})"),
            1);
}

// ---- the export server ----

// Runs `body(loop)` on a fresh loop until it finishes (or 30 s pass).
template <typename Fn>
void run_on_loop(Fn&& fn) {
  core::Loop loop;
  bool finished = false;
  auto body = [&]() -> core::Task<void> {
    co_await fn(loop);
    finished = true;
  };
  // Stops the loop once the body finished, so that no coroutine is left suspended.
  auto watchdog = [&]() -> core::Task<void> {
    auto limit = core::Clock::now() + 30s;
    while (!finished && core::Clock::now() < limit) {
      co_await loop.sleep_for(2ms);
    }
    loop.stop();
  };
  core::spawn(body());
  core::spawn(watchdog());
  loop.run();
  EXPECT_TRUE(finished) << "the test coroutine did not finish";
}

struct Answer {
  int status = 0;
  std::string head;
  std::string body;
};

// Sends `request` on `socket` and reads one Content-Length-framed response.
core::Task<Answer> exchange(core::Loop& loop, core::Socket& socket, std::string request) {
  Answer a;
  auto w = co_await socket.write_all(request, loop.now() + 5s);
  if (!w.ok()) {
    co_return a;
  }
  std::string in;
  for (;;) {
    size_t end = in.find("\r\n\r\n");
    if (end != std::string::npos) {
      a.head = in.substr(0, end + 2);
      size_t cl = a.head.find("Content-Length: ");
      size_t length = cl == std::string::npos ? 0 : std::stoul(a.head.substr(cl + 16));
      if (in.size() >= end + 4 + length) {
        a.body = in.substr(end + 4, length);
        a.status = std::stoi(a.head.substr(9, 3));
        co_return a;
      }
    }
    char buf[8192];
    auto r = co_await socket.read_some(buf, sizeof(buf), loop.now() + 5s);
    if (!r.ok()) {
      co_return a;
    }
    in.append(buf, r.bytes);
  }
}

core::Task<core::Socket> connect_to(core::Loop& loop, uint16_t port) {
  core::Endpoint ep;
  core::Endpoint::parse("127.0.0.1", port, ep);
  auto c = co_await core::connect_tcp(loop, ep, loop.now() + 5s);
  co_return std::move(c.socket);
}

TEST(PrometheusPlugin, ExportServerServesMetricsAndAnswers404Otherwise) {
  Exporter e(options_for(1));
  e.record(0, proxied_200(), {});
  ExportServer server(e);
  EXPECT_EQ(server.handle("GET", "/apisix/prometheus/metrics").status, 500);  // not started

  run_on_loop([&](core::Loop& loop) -> core::Task<void> {
    auto started = server.start(loop, "127.0.0.1", 0, "/apisix/prometheus/metrics");
    APISIX_EXPECT_OK_OR_RETURN(started);
    uint16_t port = server.bound_port();
    EXPECT_NE(port, 0);
    core::Socket socket = co_await connect_to(loop, port);
    EXPECT_TRUE(socket.is_open());
    if (!socket.is_open()) {
      co_return;
    }

    // Keep-alive: three requests on one connection.
    Answer ok = co_await exchange(loop, socket,
                                  "GET /apisix/prometheus/metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(ok.status, 200) << ok.head;
    EXPECT_NE(ok.head.find("Content-Type: text/plain\r\n"), std::string::npos) << ok.head;
    EXPECT_EQ(value_of(ok.body, kStatus200), 1) << ok.body;

    Answer other = co_await exchange(loop, socket, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(other.status, 404);
    EXPECT_NE(other.body.find("404 Not Found"), std::string::npos) << other.body;

    Answer post = co_await exchange(loop, socket,
                                    "POST /apisix/prometheus/metrics HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(post.status, 404);

    // Counts made after the last render show up once the exposition is rendered again.
    e.record(0, proxied_200(), {});
    Answer cached = co_await exchange(loop, socket,
                                      "GET /apisix/prometheus/metrics HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(value_of(cached.body, kStatus200), 1);
    server.refresh();
    Answer fresh = co_await exchange(loop, socket,
                                     "GET /apisix/prometheus/metrics HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(value_of(fresh.body, kStatus200), 2);
    server.stop();
  });
}

TEST(PrometheusPlugin, ExportServerRefreshesOnItsTimer) {
  Exporter e(options_for(1));
  ExportServer server(e);
  run_on_loop([&](core::Loop& loop) -> core::Task<void> {
    ExportServerOptions options;
    options.port = 0;
    options.refresh_interval = 20ms;
    auto started = server.start(loop, options);
    APISIX_EXPECT_OK_OR_RETURN(started);
    e.record(0, proxied_200(), {});
    core::Socket socket = co_await connect_to(loop, server.bound_port());
    // Polls until the timer rendered the new count (a few intervals at most).
    double seen = -1;
    for (int i = 0; i < 200 && seen != 1; ++i) {
      Answer a = co_await exchange(loop, socket,
                                   "GET /apisix/prometheus/metrics HTTP/1.1\r\nHost: a\r\n\r\n");
      seen = value_of(a.body, kStatus200);
      if (seen != 1) {
        co_await loop.sleep_for(10ms);
      }
    }
    EXPECT_EQ(seen, 1);
    server.stop();
  });
}

TEST(PrometheusPlugin, ExportServerStopClosesOpenConnections) {
  Exporter e(options_for(1));
  run_on_loop([&](core::Loop& loop) -> core::Task<void> {
    auto server = std::make_unique<ExportServer>(e);
    auto started = server->start(loop, "127.0.0.1", 0, "/m");
    APISIX_EXPECT_OK_OR_RETURN(started);
    uint16_t port = server->bound_port();
    core::Socket socket = co_await connect_to(loop, port);
    Answer a = co_await exchange(loop, socket, "GET /m HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(a.status, 200);
    server.reset();  // stops: the idle connection is closed, the port is free
    char buf[16];
    auto r = co_await socket.read_some(buf, sizeof(buf), loop.now() + 5s);
    EXPECT_EQ(r.error, core::IoError::Eof);
    core::Socket again = co_await connect_to(loop, port);
    EXPECT_FALSE(again.is_open());
  });
}

TEST(PrometheusPlugin, ExportServerRejectsBadAddress) {
  Exporter e(options_for(1));
  ExportServer server(e);
  core::Loop loop;
  auto r = server.start(loop, "not-an-ip", 0, "/m");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().context.find("not-an-ip"), std::string::npos);
}

}  // namespace
}  // namespace apisix::plugins
