#pragma once
// The fixed-window counters of limit-count's `redis` policy (plugins.md §5.2), shared by every
// gateway process that talks to the same Redis: one Redis key per counter key, updated by one
// Lua script so that reading the TTL and counting are a single atomic step.
//
// Semantics, as APISIX implements them (apisix/plugins/limit-count/limit-count-redis.lua and
// util.lua's `redis_incoming` with its commit script):
//  - The Redis key is "plugin-limit-count:v1:<key>": the plugin name, the counter storage
//    format version ("v1": the key holds the consumed count) and the caller's counter key.
//  - The script receives KEYS[1] = that key and ARGV = count, time_window (s), cost. It fails
//    when cost < 0. When the key has no TTL (absent, or somehow left without expiry) it sets
//    the key to cost with a TTL of time_window seconds and answers {cost, time_window*1000};
//    otherwise it INCRBYs the key by cost and answers {new value, PTTL}. So a window starts
//    with the first request that finds no live key, is not aligned to the clock, and every
//    request counts, rejected ones included.
//  - remaining = count - consumed; remaining < 0 -> rejected (reported here with remaining
//    0); reset = the answered TTL in milliseconds in both cases (a fresh window reports
//    exactly time_window). The plugin prints it floored to hundredths (reset_seconds()).
//  - A failure (no connection, timeout, an error reply, an unexpected reply) is an error
//    Result; whether the request then passes (allow_degradation) is the caller's decision.
//    Nothing is retried: INCRBY is not idempotent.
//
// The sliding window (`window_type: "sliding"`, sliding_window.h) keeps one Redis key per
// counter key and window, "plugin-limit-count:<key>.<window id>.counter", with a TTL of two
// windows. The previous window's count is read with GET (it no longer changes), then one
// script decides and increments the current window's counter only when the request is
// admitted; both touch a single key each, as Redis Cluster would need.
//
// Threads: one RedisCounter per RedisClient, used on that client's loop only.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/task.h"
#include "plugins/limit_count/local_counter.h"
#include "redis/client.h"

namespace apisix::plugins::limit_count {

class RedisCounter {
 public:
  explicit RedisCounter(redis::RedisClient& client);

  // Counts `cost` (1 per request; 0 consumes nothing; negative fails) against `key` with
  // `count` requests per `window`. count and window must be positive.
  core::Task<Result<CountResult>> incoming(std::string key, int64_t count,
                                           std::chrono::seconds window, int64_t cost = 1);

  // The sliding-window decision for `key` at wall-clock time `now` (windows aligned to the
  // epoch), with `count` requests per `window`.
  core::Task<Result<CountResult>> incoming_sliding(std::string key, int64_t count,
                                                   std::chrono::seconds window,
                                                   std::chrono::system_clock::time_point now,
                                                   int64_t cost = 1);

  // The Redis key that holds the counter of `key`.
  static std::string redis_key(std::string_view key);
  // The Redis key of `key`'s sliding-window counter for window `window_id`.
  static std::string sliding_key(std::string_view key, int64_t window_id);

 private:
  redis::RedisClient& client_;
};

}  // namespace apisix::plugins::limit_count
