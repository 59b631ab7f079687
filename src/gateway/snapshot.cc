#include "gateway/snapshot.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <unordered_set>

#include <boost/json/serialize.hpp>

#include "config/standalone.h"
#include "core/log.h"
#include "router/expr.h"
#include "router/ip_match.h"

namespace apisix::gateway {
namespace {

Millis seconds_to_ms(double seconds) {
  // APISIX leaves timeouts unbounded: saturate at ~100 years instead of overflowing.
  constexpr double kMaxMs = 3.0e12;
  double ms = seconds * 1000.0 + 0.5;
  return Millis(static_cast<int64_t>(ms < 0 ? 0 : (ms > kMaxMs ? kMaxMs : ms)));
}

// A node's weight after a domain's share is applied, within int (weights are capped by the
// parser; this keeps the product in range whatever the scale).
int saturated_weight(double weight) {
  constexpr double kMax = 2147483647.0;
  return static_cast<int>(weight < 0 ? 0 : (weight > kMax ? kMax : weight));
}

Timeouts to_timeouts(const config::Timeout& t) {
  return Timeouts{seconds_to_ms(t.connect), seconds_to_ms(t.send), seconds_to_ms(t.read)};
}

uint16_t default_port(const std::string& scheme) {
  return (scheme == "https" || scheme == "grpcs") ? 443 : 80;
}

// Appends one node with address `ip` (IPv6 bracketed or not) for `host` (the IP itself, or
// the domain it came from).
void add_node(const config::Upstream& up, std::string host, const std::string& ip, uint16_t port,
              int weight, int priority, std::vector<UpstreamNode>& out) {
  UpstreamNode n;
  if (!core::Endpoint::parse(ip, port, n.endpoint)) {
    return;  // a NodeSource only hands out IP literals; a bad one is dropped
  }
  n.port = port;
  n.address = n.endpoint.to_string();
  n.weight = weight;
  n.priority = priority;
  n.host_header = host;
  if (port != default_port(up.scheme)) {
    n.host_header += ":" + std::to_string(port);
  }
  // Pooled per address, as APISIX pools per picked server: a domain whose records change
  // never reuses connections to its old addresses.
  n.pool_key = up.scheme + "#" +
               (ip.find(':') != std::string::npos && ip.front() != '[' ? "[" + ip + "]" : ip) +
               "#" + std::to_string(port);
  n.host = std::move(host);
  out.push_back(std::move(n));
}

// The nodes of `up` (core.md §7.2-§7.4), never blocking: addresses of domain nodes and nodes
// of discovered services come from `source` (none while it has no answer yet, so an upstream
// whose names are all unresolved has no node and its routes answer 503). Every name asked
// for is appended to `names`. Returns how many configured nodes (domain nodes counted once)
// or discovered nodes made it, for the default retry count.
//
// A domain node: APISIX resolves it per request to ONE address chosen at random among the
// answers (core.md §7.3). We expand it instead into one node per address, splitting the
// node's weight evenly between them (all weights of the upstream are scaled by the LCM of the
// address counts so they stay integers): over many requests each address gets the same share
// as with APISIX's random choice, the balancers and health checks see plain IP nodes, and a
// record change is just a recompile. The retry default still counts the domain node once.
size_t expand_nodes(const config::Upstream& up, const std::string& key, NodeSource* source,
                    std::vector<std::string>& names, std::vector<UpstreamNode>& out) {
  if (!up.discovery_type.empty()) {
    std::string name = up.discovery_type + ":" + up.service_name;
    names.push_back(name);
    const std::vector<upstream::DiscoveredNode>* found =
        source != nullptr ? source->nodes(name) : nullptr;
    if (found == nullptr) {
      core::log(core::LogLevel::Info, "upstream ", key, ": no nodes for service ", up.service_name,
                " (", up.discovery_type, ") yet");
      return 0;
    }
    for (const upstream::DiscoveredNode& d : *found) {
      uint16_t port = d.port != 0 ? d.port : default_port(up.scheme);
      add_node(up, d.host, d.host, port, d.weight, d.priority, out);
    }
    return out.size();
  }
  // Address lists of the domain nodes, in node order (nullptr for IP nodes).
  std::vector<const std::vector<upstream::DiscoveredNode>*> addresses(up.nodes.size(), nullptr);
  int64_t scale = 1;
  for (size_t i = 0; i < up.nodes.size(); ++i) {
    const config::Node& node = up.nodes[i];
    if (node.host_is_ip) {
      continue;
    }
    names.push_back(node.host);
    addresses[i] = source != nullptr ? source->nodes(node.host) : nullptr;
    if (addresses[i] == nullptr || addresses[i]->empty()) {
      core::log(core::LogLevel::Info, "upstream ", key, ": node ", node.host,
                " is not resolved yet; left out");
      continue;
    }
    scale = std::lcm(scale, static_cast<int64_t>(addresses[i]->size()));
  }
  if (scale > 1000) {
    scale = 1;  // absurd address counts: keep weights unsplit rather than overflow
  }
  size_t made = 0;
  for (size_t i = 0; i < up.nodes.size(); ++i) {
    const config::Node& node = up.nodes[i];
    uint16_t port = node.port != 0 ? node.port : default_port(up.scheme);
    if (node.host_is_ip) {
      add_node(up, node.host, node.host, port,
               saturated_weight(static_cast<double>(node.weight) * scale), node.priority, out);
      ++made;
      continue;
    }
    if (addresses[i] == nullptr || addresses[i]->empty()) {
      continue;
    }
    int64_t count = static_cast<int64_t>(addresses[i]->size());
    int weight = saturated_weight(scale > 1 ? static_cast<double>(node.weight) * scale / count
                                            : static_cast<double>(node.weight));
    for (const upstream::DiscoveredNode& address : *addresses[i]) {
      add_node(up, node.host, address.host, port, weight, node.priority, out);
    }
    ++made;
  }
  return made;
}

// The TLS client context of an https upstream (core.md §4.4, §7.8): APISIX does not verify
// upstream certificates when proxying; `tls.client_cert`/`tls.client_key` give mTLS.
void compile_tls(const config::Upstream& up, const std::string& key, CompiledUpstream& out) {
  out.is_https = true;
  tls::ClientTlsOptions options;
  options.verify = false;
  if (const boost::json::value* t = up.raw.if_contains("tls"); t != nullptr && t->is_object()) {
    const boost::json::object& o = t->get_object();
    if (const auto* cert = o.if_contains("client_cert"); cert && cert->is_string()) {
      options.client_cert_pem = std::string(cert->get_string());
    }
    if (const auto* pkey = o.if_contains("client_key"); pkey && pkey->is_string()) {
      options.client_key_pem = std::string(pkey->get_string());
    }
    if (o.contains("client_cert_id")) {
      // SSL objects of type client are not compiled yet: answer 502 as for a missing one
      // (core.md §7.1 step 5).
      core::log_error("upstream ", key, ": tls.client_cert_id is not supported yet");
      return;
    }
  }
  if (!options.client_cert_pem.empty()) {
    // Pool identity (core.md §7.9): APISIX appends the certificate text; a digest of it
    // keeps keys short.
    out.tls_pool_suffix = "#" + std::to_string(std::hash<std::string>{}(options.client_cert_pem));
  }
  auto context = tls::TlsContext::create_client(options);
  if (!context) {
    core::log_error("upstream ", key, ": ", context.error().context);
    return;
  }
  out.tls = std::move(context.value());
}

// The upstream's nodes and settings; the balancer and health state are attached by
// SnapshotBuilder::make_upstream().
std::shared_ptr<CompiledUpstream> compile_upstream(const config::Upstream& up,
                                                   const std::string& key,
                                                   const RuntimeSettings& settings,
                                                   uint32_t worker_count, NodeSource* source,
                                                   std::vector<std::string>& names) {
  auto out = std::make_shared<CompiledUpstream>();
  out->key = key;
  size_t node_count = expand_nodes(up, key, source, names, out->nodes);
  if (up.scheme == "https") {
    compile_tls(up, key, *out);
  }
  out->retries = up.retries >= 0 ? up.retries : std::max<int>(0, static_cast<int>(node_count) - 1);
  out->retry_timeout = seconds_to_ms(up.retry_timeout);
  if (up.timeout) {
    out->timeout = to_timeouts(*up.timeout);
  }
  switch (up.pass_host) {
    case config::Upstream::PassHost::Pass:
      out->pass_host = PassHost::Pass;
      break;
    case config::Upstream::PassHost::Node:
      out->pass_host = PassHost::Node;
      break;
    case config::Upstream::PassHost::Rewrite:
      out->pass_host = PassHost::Rewrite;
      break;
  }
  out->upstream_host = up.upstream_host;
  out->pool = settings.default_pool;
  if (up.keepalive_pool) {
    out->pool.size = up.keepalive_pool->size;
    out->pool.idle_timeout = seconds_to_ms(up.keepalive_pool->idle_timeout);
    out->pool.requests = up.keepalive_pool->requests;
  }
  (void)worker_count;
  return out;
}

}  // namespace

int64_t CompiledUpstream::pick(uint32_t worker, const upstream::TriedSet& tried, uint32_t key_hash,
                               upstream::EwmaClock::time_point now) const {
  upstream::PickInput input;
  input.key_hash = key_hash;
  input.now = now;
  // The health bits are copied once per pick, so that "any healthy?" and the per-node tests
  // see the same state while checkers flip bits concurrently.
  constexpr size_t kInlineWords = 4;
  uint64_t inline_words[kInlineWords];
  std::vector<uint64_t> heap_words;
  if (health) {
    upstream::HealthyView view = health->healthy();
    size_t words = (view.size() + 63) / 64;
    uint64_t* out = inline_words;
    if (words > kInlineWords) {
      heap_words.resize(words);
      out = heap_words.data();
    }
    std::fill(out, out + words, 0);
    for (size_t i = 0; i < view.size(); ++i) {
      if (view.test(i)) {
        out[i / 64] |= uint64_t{1} << (i % 64);
      }
    }
    input.health = upstream::HealthMask(std::span<const uint64_t>(out, words));
  }
  return balancer.pick(worker, tried, input);
}

void RouteSlots::set(size_t slot, std::shared_ptr<const CompiledRoute> route) {
  size_t c = slot >> kChunkBits;
  if (c >= chunks_.size()) {
    chunks_.resize(c + 1);
  }
  std::shared_ptr<Chunk>& chunk = chunks_[c];
  if (!chunk) {
    chunk = std::make_shared<Chunk>();
  } else if (chunk.use_count() > 1) {
    // A published snapshot shares this chunk: copy it (reading a stale count only costs an
    // unneeded copy, as nobody but the builder can add owners).
    chunk = std::make_shared<Chunk>(*chunk);
  }
  chunk->items[slot & (kChunkSize - 1)] = std::move(route);
}

SnapshotBuilder::SnapshotBuilder(std::shared_ptr<const RuntimeSettings> settings,
                                 uint32_t worker_count)
    : settings_(std::move(settings)),
      worker_count_(worker_count),
      router_(std::make_shared<const router::RouteTable>(settings_->router_mode,
                                                         std::vector<router::RouteSpec>{})) {}

namespace {

template <typename T>
void diff_kind(const std::vector<T>& wanted, const std::unordered_map<std::string, T>& have,
               std::vector<T>& puts, std::vector<std::string>& removed) {
  std::unordered_set<std::string_view> seen;
  for (const T& item : wanted) {
    seen.insert(item.id);
    auto it = have.find(item.id);
    if (it == have.end() || it->second.raw != item.raw) {
      puts.push_back(item);
    }
  }
  for (const auto& [id, item] : have) {
    if (!seen.contains(id)) {
      removed.push_back(id);
    }
  }
}

}  // namespace

ResourceChanges SnapshotBuilder::diff(const config::StandaloneConfig& resources) const {
  ResourceChanges changes;
  diff_kind(resources.upstreams, upstreams_, changes.upstreams, changes.removed_upstreams);
  std::unordered_map<std::string, config::Service> services;
  for (const auto& [id, entry] : services_) {
    services.emplace(id, entry.service);
  }
  diff_kind(resources.services, services, changes.services, changes.removed_services);
  std::unordered_set<std::string_view> seen;
  for (const config::Route& route : resources.routes) {
    seen.insert(route.id);
    auto it = routes_.find(route.id);
    if (it == routes_.end() || it->second.route.raw != route.raw) {
      changes.routes.push_back(route);
    }
  }
  for (const auto& [id, entry] : routes_) {
    if (!seen.contains(id)) {
      changes.removed_routes.push_back(id);
    }
  }
  diff_plugin_resources(resources.raw, changes.plugin_resources);
  return changes;
}

void SnapshotBuilder::diff_plugin_resources(const boost::json::value& raw,
                                            std::vector<PluginResourceChange>& out) const {
  const boost::json::object* root = raw.if_object();
  // What the file holds, by kind and id, as the builder keeps it.
  std::map<std::string, std::map<std::string, const boost::json::value*>> wanted;
  auto collect = [&](std::string_view kind, std::string_view id_field) {
    auto& items = wanted[std::string(kind)];
    const boost::json::value* list = root != nullptr ? root->if_contains(kind) : nullptr;
    if (list == nullptr || !list->is_array()) {
      return;
    }
    for (const auto& item : list->get_array()) {
      const auto* obj = item.if_object();
      if (obj == nullptr) {
        continue;
      }
      const auto* id = obj->if_contains(id_field);
      if (kind == "consumers" && obj->if_contains("id") != nullptr && obj->at("id").is_string() &&
          obj->at("id").get_string().find("/credentials/") != boost::json::string::npos) {
        id = obj->if_contains("id");  // a credential: "<username>/credentials/<id>"
      }
      if (id != nullptr && id->is_string()) {
        items[std::string(id->get_string())] = &item;
      }
    }
  };
  collect("plugin_configs", "id");
  collect("global_rules", "id");
  collect("consumer_groups", "id");
  collect("consumers", "username");
  collect("plugin_metadata", "id");
  auto compare = [&](std::string_view kind, const auto& have_of) {
    const auto& items = wanted[std::string(kind)];
    std::map<std::string, const boost::json::value*> have = have_of();
    for (const auto& [id, value] : items) {
      auto it = have.find(id);
      if (it == have.end() || *it->second != *value) {
        out.push_back(PluginResourceChange{std::string(kind), id, *value});
      }
    }
    for (const auto& [id, value] : have) {
      if (!items.contains(id)) {
        out.push_back(PluginResourceChange{std::string(kind), id, std::nullopt});
      }
    }
  };
  auto plain = [](const std::map<std::string, boost::json::value>& m) {
    return [&m] {
      std::map<std::string, const boost::json::value*> out;
      for (const auto& [id, v] : m) out[id] = &v;
      return out;
    };
  };
  compare("plugin_configs", plain(plugin_configs_));
  compare("global_rules", plain(global_rules_));
  compare("consumer_groups", plain(consumer_groups_));
  compare("plugin_metadata", plain(metadata_raw_));
  compare("consumers", [this] {
    std::map<std::string, const boost::json::value*> out;
    for (const auto& [name, v] : consumers_) out[name] = &v;
    for (const auto& [name, creds] : credentials_) {
      for (const auto& [id, v] : creds) out[name + "/credentials/" + id] = &v;
    }
    return out;
  });
}

std::shared_ptr<const Snapshot> SnapshotBuilder::build(const config::StandaloneConfig& resources,
                                                       uint64_t version) {
  return apply(diff(resources), version);
}

void SnapshotBuilder::link(const config::Route& route, bool add) {
  auto update = [&](auto& index, const std::string& key) {
    if (key.empty()) {
      return;
    }
    if (add) {
      index[key].insert(route.id);
    } else if (auto it = index.find(key); it != index.end()) {
      it->second.erase(route.id);
      if (it->second.empty()) {
        index.erase(it);
      }
    }
  };
  update(routes_by_service_, route.service_id);
  update(routes_by_upstream_, route.upstream_id);
  update(routes_by_plugin_config_, route.plugin_config_id);
}

namespace {

// "/apisix/upstreams/1" -> "upstreams/1", the HealthRegistry's key.
std::string_view health_key(std::string_view key) {
  constexpr std::string_view kPrefix = "/apisix/";
  return key.starts_with(kPrefix) ? key.substr(kPrefix.size()) : key;
}

const boost::json::value* checks_of(const config::Upstream& up) {
  return up.raw.if_contains("checks");
}

}  // namespace

std::shared_ptr<const CompiledUpstream> SnapshotBuilder::make_upstream(const config::Upstream& up,
                                                                       const std::string& key) {
  std::vector<std::string> names;
  std::shared_ptr<CompiledUpstream> out =
      compile_upstream(up, key, *settings_, worker_count_, node_source_, names);
  track_names(key, std::move(names));

  // Balancer (core.md §7.5). An unknown type is a custom balancer module in APISIX; it is
  // only looked up with two or more nodes (one node takes the fast path), and not found
  // there means 502.
  upstream::BalancerOptions options;
  options.worker_count = worker_count_;
  std::optional<upstream::BalancerType> type = upstream::parse_balancer_type(up.type);
  if (!type) {
    if (out->nodes.size() > 1) {
      out->invalid = "failed to pick server: invalid balancer type: " + up.type;
      core::log_error("upstream ", key, ": invalid balancer type: ", up.type);
    }
    type = upstream::BalancerType::RoundRobin;
  }
  options.type = *type;
  if (options.type == upstream::BalancerType::Chash) {
    std::optional<std::string_view> hash_key;
    if (!up.key.empty()) {
      hash_key = up.key;
    }
    auto parsed = upstream::ChashKey::parse(up.hash_on, hash_key);
    if (parsed) {
      options.chash_key = std::move(parsed.value());
    } else {
      core::log_error("upstream ", key, ": ", parsed.error().context, "; hashing remote_addr");
    }
  }
  if (options.type == upstream::BalancerType::LeastConn) {
    auto& counters = least_conn_[key];
    if (!counters) {
      counters = std::make_shared<upstream::LeastConnCounters>();
    }
    options.least_conn_counters = counters;
  } else {
    least_conn_.erase(key);
  }
  options.ewma_stats = ewma_stats_;
  std::vector<std::string> addresses;
  addresses.reserve(out->nodes.size());
  for (const UpstreamNode& node : out->nodes) {
    addresses.push_back(node.endpoint.to_string());
  }
  std::vector<upstream::BalancerNode> balancer_nodes;
  balancer_nodes.reserve(out->nodes.size());
  for (size_t i = 0; i < out->nodes.size(); ++i) {
    balancer_nodes.push_back(
        upstream::BalancerNode{addresses[i], out->nodes[i].weight, out->nodes[i].priority});
  }
  out->balancer = upstream::Balancer(balancer_nodes, std::move(options));

  // Health checks (core.md §7.7): one state per resource key, kept while checks and nodes
  // stay the same.
  const boost::json::value* checks = checks_of(up);
  std::string registry_key(health_key(key));
  if (checks != nullptr && !out->nodes.empty()) {
    auto config = upstream::parse_health_config(*checks);
    if (!config) {
      core::log_error("upstream ", key, ": invalid checks: ", config.error().context);
    } else {
      std::vector<upstream::HealthNode> health_nodes;
      health_nodes.reserve(out->nodes.size());
      for (const UpstreamNode& node : out->nodes) {
        upstream::HealthNode h;
        h.ip = node.endpoint.ip();
        h.port = node.port;
        if (h.ip != node.host) {
          h.domain = node.host;
        }
        health_nodes.push_back(std::move(h));
      }
      std::string_view rewrite_host =
          out->pass_host == PassHost::Rewrite ? std::string_view(out->upstream_host) : "";
      out->health = health_.get_or_create(
          registry_key, std::make_shared<const upstream::HealthConfig>(std::move(config.value())),
          health_nodes, rewrite_host);
      health_keys_.insert(registry_key);
      return out;
    }
  }
  if (health_keys_.erase(registry_key) != 0) {
    health_.release(registry_key);
  }
  return out;
}

void SnapshotBuilder::track_names(const std::string& key, std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  for (const std::string& name : names) {
    upstreams_by_name_[name].insert(key);
  }
  auto it = names_by_upstream_.find(key);
  if (it != names_by_upstream_.end()) {
    for (const std::string& old : it->second) {
      if (std::binary_search(names.begin(), names.end(), old)) {
        continue;
      }
      auto users = upstreams_by_name_.find(old);
      if (users == upstreams_by_name_.end()) {
        continue;
      }
      users->second.erase(key);
      if (users->second.empty()) {
        upstreams_by_name_.erase(users);
        if (node_source_ != nullptr) {
          node_source_->forget(old);
        }
      }
    }
  }
  if (names.empty()) {
    if (it != names_by_upstream_.end()) {
      names_by_upstream_.erase(it);
    }
  } else {
    names_by_upstream_[key] = std::move(names);
  }
}

std::shared_ptr<const Snapshot> SnapshotBuilder::refresh_names(
    const std::vector<std::string>& names, uint64_t version) {
  // Re-apply the resources whose upstreams use the names, unchanged but forced through the
  // usual paths, so that dependants are recompiled exactly as for an edit.
  ResourceChanges changes;
  for (const std::string& name : names) {
    auto users = upstreams_by_name_.find(name);
    if (users == upstreams_by_name_.end()) {
      continue;
    }
    for (const std::string& key : users->second) {
      if (!forced_.insert(key).second) {
        continue;
      }
      auto id_of = [&](std::string_view prefix) -> std::optional<std::string> {
        if (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0) {
          return key.substr(prefix.size());
        }
        return std::nullopt;
      };
      if (auto id = id_of("/apisix/upstreams/")) {
        if (auto it = upstreams_.find(*id); it != upstreams_.end()) {
          changes.upstreams.push_back(it->second);
        }
      } else if (auto sid = id_of("/apisix/services/")) {
        if (auto it = services_.find(*sid); it != services_.end()) {
          changes.services.push_back(it->second.service);
        }
      } else if (auto rid = id_of("/apisix/routes/")) {
        if (auto it = routes_.find(*rid); it != routes_.end()) {
          changes.routes.push_back(it->second.route);
        }
      }
    }
  }
  auto snapshot = apply(changes, version);
  forced_.clear();
  return snapshot;
}

void SnapshotBuilder::forget_upstream(const std::string& key) {
  track_names(key, {});
  least_conn_.erase(key);
  std::string registry_key(health_key(key));
  if (health_keys_.erase(registry_key) != 0) {
    health_.release(registry_key);
  }
}

std::vector<SnapshotBuilder::HealthSource> SnapshotBuilder::health_sources() const {
  std::vector<HealthSource> out;
  auto add = [&](std::string_view kind, const std::string& id, const config::Upstream* up) {
    if (up == nullptr) {
      return;
    }
    const boost::json::value* checks = checks_of(*up);
    if (checks == nullptr) {
      return;
    }
    HealthSource source{std::string(kind), id, upstream::CheckType::Http, nullptr};
    if (auto config = upstream::parse_health_config(*checks)) {
      source.type = config->active.type;
    }
    source.health = health_.find(std::string(kind) + "/" + id);
    out.push_back(std::move(source));
  };
  std::vector<const RouteEntry*> routes;
  for (const auto& [id, entry] : routes_) {
    routes.push_back(&entry);
  }
  std::sort(routes.begin(), routes.end(),
            [](const RouteEntry* a, const RouteEntry* b) { return a->route.id < b->route.id; });
  for (const RouteEntry* entry : routes) {
    add("routes", entry->route.id, entry->route.upstream ? &*entry->route.upstream : nullptr);
  }
  std::map<std::string_view, const ServiceEntry*> services;
  for (const auto& [id, entry] : services_) {
    services.emplace(id, &entry);
  }
  for (const auto& [id, entry] : services) {
    add("services", entry->service.id,
        entry->service.upstream ? &*entry->service.upstream : nullptr);
  }
  std::map<std::string_view, const config::Upstream*> upstreams;
  for (const auto& [id, up] : upstreams_) {
    upstreams.emplace(id, &up);
  }
  for (const auto& [id, up] : upstreams) {
    add("upstreams", up->id, up);
  }
  return out;
}

bool SnapshotBuilder::find_health_source(std::string_view kind, std::string_view id,
                                         std::optional<HealthSource>& source) const {
  source.reset();
  const config::Upstream* up = nullptr;
  std::string key(id);
  if (kind == "routes") {
    auto it = routes_.find(key);
    if (it == routes_.end()) {
      return false;
    }
    up = it->second.route.upstream ? &*it->second.route.upstream : nullptr;
  } else if (kind == "services") {
    auto it = services_.find(key);
    if (it == services_.end()) {
      return false;
    }
    up = it->second.service.upstream ? &*it->second.service.upstream : nullptr;
  } else if (kind == "upstreams") {
    auto it = upstreams_.find(key);
    if (it == upstreams_.end()) {
      return false;
    }
    up = &it->second;
  } else {
    return false;
  }
  if (up != nullptr && checks_of(*up) != nullptr) {
    HealthSource found{std::string(kind), key, upstream::CheckType::Http, nullptr};
    if (auto config = upstream::parse_health_config(*checks_of(*up))) {
      found.type = config->active.type;
    }
    found.health = health_.find(std::string(kind) + "/" + key);
    source = std::move(found);
  }
  return true;
}

std::shared_ptr<const Snapshot> SnapshotBuilder::apply(const ResourceChanges& changes,
                                                       uint64_t version) {
  stats_ = BuildStats{};
  // Routes whose compiled form must be redone; `true` when their match conditions may have
  // changed too (route or service change), so the route table needs the route again.
  // Kept in the order first touched, so new routes enter the table in the provider's order.
  std::unordered_map<std::string, bool> dirty;
  std::vector<std::string> dirty_order;
  auto touch = [&](const std::string& id, bool place) {
    auto [it, inserted] = dirty.emplace(id, place);
    if (inserted) {
      dirty_order.push_back(id);
    } else if (place) {
      it->second = true;
    }
  };
  auto touch_routes_of_service = [&](const std::string& service_id, bool place) {
    if (auto it = routes_by_service_.find(service_id); it != routes_by_service_.end()) {
      for (const std::string& route_id : it->second) {
        touch(route_id, place);
      }
    }
  };

  // Upstreams first: services and routes below pick up the new compiled objects.
  auto upstream_changed = [&](const std::string& id) {
    if (auto it = routes_by_upstream_.find(id); it != routes_by_upstream_.end()) {
      for (const std::string& route_id : it->second) {
        touch(route_id, false);
      }
    }
    if (auto it = services_by_upstream_.find(id); it != services_by_upstream_.end()) {
      for (const std::string& service_id : it->second) {
        touch_routes_of_service(service_id, false);
      }
    }
  };
  for (const std::string& id : changes.removed_upstreams) {
    if (upstreams_.erase(id) != 0) {
      compiled_upstreams_.erase(id);
      forget_upstream("/apisix/upstreams/" + id);
      upstream_changed(id);
    }
  }
  for (const config::Upstream& up : changes.upstreams) {
    auto it = upstreams_.find(up.id);
    if (it != upstreams_.end() && it->second.raw == up.raw &&
        !forced_.contains("/apisix/upstreams/" + up.id)) {
      continue;
    }
    upstreams_[up.id] = up;
    compiled_upstreams_[up.id] = make_upstream(up, "/apisix/upstreams/" + up.id);
    ++stats_.upstreams_compiled;
    upstream_changed(up.id);
  }

  auto unlink_service = [&](const config::Service& service) {
    if (auto it = services_by_upstream_.find(service.upstream_id);
        it != services_by_upstream_.end()) {
      it->second.erase(service.id);
      if (it->second.empty()) {
        services_by_upstream_.erase(it);
      }
    }
  };
  for (const std::string& id : changes.removed_services) {
    auto it = services_.find(id);
    if (it != services_.end()) {
      unlink_service(it->second.service);
      services_.erase(it);
      forget_upstream("/apisix/services/" + id);
      touch_routes_of_service(id, true);
    }
  }
  for (const config::Service& service : changes.services) {
    auto it = services_.find(service.id);
    if (it != services_.end()) {
      if (it->second.service.raw == service.raw &&
          !forced_.contains("/apisix/services/" + service.id)) {
        continue;
      }
      unlink_service(it->second.service);
    }
    ServiceEntry entry{service, nullptr};
    if (service.upstream) {
      entry.inline_upstream = make_upstream(*service.upstream, "/apisix/services/" + service.id);
      ++stats_.upstreams_compiled;
    } else {
      forget_upstream("/apisix/services/" + service.id);
    }
    if (!service.upstream_id.empty()) {
      services_by_upstream_[service.upstream_id].insert(service.id);
    }
    services_[service.id] = std::move(entry);
    touch_routes_of_service(service.id, true);
  }

  std::vector<std::string> removed;
  for (const std::string& id : changes.removed_routes) {
    auto it = routes_.find(id);
    if (it == routes_.end()) {
      continue;
    }
    link(it->second.route, false);
    forget_upstream("/apisix/routes/" + id);
    slots_.set(it->second.slot, nullptr);
    free_slots_.push_back(it->second.slot);
    post_arg_routes_.erase(id);
    routes_.erase(it);
    dirty.erase(id);
    removed.push_back(id);
  }
  for (const config::Route& route : changes.routes) {
    auto it = routes_.find(route.id);
    if (it != routes_.end()) {
      if (it->second.route.raw == route.raw && !forced_.contains("/apisix/routes/" + route.id)) {
        continue;
      }
      link(it->second.route, false);
      it->second.route = route;
    } else {
      uint32_t slot;
      if (!free_slots_.empty()) {
        slot = free_slots_.back();
        free_slots_.pop_back();
      } else {
        slot = next_slot_++;
      }
      it = routes_.emplace(route.id, RouteEntry{route, slot, next_order_++}).first;
    }
    link(route, true);
    touch(route.id, true);
  }

  apply_plugin_resources(changes.plugin_resources, touch);

  std::vector<router::RouteSpec> specs;
  for (const std::string& id : dirty_order) {
    auto it = routes_.find(id);
    auto flag = dirty.find(id);
    if (it != routes_.end() && flag != dirty.end()) {
      compile_route(it->second, flag->second, specs);
    }
  }
  stats_.router_upserts = specs.size();
  stats_.router_removals = removed.size();
  if (!specs.empty() || !removed.empty()) {
    router_ = router_->apply(specs, removed);
  }
  return publish(version);
}

std::shared_ptr<const Snapshot> SnapshotBuilder::rebuild(
    std::shared_ptr<const RuntimeSettings> settings, uint64_t version) {
  settings_ = std::move(settings);
  stats_ = BuildStats{};
  stats_.full = true;
  for (auto& [id, up] : upstreams_) {
    compiled_upstreams_[id] = make_upstream(up, "/apisix/upstreams/" + id);
    ++stats_.upstreams_compiled;
  }
  for (auto& [id, entry] : services_) {
    if (entry.service.upstream) {
      entry.inline_upstream = make_upstream(*entry.service.upstream, "/apisix/services/" + id);
      ++stats_.upstreams_compiled;
    }
  }
  // Registration order survives a rebuild.
  std::vector<const RouteEntry*> ordered;
  ordered.reserve(routes_.size());
  for (const auto& [id, entry] : routes_) {
    ordered.push_back(&entry);
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const RouteEntry* a, const RouteEntry* b) { return a->order < b->order; });
  rebuild_global_chain();
  rebuild_consumers();
  std::vector<router::RouteSpec> specs;
  specs.reserve(ordered.size());
  for (const RouteEntry* entry : ordered) {
    compile_route(*entry, true, specs);
  }
  stats_.router_upserts = specs.size();
  router_ = std::make_shared<const router::RouteTable>(settings_->router_mode, specs);
  return publish(version);
}

