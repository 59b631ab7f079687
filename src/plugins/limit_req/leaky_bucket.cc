#include "plugins/limit_req/leaky_bucket.h"

#include <cmath>

namespace apisix::plugins::limit_req {

LeakyBucket::LeakyBucket(double rate, double burst, ClockFn clock)
    : rate_(rate * 1000), burst_(burst * 1000), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = [] { return std::chrono::steady_clock::now(); };
  }
}

int64_t LeakyBucket::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_().time_since_epoch()).count();
}

double LeakyBucket::leaked_excess(const Entry& entry, int64_t now_ms) const {
  const double elapsed_ms = std::abs(static_cast<double>(now_ms - entry.last_ms));
  return std::max(static_cast<double>(entry.excess) - rate_ * elapsed_ms / 1000 + 1000, 0.0);
}

ReqResult LeakyBucket::incoming(std::string_view key) {
  const int64_t now = now_ms();
  Shard& shard = shards_[StringHash{}(key) % kShards];
  std::lock_guard lock(shard.mutex);

  ReqResult result;
  double excess = 0;
  auto it = shard.map.find(key);
  if (it != shard.map.end()) {
    excess = leaked_excess(it->second, now);
    if (excess > burst_) {
      result.rejected = true;
      return result;
    }
  } else {
    if (shard.map.size() >= shard.sweep_at) {
      sweep_locked(shard, now);
      shard.sweep_at = std::max(kMinSweepSize, 2 * shard.map.size());
    }
    it = shard.map.emplace(std::string(key), Entry{}).first;
  }
  it->second.excess = static_cast<uint64_t>(excess);
  it->second.last_ms = now;
  result.delay_seconds = excess / rate_;
  result.excess = excess / 1000;
  return result;
}

size_t LeakyBucket::sweep_locked(Shard& shard, int64_t now_ms) const {
  // Drained: the next request would compute excess 0, exactly as for a missing key.
  return std::erase_if(shard.map, [&](const auto& kv) {
    const Entry& e = kv.second;
    const double elapsed_ms = static_cast<double>(now_ms - e.last_ms);
    return elapsed_ms >= 0 && static_cast<double>(e.excess) - rate_ * elapsed_ms / 1000 + 1000 <= 0;
  });
}

size_t LeakyBucket::sweep() {
  const int64_t now = now_ms();
  size_t dropped = 0;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    dropped += sweep_locked(shard, now);
  }
  return dropped;
}

size_t LeakyBucket::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    n += shard.map.size();
  }
  return n;
}

}  // namespace apisix::plugins::limit_req
