#include "store/embedded_store.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/log_format.h"

namespace apisix::store {

// A watch on an EmbeddedStore: a queue the store fills as writes become durable. Owned by the
// caller; registered with the store until either goes away.
class EmbeddedWatch final : public Watch {
 public:
  EmbeddedWatch(EmbeddedStore* store, std::string prefix, int64_t from_revision)
      : store_(store), prefix_(std::move(prefix)), from_(from_revision), wake_(store->loop_) {}
  ~EmbeddedWatch() override {
    if (store_ != nullptr) {
      auto& list = store_->watchers_;
      list.erase(std::remove(list.begin(), list.end(), this), list.end());
    }
  }

  core::Task<Result<WatchBatch>> next(core::TimePoint deadline) override;

  // Store side.
  void offer(const Event& event) {
    if (compacted_ || event.kv.mod_revision < from_ || !event.kv.key.starts_with(prefix_)) {
      return;
    }
    if (queue_.size() >= store_->options_.max_watch_backlog) {
      mark_compacted(store_->history_floor_ + 1);
      return;
    }
    queue_.push_back(event);
    wake_.notify();
  }
  void mark_compacted(int64_t compact_revision) {
    compacted_ = true;
    compact_revision_ = compact_revision;
    queue_.clear();
    wake_.notify();
  }
  void detach() {
    store_ = nullptr;
    wake_.cancel();
  }

 private:
  static constexpr size_t kMaxBatchEvents = 1000;
  EmbeddedStore* store_;
  std::string prefix_;
  int64_t from_;
  std::deque<Event> queue_;
  bool compacted_ = false;
  bool finished_ = false;
  int64_t compact_revision_ = 0;
  WakeEvent wake_;
};

core::Task<Result<WatchBatch>> EmbeddedWatch::next(core::TimePoint deadline) {
  for (;;) {
    if (store_ == nullptr) {
      co_return store_error(ErrorKind::Io, "embedded store closed", true);
    }
    if (finished_) {
      co_return store_error(ErrorKind::Invalid, "watch ended after the compacted signal");
    }
    if (compacted_) {
      finished_ = true;
      WatchBatch batch;
      batch.compacted = true;
      batch.compact_revision = compact_revision_;
      batch.revision = store_->synced_revision_;
      co_return batch;
    }
    if (!queue_.empty()) {
      WatchBatch batch;
      size_t n = std::min(queue_.size(), kMaxBatchEvents);
      batch.events.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.events.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      batch.revision = store_->synced_revision_;
      co_return batch;
    }
    core::Wait w = co_await wake_.wait(deadline);
    if (w == core::Wait::Timeout) {
      co_return store_error(ErrorKind::Timeout, "no change before the deadline", true);
    }
    if (w == core::Wait::Cancelled && store_ != nullptr) {
      co_return store_error(ErrorKind::Io, "watch cancelled", true);
    }
  }
}

class EmbeddedStore::DurableAwaiter {
 public:
  DurableAwaiter(EmbeddedStore& store, int64_t revision) : store_(store) {
    waiter_.revision = revision;
  }
  bool await_ready() {
    if (store_.failure_) {
      waiter_.error = store_error(ErrorKind::Io, *store_.failure_);
      return true;
    }
    if (store_.closing_) {
      waiter_.error = store_error(ErrorKind::Io, "embedded store closed");
      return true;
    }
    return store_.synced_revision_ >= waiter_.revision;
  }
  void await_suspend(std::coroutine_handle<> h) {
    waiter_.handle = h;
    store_.waiters_.push_back(&waiter_);
    store_.maybe_start_sync();
  }
  Result<void> await_resume() {
    if (waiter_.error) {
      return *waiter_.error;
    }
    return {};
  }

 private:
  EmbeddedStore& store_;
  DurableWaiter waiter_;
};

namespace {

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

Result<std::string> read_whole_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return store_error(ErrorKind::Io, errno_text(("open " + path.string()).c_str(), errno));
  }
  std::string data;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      data.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    int err = errno;
    ::close(fd);
    if (n < 0) {
      return store_error(ErrorKind::Io, errno_text(("read " + path.string()).c_str(), err));
    }
    return data;
  }
}

