#pragma once
// Health state of the nodes of upstreams that have `checks` (core.md §7.7), kept outside the
// immutable snapshots so that a config change elsewhere does not reset it.
//
// Threads:
//  - the control thread creates UpstreamHealth objects through HealthRegistry while it builds
//    a snapshot, hangs them off the snapshot (shared_ptr), and runs the active HealthChecker,
//    whose probes report through the same methods as workers;
//  - worker threads report passive outcomes (report_*) and read availability (is_healthy,
//    healthy(), version()) on the request path, lock-free;
//  - the Control API (control thread) reads target_status() for the report.
// All mutable per-node state is in atomics; the registry has a mutex and is touched only when
// snapshots are built or the Control API lists checkers.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "upstream/health_config.h"

namespace apisix::upstream {

// What the checker library calls a target's internal health. Each value says what the
// balancer does with the node.
enum class NodeHealth : uint8_t {
  Healthy,          // available; successes are no longer counted
  Unhealthy,        // not available (unless every node is); failures are no longer counted
  MostlyHealthy,    // available, but a failure was counted since it became healthy
  MostlyUnhealthy,  // not available, but a success was counted since it became unhealthy
};
std::string_view to_string(NodeHealth health);  // "healthy", "mostly_unhealthy", ...
inline bool is_available(NodeHealth h) {
  return h == NodeHealth::Healthy || h == NodeHealth::MostlyHealthy;
}

// Which rules classify a report: passive (requests) use `checks.passive`, active probes use
// `checks.active` (thresholds and status lists differ).
enum class CheckSource : uint8_t { Passive, Active };

// The four 8-bit counters of one target, as the Control API shows them.
struct HealthCounters {
  uint32_t success = 0;
  uint32_t http_failure = 0;
  uint32_t tcp_failure = 0;
  uint32_t timeout_failure = 0;
  bool operator==(const HealthCounters&) const = default;
};

struct TargetStatus {
  NodeHealth health = NodeHealth::Healthy;
  HealthCounters counters;
};

// One balancer node as the snapshot builder knows it, after DNS resolution.
struct HealthNode {
  std::string ip;      // address literal; IPv6 with or without brackets
  uint16_t port = 0;   // node port
  std::string domain;  // the configured domain name when the node was a name, else empty
  bool operator==(const HealthNode&) const = default;
};

// What is checked: the checker library's target identity (ip, port, hostname) plus the Host
// header of probes. Several nodes map to one target when checks.active.port collapses them.
struct HealthTarget {
  std::string ip;           // as given in HealthNode (brackets kept)
  uint16_t port = 0;        // checks.active.port, else the node port
  std::string hostname;     // checks.active.host, else the ip
  std::string host_header;  // upstream_host (pass_host rewrite), else node domain; may be empty
  bool operator==(const HealthTarget&) const = default;
  // The Host header (and TLS SNI) probes send.
  const std::string& probe_host() const { return host_header.empty() ? hostname : host_header; }
};

// A read-only view of which nodes are available, one bit per node index (the order of the
// nodes given to UpstreamHealth). Valid while its UpstreamHealth lives; each test() is one
// atomic load.
class HealthyView {
 public:
  HealthyView() = default;
  HealthyView(const std::atomic<uint64_t>* words, size_t nodes) : words_(words), nodes_(nodes) {}
  size_t size() const { return nodes_; }
  bool test(size_t node) const {
    return (words_[node / 64].load(std::memory_order_acquire) >> (node % 64)) & 1U;
  }
  size_t count() const;

 private:
  const std::atomic<uint64_t>* words_ = nullptr;
  size_t nodes_ = 0;
};

// The health of the nodes of one upstream resource: one packed atomic word per target
// (four 8-bit counters and the NodeHealth), and a bitset of available nodes derived from it.
// Created by HealthRegistry on the control thread; shared (shared_ptr) by snapshots, the
// active checker and the Control API; lives as long as any of them holds it.
class UpstreamHealth {
 public:
  // `rewrite_host` is upstream_host when pass_host is "rewrite": it becomes every probe's Host
  // header (core.md §7.7). Duplicate targets are merged; every node starts healthy.
  UpstreamHealth(std::string key, std::shared_ptr<const HealthConfig> config,
                 std::span<const HealthNode> nodes, std::string_view rewrite_host = {});
  UpstreamHealth(const UpstreamHealth&) = delete;
  UpstreamHealth& operator=(const UpstreamHealth&) = delete;

  const std::string& key() const { return key_; }
  const HealthConfig& config() const { return *config_; }
  const std::shared_ptr<const HealthConfig>& config_ptr() const { return config_; }
  const std::vector<HealthNode>& nodes() const { return nodes_; }
  size_t node_count() const { return nodes_.size(); }
  size_t target_count() const { return targets_.size(); }
  const HealthTarget& target(size_t t) const { return targets_[t]; }
  size_t target_of(size_t node) const { return node_target_[node]; }

