#pragma once
// In-flight request counters of limit-conn's `local` policy (plugins.md §5.4), kept as runtime
// state outside the snapshots (STYLE.md §2); stores are handed out per plugin instance
// identity by ConnRegistry (plugins.md §0.6).
//
// Semantics, as lua-resty-limit-traffic `resty.limit.conn` implements them (used by
// apisix/plugins/limit-conn/init.lua with commit = true; conn and burst may come from
// per-request templates, so they are arguments of each call):
//  - incoming: n = in-flight + 1. n > conn + burst -> rejected, the count is unchanged (the
//    library increments and decrements back; here the check and the increment are one step,
//    so a racing request never sees the transient excess). Otherwise the count is n, and
//    n > conn -> delay = default_conn_delay * floor((n - 1) / conn) seconds, else 0.
//  - leaving (log phase, for each admitted request): the count drops by one.
//  - The library also averages the request latency into its per-object delay
//    ((latency + delay) / 2) unless only_use_default_delay, but APISIX builds a new limiter
//    object for every request, so that average never reaches another request: delays always
//    come from default_conn_delay, and leaving() needs no latency.
//  - A count of 0 behaves as a missing key, so it is erased: no expiry is needed.
//
// Threads: worker threads call incoming() and leaving() (a request may leave on the worker it
// entered on only, but other requests on other workers share the key). Shards of mutex + hash
// map; one call holds one shard's mutex for one lookup and an increment.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "plugins/limit_count/local_counter.h"

namespace apisix::plugins::limit_conn {

// The outcome of one incoming() call. Each value says what the plugin does next.
struct ConnResult {
  // true: answer rejected_code, nothing to release; false: continue after the delay, and
  // call leaving() in the log phase.
  bool rejected = false;
  // Seconds to hold the request (the plugin sleeps when >= 1 ms); 0 when rejected.
  double delay_seconds = 0;
  // In-flight requests for the key, this one included (when admitted).
  int64_t in_flight = 0;
};

// The in-flight counts of one limit-conn plugin instance. Shared by all workers; owned by the
// snapshots using it (and, through them, by the requests still to leave).
class ConnCounter {
 public:
  ConnCounter() = default;
  ConnCounter(const ConnCounter&) = delete;
  ConnCounter& operator=(const ConnCounter&) = delete;

  // conn > 0, burst >= 0, default_conn_delay > 0 (seconds).
  ConnResult incoming(std::string_view key, int64_t conn, int64_t burst, double default_conn_delay);
  // Releases one admitted request; returns the remaining in-flight count, or nullopt when
  // the key had none (a caller bug; APISIX logs "failed to record the connection leaving").
  std::optional<int64_t> leaving(std::string_view key);

  int64_t in_flight(std::string_view key) const;
  size_t size() const;  // keys with requests in flight

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>>;
  struct Shard {
    mutable std::mutex mutex;
    Map map;
  };
  static constexpr size_t kShards = 32;

  Shard& shard_for(std::string_view key) { return shards_[StringHash{}(key) % kShards]; }
  const Shard& shard_for(std::string_view key) const {
    return shards_[StringHash{}(key) % kShards];
  }

  std::array<Shard, kShards> shards_;
};

// One ConnCounter per limit-conn plugin instance identity (limit_count::instance_identity).
using ConnRegistry = limit_count::StoreRegistry<ConnCounter>;

}  // namespace apisix::plugins::limit_conn