std::shared_ptr<const Snapshot> SnapshotBuilder::publish(uint64_t version) {
  auto snap = std::make_shared<Snapshot>();
  snap->version = version;
  snap->settings = settings_;
  snap->router = router_;
  snap->routes = slots_;
  snap->match_reads_form_body = !post_arg_routes_.empty();
  snap->global_plugins = global_chain_;
  snap->consumers = consumer_index_;
  return snap;
}

plugins::ChainContext SnapshotBuilder::chain_context() const {
  plugins::ChainContext ctx;
  ctx.registry = plugin_setup_.registry.get();
  ctx.runtime = plugin_setup_.runtime.get();
  ctx.worker_count = worker_count_;
  ctx.plugin_attr = &plugin_setup_.plugin_attr;
  ctx.metadata = &metadata_;
  ctx.prefix = plugin_setup_.prefix;
  return ctx;
}

namespace {

const boost::json::object* plugins_of(const boost::json::value& resource) {
  const auto* obj = resource.if_object();
  const auto* plugins = obj != nullptr ? obj->if_contains("plugins") : nullptr;
  return plugins != nullptr ? plugins->if_object() : nullptr;
}

std::string string_field(const boost::json::value& v, std::string_view name) {
  const auto* obj = v.if_object();
  const auto* f = obj != nullptr ? obj->if_contains(name) : nullptr;
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
}

void log_plugin_errors(const std::vector<std::string>& errors) {
  for (const std::string& e : errors) {
    core::log_error(e);
  }
}

// The consumer-side attribute each auth plugin looks consumers up by (plugins.md §3.1).
std::string_view auth_key_field(std::string_view plugin) {
  if (plugin == "key-auth" || plugin == "jwt-auth") return "key";
  if (plugin == "basic-auth") return "username";
  if (plugin == "hmac-auth") return "key_id";
  if (plugin == "ldap-auth") return "user_dn";
  return {};
}

bool is_unresolved_ref(std::string_view v) {
  return v.starts_with("$secret://") || v.starts_with("$env://") || v.starts_with("$ENV://");
}

}  // namespace