  // --- worker threads (and the active checker), by node index; lock-free -----------------
  // A response status: success if in healthy.http_statuses, HTTP failure if in
  // unhealthy.http_statuses or 0 (unparsable), otherwise ignored.
  void report_http_status(size_t node, int status, CheckSource source = CheckSource::Passive);
  void report_tcp_failure(size_t node, CheckSource source = CheckSource::Passive);
  void report_timeout(size_t node, CheckSource source = CheckSource::Passive);
  void report_success(size_t node, CheckSource source = CheckSource::Passive);

  // Same, by target index (the active checker probes targets, not nodes).
  enum class Outcome : uint8_t { Success, HttpFailure, TcpFailure, Timeout };
  void report_target(size_t target, Outcome outcome, CheckSource source);
  void report_target_http_status(size_t target, int status, CheckSource source);

  // Marks the upstream as used by a request. APISIX creates a checker only once its upstream
  // served a request (core.md §7.7); until then the active checker skips it and the Control
  // API shows no nodes. A relaxed load on the request path; a store only the first time.
  void touch() {
    if (!used_.load(std::memory_order_relaxed)) {
      used_.store(true, std::memory_order_relaxed);
    }
  }
  bool is_used() const { return used_.load(std::memory_order_relaxed); }

  // --- readers ---------------------------------------------------------------------------
  bool is_healthy(size_t node) const { return healthy().test(node); }
  HealthyView healthy() const { return HealthyView(healthy_bits_.get(), nodes_.size()); }
  bool any_healthy() const { return healthy().count() > 0; }
  // Bumped after every change of some node's availability: a balancer may cache a filtered
  // node list per worker and rebuild it when this moves (APISIX's status_ver).
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  TargetStatus target_status(size_t target) const;

  // Control thread, when a replacement is built for a changed node list with the same checks:
  // copies the state of `other`'s targets that also exist here (core.md §7.7 reconcile).
  void adopt_state_from(const UpstreamHealth& other);

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> word{0};
  };
  const UnhealthyRules& unhealthy_rules(CheckSource source) const;
  const HealthyRules& healthy_rules(CheckSource source) const;
  void apply(size_t target, Outcome outcome, uint32_t limit);
  void publish(size_t target);
  void store_word(size_t target, uint64_t word);

  std::string key_;
  std::shared_ptr<const HealthConfig> config_;
  std::vector<HealthNode> nodes_;
  std::vector<HealthTarget> targets_;
  std::vector<size_t> node_target_;                        // node index -> target index
  std::vector<std::vector<size_t>> target_nodes_;          // target index -> node indexes
  std::unique_ptr<Slot[]> slots_;                          // one per target
  std::unique_ptr<std::atomic<uint64_t>[]> healthy_bits_;  // one bit per node
  std::atomic<uint64_t> version_{0};
  std::atomic<bool> used_{false};
};

// The UpstreamHealth objects of the live configuration, keyed by the resource that carries
// the upstream ("upstreams/1", "routes/7", "services/3"). Owned by the control thread's
// snapshot builder; thread-safe (a mutex) so the Control API may read it from anywhere.
//
// Building a snapshot: begin_build(); get_or_create() for each upstream with checks;
// end_build(). An entry is reused while its checks and nodes stay equal, so a change to an
// unrelated part of the resource (a plugin, a timeout) keeps its health.
class HealthRegistry {
 public:
  using ClockFn = std::function<std::chrono::steady_clock::time_point()>;
  // Entries dropped by a build are kept `grace` long (APISIX clears a dropped checker's
  // state after 10 s), so a resource that comes back unchanged gets its state back.
  explicit HealthRegistry(ClockFn clock = {}, std::chrono::milliseconds grace = kDefaultGrace);

  static constexpr std::chrono::milliseconds kDefaultGrace{10000};

  void begin_build();
  // Same key, equal config and nodes: the existing object. Same key and config, other nodes:
  // a new object that keeps the state of surviving targets. Otherwise a new one (all healthy).
  std::shared_ptr<UpstreamHealth> get_or_create(std::string_view key,
                                                std::shared_ptr<const HealthConfig> config,
                                                std::span<const HealthNode> nodes,
                                                std::string_view rewrite_host = {});
  // Retires entries not requested since begin_build() and forgets retired ones older than
  // the grace period. Returns how many live entries were retired.
  size_t end_build();
  // For builders that rebuild one resource at a time: retires `key` now (same grace period).
  void release(std::string_view key);

  std::shared_ptr<UpstreamHealth> find(std::string_view key) const;
  // Live entries in key order (for the active checker and the Control API).
  std::vector<std::shared_ptr<UpstreamHealth>> list() const;
  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<UpstreamHealth> health;
    std::string rewrite_host;
    bool used_in_build = false;
  };
  struct Retired {
    Entry entry;
    std::chrono::steady_clock::time_point since;
  };
  static bool same_inputs(const Entry& entry, const HealthConfig& config,
                          std::span<const HealthNode> nodes, std::string_view rewrite_host);

  ClockFn clock_;
  std::chrono::milliseconds grace_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> live_;
  std::map<std::string, Retired, std::less<>> retired_;
};

}  // namespace apisix::upstream
