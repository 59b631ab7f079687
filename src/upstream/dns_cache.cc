#include "upstream/dns_cache.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/log.h"
#include "upstream/dns_timer.h"

namespace apisix::upstream {
namespace {

struct Entry {
  std::string key;
  std::optional<DnsAnswer> answer;  // the last good answer
  std::optional<Error> last_error;  // the last failure, cleared by a success
  core::TimePoint next_refresh = core::kNoDeadline;
  bool in_flight = false;
  std::vector<std::coroutine_handle<>> waiters;  // get() callers sharing the lookup in flight
  std::map<uint64_t, DnsChangeCallback> watchers;
};

}  // namespace

struct DnsCache::Impl {
  core::Loop* loop = nullptr;
  DnsLookup lookup;
  DnsCacheOptions options;
  std::unordered_map<std::string, std::shared_ptr<Entry>, std::hash<std::string>> entries;
  std::unordered_map<uint64_t, std::string> watch_keys;
  uint64_t next_id = 1;
  std::unique_ptr<DnsTimer> timer;
  std::weak_ptr<Impl> self;
  bool closed = false;

  std::shared_ptr<Entry> entry(const std::string& key) {
    auto it = entries.find(key);
    if (it != entries.end()) {
      return it->second;
    }
    auto e = std::make_shared<Entry>();
    e->key = key;
    entries.emplace(key, e);
    return e;
  }

  core::Clock::duration ttl_of(const DnsAnswer& answer) const {
    core::Clock::duration ttl = options.valid
                                    ? core::Clock::duration(*options.valid)
                                    : core::Clock::duration(std::chrono::seconds(answer.ttl_s));
    return std::clamp<core::Clock::duration>(ttl, options.min_ttl, options.max_ttl);
  }

  void rearm() {
    if (closed || !timer) {
      return;
    }
    core::TimePoint next = core::kNoDeadline;
    for (const auto& [key, e] : entries) {
      if (!e->in_flight) {
        next = std::min(next, e->next_refresh);
      }
    }
    if (next == core::kNoDeadline) {
      timer->disarm();
    } else {
      timer->arm_at(next);
    }
  }