bool write_fully(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool sync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// Writes `data` to `dir/name.tmp`, syncs it and renames it over `dir/name`.
Result<void> replace_file(const std::filesystem::path& dir, const std::string& name,
                          std::string_view data, bool sync) {
  auto tmp = dir / (name + ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return store_error(ErrorKind::Io, errno_text(("create " + tmp.string()).c_str(), errno));
  }
  bool ok = write_fully(fd, data) && (!sync || ::fdatasync(fd) == 0);
  int err = errno;
  ::close(fd);
  if (!ok) {
    return store_error(ErrorKind::Io, errno_text(("write " + tmp.string()).c_str(), err));
  }
  if (::rename(tmp.c_str(), (dir / name).c_str()) != 0) {
    return store_error(ErrorKind::Io, errno_text(("rename " + tmp.string()).c_str(), errno));
  }
  if (sync && !sync_dir(dir)) {
    return store_error(ErrorKind::Io, errno_text(("fsync " + dir.string()).c_str(), errno));
  }
  return {};
}

}  // namespace

EmbeddedStore::EmbeddedStore(core::Loop& loop, EmbeddedOptions options)
    : loop_(loop),
      options_(std::move(options)),
      token_(std::make_shared<Token>()),
      reaper_wake_(loop) {
  token_->store = this;
}

Result<std::unique_ptr<EmbeddedStore>> EmbeddedStore::open(core::Loop& loop,
                                                           EmbeddedOptions options) {
  std::unique_ptr<EmbeddedStore> store(new EmbeddedStore(loop, std::move(options)));
  if (!store->reaper_wake_.is_valid()) {
    return store_error(ErrorKind::Io, "cannot create an eventfd");
  }
  if (auto loaded = store->load(); !loaded) {
    return loaded.error();
  }
  store->start();
  return store;
}

Result<void> EmbeddedStore::load() {
  const auto& dir = options_.data_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return store_error(ErrorKind::Io, "create " + dir.string() + ": " + ec.message());
  }
  auto lock_path = dir / "LOCK";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    return store_error(ErrorKind::Io, errno_text(("open " + lock_path.string()).c_str(), errno));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return store_error(ErrorKind::Io,
                       "data directory " + dir.string() + " is in use by another process");
  }
  std::filesystem::remove(dir / "snapshot.tmp", ec);
  std::filesystem::remove(dir / "log.tmp", ec);

  // The snapshot, if any: always whole, since it is only ever switched in by rename().
  int64_t snapshot_revision = 0;
  auto snapshot_path = dir / "snapshot";
  if (std::filesystem::exists(snapshot_path, ec)) {
    auto data = read_whole_file(snapshot_path);
    if (!data) {
      return data.error();
    }
    ScanResult scan = scan_records(*data, kSnapshotMagic);
    bool ok = scan.status == ScanStatus::Clean && scan.records.size() >= 2 &&
              scan.records.front().type == RecordType::SnapHead &&
              scan.records.back().type == RecordType::SnapEnd &&
              scan.records.back().count == static_cast<int64_t>(scan.records.size() - 2);
    if (!ok) {
      return store_error(ErrorKind::Invalid,
                         "snapshot " + snapshot_path.string() + " is damaged: " + scan.reason);
    }
    snapshot_revision = scan.records.front().revision;
    for (size_t i = 1; i + 1 < scan.records.size(); ++i) {
      Record& r = scan.records[i];
      if (r.type != RecordType::SnapEntry) {
        return store_error(ErrorKind::Invalid, "snapshot has an unexpected record");
      }
      Entry entry{std::move(r.value), r.create_revision, r.revision, r.version, r.expire_at_ms};
      if (entry.expire_at_ms != 0) {
        expiries_.emplace(entry.expire_at_ms, r.key);
      }
      kv_.emplace(std::move(r.key), std::move(entry));
    }
    revision_ = std::max<int64_t>(1, snapshot_revision);
  }
  history_floor_ = revision_;

  // The log: records after the snapshot's revision are replayed (older ones are left over
  // from a crash between the two renames of a rewrite).
  auto log_path = dir / "log";
  size_t log_bytes = 0;
  if (std::filesystem::exists(log_path, ec)) {
    auto data = read_whole_file(log_path);
    if (!data) {
      return data.error();
    }
    ScanResult scan = scan_records(*data, kLogMagic);
    if (scan.status == ScanStatus::BadMagic || scan.status == ScanStatus::Corrupt) {
      return store_error(ErrorKind::Invalid,
                         "log " + log_path.string() + " is damaged: " + scan.reason);
    }
    if (scan.status == ScanStatus::TornTail) {
      recovery_note_ = "cut " + std::to_string(data->size() - scan.valid_bytes) +
                       " bytes off the log tail (" + scan.reason + ")";
      if (scan.valid_bytes < kLogMagic.size()) {
        std::filesystem::remove(log_path, ec);
      } else if (::truncate(log_path.c_str(), static_cast<off_t>(scan.valid_bytes)) != 0) {
        return store_error(ErrorKind::Io, errno_text("truncate log", errno));
      }
    }
    log_bytes = scan.valid_bytes;
    for (Record& r : scan.records) {
      if (r.revision <= snapshot_revision) {
        continue;
      }
      if (r.revision <= revision_) {
        return store_error(ErrorKind::Invalid,
                           "log revisions go backwards at " + std::to_string(r.revision));
      }
      revision_ = r.revision;
      if (r.type == RecordType::Put) {
        apply_put(r.key, std::move(r.value), r.revision, r.expire_at_ms, true);
      } else if (r.type == RecordType::Delete) {
        apply_delete(r.key, r.revision, true);
      } else {
        return store_error(ErrorKind::Invalid, "log has an unexpected record type");
      }
    }
  }
  synced_revision_ = revision_;
  // What was replayed is durable: it becomes the watch history.
  for (Event& e : pending_events_) {
    add_history(std::move(e));
  }
  pending_events_.clear();

  if (log_bytes < kLogMagic.size()) {
    auto created = replace_file(dir, "log", kLogMagic, options_.sync);
    if (!created) {
      return created.error();
    }
    log_bytes = kLogMagic.size();
  } else if (!recovery_note_.empty() && options_.sync) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::fdatasync(fd) != 0) {
      int err = errno;
      if (fd >= 0) {
        ::close(fd);
      }
      return store_error(ErrorKind::Io, errno_text("sync truncated log", err));
    }
    ::close(fd);
  }
  log_fd_ = ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (log_fd_ < 0) {
    return store_error(ErrorKind::Io, errno_text(("open " + log_path.string()).c_str(), errno));
  }
  stats_.log_bytes = log_bytes;
  return {};
}

