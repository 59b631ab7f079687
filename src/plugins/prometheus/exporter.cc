#include "plugins/prometheus/exporter.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <functional>

#include <unistd.h>

#include "core/log.h"

#ifndef APISIX_COMPAT_VERSION
#define APISIX_COMPAT_VERSION "3.18.0"
#endif

namespace apisix::plugins::prometheus {

namespace json = boost::json;

namespace {

// Indices into the label lists (kHttpStatusLabels, kHttpLatencyLabels = kBandwidthLabels).
constexpr size_t kStatusLabelCount = std::size(kHttpStatusLabels);
constexpr size_t kLatencyLabelCount = std::size(kHttpLatencyLabels);
constexpr std::string_view kRequestType = "traditional_http";  // no AI proxying here

// A worker's label cache is dropped when it holds this many label sets, so that a churning
// label (a node label in an autoscaled cluster) cannot grow it without bound; the series stay.
constexpr size_t kMaxCacheEntries = 1 << 16;

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) {
      return false;
    }
  }
  return true;
}

std::optional<double> as_number(const json::value& v) {
  if (v.is_int64()) {
    return static_cast<double>(v.get_int64());
  }
  if (v.is_uint64()) {
    return static_cast<double>(v.get_uint64());
  }
  if (v.is_double()) {
    return v.get_double();
  }
  return std::nullopt;
}

// metrics.<metric>.extra_labels: [{name: "$var"}, ...] after the metric's built-in labels.
Result<std::vector<ExtraLabel>> parse_extra_labels(const json::object& metrics,
                                                   std::string_view metric,
                                                   std::span<const std::string_view> builtin) {
  std::vector<ExtraLabel> out;
  const json::value* entry = metrics.if_contains(metric);
  if (entry == nullptr || entry->is_null()) {
    return out;
  }
  std::string key = "plugin_attr.prometheus.metrics." + std::string(metric);
  if (!entry->is_object()) {
    return Error::config(key + ": should be an object");
  }
  const json::value* labels = entry->get_object().if_contains("extra_labels");
  if (labels == nullptr || labels->is_null()) {
    return out;
  }
  key += ".extra_labels";
  if (!labels->is_array()) {
    return Error::config(key + ": should be an array");
  }
  for (const json::value& item : labels->get_array()) {
    if (!item.is_object() || item.get_object().size() != 1 ||
        !item.get_object().begin()->value().is_string()) {
      return Error::config(key + ": each entry should be one {label: \"$variable\"} pair");
    }
    const auto& kv = *item.get_object().begin();
    std::string_view name = kv.key();
    if (!valid_label_name(name)) {
      return Error::config(key + ": invalid label name \"" + std::string(name) + "\"");
    }
    bool taken = std::find(builtin.begin(), builtin.end(), name) != builtin.end() ||
                 std::any_of(out.begin(), out.end(),
                             [&](const ExtraLabel& other) { return other.name == name; });
    if (taken) {
      return Error::config(key + ": label \"" + std::string(name) + "\" is already defined");
    }
    // APISIX drops the first character (the `$`) and reads the rest as a variable name.
    std::string_view var = kv.value().get_string();
    if (!var.empty()) {
      var.remove_prefix(1);
    }
    out.push_back(ExtraLabel{std::string(name), router::parse_var_ref(var)});
  }
  return out;
}

std::vector<std::string> label_list(std::span<const std::string_view> builtin,
                                    const std::vector<ExtraLabel>& extra) {
  std::vector<std::string> names(builtin.begin(), builtin.end());
  for (const ExtraLabel& e : extra) {
    names.push_back(e.name);
  }
  return names;
}

uint16_t label_bits(const json::value* list, std::span<const std::string_view> labels) {
  uint16_t bits = 0;
  if (list == nullptr || !list->is_array()) {
    return 0;
  }
  for (const json::value& item : list->get_array()) {
    if (!item.is_string()) {
      continue;
    }
    // Index 0 is the structural label (`code` / `type`), which cannot be disabled.
    for (size_t i = 1; i < labels.size(); ++i) {
      if (labels[i] == item.get_string()) {
        bits = static_cast<uint16_t>(bits | (1u << i));
      }
    }
  }
  return bits;
}

void append_u32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }

void append_field(std::string& out, std::string_view s) {
  append_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) {
    return "";
  }
  return buf;
}

}  // namespace

std::string_view to_string(ResponseSource source) {
  switch (source) {
    case ResponseSource::Apisix:
      return "apisix";
    case ResponseSource::Nginx:
      return "nginx";
    case ResponseSource::Upstream:
      return "upstream";
  }
  return "apisix";
}

