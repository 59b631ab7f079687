#pragma once
// Fixed-window request counters of limit-count's `local` policy (plugins.md §5.2), kept as
// runtime state outside the immutable snapshots so that an unrelated config change does not
// reset them (STYLE.md §2), and the registry that hands out one counter store per plugin
// instance identity (plugins.md §0.6).
//
// Semantics, as APISIX implements them (apisix/plugins/limit-count/limit-count-local.lua on
// top of lua-resty-limit-traffic 1.x `resty.limit.count`, whose counter is a shared-dict
// number updated with `incr(key, cost, 0, time_window)`):
//  - A key's window starts with the first request that finds no live counter and lasts
//    `time_window` seconds; it is not aligned to the clock. The counter lives while
//    now <= start + time_window (a shared-dict entry expires only once its TTL is strictly
//    past, at millisecond resolution); the next request after that starts a new window.
//  - Every committed request adds its cost, rejected ones included, so a client that keeps
//    knocking stays rejected until the window ends. consumed > count -> rejected, otherwise
//    remaining = count - consumed.
//  - The reset time lives in a second entry ("-reset-header" dict): whenever a request leaves
//    remaining == count - cost (the first request of a window), the window's end is set to
//    now + time_window and reset = time_window; otherwise (rejections included) reset = the
//    stored end - now, at least 0. The plugin prints it floored to hundredths of a second.
//  - count and time_window may come from per-request templates, so they are arguments of each
//    call, not of the store; the store only groups the keys of one identity.
//
// Threads: worker threads call incoming()/peek() on the request path; the control thread
// calls sweep() from a timer and the registry while it builds snapshots. A store is a fixed
// array of shards, each a mutex and a hash map; one call holds one shard's mutex for one
// lookup and a few arithmetic operations. Expired keys are dropped by sweep() and, so that
// memory stays bounded without the timer, by a shard itself whenever it has doubled in size
// since its last sweep (amortised constant cost).

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace apisix::plugins::limit_count {

// The time source; tests inject a fake one. Millisecond resolution is used (as ngx.now()).
using ClockFn = std::function<std::chrono::steady_clock::time_point()>;

// The outcome of one incoming() call. Each value says what the plugin does next.
struct CountResult {
  // true: answer rejected_code, with X-RateLimit-Remaining 0; false: continue.
  bool rejected = false;
  // count - consumed when admitted; 0 when rejected.
  int64_t remaining = 0;
  // Time until the window's end as APISIX computes it (see the file comment).
  std::chrono::milliseconds reset{0};

  // The X-RateLimit-Reset value: seconds floored to hundredths, as the plugin prints it.
  double reset_seconds() const { return static_cast<double>(reset.count() / 10) / 100.0; }
};

// The counters of one plugin instance identity (or one `group`), shared by all workers.
// Owned by the snapshots that use it (shared_ptr), handed out by CounterRegistry.
class LocalCounter {
 public:
  explicit LocalCounter(ClockFn clock = {});
  LocalCounter(const LocalCounter&) = delete;
  LocalCounter& operator=(const LocalCounter&) = delete;

  // Counts `cost` (1 per request; 0 or negative are allowed, as in the library) against `key`
  // with `count` requests per `time_window`. count and time_window must be positive.
  CountResult incoming(std::string_view key, int64_t count, std::chrono::seconds time_window,
                       int64_t cost = 1);

  // APISIX's dry run (`incoming(key, false, conf, 0)`): reports remaining and reset without
  // consuming anything. Like APISIX, a key whose counter is 0 gets its reset end restarted.
  // The caller rejects when remaining < its cost.
  CountResult peek(std::string_view key, int64_t count, std::chrono::seconds time_window);

  // Drops the keys whose window has ended (unobservable: they count as absent). Returns how
  // many were dropped. Control thread, from a timer.
  size_t sweep();
  // Keys held, expired ones not yet swept included.
  size_t size() const;

 private:
  struct Entry {
    int64_t consumed = 0;
    int64_t expires_ms = 0;    // the counter lives while now_ms <= expires_ms
    int64_t reset_end_ms = 0;  // the "-reset-header" entry: end of the window as last set
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
  Shard& shard_for(size_t hash) { return shards_[hash % kShards]; }
  // Erases the shard's expired entries; the caller holds its mutex.
  static size_t sweep_locked(Shard& shard, int64_t now_ms);

  ClockFn clock_;
  std::array<Shard, kShards> shards_;
};

// Hands out one store per identity, the same one across snapshot rebuilds for as long as a
// snapshot holds it, so counters survive unrelated config changes; a changed plugin
// configuration is a new identity (new conf version), hence fresh counters. The registry
// holds stores weakly: a store dies with the last snapshot using it (on whichever thread
// releases that snapshot), and its identity is forgotten by prune() or a later build.
// (APISIX would still find the old keys in its shared dict until their TTL if the very same
// configuration came back; here it starts afresh once no snapshot held it.)
// Threads: the control thread while it builds snapshots; a mutex guards the map.
template <class Store>
class StoreRegistry {
 public:
  // The live store of `identity`, or a new Store(args...).
  template <class... Args>
  std::shared_ptr<Store> get_or_create(std::string_view identity, Args&&... args) {
    std::lock_guard lock(mutex_);
    auto it = stores_.find(identity);
    if (it != stores_.end()) {
      if (auto store = it->second.lock()) {
        return store;
      }
    }
    auto store = std::make_shared<Store>(std::forward<Args>(args)...);
    if (it != stores_.end()) {
      it->second = store;
    } else {
      stores_.emplace(std::string(identity), store);
    }
    if (stores_.size() >= prune_at_) {
      prune_locked();
      prune_at_ = std::max(kMinPruneSize, 2 * stores_.size());
    }
    return store;
  }

  // Forgets identities whose store no snapshot holds any more; returns how many.
  size_t prune() {
    std::lock_guard lock(mutex_);
    return prune_locked();
  }

  // Identities whose store is still alive.
  size_t size() const {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto& [identity, store] : stores_) {
      n += store.expired() ? 0 : 1;
    }
    return n;
  }

 private:
  static constexpr size_t kMinPruneSize = 64;
  size_t prune_locked() {
    return std::erase_if(stores_, [](const auto& kv) { return kv.second.expired(); });
  }

  mutable std::mutex mutex_;
  std::map<std::string, std::weak_ptr<Store>, std::less<>> stores_;
  size_t prune_at_ = kMinPruneSize;
};

using CounterRegistry = StoreRegistry<LocalCounter>;

// Identity of a plugin instance (plugins.md §0.6): the resource key of the object carrying it
// and the conf version of its configuration.
std::string instance_identity(std::string_view resource_key, std::string_view conf_version);
// Identity of a limit-count `group`, shared by every instance naming it; never equal to an
// instance identity.
std::string group_identity(std::string_view group);

}  // namespace apisix::plugins::limit_count
