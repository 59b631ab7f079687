#pragma once
// EmbeddedStore: the default, single-node ConfigStore (config_provider "embedded"). Owned by
// the control thread, used on its Loop, open for the life of the process.
//
// Durability: every put/delete is appended to `<data_dir>/log` as a checksummed record
// (log_format.h) and acknowledged only after fdatasync. A helper thread runs the fdatasync, and
// writes that arrive while one runs share the next (group commit), so the loop never blocks on
// the disk and concurrent writers pay for one sync between them. Opening replays
// `<data_dir>/snapshot` and the log; a torn last record (a crash mid-append) is cut off, while
// damage followed by valid records refuses to open, since acknowledged data would be lost.
// When the log outgrows `compact_log_bytes` (or on compact()), the whole key space is written
// to a new snapshot and the log restarts empty, each switched in atomically by rename().
//
// Reads see only durable data: get/list/watch wait for writes in flight to be synced first.
// Watches replay from a window of recent events kept in memory (rebuilt from the log on open);
// older revisions give the compacted signal. TTL keys are deleted by a timer on the loop (an
// ordinary delete event); expiry times are wall-clock, so they survive restarts.
//
// A second process cannot open the same directory (flock on `<data_dir>/LOCK`).

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "store/config_store.h"
#include "store/log_format.h"
#include "store/wake_event.h"

namespace apisix::store {

struct EmbeddedOptions {
  std::filesystem::path data_dir;
  // false skips fdatasync (tests of logic only; nothing survives a machine crash then).
  bool sync = true;
  size_t compact_log_bytes = size_t{64} << 20;  // rewrite snapshot + fresh log past this
  size_t history_events = 10000;                // events kept for watches from the past
  size_t max_value_bytes = size_t{16} << 20;
  size_t max_key_bytes = 4096;
  // A watcher that lets this many events pile up unread is told to re-list (compacted).
  size_t max_watch_backlog = 100000;
};

struct EmbeddedStats {
  uint64_t writes = 0;        // log records appended
  uint64_t syncs = 0;         // fdatasync calls that acknowledged writes
  uint64_t log_rewrites = 0;  // snapshot + fresh log
  uint64_t log_bytes = 0;     // current log size
};

class EmbeddedWatch;

class EmbeddedStore final : public ConfigStore {
 public:
  // Opens (creating if needed) the store in options.data_dir; must run on `loop`'s thread.
  static Result<std::unique_ptr<EmbeddedStore>> open(core::Loop& loop, EmbeddedOptions options);
  // Pending operations fail with "store closed"; open watches report an error.
  ~EmbeddedStore() override;
  EmbeddedStore(const EmbeddedStore&) = delete;
  EmbeddedStore& operator=(const EmbeddedStore&) = delete;

  std::string_view kind() const override { return "embedded"; }
  core::Task<Result<GetResult>> get(std::string key) override;
  core::Task<Result<ListResult>> list(std::string prefix) override;
  core::Task<Result<WriteResult>> put(std::string key, std::string value,
                                      PutOptions options) override;
  core::Task<Result<WriteResult>> remove(std::string key,
                                         std::optional<int64_t> expected_mod_revision) override;
  core::Task<Result<std::unique_ptr<Watch>>> watch(std::string prefix,
                                                   int64_t from_revision) override;
  core::Task<Result<void>> compact(int64_t revision) override;

  EmbeddedStats stats() const;
  // What open() had to repair (a cut-off torn tail), or "" when the files were clean.
  const std::string& recovery_note() const { return recovery_note_; }

 private:
  friend class EmbeddedWatch;
  struct Entry {
    std::string value;
    int64_t create_revision = 0;
    int64_t mod_revision = 0;
    int64_t version = 0;
    int64_t expire_at_ms = 0;  // Unix ms, 0: never
  };
  struct DurableWaiter {
    int64_t revision = 0;
    std::coroutine_handle<> handle;
    std::optional<Error> error;
  };
  class DurableAwaiter;
  // Shared with completions posted by the sync thread, which may outlive the store.
  struct Token {
    EmbeddedStore* store = nullptr;
  };
  // The request slot between the loop thread and the sync thread.
  struct SyncChannel {
    std::mutex mutex;
    std::condition_variable cv;
    bool stop = false;
    bool has_request = false;
    int fd = -1;
    int64_t target = 0;
  };

  EmbeddedStore(core::Loop& loop, EmbeddedOptions options);
  Result<void> load();
  void start();

  DurableAwaiter durable(int64_t revision);
  void maybe_start_sync();
  void on_synced(int64_t target, bool ok, int err);
  void advance_durable(int64_t target);
  void fail(std::string why);
  std::optional<Error> check_writable(std::string_view key, size_t value_bytes) const;
  Result<void> append(const Record& record);
  void apply_put(const std::string& key, std::string value, int64_t revision, int64_t expire_at_ms,
                 bool record_event);
  void apply_delete(const std::string& key, int64_t revision, bool record_event);
  void add_history(Event event);
  Result<void> rewrite_files();
  KeyValue to_kv(const std::string& key, const Entry& entry) const;
  core::Task<Result<WriteResult>> conflict(std::string key);
  core::Task<void> reap_loop();
  core::Task<void> expire_due();
  void sync_thread_main();

  core::Loop& loop_;
  EmbeddedOptions options_;
  std::shared_ptr<Token> token_;
  int lock_fd_ = -1;
  int log_fd_ = -1;
  std::string recovery_note_;

  std::map<std::string, Entry, std::less<>> kv_;
  std::set<std::pair<int64_t, std::string>> expiries_;  // (expire_at_ms, key)
  int64_t revision_ = 1;                                // last revision written to the log
  int64_t synced_revision_ = 1;                         // last revision known durable
  int64_t history_floor_ = 1;          // events with revision <= this are no longer kept
  std::deque<Event> history_;          // durable events after history_floor_
  std::vector<Event> pending_events_;  // written, not yet durable
  std::vector<DurableWaiter*> waiters_;
  std::vector<EmbeddedWatch*> watchers_;
  bool sync_in_flight_ = false;
  bool closing_ = false;
  std::optional<std::string> failure_;  // set once a write or sync failed: store is read-only
  EmbeddedStats stats_;

  WakeEvent reaper_wake_;
  bool reaper_running_ = false;
  SyncChannel channel_;
  std::thread sync_thread_;
};

}  // namespace apisix::store
