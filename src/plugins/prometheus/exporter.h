#pragma once
// The prometheus plugin's metrics (plugins.md §6.1, APISIX apisix/plugins/prometheus/
// exporter.lua): one process-wide Exporter owns a metrics::Registry with APISIX's metric names,
// labels, HELP texts and buckets. Workers record requests into their own shard (the log phase of
// the prometheus plugin); the export server's thread renders the exposition.
//
// Threads. record() runs on a worker thread and touches only that worker's shard and label cache
// (no lock, no allocation once the request's label set has been seen on that worker).
// render() and the node gauges run on the control thread (serialised by a mutex, so tests may
// render from any thread). The Exporter is made once, before the first plugin instance or export
// server uses it, and lives until the process exits.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "core/result.h"
#include "metrics/registry.h"
#include "router/vars.h"

namespace apisix::plugins::prometheus {

// Built-in label lists, in APISIX's order (exporter.lua metric_label_map).
inline constexpr std::string_view kHttpStatusLabels[] = {
    "code", "route",        "matched_uri",       "matched_host", "service",        "consumer",
    "node", "request_type", "request_llm_model", "llm_model",    "response_source"};
inline constexpr std::string_view kHttpLatencyLabels[] = {
    "type", "route",        "service",           "consumer",
    "node", "request_type", "request_llm_model", "llm_model"};
inline constexpr std::string_view kBandwidthLabels[] = {
    "type", "route",        "service",           "consumer",
    "node", "request_type", "request_llm_model", "llm_model"};

// One `plugin_attr.prometheus.metrics.<metric>.extra_labels` entry: `{name: "$variable"}`.
struct ExtraLabel {
  std::string name;
  router::VarRef var;
};

// The exporter's static settings: plugin_attr.prometheus (config.yaml) and the worker count.
struct ExporterOptions {
  uint32_t worker_count = 1;
  std::string metric_prefix = "apisix_";
  std::vector<double> latency_buckets;  // http_latency bounds (ms); empty: APISIX's defaults
  std::vector<ExtraLabel> http_status_extra;
  std::vector<ExtraLabel> http_latency_extra;
  std::vector<ExtraLabel> bandwidth_extra;
  std::string hostname;  // node_info; empty: gethostname()
  std::string version;   // node_info; empty: the APISIX version this build mimics

  // From `plugin_attr.prometheus` (null or not an object: defaults). Errors name the key.
  static Result<ExporterOptions> from_attr(const boost::json::value* attr, uint32_t worker_count);
};

// The labels of http_status, http_latency and bandwidth whose values are collapsed to ""
// (plugin metadata `disabled_labels`, plugins.md §6.1): bit i is label i of the metric's list.
struct DisabledLabels {
  uint16_t http_status = 0;
  uint16_t http_latency = 0;
  uint16_t bandwidth = 0;

  // From the metadata's `disabled_labels` (null: nothing disabled). Structural labels (`code`,
  // `type`) and unknown names are ignored; the metadata schema rejects them anyway.
  static DisabledLabels from_metadata(const boost::json::value* metadata);
  bool operator==(const DisabledLabels&) const = default;
};

// Where a response came from (the `response_source` label).
enum class ResponseSource : uint8_t {
  Apisix,    // made by the gateway itself: a plugin's exit, no route, ...
  Nginx,     // a proxying error without an upstream response (connect failure, timeout)
  Upstream,  // the upstream's response
};
std::string_view to_string(ResponseSource source);

// What the log phase knows of one request. The views need to live only during record().
struct RequestRecord {
  int status = 0;
  std::string_view route;         // id, or name with prefer_name
  std::string_view matched_uri;   // the route's matched uri pattern
  std::string_view matched_host;  // the route's matched host pattern
  std::string_view service;       // id, or name with prefer_name
  std::string_view consumer;      // username
  std::string_view node;          // the upstream node's IP
  ResponseSource source = ResponseSource::Apisix;
  // Values of the extra labels, one per ExporterOptions entry of that metric (may be empty
  // when the metric has none).
  std::span<const std::string_view> http_status_extra;
  std::span<const std::string_view> http_latency_extra;
  std::span<const std::string_view> bandwidth_extra;

