#pragma once
// Snapshot: everything a worker needs to serve requests, compiled from the resources of a
// config provider: the route table, and per route its effective upstream (node endpoints,
// balancers, timeouts, retry budget, pool settings). Built incrementally by the control
// thread's SnapshotBuilder, published to every worker (each swaps its own pointer), immutable
// thereafter — except the per-worker balancer state, where each worker touches only its own
// slot. Consecutive snapshots share everything that did not change.

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/model/route.h"
#include "config/model/service.h"
#include "config/model/upstream.h"
#include "core/result.h"
#include "core/socket.h"
#include "gateway/settings.h"
#include "plugins/builtin.h"
#include "plugins/consumers.h"
#include "plugins/runner.h"
#include "plugins/runtime.h"
#include "router/route_table.h"
#include "tls/tls_context.h"
#include "upstream/balancer.h"
#include "upstream/dns_discovery.h"
#include "upstream/health_state.h"

namespace apisix::config {
struct StandaloneConfig;
}

namespace apisix::gateway {

struct Timeouts {
  Millis connect{60000};
  Millis send{60000};
  Millis read{60000};
};

enum class PassHost { Pass, Node, Rewrite };

struct UpstreamNode {
  std::string host;  // as configured (IP or domain; a domain node's address is in endpoint)
  uint16_t port = 0;
  int weight = 1;
  int priority = 0;
  core::Endpoint endpoint;
  std::string address;      // endpoint as text, "ip:port" ($upstream_addr)
  std::string host_header;  // for pass_host "node": host, plus ":port" unless the default
  std::string pool_key;     // "http#ip#port": connections are pooled per key (https adds
                            // "#<SNI>" and the client certificate per request, core.md §7.9)
};

struct CompiledUpstream {
  std::string key;  // "upstreams/<id>" or "routes/<id>" for an inline upstream
  std::vector<UpstreamNode> nodes;
  // Picks among `nodes` (same indices) with the upstream's `type`; its per-worker slots are
  // touched only by their worker (core.md §7.5).
  upstream::Balancer balancer;
  // The shared health state when the upstream has `checks` (core.md §7.7), else null. Workers
  // report passive outcomes into it; the control thread's HealthChecker probes it.
  std::shared_ptr<upstream::UpstreamHealth> health;
  // Non-empty: no node can be picked, routes answer 502 and log this (an unknown balancer
  // `type` with two or more nodes, core.md §7.5).
  std::string invalid;
  int retries = 0;          // resolved: configured, else nodes - 1
  Millis retry_timeout{0};  // 0 = none
  Timeouts timeout;
  PassHost pass_host = PassHost::Pass;
  std::string upstream_host;
  PoolSettings pool;
  // scheme https (core.md §4.4): each try connects, then runs a TLS handshake with `tls`.
  // `tls` is null when its context could not be built (the error was logged at load); tries
  // then fail with 502.
  bool is_https = false;
  std::shared_ptr<const tls::TlsContext> tls;
  std::string tls_pool_suffix;  // "#<client cert id>" for mTLS upstreams, else ""

  // Next node for `worker` not in `tried`, honouring priority groups and, with `checks`, the
  // nodes' health (all nodes when none is healthy); -1 when none is left. `key_hash` is the
  // chash key hash of the request (balancer.chash_key().hash(...)), unused by other types.
  // least_conn: every node returned must be given back with balancer.release().
  int64_t pick(uint32_t worker, const upstream::TriedSet& tried, uint32_t key_hash = 0,
               upstream::EwmaClock::time_point now = {}) const;
};

struct CompiledRoute {
  std::string id;
  std::string name;
  std::string service_id;
  std::string service_name;
  std::string matched_uri;   // the first `uris` entry (prometheus' matched_uri label)
  std::string matched_host;  // the first `hosts` entry, or ""
  // The merged plugin chain of the route, its plugin_config and its service (plugins.md
  // §1.3); null: none.
  std::shared_ptr<const plugins::CompiledChain> plugins;
  std::shared_ptr<const CompiledUpstream> upstream;
  int error_status = 0;   // non-zero: answer this (e.g. 502 upstream_id not found, 503 none)
  std::string error_log;  // why, for the error log
  std::optional<Timeouts> timeout;  // route-level override (core.md §7.6)
};

// The compiled routes of a snapshot, indexed by the router's payload (a slot number the
// builder gives each route id and keeps while the route exists). A persistent array: slots
// live in chunks shared between snapshots, so a snapshot that changes k routes copies at most
// k chunks plus the chunk index, never the whole array.
class RouteSlots {
 public:
  static constexpr size_t kChunkBits = 8;
  static constexpr size_t kChunkSize = size_t{1} << kChunkBits;

