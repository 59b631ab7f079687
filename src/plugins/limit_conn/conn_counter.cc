#include "plugins/limit_conn/conn_counter.h"

namespace apisix::plugins::limit_conn {

ConnResult ConnCounter::incoming(std::string_view key, int64_t conn, int64_t burst,
                                 double default_conn_delay) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);

  auto it = shard.map.find(key);
  const int64_t n = (it == shard.map.end() ? 0 : it->second) + 1;
  ConnResult result;
  if (n > conn + burst) {
    result.rejected = true;
    return result;
  }
  if (it == shard.map.end()) {
    shard.map.emplace(std::string(key), n);
  } else {
    it->second = n;
  }
  result.in_flight = n;
  if (n > conn) {
    result.delay_seconds = default_conn_delay * static_cast<double>((n - 1) / conn);
  }
  return result;
}

std::optional<int64_t> ConnCounter::leaving(std::string_view key) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.map.find(key);
  if (it == shard.map.end()) {
    return std::nullopt;
  }
  const int64_t n = --it->second;
  if (n <= 0) {
    shard.map.erase(it);
  }
  return n;
}

int64_t ConnCounter::in_flight(std::string_view key) const {
  const Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.map.find(key);
  return it == shard.map.end() ? 0 : it->second;
}

size_t ConnCounter::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    n += shard.map.size();
  }
  return n;
}

}  // namespace apisix::plugins::limit_conn
