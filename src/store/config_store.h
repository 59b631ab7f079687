#pragma once
// ConfigStore: where the Admin API writes resources and where the control thread reads and
// watches them (apisix-compat core.md §2). Keys are strings such as "/apisix/routes/1" and
// values are JSON text (§2.2); the store itself never looks inside a value.
//
// Revisions follow etcd: one global counter that every write (put or delete) increases by
// one; a key remembers the revision that created it and the one that last changed it. An
// empty store is at revision 1, so the first write gets revision 2.
//
// Every implementation lives on one Loop (the control thread's) and is used only from
// coroutines running on that loop. Operations may run concurrently (several coroutines may
// have an operation in flight); a store must outlive every operation and every Watch it
// handed out that is still being awaited.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/loop.h"
#include "core/result.h"
#include "core/task.h"

namespace apisix::store {

struct KeyValue {
  std::string key;
  std::string value;            // JSON text as written; empty for a delete event
  int64_t create_revision = 0;  // revision of the put that created the key
  int64_t mod_revision = 0;     // revision of the last put (or, in a delete event, the delete)
  int64_t version = 0;          // puts since creation (1 after the first)
  int64_t lease = 0;            // etcd lease id holding the key, 0 when none (embedded: 0)
};

struct GetResult {
  int64_t revision = 0;        // store revision the read saw
  std::optional<KeyValue> kv;  // nullopt: the key does not exist
};

struct ListResult {
  int64_t revision = 0;         // store revision the read saw: watch from revision + 1
  std::vector<KeyValue> items;  // sorted by key (byte order)
};

struct PutOptions {
  // When set, the put happens only if the key's mod_revision equals this value (0: the key
  // must not exist); otherwise the result is WriteStatus::Conflict and nothing changes.
  std::optional<int64_t> expected_mod_revision;
  // > 0: the key is deleted (an ordinary delete event) once this time has passed since the
  // put, like the Admin API's ?ttl= (core.md §3.4.7). 0: no expiry; a put without ttl also
  // cancels the expiry of an earlier put of the same key.
  std::chrono::seconds ttl{0};
};

enum class WriteStatus {
  Done,      // the write happened and is durable; `revision` is its revision
  Conflict,  // expected_mod_revision did not match: nothing was written; `prev` is the key's
             // current value (nullopt if absent), to answer or retry with
};

struct WriteResult {
  WriteStatus status = WriteStatus::Done;
  int64_t revision = 0;          // Done: the write's revision; Conflict: the store revision
  std::optional<KeyValue> prev;  // Done: the value before the write (nullopt: the key was
                                 // absent, so a put created it / a delete found nothing)
  bool conflict() const { return status == WriteStatus::Conflict; }
};

enum class EventType { Put, Delete };

struct Event {
  EventType type = EventType::Put;
  KeyValue kv;  // Delete: key and mod_revision (the delete's revision) only
};

// What one Watch::next() returns.
struct WatchBatch {
  std::vector<Event> events;  // in revision order, never repeated, none skipped
  int64_t revision = 0;       // the store revision when the batch was made (>= last event)
  // True when the events from the requested revision are no longer kept (compacted, or the
  // watcher fell too far behind). The watch is over: list again, then watch from the list's
  // revision + 1. `events` is empty then.
  bool compacted = false;
  int64_t compact_revision = 0;  // the oldest revision the store can still replay from
};

// A stream of changes under a key prefix, from the revision it was opened at. Owned by the
// caller; used on the store's loop; destroy it to stop watching (never while next() runs).
class Watch {
 public:
  virtual ~Watch() = default;
  // Waits until at least one event (or the compacted signal) is available, or `deadline`.
  // Errors: Timeout (retryable; the watch stays usable — call next() again); anything else
  // means the stream broke: open a new watch from the revision after the last event seen.
  virtual core::Task<Result<WatchBatch>> next(core::TimePoint deadline) = 0;
};

class ConfigStore {
 public:
  virtual ~ConfigStore() = default;

  virtual std::string_view kind() const = 0;  // "embedded" or "etcd"

  virtual core::Task<Result<GetResult>> get(std::string key) = 0;
  // Every key that starts with `prefix` ("" lists everything).
  virtual core::Task<Result<ListResult>> list(std::string prefix) = 0;
  virtual core::Task<Result<WriteResult>> put(std::string key, std::string value,
                                              PutOptions options) = 0;
  // Deletes `key`; with `expected_mod_revision`, only if it matches (0: must be absent).
  virtual core::Task<Result<WriteResult>> remove(std::string key,
                                                 std::optional<int64_t> expected_mod_revision) = 0;
  // Changes under `prefix` with revision >= from_revision (0: from the next write on). The
  // watch is established when this returns: later writes are always delivered. A
  // from_revision that is no longer retained gives a first batch with `compacted` set.
  virtual core::Task<Result<std::unique_ptr<Watch>>> watch(std::string prefix,
                                                           int64_t from_revision) = 0;
  // Forgets history up to and including `revision`: watches from there on get `compacted`.
  // (etcd: /v3/kv/compaction; embedded: also rewrites its files as a snapshot.)
  virtual core::Task<Result<void>> compact(int64_t revision) = 0;
};

// Errors the stores report, for callers that tell them apart by kind.
inline Error store_error(ErrorKind kind, std::string context, bool retryable = false) {
  return Error{kind, ErrorSource::Internal, retryable, std::move(context)};
}

}  // namespace apisix::store
