#pragma once
// The leaky bucket of limit-req's `local` policy (plugins.md §5.3), kept as runtime state
// outside the snapshots (STYLE.md §2); stores are handed out per plugin instance identity by
// BucketRegistry (plugins.md §0.6).
//
// Semantics, as lua-resty-limit-traffic `resty.limit.req` implements them (used by
// apisix/plugins/limit-req.lua with commit = true). rate and burst are kept in thousandths of
// a request; the state of a key is {excess (thousandths, stored as an unsigned integer, so
// truncated), last (milliseconds)}:
//  - no state: excess = 0, admitted without delay;
//  - otherwise excess = max(stored excess - rate * |now - last| / 1000 + 1000, 0); if
//    excess > burst the request is rejected and the state is left alone; else the state
//    becomes {excess, now}.
//  - An admitted request gets delay = excess / rate seconds (from the untruncated excess).
//    The plugin sleeps that long when delay >= 1 ms and `nodelay` is false.
// With a frozen clock a key admits 1 + floor(burst) requests, then rejects.
//
// Threads: worker threads call incoming() on the request path; the control thread calls
// sweep() from a timer. Shards of mutex + hash map; one call holds one shard's mutex for one
// lookup and a few arithmetic operations (APISIX's get-then-set is not atomic across nginx
// workers; here it is). A key whose excess has drained to nothing behaves exactly like a
// missing key, so sweep() drops those, and a shard sweeps itself whenever it has doubled in
// size since its last sweep.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "plugins/limit_count/local_counter.h"

namespace apisix::plugins::limit_req {

using ClockFn = std::function<std::chrono::steady_clock::time_point()>;

// The outcome of one incoming() call. Each value says what the plugin does next.
struct ReqResult {
  // true: answer rejected_code; false: continue, after the delay unless `nodelay`.
  bool rejected = false;
  // Seconds the request should be held (excess / rate); 0 when rejected.
  double delay_seconds = 0;
  // Requests in excess of the rate, queued before this one (the library's second value).
  double excess = 0;

  // Whether limit-req holds the request: delay >= 0.001 and not nodelay.
  bool should_delay(bool nodelay) const { return !rejected && !nodelay && delay_seconds >= 0.001; }
};

// The buckets of one limit-req plugin instance: one `rate` (requests per second, > 0) and
// `burst` (>= 0) for all its keys. Shared by all workers; owned by the snapshots using it.
class LeakyBucket {
 public:
  LeakyBucket(double rate, double burst, ClockFn clock = {});
  LeakyBucket(const LeakyBucket&) = delete;
  LeakyBucket& operator=(const LeakyBucket&) = delete;

  ReqResult incoming(std::string_view key);

  // Drops keys that have drained (they would behave as missing); returns how many.
  size_t sweep();
  size_t size() const;

 private:
  struct Entry {
    uint64_t excess = 0;  // thousandths of a request, truncated as the library's C struct
    int64_t last_ms = 0;
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
  // The excess a request arriving at now_ms would have, before the burst check.
  double leaked_excess(const Entry& entry, int64_t now_ms) const;
  size_t sweep_locked(Shard& shard, int64_t now_ms) const;

  double rate_;   // thousandths of a request per second
  double burst_;  // thousandths of a request
  ClockFn clock_;
  std::array<Shard, kShards> shards_;
};

// One LeakyBucket per limit-req plugin instance identity (limit_count::instance_identity);
// get_or_create(identity, rate, burst, clock).
using BucketRegistry = limit_count::StoreRegistry<LeakyBucket>;

}  // namespace apisix::plugins::limit_req