  void on_timer();
};

namespace {

// Waits until the lookup in flight for `e` ends.
struct JoinAwaiter {
  Entry* e;
  bool await_ready() const noexcept { return !e->in_flight; }
  void await_suspend(std::coroutine_handle<> h) { e->waiters.push_back(h); }
  void await_resume() const noexcept {}
};

core::Task<void> refresh(std::shared_ptr<DnsCache::Impl> impl, std::shared_ptr<Entry> e) {
  e->in_flight = true;
  e->next_refresh = core::kNoDeadline;
  Result<DnsAnswer> r = co_await impl->lookup(e->key);
  e->in_flight = false;
  std::vector<std::coroutine_handle<>> waiters = std::move(e->waiters);
  e->waiters.clear();
  if (!impl->closed) {
    core::TimePoint now = core::Clock::now();
    std::vector<DnsChangeCallback> to_call;
    if (r.ok()) {
      sort_addresses(r->addresses);
      bool changed = !e->answer || !same_addresses(*e->answer, *r);
      e->next_refresh = now + impl->ttl_of(*r);
      e->answer = std::move(r.value());
      e->last_error.reset();
      if (changed) {
        for (const auto& [id, cb] : e->watchers) {
          to_call.push_back(cb);
        }
      }
    } else {
      if (e->answer) {
        core::log_warn("dns: refreshing ", e->key, " failed (", r.error().context,
                       "); keeping the last good answer");
      } else {
        core::log_error("dns: resolving ", e->key, " failed: ", r.error().context);
      }
      e->last_error = r.error();
      e->next_refresh = now + impl->options.retry_after_failure;
    }
    impl->rearm();
    // Callbacks run on copies: they may watch, unwatch, or even destroy the cache.
    if (!to_call.empty()) {
      DnsAnswer answer = *e->answer;
      for (const DnsChangeCallback& cb : to_call) {
        if (impl->closed) {
          break;
        }
        cb(e->key, answer);
      }
    }
  }
  for (std::coroutine_handle<> h : waiters) {
    impl->loop->defer(h);
  }
}

core::Task<Result<DnsAnswer>> get_impl(std::shared_ptr<DnsCache::Impl> impl, std::string key) {
  std::shared_ptr<Entry> e = impl->entry(key);
  if (e->answer) {
    co_return *e->answer;
  }
  if (e->in_flight) {
    co_await JoinAwaiter{e.get()};
  } else {
    co_await refresh(impl, e);
  }
  if (e->answer) {
    co_return *e->answer;
  }
  if (e->last_error) {
    co_return *e->last_error;
  }
  co_return Error{ErrorKind::Io, ErrorSource::Upstream, false, "dns: " + key + ": cache shut down"};
}

}  // namespace

void DnsCache::Impl::on_timer() {
  core::TimePoint now = core::Clock::now();
  std::vector<std::shared_ptr<Entry>> due;
  for (auto it = entries.begin(); it != entries.end();) {
    std::shared_ptr<Entry> e = it->second;
    if (e->in_flight || e->next_refresh > now) {
      ++it;
      continue;
    }
    if (e->watchers.empty()) {
      it = entries.erase(it);  // nobody needs it any more
      continue;
    }
    due.push_back(std::move(e));
    ++it;
  }
  std::shared_ptr<Impl> me = self.lock();
  for (auto& e : due) {
    e->in_flight = true;  // rearm() below must not count it
  }
  rearm();
  for (auto& e : due) {
    core::spawn(refresh(me, e));
  }
}

DnsCache::DnsCache(core::Loop& loop, DnsLookup lookup, DnsCacheOptions options)
    : impl_(std::make_shared<Impl>()) {
  impl_->loop = &loop;
  impl_->lookup = std::move(lookup);
  impl_->options = options;
  impl_->self = impl_;
  Impl* raw = impl_.get();
  impl_->timer = std::make_unique<DnsTimer>(loop, [raw] { raw->on_timer(); });
}

DnsCache::~DnsCache() {
  impl_->closed = true;
  impl_->timer.reset();
  impl_->entries.clear();  // lookups in flight keep their own entry alive
}

const DnsAnswer* DnsCache::find(std::string_view key) const {
  auto it = impl_->entries.find(std::string(key));
  if (it == impl_->entries.end() || !it->second->answer) {
    return nullptr;
  }
  return &*it->second->answer;
}

core::Task<Result<DnsAnswer>> DnsCache::get(std::string key) {
  return get_impl(impl_, std::move(key));
}

uint64_t DnsCache::watch(std::string key, DnsChangeCallback on_change) {
  std::shared_ptr<Entry> e = impl_->entry(key);
  uint64_t id = impl_->next_id++;
  e->watchers.emplace(id, std::move(on_change));
  impl_->watch_keys.emplace(id, std::move(key));
  if (!e->answer && !e->in_flight) {
    e->next_refresh = core::Clock::now();  // resolve from the loop, not inside the caller
    impl_->rearm();
  }
  return id;
}

void DnsCache::unwatch(uint64_t id) {
  auto it = impl_->watch_keys.find(id);
  if (it == impl_->watch_keys.end()) {
    return;
  }
  auto e = impl_->entries.find(it->second);
  if (e != impl_->entries.end()) {
    e->second->watchers.erase(id);
  }
  impl_->watch_keys.erase(it);
}

size_t DnsCache::size_for_test() const { return impl_->entries.size(); }

core::TimePoint DnsCache::next_refresh_for_test(std::string_view key) const {
  auto it = impl_->entries.find(std::string(key));
  if (it == impl_->entries.end() || it->second->in_flight) {
    return core::kNoDeadline;
  }
  return it->second->next_refresh;
}

}  // namespace apisix::upstream