void EmbeddedStore::start() {
  sync_thread_ = std::thread([this] { sync_thread_main(); });
  reaper_running_ = true;
  core::spawn(reap_loop());
}

EmbeddedStore::~EmbeddedStore() {
  closing_ = true;
  token_->store = nullptr;
  if (sync_thread_.joinable()) {
    {
      std::lock_guard lock(channel_.mutex);
      channel_.stop = true;
    }
    channel_.cv.notify_all();
    sync_thread_.join();
  }
  // Whoever still waits learns that the store is gone (the reaper among them).
  std::vector<DurableWaiter*> waiters;
  waiters.swap(waiters_);
  for (DurableWaiter* w : waiters) {
    w->error = store_error(ErrorKind::Io, "embedded store closed");
    w->handle.resume();
  }
  if (reaper_running_) {
    reaper_wake_.cancel();
  }
  std::vector<EmbeddedWatch*> watchers;
  watchers.swap(watchers_);
  for (EmbeddedWatch* w : watchers) {
    w->detach();
  }
  if (log_fd_ >= 0) {
    ::close(log_fd_);
  }
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);  // releases the flock
  }
}

void EmbeddedStore::sync_thread_main() {
  for (;;) {
    int fd;
    int64_t target;
    {
      std::unique_lock lock(channel_.mutex);
      channel_.cv.wait(lock, [this] { return channel_.stop || channel_.has_request; });
      if (!channel_.has_request) {
        return;
      }
      channel_.has_request = false;
      fd = channel_.fd;
      target = channel_.target;
    }
    bool ok = true;
    int err = 0;
    if (options_.sync && ::fdatasync(fd) != 0) {
      ok = false;
      err = errno;
    }
    loop_.post([token = token_, target, ok, err] {
      if (token->store != nullptr) {
        token->store->on_synced(target, ok, err);
      }
    });
  }
}

EmbeddedStore::DurableAwaiter EmbeddedStore::durable(int64_t revision) {
  return DurableAwaiter(*this, revision);
}

void EmbeddedStore::maybe_start_sync() {
  if (sync_in_flight_ || failure_ || closing_ || synced_revision_ >= revision_) {
    return;
  }
  sync_in_flight_ = true;
  {
    std::lock_guard lock(channel_.mutex);
    channel_.has_request = true;
    channel_.fd = log_fd_;
    channel_.target = revision_;
  }
  channel_.cv.notify_one();
}