  // The route in `slot`; the slot must hold one (the router only returns live slots).
  const CompiledRoute& operator[](size_t slot) const {
    return *chunks_[slot >> kChunkBits]->items[slot & (kChunkSize - 1)];
  }
  const CompiledRoute* get(size_t slot) const {
    size_t c = slot >> kChunkBits;
    return c < chunks_.size() ? chunks_[c]->items[slot & (kChunkSize - 1)].get() : nullptr;
  }
  // Control thread only, on the builder's own copy: copies the chunk first when a published
  // snapshot shares it.
  void set(size_t slot, std::shared_ptr<const CompiledRoute> route);

 private:
  struct Chunk {
    std::array<std::shared_ptr<const CompiledRoute>, kChunkSize> items;
  };
  std::vector<std::shared_ptr<Chunk>> chunks_;
};

struct Snapshot {
  uint64_t version = 0;
  std::shared_ptr<const RuntimeSettings> settings;
  std::shared_ptr<const router::RouteTable> router;
  RouteSlots routes;  // indexed by the router's payload
  // Some route's `vars` read `post_arg_*`: a small form body is read before matching.
  bool match_reads_form_body = false;
  // The global rules' chain (plugins.md §1.3); null: none.
  std::shared_ptr<const plugins::CompiledChain> global_plugins;
  // Consumers, for auth plugins (plugins.md §3.1); never null once built.
  std::shared_ptr<const plugins::ConsumerIndex> consumers;
};

// A change of a resource the plugin layer uses, as a provider reports it: type
// "plugin_configs", "global_rules", "consumers" (id "<username>", or
// "<username>/credentials/<id>" for a credential), "consumer_groups" or "plugin_metadata"
// (id = plugin name). No value: removed.
struct PluginResourceChange {
  std::string type;
  std::string id;
  std::optional<boost::json::value> value;
};

// Resource changes, as a provider reports them: whole new objects by id, and removed ids.
// Removals are applied before upserts; a batch should name each resource once.
struct ResourceChanges {
  std::vector<config::Route> routes;
  std::vector<std::string> removed_routes;
  std::vector<config::Service> services;
  std::vector<std::string> removed_services;
  std::vector<config::Upstream> upstreams;
  std::vector<std::string> removed_upstreams;
  std::vector<PluginResourceChange> plugin_resources;
  bool empty() const {
    return routes.empty() && removed_routes.empty() && services.empty() &&
           removed_services.empty() && upstreams.empty() && removed_upstreams.empty() &&
           plugin_resources.empty();
  }
};

// What a build did, for logs and tests.
struct BuildStats {
  size_t routes_compiled = 0;  // CompiledRoute objects made
  size_t router_upserts = 0;   // routes (re)placed in the route table
  size_t router_removals = 0;
  size_t upstreams_compiled = 0;  // upstream resources and service inline upstreams compiled
  bool full = false;              // everything was rebuilt
};

// Where the builder finds the addresses of domain nodes (core.md §7.3) and the nodes of
// discovered services (§7.4), without blocking: it answers from what it has and starts
// resolving a name it has not seen; when an answer arrives or changes, its owner hands the name
// to SnapshotBuilder::refresh_names(). Names: a domain node's host ("api.example.com"), or
// "<discovery_type>:<service_name>" ("dns:svc.example.com:8080"). Implemented by the control
// thread's DnsNodeSource (gateway/dns_nodes.h); control thread only.
class NodeSource {
 public:
  virtual ~NodeSource() = default;
  // The nodes `name` stands for now, or nullptr while unknown (not resolved yet, failing, or
  // a discovery type that is not enabled). A domain's nodes are its addresses (host = IP,
  // IPv6 bracketed; port 0, weight 1). Valid until that name's answer changes or it is
  // forgotten (never during one build).
  virtual const std::vector<upstream::DiscoveredNode>* nodes(const std::string& name) = 0;
  // No upstream uses `name` any more: stop refreshing it.
  virtual void forget(const std::string& name) = 0;
};

// SnapshotBuilder: the control thread's compiler from resources to snapshots. It keeps the
// resources of the last snapshot and what was compiled from them, so a change recompiles
// only what depends on it (core.md §5.9 composition):
//  - a route: that route;
//  - a service: its routes (hosts, upstream), and its inline upstream once;
//  - an upstream: the routes and services using it (their upstream pointer; the route table
//    is not touched unless the route's own match conditions changed).
// Unchanged upstreams keep their CompiledUpstream object, and with it the balancer state.
// The route table is updated with RouteTable::apply(); route slots are copy-on-write.
class SnapshotBuilder {
 public:
  SnapshotBuilder(std::shared_ptr<const RuntimeSettings> settings, uint32_t worker_count);

