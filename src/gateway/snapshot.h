#pragma once
// Snapshot: everything a worker needs to serve requests, compiled from the resources of a
// config provider: the route table, and per route its effective upstream (node endpoints,
// balancers, timeouts, retry budget, pool settings). Built by the control thread, published
// to every worker (each swaps its own pointer), immutable thereafter — except the per-worker
// balancer state, where each worker touches only its own slot.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/socket.h"
#include "gateway/settings.h"
#include "router/route_table.h"
#include "upstream/roundrobin.h"

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
  std::string host;  // as configured (IP or domain)
  uint16_t port = 0;
  int weight = 1;
  int priority = 0;
  core::Endpoint endpoint;
  std::string host_header;  // for pass_host "node": host, plus ":port" unless the default
  std::string pool_key;     // "http#host#port": connections are pooled per key
};

// Balancer state one worker keeps for one upstream; only that worker touches it.
struct alignas(64) WorkerBalancerState {
  std::vector<upstream::RoundRobinState> groups;
};

struct CompiledUpstream {
  std::string key;  // "upstreams/<id>" or "routes/<id>" for an inline upstream
  std::vector<UpstreamNode> nodes;
  std::vector<upstream::RoundRobin> groups;  // by node priority, highest first
  int retries = 0;                           // resolved: configured, else nodes - 1
  Millis retry_timeout{0};                   // 0 = none
  Timeouts timeout;
  PassHost pass_host = PassHost::Pass;
  std::string upstream_host;
  PoolSettings pool;
  mutable std::vector<WorkerBalancerState> per_worker;

  // Next node for `worker` not in `tried`, honouring priority groups; -1 when none is left.
  int64_t pick(uint32_t worker, const upstream::TriedSet& tried) const;
};

struct CompiledRoute {
  std::string id;
  std::shared_ptr<const CompiledUpstream> upstream;
  int error_status = 0;   // non-zero: answer this (e.g. 502 upstream_id not found, 503 none)
  std::string error_log;  // why, for the error log
  std::optional<Timeouts> timeout;  // route-level override (core.md §7.6)
};

struct Snapshot {
  uint64_t version = 0;
  std::shared_ptr<const RuntimeSettings> settings;
  router::RouteTable router;
  std::vector<CompiledRoute> routes;  // indexed by the router's payload
};

// Compiles standalone resources into a snapshot. Items that cannot be compiled are logged and
// skipped; the snapshot itself always builds.
std::shared_ptr<const Snapshot> build_snapshot(const config::StandaloneConfig& resources,
                                               std::shared_ptr<const RuntimeSettings> settings,
                                               uint32_t worker_count, uint64_t version);

}  // namespace apisix::gateway