Result<ExporterOptions> ExporterOptions::from_attr(const json::value* attr, uint32_t worker_count) {
  ExporterOptions options;
  options.worker_count = std::max<uint32_t>(worker_count, 1);
  if (attr == nullptr || !attr->is_object()) {
    return options;
  }
  const json::object& a = attr->get_object();
  if (const json::value* prefix = a.if_contains("metric_prefix"); prefix && !prefix->is_null()) {
    if (!prefix->is_string()) {
      return Error::config("plugin_attr.prometheus.metric_prefix: should be a string");
    }
    options.metric_prefix = std::string(prefix->get_string());
  }
  if (const json::value* buckets = a.if_contains("default_buckets");
      buckets && !buckets->is_null()) {
    if (!buckets->is_array() || buckets->get_array().empty()) {
      return Error::config("plugin_attr.prometheus.default_buckets: should be a non-empty array");
    }
    for (const json::value& b : buckets->get_array()) {
      std::optional<double> n = as_number(b);
      if (!n) {
        return Error::config("plugin_attr.prometheus.default_buckets: should hold numbers");
      }
      options.latency_buckets.push_back(*n);
    }
    // Bounds are looked up by binary search; a repeated bound would be an empty bucket.
    std::sort(options.latency_buckets.begin(), options.latency_buckets.end());
    options.latency_buckets.erase(
        std::unique(options.latency_buckets.begin(), options.latency_buckets.end()),
        options.latency_buckets.end());
  }
  if (const json::value* metrics = a.if_contains("metrics"); metrics && !metrics->is_null()) {
    if (!metrics->is_object()) {
      return Error::config("plugin_attr.prometheus.metrics: should be an object");
    }
    const json::object& m = metrics->get_object();
    auto status = parse_extra_labels(m, "http_status", kHttpStatusLabels);
    if (!status) {
      return status.error();
    }
    auto latency = parse_extra_labels(m, "http_latency", kHttpLatencyLabels);
    if (!latency) {
      return latency.error();
    }
    auto bandwidth = parse_extra_labels(m, "bandwidth", kBandwidthLabels);
    if (!bandwidth) {
      return bandwidth.error();
    }
    options.http_status_extra = std::move(*status);
    options.http_latency_extra = std::move(*latency);
    options.bandwidth_extra = std::move(*bandwidth);
  }
  return options;
}

DisabledLabels DisabledLabels::from_metadata(const json::value* metadata) {
  DisabledLabels d;
  if (metadata == nullptr || !metadata->is_object()) {
    return d;
  }
  const json::value* labels = metadata->get_object().if_contains("disabled_labels");
  if (labels == nullptr || !labels->is_object()) {
    return d;
  }
  const json::object& l = labels->get_object();
  d.http_status = label_bits(l.if_contains("http_status"), kHttpStatusLabels);
  d.http_latency = label_bits(l.if_contains("http_latency"), kHttpLatencyLabels);
  d.bandwidth = label_bits(l.if_contains("bandwidth"), kBandwidthLabels);
  return d;
}

// One label set seen by a worker, with the series it feeds. The series are never removed
// from the registry, so the handles stay valid for the exporter's life.
struct Exporter::Entry {
  uint64_t hash = 0;
  std::string key;
  metrics::CounterSeries status;
  metrics::HistogramSeries latency_request;
  metrics::HistogramSeries latency_upstream;  // made on the first proxied request
  metrics::HistogramSeries latency_apisix;
  metrics::CounterSeries ingress;
  metrics::CounterSeries egress;
};

// A worker's cache from label set to series: open addressing over `slots` (a power of two,
// at most half full). Touched only by its worker's thread.
struct alignas(64) Exporter::WorkerCache {
  std::string key;  // scratch: the request's label set, encoded
  std::vector<std::unique_ptr<Entry>> entries;
  std::vector<Entry*> slots;
};

Exporter::Exporter(ExporterOptions options)
    : options_(std::move(options)),
      control_shard_(std::max<uint32_t>(options_.worker_count, 1)),
      registry_(metrics::RegistryOptions{control_shard_ + 1, options_.metric_prefix}),
      http_status_(registry_.counter("http_status", "HTTP status codes per service in APISIX",
                                     label_list(kHttpStatusLabels, options_.http_status_extra))),
      http_latency_(registry_.histogram(
          "http_latency", "HTTP request latency in milliseconds per service in APISIX",
          label_list(kHttpLatencyLabels, options_.http_latency_extra),
          options_.latency_buckets.empty() ? metrics::default_latency_buckets()
                                           : std::span<const double>(options_.latency_buckets))),
      bandwidth_(registry_.counter("bandwidth",
                                   "Total bandwidth in bytes consumed per service in APISIX",
                                   label_list(kBandwidthLabels, options_.bandwidth_extra))),
      connections_(registry_.gauge("nginx_http_current_connections", "Number of HTTP connections",
                                   {"state"})),
      node_info_(registry_.gauge("node_info", "Info of APISIX node", {"hostname", "version"})),
      etcd_modify_indexes_(
          registry_.gauge("etcd_modify_indexes", "Etcd modify index for APISIX keys", {"key"})),
      upstream_status_(registry_.gauge("upstream_status", "Upstream status from health check",
                                       {"name", "ip", "port"})),
      metric_errors_(
          registry_.counter("nginx_metric_errors_total", "Number of nginx-lua-prometheus errors")),
      caches_(new WorkerCache[control_shard_]) {}