  // The whole resource set (the standalone file): diffed by id and raw JSON against the
  // builder's, then applied as changes.
  std::shared_ptr<const Snapshot> build(const config::StandaloneConfig& resources,
                                        uint64_t version);
  std::shared_ptr<const Snapshot> apply(const ResourceChanges& changes, uint64_t version);
  // New settings (config.yaml reload): recompiles everything with them.
  std::shared_ptr<const Snapshot> rebuild(std::shared_ptr<const RuntimeSettings> settings,
                                          uint64_t version);

  // What plugin chains are compiled with: the enabled plugins, the state that outlives
  // snapshots, config.yaml's plugin_attr, the etcd prefix. Unset: no plugin runs. Set before
  // the first build.
  struct PluginSetup {
    std::shared_ptr<const plugins::Registry> registry;
    std::shared_ptr<plugins::RuntimeState> runtime;
    boost::json::object plugin_attr;
    std::string prefix = "/apisix";
  };
  void set_plugins(PluginSetup setup) { plugin_setup_ = std::move(setup); }

  // Where domain nodes and discovered services get their nodes (not owned; may be null: then
  // such upstreams have no nodes). Set before the first build.
  void set_node_source(NodeSource* source) { node_source_ = source; }
  // The NodeSource has new answers for `names`: recompiles the upstreams that use them (and
  // what depends on those) as an edit of those resources would.
  std::shared_ptr<const Snapshot> refresh_names(const std::vector<std::string>& names,
                                                uint64_t version);
  // Names (NodeSource) used by the current upstreams, for tests.
  size_t name_count_for_test() const { return upstreams_by_name_.size(); }

  // The changes that turn the builder's resources into `resources`.
  ResourceChanges diff(const config::StandaloneConfig& resources) const;
  const BuildStats& last_stats() const { return stats_; }
  size_t route_count() const { return routes_.size(); }

  // The health state of every upstream with `checks`, keyed "upstreams/<id>", "routes/<id>"
  // (inline upstream) or "services/<id>" (inline upstream). The server runs the active
  // HealthChecker over its list() after each publish.
  upstream::HealthRegistry& health_registry() { return health_; }

  // A resource whose upstream has `checks`, for the Control API (core.md §8.1).
  struct HealthSource {
    std::string kind;  // "routes", "services", "upstreams"
    std::string id;
    upstream::CheckType type = upstream::CheckType::Http;    // checks.active.type
    std::shared_ptr<const upstream::UpstreamHealth> health;  // null: no checker built
  };
  // Routes, then services, then upstreams (APISIX's order), by id within each kind.
  std::vector<HealthSource> health_sources() const;
  // Whether `kind`/`id` exists; `source` is set when it also has `checks`.
  bool find_health_source(std::string_view kind, std::string_view id,
                          std::optional<HealthSource>& source) const;

 private:
  struct RouteEntry {
    config::Route route;
    uint32_t slot = 0;
    uint64_t order = 0;  // when the route was added: registration order (core.md §5.6)
  };
  struct ServiceEntry {
    config::Service service;
    std::shared_ptr<const CompiledUpstream> inline_upstream;  // compiled once per service
  };