std::shared_ptr<const plugins::CompiledChain> SnapshotBuilder::compile_plugins(
    const config::Route& route, const ServiceEntry* service) {
  if (!plugin_setup_.registry) {
    return nullptr;
  }
  const plugins::Registry& registry = *plugin_setup_.registry;
  auto priority_of = [&registry](std::string_view name) { return registry.priority(name); };
  plugins::PluginSet set;
  if (service != nullptr) {
    set.add(service->service.plugins, plugins::Origin::Service, service->service.id, priority_of);
  }
  if (!route.plugin_config_id.empty()) {
    auto it = plugin_configs_.find(route.plugin_config_id);
    if (it == plugin_configs_.end()) {
      core::log_error("route ", route.id, ": plugin_config ", route.plugin_config_id, " not found");
    } else if (const auto* p = plugins_of(it->second)) {
      set.add(*p, plugins::Origin::PluginConfig, route.plugin_config_id, priority_of);
    }
  }
  set.add(route.plugins, plugins::Origin::Route, route.id, priority_of);
  std::vector<plugins::ChainEntry> entries = set.finish();
  if (entries.empty()) {
    return nullptr;
  }
  std::vector<std::string> errors;
  auto chain = plugins::build_chain(entries, chain_context(), errors);
  log_plugin_errors(errors);
  return chain->empty() ? nullptr : chain;
}