Exporter::~Exporter() = default;

void Exporter::make_series(Entry& entry, const RequestRecord& request,
                           const DisabledLabels& disabled) {
  char code_buf[16];
  auto [end, ec] = std::to_chars(code_buf, code_buf + sizeof(code_buf), request.status);
  std::string_view code(code_buf, static_cast<size_t>(end - code_buf));

  std::vector<std::string_view> values = {code,
                                          request.route,
                                          request.matched_uri,
                                          request.matched_host,
                                          request.service,
                                          request.consumer,
                                          request.node,
                                          kRequestType,
                                          "",
                                          "",
                                          to_string(request.source)};
  for (size_t i = 0; i < kStatusLabelCount; ++i) {
    if ((disabled.http_status >> i) & 1u) {
      values[i] = "";
    }
  }
  values.insert(values.end(), request.http_status_extra.begin(), request.http_status_extra.end());
  entry.status = http_status_.with(values);

  auto per_service = [&](std::string_view type, uint16_t mask,
                         std::span<const std::string_view> extra) {
    std::vector<std::string_view> v = {
        type, request.route, request.service, request.consumer, request.node, kRequestType, "", ""};
    for (size_t i = 0; i < kLatencyLabelCount; ++i) {
      if ((mask >> i) & 1u) {
        v[i] = "";
      }
    }
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  };
  entry.latency_request =
      http_latency_.with(per_service("request", disabled.http_latency, request.http_latency_extra));
  entry.latency_apisix =
      http_latency_.with(per_service("apisix", disabled.http_latency, request.http_latency_extra));
  if (request.upstream_ms) {
    entry.latency_upstream = http_latency_.with(
        per_service("upstream", disabled.http_latency, request.http_latency_extra));
  }
  entry.ingress =
      bandwidth_.with(per_service("ingress", disabled.bandwidth, request.bandwidth_extra));
  entry.egress =
      bandwidth_.with(per_service("egress", disabled.bandwidth, request.bandwidth_extra));
}

Exporter::Entry& Exporter::entry_for(WorkerCache& cache, const RequestRecord& request,
                                     const DisabledLabels& disabled) {
  // The label set, length-prefixed so that no two sets encode alike.
  std::string& key = cache.key;
  key.clear();
  append_u32(key, static_cast<uint32_t>(request.status));
  key.push_back(static_cast<char>(request.source));
  append_u32(key, disabled.http_status | (static_cast<uint32_t>(disabled.http_latency) << 16));
  append_u32(key, disabled.bandwidth);
  append_field(key, request.route);
  append_field(key, request.matched_uri);
  append_field(key, request.matched_host);
  append_field(key, request.service);
  append_field(key, request.consumer);
  append_field(key, request.node);
  for (auto extra :
       {request.http_status_extra, request.http_latency_extra, request.bandwidth_extra}) {
    append_u32(key, static_cast<uint32_t>(extra.size()));
    for (std::string_view v : extra) {
      append_field(key, v);
    }
  }
  uint64_t hash = std::hash<std::string_view>{}(key);

  size_t mask = cache.slots.size() - 1;
  if (!cache.slots.empty()) {
    for (size_t i = hash & mask; cache.slots[i] != nullptr; i = (i + 1) & mask) {
      Entry* e = cache.slots[i];
      if (e->hash == hash && e->key == key) {
        return *e;
      }
    }
  }

  // A label set this worker has not seen: resolve its series (takes the families' locks).
  if (cache.entries.size() >= kMaxCacheEntries) {
    cache.entries.clear();
    cache.slots.clear();
  }
  auto made = std::make_unique<Entry>();
  made->hash = hash;
  made->key = key;
  make_series(*made, request, disabled);
  Entry* entry = made.get();
  cache.entries.push_back(std::move(made));
  if (cache.entries.size() * 2 > cache.slots.size()) {
    cache.slots.assign(std::max<size_t>(64, cache.slots.size() * 2), nullptr);
    mask = cache.slots.size() - 1;
    for (const auto& e : cache.entries) {
      size_t i = e->hash & mask;
      while (cache.slots[i] != nullptr) {
        i = (i + 1) & mask;
      }
      cache.slots[i] = e.get();
    }
  } else {
    size_t i = hash & mask;
    while (cache.slots[i] != nullptr) {
      i = (i + 1) & mask;
    }
    cache.slots[i] = entry;
  }
  return *entry;
}

