#pragma once
// The sliding-window counters of limit-count (`window_type: "sliding"`, plugins.md §5.2) for
// the `local` policy, kept as runtime state outside the snapshots like LocalCounter, and the
// decision rule that the local store and the Redis store (redis_counter.h) share.
//
// Semantics, as APISIX implements them (apisix/plugins/limit-count/sliding-window/*):
//  - Windows are aligned to multiples of time_window since the epoch (wall clock, millisecond
//    resolution): window id = floor(now / time_window). Each (key, window id) has a counter
//    that lives at least until the end of the next window.
//  - With `cur` the current window's count, `last` the previous window's (capped at count) and
//    `left` the time left in the current window, the estimate is
//    cur + last * left / time_window. A request is admitted iff cur < count and the estimate
//    < count; only admitted requests add their cost.
//  - Admitted: remaining = floor(count - new cur - last * left / time_window) (it may be -1),
//    reset = left rounded up to hundredths of a second.
//  - Rejected with cur >= count: reset = left, rounded up; otherwise (the previous window's
//    share is what is too much) reset = the time until enough of it has decayed,
//    left - (count - cur) / (last / time_window), at least 0, rounded up.
//
// Threads: worker threads call incoming(); sweep() may run on any thread. Shards of mutex +
// hash map as in LocalCounter; a key keeps {window id, current, previous} so one lookup
// serves both windows. A key whose windows are both over behaves as missing and is swept.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "plugins/limit_count/local_counter.h"

namespace apisix::plugins::limit_count {

// The wall clock (windows are aligned to the epoch); tests inject a fake one.
using WallClockFn = std::function<std::chrono::system_clock::time_point()>;

// The decision of one sliding-window request, from the counts a store read (`current` is the
// count after the increment when admitted, else before). `left_ms`: time left in the window.
CountResult sliding_outcome(bool admitted, int64_t current, int64_t last, int64_t limit,
                            int64_t window_ms, int64_t left_ms);

class SlidingWindowCounter {
 public:
  explicit SlidingWindowCounter(WallClockFn clock = {});
  SlidingWindowCounter(const SlidingWindowCounter&) = delete;
  SlidingWindowCounter& operator=(const SlidingWindowCounter&) = delete;

  // Counts `cost` against `key` with `count` requests per sliding `time_window` (both > 0).
  CountResult incoming(std::string_view key, int64_t count, std::chrono::seconds time_window,
                       int64_t cost = 1);

  // Drops keys whose current and previous windows are both over; returns how many.
  size_t sweep();
  size_t size() const;

 private:
  struct Entry {
    int64_t window_ms = 0;
    int64_t window_id = 0;
    int64_t current = 0;   // count of window_id
    int64_t previous = 0;  // count of window_id - 1
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, Entry, StringHash, std::equal_to<>>;
  struct Shard {
    mutable std::mutex mutex;
    Map map;
    size_t sweep_at = kMinSweepSize;
  };
  static constexpr size_t kShards = 32;
  static constexpr size_t kMinSweepSize = 1024;

  int64_t now_ms() const;
  static size_t sweep_locked(Shard& shard, int64_t now_ms);

  WallClockFn clock_;
  std::array<Shard, kShards> shards_;
};

}  // namespace apisix::plugins::limit_count
