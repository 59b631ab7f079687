#pragma once
// Peak-EWMA latency balancing for the `ewma` balancer (core.md §7.5, APISIX
// apisix/balancer/ewma.lua): pick two distinct random candidates ("power of two choices") and
// take the one whose decayed latency average is lower. Node weights are ignored, as in APISIX.
//
// Each node's average lives in an EwmaNodeStats that all workers share (APISIX keeps it in a
// shared dict, keyed by "ip:port", for all workers and all upstreams); the gateway keeps one
// EwmaStatsRegistry for the process, so stats survive snapshot rebuilds and a node used by two
// upstreams has one average, as in APISIX.
//
// Threads: EwmaNodeStats — every worker reads it when picking and writes it when reporting a
// response (a seqlock over two atomics; readers never block, writers exclude each other with a
// short spin). EwmaStatsRegistry — the control thread (snapshot builder). Ewma — immutable after
// construction, used by all workers; EwmaRandom is per worker.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "upstream/least_conn.h"
#include "upstream/roundrobin.h"

namespace apisix::upstream {

using EwmaClock = std::chrono::steady_clock;

// The latency average of one node; see the file comment for threads.
class alignas(64) EwmaNodeStats {
 public:
  // APISIX's DECAY_TIME: the weight of the old average falls by e every 10 s.
  static constexpr std::chrono::seconds kDecayTime{10};
  // APISIX's SHM_TTL: an average not updated for 60 s is forgotten.
  static constexpr std::chrono::seconds kIdleExpiry{60};

  // The score used for picking, in seconds: the stored average decayed toward 0 by the time
  // since its last update; 0 for a node never reported or idle longer than kIdleExpiry (so
  // such a node attracts traffic until it is measured).
  double score(EwmaClock::time_point now) const;

  // Folds one response time into the average: avg * w + rtt * (1 - w), w = e^(-dt / 10 s), dt
  // the time since the last update. A first (or expired) average becomes rtt itself.
  void update(std::chrono::nanoseconds rtt, EwmaClock::time_point now);

 private:
  static constexpr int64_t kNever = INT64_MIN;
  struct Snapshot {
    double ewma;
    int64_t touched_ns;
  };
  Snapshot read() const;

  std::atomic<uint64_t> seq_{0};   // odd while a writer is updating
  std::atomic<double> ewma_{0.0};  // seconds
  std::atomic<int64_t> touched_ns_{kNever};
};

using EwmaStatsRegistry = NodeStateRegistry<EwmaNodeStats>;

// A worker's random source for the two choices (SplitMix64): cheap, and seedable in tests.
class EwmaRandom {
 public:
  explicit EwmaRandom(uint64_t seed = 0) : state_(seed) {}
  // Uniform in [0, n); n > 0.
  uint32_t below(uint32_t n) {
    return static_cast<uint32_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

 private:
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t state_;
};

class Ewma {
 public:
  Ewma() = default;
  // `nodes` are node indices of the upstream, `stats` their averages (usually from
  // EwmaStatsRegistry::get(address); null makes a private one); same length.
  Ewma(std::span<const uint32_t> nodes, std::vector<std::shared_ptr<EwmaNodeStats>> stats);

  // Two distinct random non-excluded nodes, the one with the lower score (the first drawn on a
  // tie); the only candidate when one is left; -1 when none is.
  template <typename Excluded>
  int64_t pick_excluding(EwmaRandom& random, EwmaClock::time_point now,
                         Excluded&& is_excluded) const;
  int64_t pick(EwmaRandom& random, EwmaClock::time_point now, const TriedSet& tried) const {
    return pick_excluding(random, now, [&tried](uint32_t node) { return tried.contains(node); });
  }

  // The response of `node` took `rtt` (connect time + response time, as APISIX's
  // upstream_connect_time + upstream_response_time). APISIX reports only the try that produced
  // the response; tries that failed before a retry are not reported. Returns false when `node`
  // is not in this balancer.
  bool report(uint32_t node, std::chrono::nanoseconds rtt, EwmaClock::time_point now) const;

  // The current score of `node` (0 when unknown); for metrics and tests.
  double score(uint32_t node, EwmaClock::time_point now) const;
  const std::vector<uint32_t>& nodes() const { return nodes_; }

 private:
  static constexpr uint32_t kNotHere = UINT32_MAX;
  EwmaNodeStats* stats_of(uint32_t node) const {
    return node < position_.size() && position_[node] != kNotHere ? stats_[position_[node]]
                                                                  : nullptr;
  }

  std::vector<uint32_t> nodes_;
  std::vector<EwmaNodeStats*> stats_;  // owned through owners_
  std::vector<std::shared_ptr<EwmaNodeStats>> owners_;
  std::vector<uint32_t> position_;  // node index -> position in nodes_, or kNotHere
};

template <typename Excluded>
int64_t Ewma::pick_excluding(EwmaRandom& random, EwmaClock::time_point now,
                             Excluded&& is_excluded) const {
  uint32_t n = static_cast<uint32_t>(nodes_.size());
  if (n == 0) {
    return -1;
  }
  size_t a = 0;
  size_t b = 0;
  bool drawn = false;
  if (n > 1) {
    // Usually nothing is excluded: draw among all and keep the pair if both are candidates.
    // Otherwise draw again among the candidates; either way the pair is uniform over them.
    a = random.below(n);
    b = random.below(n - 1);
    b += b >= a ? 1 : 0;
    drawn = !is_excluded(nodes_[a]) && !is_excluded(nodes_[b]);
  }
  if (!drawn) {
    uint32_t candidates = 0;
    size_t only = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!is_excluded(nodes_[i])) {
        ++candidates;
        only = i;
      }
    }
    if (candidates == 0) {
      return -1;
    }
    if (candidates == 1) {
      return nodes_[only];
    }
    uint32_t ra = random.below(candidates);
    uint32_t rb = random.below(candidates - 1);
    rb += rb >= ra ? 1 : 0;
    uint32_t seen = 0;
    for (size_t i = 0; i < n; ++i) {
      if (is_excluded(nodes_[i])) {
        continue;
      }
      if (seen == ra) {
        a = i;
      }
      if (seen == rb) {
        b = i;
      }
      ++seen;
    }
  }
  return stats_[a]->score(now) > stats_[b]->score(now) ? nodes_[b] : nodes_[a];
}

}  // namespace apisix::upstream