  std::shared_ptr<const Snapshot> publish(uint64_t version);
  // Applies plugin resource changes; marks the routes to recompile with `touch`.
  template <typename Touch>
  void apply_plugin_resources(const std::vector<PluginResourceChange>& changes, Touch&& touch);
  plugins::ChainContext chain_context() const;
  std::shared_ptr<const plugins::CompiledChain> compile_plugins(const config::Route& route,
                                                                const ServiceEntry* service);
  void rebuild_global_chain();
  // The plugin resources of a standalone file's document that differ from the builder's.
  void diff_plugin_resources(const boost::json::value& raw,
                             std::vector<PluginResourceChange>& out) const;
  void rebuild_consumers();
  // Compiles `entry` into its slot; with `place`, also (re)places it in the route table.
  void compile_route(const RouteEntry& entry, bool place, std::vector<router::RouteSpec>& specs);
  void link(const config::Route& route, bool add);
  // compile_upstream() plus what outlives a snapshot: the balancer gets the least_conn
  // counters and ewma stats of the previous balancer of `key`, and an upstream with `checks`
  // its UpstreamHealth from the registry.
  std::shared_ptr<const CompiledUpstream> make_upstream(const config::Upstream& up,
                                                        const std::string& key);
  // `key` has no upstream any more (removed, or no longer inline): drop its carried state.
  void forget_upstream(const std::string& key);
  // Records the NodeSource names the upstream `key` was compiled with; names no upstream uses
  // any more are forgotten by the source.
  void track_names(const std::string& key, std::vector<std::string> names);

  std::shared_ptr<const RuntimeSettings> settings_;
  uint32_t worker_count_;
  std::unordered_map<std::string, RouteEntry> routes_;
  std::unordered_map<std::string, ServiceEntry> services_;
  std::unordered_map<std::string, config::Upstream> upstreams_;
  std::unordered_map<std::string, std::shared_ptr<const CompiledUpstream>> compiled_upstreams_;
  // Reverse references, to find what a service or upstream change touches.
  std::unordered_map<std::string, std::unordered_set<std::string>> routes_by_service_;
  std::unordered_map<std::string, std::unordered_set<std::string>> routes_by_upstream_;
  std::unordered_map<std::string, std::unordered_set<std::string>> services_by_upstream_;
  std::vector<uint32_t> free_slots_;
  uint32_t next_slot_ = 0;
  uint64_t next_order_ = 0;
  std::shared_ptr<const router::RouteTable> router_;
  RouteSlots slots_;
  BuildStats stats_;
  bool warned_filter_func_ = false;
  std::unordered_set<std::string> post_arg_routes_;  // routes whose vars read post_arg_*
  // Domain nodes and discovered services (core.md §7.3, §7.4): which upstream keys
  // ("/apisix/upstreams/<id>", ".../services/<id>", ".../routes/<id>") use which names.
  NodeSource* node_source_ = nullptr;
  std::unordered_map<std::string, std::unordered_set<std::string>> upstreams_by_name_;
  std::unordered_map<std::string, std::vector<std::string>> names_by_upstream_;  // sorted
  std::unordered_set<std::string> forced_;  // keys refresh_names() recompiles though unchanged
  // State carried from one compiled upstream to the next of the same key.
  upstream::HealthRegistry health_;
  std::shared_ptr<upstream::EwmaStatsRegistry> ewma_stats_ =
      std::make_shared<upstream::EwmaStatsRegistry>();
  std::unordered_map<std::string, std::shared_ptr<upstream::LeastConnCounters>> least_conn_;
  std::unordered_set<std::string> health_keys_;  // keys given to health_

  // Plugin resources (raw objects by id) and what was compiled from them.
  PluginSetup plugin_setup_;
  std::map<std::string, boost::json::value> plugin_configs_;
  std::map<std::string, boost::json::value> global_rules_;
  std::map<std::string, boost::json::value> consumer_groups_;
  std::map<std::string, boost::json::value> consumers_;                           // by username
  std::map<std::string, std::map<std::string, boost::json::value>> credentials_;  // by username
  std::map<std::string, boost::json::value> metadata_raw_;                        // as stored
  std::map<std::string, boost::json::value, std::less<>> metadata_;               // defaults filled
  std::unordered_map<std::string, std::unordered_set<std::string>> routes_by_plugin_config_;
  std::shared_ptr<const plugins::CompiledChain> global_chain_;
  std::shared_ptr<const plugins::ConsumerIndex> consumer_index_ =
      std::make_shared<plugins::ConsumerIndex>();
};

}  // namespace apisix::gateway