void Exporter::record(uint32_t worker, const RequestRecord& request,
                      const DisabledLabels& disabled) {
  if (worker >= control_shard_) {
    // A worker the exporter was not sized for: its shard would be another thread's.
    std::lock_guard lock(render_mu_);
    metric_errors_.with({}).inc(control_shard_);
    return;
  }
  Entry& e = entry_for(caches_[worker], request, disabled);
  e.status.inc(worker);
  e.latency_request.observe(worker, request.request_ms);
  double apisix_ms = request.request_ms;
  if (request.upstream_ms) {
    if (!e.latency_upstream) {
      make_series(e, request, disabled);
    }
    e.latency_upstream.observe(worker, *request.upstream_ms);
    // Clocks differ between the two measurements; APISIX clamps at 0 (log-util.lua).
    apisix_ms = std::max(0.0, request.request_ms - *request.upstream_ms);
  }
  e.latency_apisix.observe(worker, apisix_ms);
  e.ingress.inc(worker, static_cast<double>(request.request_bytes));
  e.egress.inc(worker, static_cast<double>(request.sent_bytes));
}

void Exporter::set_node_sources(NodeSources sources) {
  std::lock_guard lock(render_mu_);
  sources_ = std::move(sources);
}

void Exporter::collect_node_metrics() {
  const metrics::ShardId shard = control_shard_;
  std::string hostname = options_.hostname.empty() ? host_name() : options_.hostname;
  std::string_view version =
      options_.version.empty() ? std::string_view(APISIX_COMPAT_VERSION) : options_.version;
  node_info_.with({hostname, version}).set(shard, 1);

  if (sources_.connections) {
    ConnectionStats s = sources_.connections();
    const std::pair<std::string_view, uint64_t> states[] = {
        {"active", s.active},   {"accepted", s.accepted}, {"handled", s.handled},
        {"reading", s.reading}, {"writing", s.writing},   {"waiting", s.waiting}};
    for (const auto& [state, value] : states) {
      connections_.with({state}).set(shard, static_cast<double>(value));
    }
    if (!requests_) {
      requests_.emplace(registry_.gauge(
          "http_requests_total", "The total number of client requests since APISIX started"));
    }
    requests_->with({}).set(shard, static_cast<double>(s.requests));
  }
  if (sources_.etcd_reachable) {
    if (std::optional<bool> reachable = sources_.etcd_reachable()) {
      if (!etcd_reachable_) {
        etcd_reachable_.emplace(registry_.gauge(
            "etcd_reachable", "Config server etcd reachable from APISIX, 0 is unreachable"));
      }
      etcd_reachable_->with({}).set(shard, *reachable ? 1 : 0);
    }
  }
  if (sources_.etcd_modify_indexes) {
    for (const auto& [key, index] : sources_.etcd_modify_indexes()) {
      etcd_modify_indexes_.with({key}).set(shard, static_cast<double>(index));
    }
  }
  if (sources_.upstream_status) {
    for (const UpstreamNodeStatus& node : sources_.upstream_status()) {
      std::string port = std::to_string(node.port);
      upstream_status_.with({node.name, node.ip, port}).set(shard, node.healthy ? 1 : 0);
    }
  }
}

std::string Exporter::render() {
  std::lock_guard lock(render_mu_);
  collect_node_metrics();
  return registry_.render();
}

namespace {
std::mutex g_exporter_mu;
std::atomic<Exporter*> g_exporter{nullptr};
}  // namespace

Exporter& init_exporter(ExporterOptions options) {
  if (Exporter* e = g_exporter.load(std::memory_order_acquire)) {
    return *e;
  }
  std::lock_guard lock(g_exporter_mu);
  if (Exporter* e = g_exporter.load(std::memory_order_relaxed)) {
    return *e;
  }
  // Never deleted: workers may record until the process exits.
  auto* made = new Exporter(std::move(options));
  g_exporter.store(made, std::memory_order_release);
  return *made;
}

Exporter& exporter() { return init_exporter(ExporterOptions{}); }

Exporter* find_exporter() { return g_exporter.load(std::memory_order_acquire); }

}  // namespace apisix::plugins::prometheus
