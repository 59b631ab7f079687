#pragma once
// RoundRobin: weighted round robin over the nodes of one priority group, in nginx's smooth
// variant (core.md §7.5 allows it): over a cycle each node is picked in proportion to its
// weight, and picks of heavy nodes are spread out rather than bunched. The balancer is
// immutable and shared; the moving part (current weights) is RoundRobinState, one per worker.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace apisix::upstream {

// Nodes already tried by the current request; never picked again (core.md §7.5).
class TriedSet {
 public:
  bool contains(uint32_t node) const {
    return node < 64 ? (bits_ >> node) & 1u : contains_slow(node);
  }
  void add(uint32_t node) {
    if (node < 64) {
      bits_ |= uint64_t{1} << node;
    } else {
      more_.push_back(node);
    }
  }
  size_t size() const { return static_cast<size_t>(__builtin_popcountll(bits_)) + more_.size(); }

 private:
  bool contains_slow(uint32_t node) const;
  uint64_t bits_ = 0;
  std::vector<uint32_t> more_;
};

struct RoundRobinState {
  std::vector<int64_t> current;
};

class RoundRobin {
 public:
  RoundRobin() = default;
  // `nodes` are node indices of the upstream; `weights` their weights (same length).
  RoundRobin(std::vector<uint32_t> nodes, std::vector<int> weights);

  // The next node not in `tried`, or -1 when every node of the group was tried. Weight-0
  // nodes are picked only when every untried node has weight 0 (core.md §7.5).
  int64_t pick(RoundRobinState& state, const TriedSet& tried) const;
  // Like pick(), but skips every node for which `is_excluded(node)` is true (tried, or
  // filtered out as unhealthy by the caller). Excluded nodes do not accumulate weight, so the
  // rotation behaves as if it had been built over the remaining nodes only.
  template <typename Excluded>
  int64_t pick_excluding(RoundRobinState& state, Excluded&& is_excluded) const;
  const std::vector<uint32_t>& nodes() const { return nodes_; }

 private:
  std::vector<uint32_t> nodes_;
  std::vector<int> weights_;
};

template <typename Excluded>
int64_t RoundRobin::pick_excluding(RoundRobinState& state, Excluded&& is_excluded) const {
  size_t n = nodes_.size();
  if (n == 1) {
    return is_excluded(nodes_[0]) ? -1 : static_cast<int64_t>(nodes_[0]);
  }
  if (state.current.size() != n) {
    state.current.assign(n, 0);
  }
  int64_t total = 0;
  int64_t best = -1;
  for (size_t i = 0; i < n; ++i) {
    if (weights_[i] <= 0 || is_excluded(nodes_[i])) {
      continue;
    }
    state.current[i] += weights_[i];
    total += weights_[i];
    if (best < 0 || state.current[i] > state.current[best]) {
      best = static_cast<int64_t>(i);
    }
  }
  if (best < 0) {
    // Only weight-0 nodes remain: plain rotation among them.
    for (size_t step = 0; step < n; ++step) {
      size_t i =
          (static_cast<size_t>(state.current.empty() ? 0 : state.current[0] & 0xffff) + step) % n;
      if (!is_excluded(nodes_[i])) {
        return nodes_[i];
      }
    }
    return -1;
  }
  state.current[best] -= total;
  return nodes_[best];
}

}  // namespace apisix::upstream