void SnapshotBuilder::rebuild_global_chain() {
  global_chain_ = nullptr;
  if (!plugin_setup_.registry || global_rules_.empty()) {
    return;
  }
  const plugins::Registry& registry = *plugin_setup_.registry;
  std::vector<plugins::GlobalRule> rules;
  for (const auto& [id, value] : global_rules_) {
    rules.push_back(plugins::GlobalRule{id, plugins_of(value)});
  }
  std::vector<std::string> conflicts;
  auto entries = plugins::global_chain(
      rules, [&registry](std::string_view name) { return registry.priority(name); }, conflicts);
  for (const std::string& name : conflicts) {
    core::log_error("global rules: plugin ", name,
                    " is configured in more than one global rule; it does not run");
  }
  std::vector<std::string> errors;
  auto chain = plugins::build_chain(entries, chain_context(), errors);
  log_plugin_errors(errors);
  if (!chain->empty()) {
    global_chain_ = chain;
  }
}

void SnapshotBuilder::rebuild_consumers() {
  auto index = std::make_shared<plugins::ConsumerIndex>();
  if (!plugin_setup_.registry) {
    consumer_index_ = index;
    return;
  }
  const plugins::Registry& registry = *plugin_setup_.registry;
  auto priority_of = [&registry](std::string_view name) { return registry.priority(name); };
  plugins::ChainContext ctx = chain_context();
  auto add_auth = [&](const std::shared_ptr<const plugins::Consumer>& consumer,
                      const boost::json::object& plugins, const std::string& credential_id) {
    for (const auto& [key, conf] : plugins) {
      std::string_view name = key;
      std::string_view field = auth_key_field(name);
      const plugins::PluginKind* kind = registry.find(name);
      if (field.empty() || kind == nullptr || !conf.is_object()) {
        continue;
      }
      boost::json::value filled = conf;
      filled.get_object().erase("_meta");
      if (const schema::Schema* s = registry.consumer_schema_of(name)) {
        if (auto err = s->validate(filled)) {
          core::log_error("consumer ", consumer->username, ": plugin ", name, ": ", *err);
          continue;
        }
      }
      std::string value = string_field(filled, field);
      if (value.empty() || is_unresolved_ref(value)) {
        continue;  // fail closed (plugins.md §3.1)
      }
      index->add_auth(std::string(name), value,
                      plugins::ConsumerAuth{consumer, credential_id, std::move(filled)});
    }
  };
  for (const auto& [username, value] : consumers_) {
    auto consumer = std::make_shared<plugins::Consumer>();
    consumer->username = username;
    consumer->group_id = string_field(value, "group_id");
    if (const auto* labels = value.as_object().if_contains("labels")) {
      consumer->custom_id = string_field(*labels, "custom_id");
    }
    plugins::PluginSet set;
    if (!consumer->group_id.empty()) {
      auto group = consumer_groups_.find(consumer->group_id);
      if (group == consumer_groups_.end()) {
        core::log_error("consumer ", username, ": consumer group ", consumer->group_id,
                        " not found");
      } else if (const auto* p = plugins_of(group->second)) {
        set.add(*p, plugins::Origin::ConsumerGroup, consumer->group_id, priority_of);
      }
    }
    const boost::json::object* own = plugins_of(value);
    if (own != nullptr) {
      set.add(*own, plugins::Origin::Consumer, username, priority_of);
    }
    std::vector<std::string> errors;
    auto chain = plugins::build_chain(set.finish(), ctx, errors);
    log_plugin_errors(errors);
    auto mutable_chain = std::const_pointer_cast<plugins::CompiledChain>(chain);
    for (const plugins::ChainEntry& e : set.entries()) {
      if (e.disabled) {
        if (const plugins::PluginKind* kind = registry.find(e.name)) {
          mutable_chain->hides.push_back(kind->facts->name);
        }
      }
    }
    if (!chain->empty() || !chain->hides.empty()) {
      consumer->chain = chain;
    }
    std::shared_ptr<const plugins::Consumer> shared = consumer;
    index->add_consumer(shared);
    if (own != nullptr) {
      add_auth(shared, *own, "");
    }
    if (auto creds = credentials_.find(username); creds != credentials_.end()) {
      for (const auto& [id, cred] : creds->second) {
        if (const auto* p = plugins_of(cred)) {
          add_auth(shared, *p, id);
        }
      }
    }
  }
  consumer_index_ = index;
}

