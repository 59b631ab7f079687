#pragma once
// UpstreamPool: one worker's idle keep-alive connections to upstream nodes, per pool key
// (scheme#host#port, core.md §7.9). Owned by a Worker; used only on its thread. A connection
// comes back only after its response was read to the end; one that became readable while
// idle (the node closed it or sent junk) is never handed out.

#include <string>
#include <string_view>
#include <vector>

#include "core/socket.h"
#include "gateway/settings.h"
#include "router/route_table.h"

namespace apisix::gateway {

struct PooledConnection {
  core::Socket socket;
  uint32_t requests = 0;  // requests served on this connection so far
};

class UpstreamPool {
 public:
  // An idle, healthy connection for `key`, or a closed socket when none is available.
  PooledConnection take(std::string_view key, core::TimePoint now, const PoolSettings& settings);
  // Keeps `conn` for reuse unless the pool for `key` is full or it served its last request.
  void put(std::string_view key, PooledConnection conn, core::TimePoint now,
           const PoolSettings& settings);
  // Closes connections idle for longer than their pool's idle timeout.
  void sweep(core::TimePoint now);
  void clear();
  size_t idle_count() const;

 private:
  struct Idle {
    PooledConnection conn;
    core::TimePoint expires;
  };
  router::StringMap<std::vector<Idle>> idle_;  // oldest first
};

}  // namespace apisix::gateway
