#include "upstream/least_conn.h"

#include <algorithm>

namespace apisix::upstream {

LeastConn::LeastConn(std::span<const uint32_t> nodes, std::span<const int> weights,
                     std::vector<std::shared_ptr<NodeConnCount>> counters)
    : owners_(std::move(counters)) {
  size_t n = std::min({nodes.size(), weights.size(), owners_.size()});
  owners_.resize(n);
  nodes_.assign(nodes.begin(), nodes.begin() + static_cast<std::ptrdiff_t>(n));
  weights_.reserve(n);
  counts_.reserve(n);
  uint32_t max_node = 0;
  for (size_t i = 0; i < n; ++i) {
    weights_.push_back(std::max(weights[i], 0));
    if (!owners_[i]) {
      owners_[i] = std::make_shared<NodeConnCount>();  // no registry: a private count
    }
    counts_.push_back(owners_[i].get());
    max_node = std::max(max_node, nodes_[i]);
  }
  position_.assign(n == 0 ? 0 : size_t{max_node} + 1, kNotHere);
  for (size_t i = 0; i < n; ++i) {
    position_[nodes_[i]] = static_cast<uint32_t>(i);
  }
}

bool LeastConn::release(uint32_t node) const {
  NodeConnCount* count = counter_of(node);
  if (count == nullptr) {
    return false;
  }
  // Never below 0: APISIX floors the count too, so one stray release cannot make a node look
  // permanently idle.
  int64_t current = count->active.load(std::memory_order_relaxed);
  while (current > 0) {
    if (count->active.compare_exchange_weak(current, current - 1, std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

int64_t LeastConn::active(uint32_t node) const {
  NodeConnCount* count = counter_of(node);
  return count == nullptr ? 0 : count->active.load(std::memory_order_relaxed);
}

}  // namespace apisix::upstream