void EmbeddedStore::on_synced(int64_t target, bool ok, int err) {
  sync_in_flight_ = false;
  if (!ok) {
    fail(errno_text("fdatasync of the log failed", err));
    return;
  }
  ++stats_.syncs;
  // Rewrite before resuming anyone: resumed writers start the next sync at once, and no
  // rewrite may run while one does (the sync thread holds the old log's descriptor).
  // Writes appended since the sync began are in the snapshot, which is synced before it
  // replaces anything, so a successful rewrite makes them durable too.
  if (stats_.log_bytes >= options_.compact_log_bytes && !closing_ && rewrite_files()) {
    target = revision_;
  }
  std::shared_ptr<Token> token = token_;  // resumed coroutines may destroy the store
  advance_durable(target);
  if (token->store == nullptr) {
    return;
  }
  // Resumed writers may have started more writes; they ride on the next sync.
  maybe_start_sync();
}

void EmbeddedStore::advance_durable(int64_t target) {
  synced_revision_ = std::max(synced_revision_, target);
  size_t done = 0;
  while (done < pending_events_.size() && pending_events_[done].kv.mod_revision <= target) {
    for (EmbeddedWatch* w : watchers_) {
      w->offer(pending_events_[done]);
    }
    add_history(std::move(pending_events_[done]));
    ++done;
  }
  pending_events_.erase(pending_events_.begin(), pending_events_.begin() + done);

  std::vector<DurableWaiter*> ready;
  auto keep = std::partition(waiters_.begin(), waiters_.end(),
                             [target](DurableWaiter* w) { return w->revision > target; });
  ready.assign(keep, waiters_.end());
  waiters_.erase(keep, waiters_.end());
  std::sort(ready.begin(), ready.end(),
            [](DurableWaiter* a, DurableWaiter* b) { return a->revision < b->revision; });
  for (DurableWaiter* w : ready) {
    w->handle.resume();
  }
}

void EmbeddedStore::fail(std::string why) {
  if (!failure_) {
    failure_ = "embedded store failed, reopen it: " + why;
  }
  std::vector<DurableWaiter*> waiters;
  waiters.swap(waiters_);
  for (DurableWaiter* w : waiters) {
    w->error = store_error(ErrorKind::Io, *failure_);
    w->handle.resume();
  }
}

void EmbeddedStore::add_history(Event event) {
  history_.push_back(std::move(event));
  while (history_.size() > options_.history_events) {
    history_floor_ = history_.front().kv.mod_revision;
    history_.pop_front();
  }
}

std::optional<Error> EmbeddedStore::check_writable(std::string_view key, size_t value_bytes) const {
  if (closing_) {
    return store_error(ErrorKind::Io, "embedded store closed");
  }
  if (failure_) {
    return store_error(ErrorKind::Io, *failure_);
  }
  if (key.empty()) {
    return store_error(ErrorKind::Invalid, "empty key");
  }
  if (key.size() > options_.max_key_bytes) {
    return store_error(ErrorKind::Limit,
                       "key longer than " + std::to_string(options_.max_key_bytes) + " bytes");
  }
  if (value_bytes > options_.max_value_bytes) {
    return store_error(ErrorKind::Limit,
                       "value larger than " + std::to_string(options_.max_value_bytes) + " bytes");
  }
  return std::nullopt;
}

Result<void> EmbeddedStore::append(const Record& record) {
  std::string bytes;
  encode_record(record, bytes);
  if (!write_fully(log_fd_, bytes)) {
    // Part of the record may be on disk: later appends would land after garbage. Stop
    // writing; reopening cuts the torn tail off.
    fail(errno_text("append to the log failed", errno));
    return store_error(ErrorKind::Io, *failure_);
  }
  ++stats_.writes;
  stats_.log_bytes += bytes.size();
  return {};
}

void EmbeddedStore::apply_put(const std::string& key, std::string value, int64_t revision,
                              int64_t expire_at_ms, bool record_event) {
  auto [it, created] = kv_.try_emplace(key);
  Entry& e = it->second;
  if (created) {
    e.create_revision = revision;
    e.version = 1;
  } else {
    ++e.version;
    if (e.expire_at_ms != 0) {
      expiries_.erase({e.expire_at_ms, key});
    }
  }
  e.mod_revision = revision;
  e.value = std::move(value);
  e.expire_at_ms = expire_at_ms;
  if (expire_at_ms != 0) {
    expiries_.emplace(expire_at_ms, key);
  }
  if (record_event) {
    pending_events_.push_back(Event{EventType::Put, to_kv(key, e)});
  }
}