  double request_ms = 0;              // the whole request
  std::optional<double> upstream_ms;  // set when an upstream answered
  uint64_t request_bytes = 0;         // ingress ($request_length)
  uint64_t sent_bytes = 0;            // egress ($bytes_sent)
};

// Client connection counters of the whole process (nginx's stub_status numbers).
struct ConnectionStats {
  uint64_t active = 0;    // open client connections
  uint64_t accepted = 0;  // accepted since start
  uint64_t handled = 0;   // handled since start (accepted minus those refused at once)
  uint64_t reading = 0;   // reading a request head
  uint64_t writing = 0;   // processing a request / writing its response
  uint64_t waiting = 0;   // idle keep-alive
  uint64_t requests = 0;  // client requests since start (apisix_http_requests_total)
};

// The health of one node of one health checker (apisix_upstream_status).
struct UpstreamNodeStatus {
  std::string name;  // resource key owning the checks: "/apisix/upstreams/1"
  std::string ip;
  uint16_t port = 0;
  bool healthy = false;  // healthy or mostly_healthy
};

// Facts about the node that the gateway supplies; each is asked at every render on the
// control thread. An unset function leaves its metric out of the exposition.
struct NodeSources {
  std::function<ConnectionStats()> connections;
  // nullopt: the configuration store is not etcd (the gauge is left out).
  std::function<std::optional<bool>()> etcd_reachable;
  // (key, index) pairs: "routes", "services", ..., "max_modify_index", "x_etcd_index".
  std::function<std::vector<std::pair<std::string, int64_t>>()> etcd_modify_indexes;
  std::function<std::vector<UpstreamNodeStatus>()> upstream_status;
};

class Exporter {
 public:
  explicit Exporter(ExporterOptions options);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  const ExporterOptions& options() const { return options_; }
  uint32_t worker_count() const { return options_.worker_count; }

  // Counts one request: http_status +1, http_latency request/upstream/apisix, bandwidth
  // ingress/egress. Only worker `worker`'s thread may call it with that id; ids beyond
  // worker_count() are dropped and counted in nginx_metric_errors_total.
  void record(uint32_t worker, const RequestRecord& request, const DisabledLabels& disabled);

  // Control thread: where node gauges come from (replaces earlier sources).
  void set_node_sources(NodeSources sources);

  // The whole exposition (text format 0.0.4): node gauges refreshed, then every family.
  std::string render();

  metrics::Registry& registry() { return registry_; }

 private:
  struct WorkerCache;
  struct Entry;

  Entry& entry_for(WorkerCache& cache, const RequestRecord& request,
                   const DisabledLabels& disabled);
  void make_series(Entry& entry, const RequestRecord& request, const DisabledLabels& disabled);
  void collect_node_metrics();

  const ExporterOptions options_;
  const metrics::ShardId control_shard_;
  metrics::Registry registry_;
  metrics::Counter http_status_;
  metrics::Histogram http_latency_;
  metrics::Counter bandwidth_;
  metrics::Gauge connections_;
  // Label-less gauges show from registration on, so these two are registered only once their
  // source gives a value (an etcd_reachable of 0 would otherwise claim an unreachable etcd).
  std::optional<metrics::Gauge> requests_;
  std::optional<metrics::Gauge> etcd_reachable_;
  metrics::Gauge node_info_;
  metrics::Gauge etcd_modify_indexes_;
  metrics::Gauge upstream_status_;
  metrics::Counter metric_errors_;
  std::unique_ptr<WorkerCache[]> caches_;

  std::mutex render_mu_;  // guards sources_ and the control shard's writes
  NodeSources sources_;
};

// The process's exporter: made by the first call of either function, from `options`
// (init_exporter) or from defaults with one worker (exporter()). Later calls return the same
// object and ignore their options. Never destroyed.
Exporter& init_exporter(ExporterOptions options);
Exporter& exporter();
// The process's exporter if one was made, else null.
Exporter* find_exporter();

}  // namespace apisix::plugins::prometheus
