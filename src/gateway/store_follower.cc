#include "gateway/store_follower.h"

#include <algorithm>

#include "core/log.h"

namespace apisix::gateway {

using namespace std::chrono_literals;

StoreFollower::StoreFollower(core::Loop& loop, store::ConfigStore& store, Options options,
                             Callbacks callbacks)
    : loop_(loop), store_(store), options_(std::move(options)), callbacks_(std::move(callbacks)) {}

void StoreFollower::start(int64_t from_revision) {
  next_revision_ = from_revision;
  finished_ = false;
  core::spawn(run());
}

core::Task<void> StoreFollower::pause(std::chrono::milliseconds delay) {
  core::TimePoint until = loop_.now() + delay;
  while (!stopping_ && loop_.now() < until) {
    co_await loop_.sleep_for(std::min<std::chrono::milliseconds>(
        options_.poll,
        std::chrono::duration_cast<std::chrono::milliseconds>(until - loop_.now()) + 1ms));
  }
}

void StoreFollower::failed(const std::string& what, const Error& error) {
  backoff_ =
      backoff_.count() == 0 ? options_.min_backoff : std::min(backoff_ * 2, options_.max_backoff);
  if (reachable_) {
    reachable_ = false;
    unreachable_since_ = loop_.now();
    core::log_error(store_.kind(), ": ", what, " failed: ", error.context,
                    "; serving the last configuration, retrying with backoff");
  } else {
    core::log_warn(store_.kind(), ": still unreachable (", what, ": ", error.context,
                   "); next try in ", backoff_.count(), " ms");
  }
}

core::Task<bool> StoreFollower::relist() {
  auto listed = co_await store_.list(options_.prefix);
  if (!listed) {
    failed("re-list", listed.error());
    co_return false;
  }
  ++resyncs_;
  callbacks_.resync(listed->items, listed->revision);
  next_revision_ = listed->revision + 1;
  core::log(core::LogLevel::Notice, store_.kind(), ": re-listed ", listed->items.size(),
            " keys at revision ", listed->revision);
  co_return true;
}

core::Task<void> StoreFollower::run() {
  bool need_relist = false;
  while (!stopping_) {
    if (backoff_.count() > 0) {
      co_await pause(backoff_);
      if (stopping_) break;
    }
    if (need_relist) {
      bool listed = co_await relist();
      if (!listed) {
        continue;
      }
      need_relist = false;
    }
    auto opened = co_await store_.watch(options_.prefix, next_revision_);
    if (!opened) {
      failed("watch", opened.error());
      continue;
    }
    std::unique_ptr<store::Watch> watch = std::move(opened.value());
    if (!reachable_) {
      auto down =
          std::chrono::duration_cast<std::chrono::milliseconds>(loop_.now() - unreachable_since_);
      core::log_warn(store_.kind(), ": reachable again after ", down.count(),
                     " ms; watching from revision ", next_revision_);
      reachable_ = true;
    }
    backoff_ = 0ms;
    while (!stopping_) {
      auto batch = co_await watch->next(loop_.now() + options_.poll);
      if (!batch) {
        if (batch.error().kind == ErrorKind::Timeout) {
          continue;
        }
        failed("watch", batch.error());
        break;
      }
      if (batch->compacted) {
        core::log_warn(store_.kind(), ": revision ", next_revision_,
                       " was compacted (oldest kept: ", batch->compact_revision,
                       "); listing everything again");
        need_relist = true;
        break;
      }
      if (!batch->events.empty()) {
        next_revision_ = batch->events.back().kv.mod_revision + 1;
        callbacks_.events(batch->events);
      }
    }
  }
  finished_ = true;
}

}  // namespace apisix::gateway
