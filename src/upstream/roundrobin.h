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
  const std::vector<uint32_t>& nodes() const { return nodes_; }

 private:
  std::vector<uint32_t> nodes_;
  std::vector<int> weights_;
};

}  // namespace apisix::upstream
