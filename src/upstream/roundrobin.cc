#include "upstream/roundrobin.h"

#include <algorithm>

namespace apisix::upstream {

bool TriedSet::contains_slow(uint32_t node) const {
  return std::find(more_.begin(), more_.end(), node) != more_.end();
}

RoundRobin::RoundRobin(std::vector<uint32_t> nodes, std::vector<int> weights)
    : nodes_(std::move(nodes)), weights_(std::move(weights)) {}

int64_t RoundRobin::pick(RoundRobinState& state, const TriedSet& tried) const {
  return pick_excluding(state, [&tried](uint32_t node) { return tried.contains(node); });
}

}  // namespace apisix::upstream