template <typename Touch>
void SnapshotBuilder::apply_plugin_resources(const std::vector<PluginResourceChange>& changes,
                                             Touch&& touch) {
  if (changes.empty()) {
    return;
  }
  bool globals = false;
  bool consumers = false;
  bool everything = false;
  auto put = [](std::map<std::string, boost::json::value>& m, const PluginResourceChange& c) {
    if (c.value) {
      m[c.id] = *c.value;
    } else {
      m.erase(c.id);
    }
  };
  for (const PluginResourceChange& c : changes) {
    if (c.type == "plugin_configs") {
      put(plugin_configs_, c);
      if (auto it = routes_by_plugin_config_.find(c.id); it != routes_by_plugin_config_.end()) {
        for (const std::string& route_id : it->second) {
          touch(route_id, false);
        }
      }
    } else if (c.type == "global_rules") {
      put(global_rules_, c);
      globals = true;
    } else if (c.type == "consumer_groups") {
      put(consumer_groups_, c);
      consumers = true;
    } else if (c.type == "consumers") {
      size_t slash = c.id.find("/credentials/");
      if (slash == std::string::npos) {
        put(consumers_, c);
        if (!c.value) {
          credentials_.erase(c.id);
        }
      } else {
        std::string username = c.id.substr(0, slash);
        std::string cred = c.id.substr(slash + std::string_view("/credentials/").size());
        if (c.value) {
          credentials_[username][cred] = *c.value;
        } else if (auto it = credentials_.find(username); it != credentials_.end()) {
          it->second.erase(cred);
        }
      }
      consumers = true;
    } else if (c.type == "plugin_metadata") {
      put(metadata_raw_, c);
      metadata_.erase(c.id);
      if (c.value && plugin_setup_.registry) {
        boost::json::value filled = *c.value;
        if (auto* obj = filled.if_object()) {
          obj->erase("id");
        }
        const schema::Schema* s = plugin_setup_.registry->metadata_schema_of(c.id);
        std::optional<std::string> err = s != nullptr ? s->validate(filled) : std::nullopt;
        if (err) {
          core::log_error("plugin_metadata ", c.id, ": ", *err);
        } else {
          metadata_[c.id] = std::move(filled);
        }
      }
      everything = true;
    }
  }
  if (everything) {
    for (const auto& [id, entry] : routes_) {
      touch(id, false);
    }
  }
  if (globals || everything) {
    rebuild_global_chain();
  }
  if (consumers || everything) {
    rebuild_consumers();
  }
}

