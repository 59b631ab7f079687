#pragma once
// Worker: one thread with its own event loop, its own SO_REUSEPORT listeners, its own
// upstream pool and its own pointer to the current snapshot. Created and published to by the
// Server (control thread) through Loop::post; everything else runs on the worker's thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "core/loop.h"
#include "core/socket.h"
#include "gateway/access_log.h"
#include "gateway/snapshot.h"
#include "gateway/upstream_pool.h"
#include "redis/client.h"

namespace apisix::gateway {

// A snapshot pinned by the requests of one worker. The count is the worker's own (not
// atomic): a request pins the snapshot current at its start and keeps it until it ends.
struct SnapshotPin {
  std::shared_ptr<const Snapshot> snapshot;
  uint64_t users = 0;
};

// What a worker knows of one client connection, so a graceful quit can close idle ones.
struct SessionLink {
  core::IoState* io = nullptr;
  bool idle = false;  // waiting for the next request with nothing buffered
  SessionLink* prev = nullptr;
  SessionLink* next = nullptr;
};

struct Listener {
  int fd = -1;
  uint16_t port = 0;  // the local port, for X-Forwarded-Port
};

class Worker {
 public:
  // `access_log_fd` < 0: no access log. The fd stays owned by the caller.
  Worker(uint32_t id, std::vector<Listener> listeners, std::shared_ptr<const Snapshot> initial,
         int access_log_fd);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  void join();
  // Any thread: whether the worker's loop has ended.
  bool finished() const { return finished_.load(std::memory_order_acquire); }

  // Any thread: switch to `snapshot` for requests that start from now on.
  void publish(std::shared_ptr<const Snapshot> snapshot);
  // Any thread: stop accepting, finish in-flight requests (bounded by
  // worker_shutdown_timeout), then stop the loop.
  void quit();
  // Any thread: stop the loop now.
  void stop();

  // Connection and request counts for metrics (prometheus' node gauges): written by the
  // worker thread, read by any thread.
  struct Counters {
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> active{0};
    std::atomic<uint64_t> idle{0};  // waiting for the next request on a keep-alive connection
    std::atomic<uint64_t> requests{0};
  };
  Counters& counters() { return counters_; }
  const Counters& counters() const { return counters_; }

  // --- worker thread only ---
  uint32_t id() const { return id_; }
  core::Loop& loop() { return loop_; }
  UpstreamPool& pool() { return pool_; }
  AccessLog& access_log() { return access_log_; }
  // Redis clients of this worker (limit-count's redis policy), made on first use.
  redis::RedisClients& redis();
  bool draining() const { return draining_; }
  SnapshotPin* pin();
  void unpin(SnapshotPin* pin);
  void link(SessionLink* session);
  void unlink(SessionLink* session);

 private:
  core::Task<void> accept_loop(Listener listener, core::IoState* io);
  core::Task<void> housekeeping();
  void maybe_finish_drain();

  uint32_t id_;
  std::vector<Listener> listeners_;
  std::vector<core::IoState*> listener_io_;
  core::Loop loop_;
  std::thread thread_;
  UpstreamPool pool_;
  AccessLog access_log_;
  std::unique_ptr<redis::RedisClients> redis_;
  int access_log_fd_ = -1;
  SnapshotPin* current_ = nullptr;
  bool draining_ = false;
  bool stopped_ = false;
  std::atomic<bool> finished_{false};  // written by the worker thread, read by the control thread
  uint64_t sessions_ = 0;
  Counters counters_;
  SessionLink* sessions_head_ = nullptr;
};

// Serves one client connection until it closes (session.cc).
core::Task<void> serve_client(Worker& worker, core::Socket client, core::Endpoint peer,
                              uint16_t local_port);

}  // namespace apisix::gateway
