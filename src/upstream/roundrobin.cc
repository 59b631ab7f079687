#include "upstream/roundrobin.h"

#include <algorithm>

namespace apisix::upstream {

bool TriedSet::contains_slow(uint32_t node) const {
  return std::find(more_.begin(), more_.end(), node) != more_.end();
}

RoundRobin::RoundRobin(std::vector<uint32_t> nodes, std::vector<int> weights)
    : nodes_(std::move(nodes)), weights_(std::move(weights)) {}

int64_t RoundRobin::pick(RoundRobinState& state, const TriedSet& tried) const {
  size_t n = nodes_.size();
  if (n == 1) {
    return tried.contains(nodes_[0]) ? -1 : static_cast<int64_t>(nodes_[0]);
  }
  if (state.current.size() != n) {
    state.current.assign(n, 0);
  }
  int64_t total = 0;
  int64_t best = -1;
  for (size_t i = 0; i < n; ++i) {
    if (tried.contains(nodes_[i]) || weights_[i] <= 0) {
      continue;
    }
    state.current[i] += weights_[i];
    total += weights_[i];
    if (best < 0 || state.current[i] > state.current[best]) {
      best = static_cast<int64_t>(i);
    }
  }
  if (best < 0) {
    // Only weight-0 nodes remain untried: plain rotation among them.
    for (size_t step = 0; step < n; ++step) {
      size_t i =
          (static_cast<size_t>(state.current.empty() ? 0 : state.current[0] & 0xffff) + step) % n;
      if (!tried.contains(nodes_[i])) {
        return nodes_[i];
      }
    }
    return -1;
  }
  state.current[best] -= total;
  return nodes_[best];
}

}  // namespace apisix::upstream
