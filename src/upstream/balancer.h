#pragma once
// Balancer: the node picker of one upstream, over all its nodes, for any APISIX balancer type
// (core.md §7.5). It groups nodes by `priority` (highest first, each group its own picker of
// the configured type), filters out unhealthy nodes, and never returns a node the request has
// already tried.
//
// Built by the control thread with a snapshot; immutable and shared by all workers, except
// the per-worker slots (round-robin weights, least_conn scan position, ewma random source),
// each touched only by its own worker. State that outlives a snapshot — least_conn in-flight
// counts and ewma latency averages, both shared by all workers — lives in registries passed in
// BalancerOptions; the snapshot builder carries them from the previous balancer of the same
// upstream (see least_conn_counters()/ewma_stats()).
//
// Dispatch is a std::variant per priority group: one switch per pick, no virtual call.
//
// How the gateway uses it, per request:
//   uint32_t hash = up.balancer.chash_key().hash(lookup);   // chash only; once per request
//   int64_t node = up.balancer.pick(worker, tried, {health, hash, now});  // -1: none left, 502
//   ... on a failed try, before retrying:
//   up.balancer.release(node);  tried.add(node);
//   ... when the request ends:
//   up.balancer.release(node);                               // least_conn (no-op otherwise)
//   up.balancer.report(node, connect_time + response_time, now);  // ewma (no-op otherwise)

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "upstream/chash.h"
#include "upstream/ewma.h"
#include "upstream/least_conn.h"
#include "upstream/roundrobin.h"

namespace apisix::upstream {

enum class BalancerType { RoundRobin, Chash, LeastConn, Ewma };

// The upstream `type` string: "roundrobin", "chash", "least_conn", "ewma"; std::nullopt for
// anything else (APISIX would look for a custom balancer module: 502 with two or more nodes).
std::optional<BalancerType> parse_balancer_type(std::string_view type);
std::string_view balancer_type_name(BalancerType type);

// One node of the upstream as the balancer sees it; the index in the span given to Balancer is
// the node index pick() returns.
struct BalancerNode {
  std::string_view address;  // "host:port" (IPv6 bracketed): chash ring identity and the key
                             // of least_conn / ewma state; only read during construction
  int weight = 1;            // ≥ 0
  int priority = 0;          // higher first; negative values act as backups
};

// Which nodes the health checker lets through (healthy or mostly healthy, core.md §7.7):
// bit i of the words is node i. A default HealthMask means no checker: every node is healthy.
// The view does not own the words; they must outlive the pick() they are passed to.
class HealthMask {
 public:
  HealthMask() = default;
  explicit HealthMask(std::span<const uint64_t> words) : words_(words), has_checker_(true) {}

  bool has_checker() const { return has_checker_; }
  bool is_healthy(uint32_t node) const {
    return !has_checker_ ||
           (node / 64 < words_.size() && ((words_[node / 64] >> (node % 64)) & 1u) != 0);
  }
  // True when at least one of nodes [0, node_count) is healthy.
  bool any_healthy(uint32_t node_count) const;

 private:
  std::span<const uint64_t> words_;
  bool has_checker_ = false;
};

struct BalancerOptions {
  BalancerType type = BalancerType::RoundRobin;
  uint32_t worker_count = 1;
  ChashKey chash_key;  // chash: from ChashKey::parse(hash_on, key)
  // least_conn: the upstream's counters, carried across snapshots; a fresh one when null.
  std::shared_ptr<LeastConnCounters> least_conn_counters;
  // ewma: the process's latency averages; a fresh one when null.
  std::shared_ptr<EwmaStatsRegistry> ewma_stats;
  // Seeds the per-worker random sources of ewma (mixed with the worker index); 0 = random.
  uint64_t seed = 0;
};

// What one pick needs to know about the request besides the tried nodes.
struct PickInput {
  HealthMask health;            // default: no checker
  uint32_t key_hash = 0;        // chash: chash_key().hash(lookup), computed once per request
  EwmaClock::time_point now{};  // ewma: the current time (the worker's loop clock)
};

class Balancer {
 public:
  Balancer() = default;
  Balancer(std::span<const BalancerNode> nodes, BalancerOptions options);

  // The node for the next try of a request on `worker`, or -1 when none is left (502).
  // - Nodes in `tried` are never returned — except in a single-node upstream, whose one node
  //   is always returned (APISIX's fast path; the gateway's retry budget bounds the tries,
  //   core.md §7.6). With one node, least_conn still counts the pick.
  // - Unhealthy nodes are skipped unless no node of the upstream is healthy, in which case
  //   all are used (APISIX fetch_health_nodes; for chash the ring keeps every node and a pick
  //   that lands on an unhealthy one walks on).
  // - The highest-priority group with a node that is neither tried nor skipped as unhealthy
  //   is used; lower groups only when every node above is (APISIX priority.lua).
  // - least_conn increments the picked node's in-flight count: call release() for it.
  int64_t pick(uint32_t worker, const TriedSet& tried, const PickInput& input) const;

  // least_conn: the try on `node` ended (response done, or failed and about to be retried).
  // Returns false when no pick of `node` was outstanding (a caller bug worth logging); always
  // true for the other types, for which it does nothing.
  [[nodiscard]] bool release(uint32_t node) const;

  // ewma: the response from `node` took `rtt` (upstream connect + response time). Call once
  // per request, for the try that produced the response; does nothing for the other types.
  void report(uint32_t node, std::chrono::nanoseconds rtt, EwmaClock::time_point now) const;

  BalancerType type() const { return type_; }
  const ChashKey& chash_key() const { return chash_key_; }
  size_t node_count() const { return group_of_.size(); }
  size_t group_count() const { return groups_.size(); }
  // The registries to hand to the next balancer built for the same upstream (null for the
  // types that do not use them).
  const std::shared_ptr<LeastConnCounters>& least_conn_counters() const {
    return least_conn_counters_;
  }
  const std::shared_ptr<EwmaStatsRegistry>& ewma_stats() const { return ewma_stats_; }

  // Read-only views for metrics and tests.
  int64_t active_for_test(uint32_t node) const;
  double ewma_score_for_test(uint32_t node, EwmaClock::time_point now) const;

 private:
  struct Group {
    int priority = 0;
    std::variant<RoundRobin, ChashRing, LeastConn, Ewma> picker;
  };
  // A worker's slots, one cache line apart from the next worker's.
  struct alignas(64) WorkerState {
    std::vector<RoundRobinState> round_robin;  // per group
    std::vector<LeastConnCursor> cursors;      // per group
    EwmaRandom random;
  };

  template <typename Excluded>
  int64_t pick_in_groups(WorkerState& state, const PickInput& input, Excluded&& excluded) const;

  BalancerType type_ = BalancerType::RoundRobin;
  ChashKey chash_key_;
  std::vector<Group> groups_;       // highest priority first
  std::vector<uint32_t> group_of_;  // node index -> its group
  std::shared_ptr<LeastConnCounters> least_conn_counters_;
  std::shared_ptr<EwmaStatsRegistry> ewma_stats_;
  mutable std::vector<WorkerState> per_worker_;
};

}  // namespace apisix::upstream
