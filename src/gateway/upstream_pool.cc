#include "gateway/upstream_pool.h"

namespace apisix::gateway {

PooledConnection UpstreamPool::take(std::string_view key, core::TimePoint now,
                                    const PoolSettings& settings) {
  auto it = idle_.find(key);
  if (it == idle_.end()) {
    return {};
  }
  auto& list = it->second;
  while (!list.empty()) {
    Idle idle = std::move(list.back());  // most recently used first: warmest connection
    list.pop_back();
    if (idle.expires <= now || !idle.conn.stream.is_idle_usable()) {
      continue;
    }
    return std::move(idle.conn);
  }
  return {};
}

void UpstreamPool::put(std::string_view key, PooledConnection conn, core::TimePoint now,
                       const PoolSettings& settings) {
  if (conn.requests >= settings.requests || settings.size == 0) {
    return;
  }
  auto it = idle_.find(key);
  if (it == idle_.end()) {
    it = idle_.emplace(std::string(key), std::vector<Idle>{}).first;
  }
  auto& list = it->second;
  if (list.size() >= settings.size) {
    list.erase(list.begin());  // drop the coldest (rare: only when the pool is full)
  }
  list.push_back(Idle{std::move(conn), now + settings.idle_timeout});
}

void UpstreamPool::sweep(core::TimePoint now) {
  for (auto& [key, list] : idle_) {
    std::erase_if(list, [now](const Idle& idle) {
      return idle.expires <= now || !idle.conn.stream.is_idle_usable();
    });
  }
}

void UpstreamPool::clear() { idle_.clear(); }

size_t UpstreamPool::idle_count() const {
  size_t n = 0;
  for (const auto& [key, list] : idle_) {
    n += list.size();
  }
  return n;
}

}  // namespace apisix::gateway
