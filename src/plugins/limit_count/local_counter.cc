#include "plugins/limit_count/local_counter.h"

namespace apisix::plugins::limit_count {

LocalCounter::LocalCounter(ClockFn clock) : clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = [] { return std::chrono::steady_clock::now(); };
  }
}

int64_t LocalCounter::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_().time_since_epoch()).count();
}

CountResult LocalCounter::incoming(std::string_view key, int64_t count,
                                   std::chrono::seconds time_window, int64_t cost) {
  const int64_t now = now_ms();
  const int64_t window_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(time_window).count();
  Shard& shard = shard_for(StringHash{}(key));
  std::lock_guard lock(shard.mutex);

  // incr(key, cost, 0, time_window): a missing or expired counter starts at 0 with a new TTL.
  auto it = shard.map.find(key);
  if (it == shard.map.end()) {
    if (shard.map.size() >= shard.sweep_at) {
      sweep_locked(shard, now);
      shard.sweep_at = std::max(kMinSweepSize, 2 * shard.map.size());
    }
    it = shard.map.emplace(std::string(key), Entry{}).first;
    it->second.expires_ms = now + window_ms;
  } else if (now > it->second.expires_ms) {
    it->second.consumed = 0;
    it->second.expires_ms = now + window_ms;
  }
  Entry& entry = it->second;
  entry.consumed += cost;

  CountResult result;
  if (entry.consumed > count) {
    result.rejected = true;
    result.remaining = 0;
  } else {
    result.remaining = count - entry.consumed;
  }
  // limit-count-local.lua compares the remaining count (or the string "rejected") with
  // count - cost: only an admitted first request of a window restarts the reset end.
  if (!result.rejected && entry.consumed == cost) {
    entry.reset_end_ms = now + window_ms;
    result.reset = std::chrono::milliseconds(window_ms);
  } else {
    result.reset = std::chrono::milliseconds(std::max<int64_t>(entry.reset_end_ms - now, 0));
  }
  return result;
}

CountResult LocalCounter::peek(std::string_view key, int64_t count,
                               std::chrono::seconds time_window) {
  const int64_t now = now_ms();
  const int64_t window_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(time_window).count();
  Shard& shard = shard_for(StringHash{}(key));
  std::lock_guard lock(shard.mutex);

  auto it = shard.map.find(key);
  const bool live = it != shard.map.end() && now <= it->second.expires_ms;
  const int64_t consumed = live ? it->second.consumed : 0;

  CountResult result;
  if (consumed > count) {
    result.rejected = true;
    result.remaining = 0;
  } else {
    result.remaining = count - consumed;
  }
  if (!result.rejected && consumed == 0) {
    // APISIX writes the reset end here even though nothing is consumed. For a missing key it
    // is unobservable (the next committed request restarts it), so only a live 0 keeps it.
    if (live) {
      it->second.reset_end_ms = now + window_ms;
    }
    result.reset = std::chrono::milliseconds(window_ms);
  } else {
    result.reset = std::chrono::milliseconds(std::max<int64_t>(it->second.reset_end_ms - now, 0));
  }
  return result;
}

size_t LocalCounter::sweep_locked(Shard& shard, int64_t now_ms) {
  return std::erase_if(shard.map,
                       [now_ms](const auto& kv) { return now_ms > kv.second.expires_ms; });
}

size_t LocalCounter::sweep() {
  const int64_t now = now_ms();
  size_t dropped = 0;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    dropped += sweep_locked(shard, now);
  }
  return dropped;
}

size_t LocalCounter::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    n += shard.map.size();
  }
  return n;
}

std::string instance_identity(std::string_view resource_key, std::string_view conf_version) {
  std::string identity = "i:";
  identity.append(resource_key).append(":").append(conf_version);
  return identity;
}

std::string group_identity(std::string_view group) {
  std::string identity = "g:";
  identity.append(group);
  return identity;
}

}  // namespace apisix::plugins::limit_count