void EmbeddedStore::apply_delete(const std::string& key, int64_t revision, bool record_event) {
  auto it = kv_.find(key);
  if (it == kv_.end()) {
    return;
  }
  if (it->second.expire_at_ms != 0) {
    expiries_.erase({it->second.expire_at_ms, key});
  }
  kv_.erase(it);
  if (record_event) {
    Event event{EventType::Delete, {}};
    event.kv.key = key;
    event.kv.mod_revision = revision;
    pending_events_.push_back(std::move(event));
  }
}

KeyValue EmbeddedStore::to_kv(const std::string& key, const Entry& e) const {
  return KeyValue{key, e.value, e.create_revision, e.mod_revision, e.version, 0};
}

core::Task<Result<GetResult>> EmbeddedStore::get(std::string key) {
  if (auto done = co_await durable(revision_); !done) {
    co_return done.error();
  }
  GetResult result;
  result.revision = synced_revision_;
  if (auto it = kv_.find(key); it != kv_.end()) {
    result.kv = to_kv(it->first, it->second);
  }
  co_return result;
}

core::Task<Result<ListResult>> EmbeddedStore::list(std::string prefix) {
  if (auto done = co_await durable(revision_); !done) {
    co_return done.error();
  }
  ListResult result;
  result.revision = synced_revision_;
  for (auto it = kv_.lower_bound(prefix); it != kv_.end() && it->first.starts_with(prefix); ++it) {
    result.items.push_back(to_kv(it->first, it->second));
  }
  co_return result;
}

core::Task<Result<WriteResult>> EmbeddedStore::conflict(std::string key) {
  if (auto done = co_await durable(revision_); !done) {
    co_return done.error();
  }
  WriteResult result;
  result.status = WriteStatus::Conflict;
  result.revision = synced_revision_;
  if (auto it = kv_.find(key); it != kv_.end()) {
    result.prev = to_kv(it->first, it->second);
  }
  co_return result;
}

core::Task<Result<WriteResult>> EmbeddedStore::put(std::string key, std::string value,
                                                   PutOptions options) {
  if (auto error = check_writable(key, value.size())) {
    co_return *error;
  }
  auto it = kv_.find(key);
  int64_t current = it == kv_.end() ? 0 : it->second.mod_revision;
  if (options.expected_mod_revision && *options.expected_mod_revision != current) {
    co_return co_await conflict(std::move(key));
  }
  WriteResult result;
  if (it != kv_.end()) {
    result.prev = to_kv(it->first, it->second);
  }
  Record record;
  record.type = RecordType::Put;
  record.revision = revision_ + 1;
  record.expire_at_ms = options.ttl.count() > 0 ? unix_ms_now() + options.ttl.count() * 1000 : 0;
  record.key = std::move(key);
  record.value = std::move(value);
  if (auto appended = append(record); !appended) {
    co_return appended.error();
  }
  revision_ = record.revision;
  apply_put(record.key, std::move(record.value), record.revision, record.expire_at_ms, true);
  if (record.expire_at_ms != 0) {
    reaper_wake_.notify();
  }
  result.revision = record.revision;
  if (auto done = co_await durable(record.revision); !done) {
    co_return done.error();
  }
  co_return result;
}

core::Task<Result<WriteResult>> EmbeddedStore::remove(
    std::string key, std::optional<int64_t> expected_mod_revision) {
  if (auto error = check_writable(key, 0)) {
    co_return *error;
  }
  auto it = kv_.find(key);
  int64_t current = it == kv_.end() ? 0 : it->second.mod_revision;
  if (expected_mod_revision && *expected_mod_revision != current) {
    co_return co_await conflict(std::move(key));
  }
  if (it == kv_.end()) {
    // Nothing to delete: like etcd, no revision is used.
    if (auto done = co_await durable(revision_); !done) {
      co_return done.error();
    }
    WriteResult result;
    result.revision = synced_revision_;
    co_return result;
  }
  WriteResult result;
  result.prev = to_kv(it->first, it->second);
  Record record;
  record.type = RecordType::Delete;
  record.revision = revision_ + 1;
  record.key = std::move(key);
  if (auto appended = append(record); !appended) {
    co_return appended.error();
  }
  revision_ = record.revision;
  apply_delete(record.key, record.revision, true);
  result.revision = record.revision;
  if (auto done = co_await durable(record.revision); !done) {
    co_return done.error();
  }
  co_return result;
}

