#pragma once
// RuntimeState: state that outlives snapshots (rate-limit counters, connection counts), found
// by a key built from the plugin instance's identity (plugins.md §0.6): the same resource key
// and configuration version give the same object, so an unrelated edit of the route keeps its
// counters and an edit of the plugin's own configuration starts new ones.
//
// The registry holds weak references: an object lives while some compiled plugin (in some
// snapshot still in use) holds it. Thread-safe: compile() runs on the control thread, tests
// may use any thread.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace apisix::plugins {

class RuntimeState {
 public:
  // The object of type T under `key`, made with `make()` when there is none alive. One key
  // must always be used with one type (prefix keys with the plugin name).
  template <typename T, typename Make>
  std::shared_ptr<T> obtain(const std::string& key, Make&& make) {
    std::lock_guard lock(mutex_);
    auto it = items_.find(key);
    if (it != items_.end()) {
      if (std::shared_ptr<void> alive = it->second.lock()) {
        return std::static_pointer_cast<T>(alive);
      }
    }
    std::shared_ptr<T> made = make();
    items_[key] = made;
    if (++inserts_ % 256 == 0) {
      prune();
    }
    return made;
  }

  size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

 private:
  void prune() {
    for (auto it = items_.begin(); it != items_.end();) {
      it = it->second.expired() ? items_.erase(it) : std::next(it);
    }
  }

  mutable std::mutex mutex_;
  std::map<std::string, std::weak_ptr<void>> items_;
  size_t inserts_ = 0;
};

}  // namespace apisix::plugins
