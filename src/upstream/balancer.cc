#include "upstream/balancer.h"

#include <algorithm>
#include <map>
#include <random>

namespace apisix::upstream {
namespace {

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

}  // namespace

std::optional<BalancerType> parse_balancer_type(std::string_view type) {
  if (type == "roundrobin") {
    return BalancerType::RoundRobin;
  }
  if (type == "chash") {
    return BalancerType::Chash;
  }
  if (type == "least_conn") {
    return BalancerType::LeastConn;
  }
  if (type == "ewma") {
    return BalancerType::Ewma;
  }
  return std::nullopt;
}

std::string_view balancer_type_name(BalancerType type) {
  switch (type) {
    case BalancerType::RoundRobin:
      return "roundrobin";
    case BalancerType::Chash:
      return "chash";
    case BalancerType::LeastConn:
      return "least_conn";
    case BalancerType::Ewma:
      return "ewma";
  }
  return "roundrobin";
}

bool HealthMask::any_healthy(uint32_t node_count) const {
  if (!has_checker_) {
    return node_count > 0;
  }
  uint32_t full_words = node_count / 64;
  for (uint32_t w = 0; w < full_words && w < words_.size(); ++w) {
    if (words_[w] != 0) {
      return true;
    }
  }
  uint32_t rest = node_count % 64;
  if (rest != 0 && full_words < words_.size()) {
    return (words_[full_words] & ((uint64_t{1} << rest) - 1)) != 0;
  }
  return false;
}

Balancer::Balancer(std::span<const BalancerNode> nodes, BalancerOptions options)
    : type_(options.type),
      chash_key_(std::move(options.chash_key)),
      least_conn_counters_(std::move(options.least_conn_counters)),
      ewma_stats_(std::move(options.ewma_stats)) {
  if (type_ == BalancerType::LeastConn && !least_conn_counters_) {
    least_conn_counters_ = std::make_shared<LeastConnCounters>();
  }
  if (type_ == BalancerType::Ewma && !ewma_stats_) {
    ewma_stats_ = std::make_shared<EwmaStatsRegistry>();
  }
  // Priority groups, highest first (core.md §7.5); node order within a group is kept.
  std::map<int, std::vector<uint32_t>, std::greater<>> by_priority;
  for (uint32_t i = 0; i < nodes.size(); ++i) {
    by_priority[nodes[i].priority].push_back(i);
  }
  group_of_.resize(nodes.size());
  groups_.reserve(by_priority.size());
  for (auto& [priority, indices] : by_priority) {
    std::vector<int> weights;
    std::vector<std::string_view> addresses;
    weights.reserve(indices.size());
    addresses.reserve(indices.size());
    for (uint32_t i : indices) {
      weights.push_back(std::max(nodes[i].weight, 0));
      addresses.push_back(nodes[i].address);
      group_of_[i] = static_cast<uint32_t>(groups_.size());
    }
    Group group;
    group.priority = priority;
    switch (type_) {
      case BalancerType::RoundRobin:
        group.picker.emplace<RoundRobin>(indices, std::move(weights));
        break;
      case BalancerType::Chash:
        group.picker.emplace<ChashRing>(indices, addresses, weights);
        break;
      case BalancerType::LeastConn: {
        // Counts are kept per node address, not per (address, priority) as APISIX keys its
        // heaps: the connections are on the node whatever group it is listed in.
        std::vector<std::shared_ptr<NodeConnCount>> counts;
        counts.reserve(indices.size());
        for (std::string_view address : addresses) {
          counts.push_back(least_conn_counters_->get(address));
        }
        group.picker.emplace<LeastConn>(indices, weights, std::move(counts));
        break;
      }
      case BalancerType::Ewma: {
        std::vector<std::shared_ptr<EwmaNodeStats>> stats;
        stats.reserve(indices.size());
        for (std::string_view address : addresses) {
          stats.push_back(ewma_stats_->get(address));
        }
        group.picker.emplace<Ewma>(indices, std::move(stats));
        break;
      }
    }
    groups_.push_back(std::move(group));
  }
  uint64_t seed = options.seed != 0 ? options.seed
                                    : (uint64_t{std::random_device{}()} << 32) ^
                                          uint64_t { std::random_device{}() };
  per_worker_.resize(std::max<uint32_t>(options.worker_count, 1));
  for (size_t w = 0; w < per_worker_.size(); ++w) {
    per_worker_[w].round_robin.resize(groups_.size());
    per_worker_[w].cursors.resize(groups_.size());
    per_worker_[w].random = EwmaRandom(mix(seed + w));
  }
}

template <typename Excluded>
int64_t Balancer::pick_in_groups(WorkerState& state, const PickInput& input,
                                 Excluded&& excluded) const {
  for (size_t g = 0; g < groups_.size(); ++g) {
    const Group& group = groups_[g];
    int64_t node = -1;
    switch (group.picker.index()) {
      case 0:
        node = std::get<0>(group.picker).pick_excluding(state.round_robin[g], excluded);
        break;
      case 1:
        node = std::get<1>(group.picker).pick_excluding(input.key_hash, excluded);
        break;
      case 2:
        node = std::get<2>(group.picker).pick_excluding(state.cursors[g], excluded);
        break;
      case 3:
        node = std::get<3>(group.picker).pick_excluding(state.random, input.now, excluded);
        break;
      default:
        break;
    }
    if (node >= 0) {
      return node;
    }
  }
  return -1;
}

int64_t Balancer::pick(uint32_t worker, const TriedSet& tried, const PickInput& input) const {
  if (group_of_.empty() || worker >= per_worker_.size()) {
    return -1;
  }
  WorkerState& state = per_worker_[worker];
  uint32_t count = static_cast<uint32_t>(group_of_.size());
  if (count == 1) {
    // APISIX's single-node fast path: the node, whatever its health or earlier tries; only
    // least_conn goes through its picker, to count the connection (core.md §7.5, §7.6).
    if (type_ == BalancerType::LeastConn) {
      return pick_in_groups(state, input, [](uint32_t) { return false; });
    }
    return 0;
  }
  if (input.health.has_checker() && input.health.any_healthy(count)) {
    const HealthMask& health = input.health;
    return pick_in_groups(state, input, [&tried, &health](uint32_t node) {
      return tried.contains(node) || !health.is_healthy(node);
    });
  }
  // No checker, or no healthy node at all: every node is a candidate (core.md §7.5).
  return pick_in_groups(state, input, [&tried](uint32_t node) { return tried.contains(node); });
}

bool Balancer::release(uint32_t node) const {
  if (type_ != BalancerType::LeastConn) {
    return true;
  }
  if (node >= group_of_.size()) {
    return false;
  }
  return std::get<LeastConn>(groups_[group_of_[node]].picker).release(node);
}

void Balancer::report(uint32_t node, std::chrono::nanoseconds rtt,
                      EwmaClock::time_point now) const {
  if (type_ != BalancerType::Ewma || node >= group_of_.size()) {
    return;
  }
  (void)std::get<Ewma>(groups_[group_of_[node]].picker).report(node, rtt, now);
}

int64_t Balancer::active_for_test(uint32_t node) const {
  if (type_ != BalancerType::LeastConn || node >= group_of_.size()) {
    return 0;
  }
  return std::get<LeastConn>(groups_[group_of_[node]].picker).active(node);
}

double Balancer::ewma_score_for_test(uint32_t node, EwmaClock::time_point now) const {
  if (type_ != BalancerType::Ewma || node >= group_of_.size()) {
    return 0.0;
  }
  return std::get<Ewma>(groups_[group_of_[node]].picker).score(node, now);
}

}  // namespace apisix::upstream