core::Task<Result<std::unique_ptr<Watch>>> EmbeddedStore::watch(std::string prefix,
                                                                int64_t from_revision) {
  if (auto done = co_await durable(revision_); !done) {
    co_return done.error();
  }
  if (from_revision <= 0) {
    from_revision = revision_ + 1;
  }
  auto watch = std::make_unique<EmbeddedWatch>(this, std::move(prefix), from_revision);
  if (from_revision <= history_floor_) {
    watch->mark_compacted(history_floor_ + 1);
  } else {
    for (const Event& e : history_) {
      watch->offer(e);
    }
  }
  watchers_.push_back(watch.get());
  co_return std::unique_ptr<Watch>(std::move(watch));
}

core::Task<Result<void>> EmbeddedStore::compact(int64_t revision) {
  if (auto done = co_await durable(revision_); !done) {
    co_return done.error();
  }
  if (revision > revision_) {
    co_return store_error(ErrorKind::Invalid,
                          "compaction revision " + std::to_string(revision) + " is in the future");
  }
  // Keep the event at `revision` itself, as etcd does: watching from it stays possible.
  while (!history_.empty() && history_.front().kv.mod_revision < revision) {
    history_.pop_front();
  }
  history_floor_ = std::max(history_floor_, revision - 1);
  co_return rewrite_files();
}

// Runs without suspending, so no write can interleave: the snapshot is exactly revision_.
// Never while a sync runs: the sync thread holds the old log's descriptor.
Result<void> EmbeddedStore::rewrite_files() {
  if (sync_in_flight_) {
    return store_error(ErrorKind::Io, "a sync is in flight", true);
  }
  std::string snapshot(kSnapshotMagic);
  Record head;
  head.type = RecordType::SnapHead;
  head.revision = revision_;
  head.compact_revision = history_floor_;
  encode_record(head, snapshot);
  for (const auto& [key, e] : kv_) {
    Record r;
    r.type = RecordType::SnapEntry;
    r.key = key;
    r.value = e.value;
    r.create_revision = e.create_revision;
    r.revision = e.mod_revision;
    r.version = e.version;
    r.expire_at_ms = e.expire_at_ms;
    encode_record(r, snapshot);
  }
  Record end;
  end.type = RecordType::SnapEnd;
  end.count = static_cast<int64_t>(kv_.size());
  encode_record(end, snapshot);

  const auto& dir = options_.data_dir;
  // Order matters: once the snapshot is in place the old log is redundant (its records are
  // all <= the snapshot revision and skipped on replay), so a crash between the renames loses
  // nothing.
  if (auto done = replace_file(dir, "snapshot", snapshot, options_.sync); !done) {
    return done;
  }
  if (auto done = replace_file(dir, "log", kLogMagic, options_.sync); !done) {
    return done;
  }
  int fd = ::open((dir / "log").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    fail(errno_text("reopen the log", errno));
    return store_error(ErrorKind::Io, *failure_);
  }
  ::close(log_fd_);
  log_fd_ = fd;
  stats_.log_bytes = kLogMagic.size();
  ++stats_.log_rewrites;
  return {};
}

EmbeddedStats EmbeddedStore::stats() const { return stats_; }

core::Task<void> EmbeddedStore::reap_loop() {
  while (!closing_) {
    core::TimePoint deadline = core::kNoDeadline;
    if (!expiries_.empty()) {
      int64_t wait_ms = std::max<int64_t>(0, expiries_.begin()->first - unix_ms_now());
      deadline = core::Clock::now() + std::chrono::milliseconds(wait_ms);
    }
    core::Wait w = co_await reaper_wake_.wait(deadline);
    if (closing_ || w == core::Wait::Cancelled) {
      break;
    }
    co_await expire_due();
  }
  reaper_running_ = false;
}

core::Task<void> EmbeddedStore::expire_due() {
  int64_t now = unix_ms_now();
  std::vector<std::string> due;
  for (auto it = expiries_.begin(); it != expiries_.end() && it->first <= now; ++it) {
    due.push_back(it->second);
  }
  int64_t last = 0;
  for (std::string& key : due) {
    if (failure_ || closing_) {
      co_return;
    }
    Record record;
    record.type = RecordType::Delete;
    record.revision = revision_ + 1;
    record.key = std::move(key);
    if (!append(record)) {
      co_return;
    }
    revision_ = record.revision;
    apply_delete(record.key, record.revision, true);
    last = record.revision;
  }
  if (last != 0) {
    [[maybe_unused]] auto done = co_await durable(last);
  }
}

}  // namespace apisix::store