void SnapshotBuilder::compile_route(const RouteEntry& entry, bool place,
                                    std::vector<router::RouteSpec>& specs) {
  const config::Route& route = entry.route;
  auto compiled = std::make_shared<CompiledRoute>();
  compiled->id = route.id;
  if (route.timeout) {
    compiled->timeout = to_timeouts(*route.timeout);
  }
  ++stats_.routes_compiled;

  // Effective upstream: route upstream_id, else route inline upstream, else the service's
  // (core.md §5.9, §7.1).
  const ServiceEntry* service = nullptr;
  if (!route.service_id.empty()) {
    auto it = services_.find(route.service_id);
    if (it == services_.end()) {
      compiled->error_status = 404;
      compiled->error_log = "service " + route.service_id + " not found";
    } else {
      service = &it->second;
    }
  }
  std::string upstream_id = route.upstream_id;
  std::shared_ptr<const CompiledUpstream> inline_upstream;
  if (upstream_id.empty() && route.upstream) {
    inline_upstream = make_upstream(*route.upstream, "/apisix/routes/" + route.id);
    ++stats_.upstreams_compiled;
  } else {
    forget_upstream("/apisix/routes/" + route.id);
  }
  if (upstream_id.empty() && !inline_upstream && service != nullptr) {
    upstream_id = service->service.upstream_id;
    inline_upstream = service->inline_upstream;
  }
  if (compiled->error_status == 0) {
    if (!upstream_id.empty()) {
      auto it = compiled_upstreams_.find(upstream_id);
      if (it == compiled_upstreams_.end()) {
        compiled->error_status = 502;
        compiled->error_log = "upstream " + upstream_id + " not found";
      } else {
        compiled->upstream = it->second;
      }
    } else if (inline_upstream) {
      compiled->upstream = std::move(inline_upstream);
    } else {
      compiled->error_status = 503;
      compiled->error_log = "missing upstream configuration in Route or Service";
    }
  }
  if (compiled->error_status == 0 && compiled->upstream->nodes.empty()) {
    compiled->error_status = 503;  // core.md §7.11: empty node list
    compiled->error_log = "no valid upstream node in " + compiled->upstream->key;
  }
  if (compiled->error_status == 0 && !compiled->upstream->invalid.empty()) {
    compiled->error_status = 502;
    compiled->error_log = compiled->upstream->invalid;
  }
  compiled->name = route.name;
  compiled->service_id = route.service_id;
  if (service != nullptr) {
    compiled->service_name = string_field(service->service.raw, "name");
  }
  compiled->matched_uri = route.uris.empty() ? std::string() : route.uris.front();
  compiled->matched_host = route.hosts.empty() ? std::string() : route.hosts.front();
  compiled->plugins = compile_plugins(route, service);
  slots_.set(entry.slot, std::move(compiled));

  if (!place) {
    return;
  }
  router::RouteSpec spec;
  spec.id = route.id;
  spec.payload = entry.slot;
  spec.uris = route.uris;
  spec.hosts = route.hosts;
  if (spec.hosts.empty() && service != nullptr) {
    spec.hosts = service->service.hosts;
  }
  spec.priority = route.priority;
  for (const std::string& method : route.methods) {
    spec.method_mask |= router::method_bit(method);
  }
  spec.matchable = route.status != 0;
  if (!route.vars.empty()) {
    auto expr = router::Expr::compile(boost::json::value(route.vars));
    if (expr) {
      spec.vars = std::make_shared<const router::Expr>(std::move(expr.value()));
    } else {
      core::log_error("route ", route.id, ": invalid vars: ", expr.error().context);
      spec.matchable = false;
    }
  }
  if (!route.remote_addrs.empty()) {
    auto matcher = router::IpMatcher::compile(route.remote_addrs);
    if (matcher) {
      spec.remote_addrs = std::make_shared<const router::IpMatcher>(std::move(matcher.value()));
    } else {
      core::log_error("route ", route.id, ": invalid remote_addrs: ", matcher.error().context);
      spec.matchable = false;
    }
  }
  // A `vars` that mentions post_arg_ makes the session read small form bodies before
  // matching (a literal that merely contains the text only costs that read).
  if (!route.vars.empty() &&
      boost::json::serialize(route.vars).find("\"post_arg_") != std::string::npos) {
    post_arg_routes_.insert(route.id);
  } else {
    post_arg_routes_.erase(route.id);
  }
  if (!route.filter_func.empty()) {
    // Stored, not run: a route with filter_func never matches until the Lua runtime exists
    // (issue text of the router); said once per process, not once per build.
    if (!warned_filter_func_) {
      warned_filter_func_ = true;
      core::log_warn("route ", route.id,
                     ": filter_func needs the Lua runtime, which this build does not have; "
                     "routes with filter_func never match");
    }
    spec.matchable = false;
  }
  specs.push_back(std::move(spec));
}

}  // namespace apisix::gateway
