#pragma once
// Least connections for the `least_conn` balancer (core.md §7.5): the node with the lowest
// score (1 + in-flight requests) / weight wins; weight 0 scores infinity, so such a node is
// picked only when every other candidate also has weight 0.
//
// The in-flight counts are shared by ALL worker threads (APISIX counts per nginx worker; a
// process-wide count balances better and costs one relaxed atomic add per pick and release).
// They live outside the immutable snapshot: each node's count is a NodeConnCount owned through
// shared_ptr by every snapshot whose balancer has that node, and handed out by the upstream's
// LeastConnCounters registry, so a rebuilt balancer for the same upstream (unrelated change,
// scaling, health flip) sees the connections routed by the previous one, and requests still
// running on an old snapshot release into the same count (APISIX #12217).
//
// Threads: NodeConnCount — every worker (pick and release), relaxed atomics; the control thread
// only creates it. NodeStateRegistry / LeastConnCounters — the control thread (snapshot builder)
// only; a mutex makes a stray call from elsewhere safe. LeastConn — immutable after
// construction, used by all workers; the cursor it is given is per worker.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "upstream/roundrobin.h"

namespace apisix::upstream {

// Hands out one shared T per node address ("host:port"), the same object for as long as any
// holder keeps it alive; once nobody holds it the next request makes a fresh one. This is the
// lifetime APISIX gives its least_conn state (a weak table): the state survives for as long as
// something can still use it, with no size to tune.
template <typename T>
class NodeStateRegistry {
 public:
  std::shared_ptr<T> get(std::string_view address) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_address_.find(address);
    if (it != by_address_.end()) {
      if (std::shared_ptr<T> live = it->second.lock()) {
        return live;
      }
    }
    if (by_address_.size() >= prune_at_) {
      prune_locked();
    }
    auto made = std::make_shared<T>();
    if (it != by_address_.end()) {
      it->second = made;
    } else {
      by_address_.emplace(std::string(address), made);
    }
    return made;
  }

  size_t size_for_test() {
    std::lock_guard<std::mutex> lock(mu_);
    prune_locked();
    return by_address_.size();
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void prune_locked() {
    std::erase_if(by_address_, [](const auto& entry) { return entry.second.expired(); });
    prune_at_ = std::max<size_t>(64, by_address_.size() * 2);
  }

  std::mutex mu_;
  std::unordered_map<std::string, std::weak_ptr<T>, Hash, std::equal_to<>> by_address_;
  size_t prune_at_ = 64;
};

// In-flight requests on one node, counted across all workers. One cache line each, so that
// workers counting on different nodes do not contend.
struct alignas(64) NodeConnCount {
  std::atomic<int64_t> active{0};
};

// The counters of one upstream (keyed by node address). The gateway keeps one per upstream
// identity (the `key` of its CompiledUpstream) and passes it to every balancer it builds for
// that upstream, e.g. by taking it from the previous snapshot's balancer.
using LeastConnCounters = NodeStateRegistry<NodeConnCount>;

// Per-worker position where a least_conn scan starts. Ties (equal scores) go to the first node
// from there, and the position moves on after each pick, so idle equal nodes take turns.
struct LeastConnCursor {
  uint32_t next = 0;
};

class LeastConn {
 public:
  LeastConn() = default;
  // `nodes` are node indices of the upstream, `weights` their weights, `counters` their
  // in-flight counts (usually from LeastConnCounters::get(address)); all the same length.
  LeastConn(std::span<const uint32_t> nodes, std::span<const int> weights,
            std::vector<std::shared_ptr<NodeConnCount>> counters);

  // The non-excluded node with the lowest score, whose count it increments; -1 when every node
  // is excluded. Several workers may pick at once and see the same counts; the heuristic
  // tolerates that, the counts stay exact.
  template <typename Excluded>
  int64_t pick_excluding(LeastConnCursor& cursor, Excluded&& is_excluded) const;
  int64_t pick(LeastConnCursor& cursor, const TriedSet& tried) const {
    return pick_excluding(cursor, [&tried](uint32_t node) { return tried.contains(node); });
  }

  // The request to `node` (from pick()) ended, or is about to be retried elsewhere. Returns
  // false, changing nothing, when `node` is not in this balancer or its count is already 0 (a
  // release without a pick: the caller's bug, worth logging).
  [[nodiscard]] bool release(uint32_t node) const;

  // The current in-flight count of `node` (0 when unknown); for metrics and tests.
  int64_t active(uint32_t node) const;
  const std::vector<uint32_t>& nodes() const { return nodes_; }

 private:
  static constexpr uint32_t kNotHere = UINT32_MAX;
  NodeConnCount* counter_of(uint32_t node) const {
    return node < position_.size() && position_[node] != kNotHere ? counts_[position_[node]]
                                                                  : nullptr;
  }

  std::vector<uint32_t> nodes_;
  std::vector<int64_t> weights_;
  std::vector<NodeConnCount*> counts_;  // owned through owners_
  std::vector<std::shared_ptr<NodeConnCount>> owners_;
  std::vector<uint32_t> position_;  // node index -> position in nodes_, or kNotHere
};

template <typename Excluded>
int64_t LeastConn::pick_excluding(LeastConnCursor& cursor, Excluded&& is_excluded) const {
  size_t n = nodes_.size();
  if (n == 0) {
    return -1;
  }
  size_t start = cursor.next % n;
  int64_t best = -1;
  int64_t best_load = 0;    // 1 + active of the best so far
  int64_t best_weight = 0;  // its weight; 0 = infinite score
  for (size_t step = 0; step < n; ++step) {
    size_t i = start + step;
    if (i >= n) {
      i -= n;
    }
    if (is_excluded(nodes_[i])) {
      continue;
    }
    int64_t load = 1 + counts_[i]->active.load(std::memory_order_relaxed);
    int64_t weight = weights_[i];
    bool better;
    if (best < 0) {
      better = true;
    } else if (weight == 0) {
      better = false;
    } else if (best_weight == 0) {
      better = true;
    } else {
      // load / weight < best_load / best_weight, without division.
      better = load * best_weight < best_load * weight;
    }
    if (better) {
      best = static_cast<int64_t>(i);
      best_load = load;
      best_weight = weight;
    }
  }
  if (best < 0) {
    return -1;
  }
  cursor.next = static_cast<uint32_t>((static_cast<size_t>(best) + 1) % n);
  counts_[best]->active.fetch_add(1, std::memory_order_relaxed);
  return nodes_[best];
}

}  // namespace apisix::upstream
