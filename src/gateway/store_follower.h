#pragma once
// StoreFollower: keeps the process in step with a store other writers share (etcd), as
// core.md §2.6 describes: after the first full load, one watch on `<prefix>/` from the next
// revision; a compacted watch is answered by a full re-list; a broken watch or an unreachable
// store is retried with exponential backoff while the workers keep serving the last snapshot.
// Runs on the control thread's loop.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/loop.h"
#include "core/task.h"
#include "store/config_store.h"

namespace apisix::gateway {

class StoreFollower {
 public:
  struct Options {
    std::string prefix;  // watched key prefix, "/apisix/"
    std::chrono::milliseconds min_backoff{500};
    std::chrono::milliseconds max_backoff{8000};
    // How long one wait for events lasts before the loop looks at stop() again (a timeout
    // keeps the watch; it is not a reconnect).
    std::chrono::milliseconds poll{250};
  };
  struct Callbacks {
    // Events in revision order, never repeated.
    std::function<void(const std::vector<store::Event>&)> events;
    // A complete listing at `revision` that replaces everything held.
    std::function<void(const std::vector<store::KeyValue>&, int64_t revision)> resync;
  };

  StoreFollower(core::Loop& loop, store::ConfigStore& store, Options options, Callbacks callbacks);
  StoreFollower(const StoreFollower&) = delete;
  StoreFollower& operator=(const StoreFollower&) = delete;

  // Starts following from `from_revision` (the first load's revision + 1).
  void start(int64_t from_revision);
  // Asks the loop to end; it does within `poll` (or the store call in flight's timeout).
  void stop() { stopping_ = true; }
  bool finished() const { return finished_; }
  // False from the first failed call until the watch is established again.
  bool reachable() const { return reachable_; }
  int64_t revision() const { return next_revision_ - 1; }
  uint64_t resyncs() const { return resyncs_; }

 private:
  core::Task<void> run();
  // Waits `delay` in slices, so stop() is noticed.
  core::Task<void> pause(std::chrono::milliseconds delay);
  core::Task<bool> relist();
  void failed(const std::string& what, const Error& error);

  core::Loop& loop_;
  store::ConfigStore& store_;
  Options options_;
  Callbacks callbacks_;
  int64_t next_revision_ = 0;
  std::chrono::milliseconds backoff_{0};
  core::TimePoint unreachable_since_{};
  uint64_t resyncs_ = 0;
  bool reachable_ = true;
  bool stopping_ = false;
  bool finished_ = true;
};

}  // namespace apisix::gateway
