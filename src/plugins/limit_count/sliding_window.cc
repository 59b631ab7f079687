#include "plugins/limit_count/sliding_window.h"

#include <algorithm>
#include <cmath>

namespace apisix::plugins::limit_count {

namespace {

// Milliseconds rounded up to hundredths of a second (APISIX's round_off_decimal_places(x, 2)
// rounds up).
std::chrono::milliseconds round_up_to_hundredths(double ms) {
  if (ms <= 0) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(ms / 10)) * 10);
}

}  // namespace

CountResult sliding_outcome(bool admitted, int64_t current, int64_t last, int64_t limit,
                            int64_t window_ms, int64_t left_ms) {
  last = std::min(last, limit);
  const double last_share = window_ms > 0
                                ? static_cast<double>(last) * static_cast<double>(left_ms) /
                                      static_cast<double>(window_ms)
                                : 0;
  CountResult result;
  if (admitted) {
    result.remaining =
        static_cast<int64_t>(std::floor(static_cast<double>(limit - current) - last_share));
    result.reset = round_up_to_hundredths(static_cast<double>(left_ms));
    return result;
  }
  result.rejected = true;
  result.remaining = 0;
  if (current >= limit || last <= 0) {
    result.reset = round_up_to_hundredths(static_cast<double>(left_ms));
  } else {
    // The time until the previous window's share has decayed enough for one more request.
    const double last_rate_per_ms = static_cast<double>(last) / static_cast<double>(window_ms);
    const double wait_ms =
        static_cast<double>(left_ms) - static_cast<double>(limit - current) / last_rate_per_ms;
    result.reset = round_up_to_hundredths(wait_ms);
  }
  return result;
}

SlidingWindowCounter::SlidingWindowCounter(WallClockFn clock) : clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = [] { return std::chrono::system_clock::now(); };
  }
}

int64_t SlidingWindowCounter::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_().time_since_epoch()).count();
}

CountResult SlidingWindowCounter::incoming(std::string_view key, int64_t count,
                                           std::chrono::seconds time_window, int64_t cost) {
  const int64_t now = now_ms();
  const int64_t window_ms = std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::milliseconds>(time_window).count());
  const int64_t window_id = now / window_ms;
  const int64_t left_ms = window_ms - now % window_ms;

  Shard& shard = shards_[StringHash{}(key) % kShards];
  std::lock_guard lock(shard.mutex);
  auto it = shard.map.find(key);
  if (it == shard.map.end()) {
    if (shard.map.size() >= shard.sweep_at) {
      sweep_locked(shard, now);
      shard.sweep_at = std::max(kMinSweepSize, 2 * shard.map.size());
    }
    it = shard.map.emplace(std::string(key), Entry{window_ms, window_id, 0, 0}).first;
  }
  Entry& entry = it->second;
  // Move the entry to the current window: the old current becomes the previous one when it
  // is the window just before; anything older counts as nothing.
  if (entry.window_ms != window_ms) {
    entry = Entry{window_ms, window_id, 0, 0};
  } else if (entry.window_id != window_id) {
    entry.previous = entry.window_id == window_id - 1 ? entry.current : 0;
    entry.current = 0;
    entry.window_id = window_id;
  }
  const int64_t last = std::min(entry.previous, count);
  const double estimated =
      static_cast<double>(last) * static_cast<double>(left_ms) / static_cast<double>(window_ms) +
      static_cast<double>(entry.current);
  if (entry.current >= count || estimated >= static_cast<double>(count)) {
    return sliding_outcome(false, entry.current, last, count, window_ms, left_ms);
  }
  entry.current += cost;
  return sliding_outcome(true, entry.current, last, count, window_ms, left_ms);
}

size_t SlidingWindowCounter::sweep_locked(Shard& shard, int64_t now_ms) {
  return std::erase_if(shard.map, [now_ms](const auto& kv) {
    const Entry& e = kv.second;
    return now_ms / e.window_ms > e.window_id + 1;
  });
}

size_t SlidingWindowCounter::sweep() {
  const int64_t now = now_ms();
  size_t dropped = 0;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    dropped += sweep_locked(shard, now);
  }
  return dropped;
}

size_t SlidingWindowCounter::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    n += shard.map.size();
  }
  return n;
}

}  // namespace apisix::plugins::limit_count
