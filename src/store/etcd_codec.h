#pragma once
// The JSON bodies of etcd's v3 HTTP gateway (apisix-compat core.md §2.3): request builders and
// reply parsers, free of I/O so they can be unit-tested and fuzzed. Keys and values travel as
// base64 strings; 64-bit numbers as decimal strings (either form is accepted when parsing);
// fields holding zero/false/empty values are left out by etcd.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/config_store.h"

namespace apisix::store::etcd {

std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);

// The range_end that selects every key starting with `prefix` (the prefix with its last byte
// incremented, dropping trailing 0xff bytes); "\0" (every key) for an empty prefix.
std::string prefix_range_end(std::string_view prefix);

// Request bodies.
std::string range_request(std::string_view key, std::string_view range_end, int64_t limit,
                          int64_t revision);
std::string put_request(std::string_view key, std::string_view value, int64_t lease);
std::string delete_request(std::string_view key);
// A txn comparing `key`'s mod_revision with `expected`: on success the put (or the delete when
// `value` is nullopt), on failure a range read of the key.
std::string compare_txn_request(std::string_view key, int64_t expected,
                                const std::optional<std::string_view>& value, int64_t lease);
std::string watch_create_request(std::string_view key, std::string_view range_end,
                                 int64_t start_revision);
std::string lease_grant_request(int64_t ttl_seconds);
std::string compaction_request(int64_t revision);
std::string authenticate_request(std::string_view name, std::string_view password);

// An error body: {"error": "...", "message": "...", "code": N} (gRPC status code).
struct GatewayError {
  int code = 0;
  std::string message;
};
std::optional<GatewayError> parse_error(std::string_view json);

struct RangeReply {
  int64_t revision = 0;
  std::vector<KeyValue> kvs;
  bool more = false;
};
Result<RangeReply> parse_range_reply(std::string_view json);

struct WriteReply {
  int64_t revision = 0;
  std::optional<KeyValue> prev;  // put/delete with prev_kv
  int64_t deleted = 0;
  bool succeeded = true;            // txn
  std::optional<KeyValue> current;  // txn failure branch: the key's current value
};
Result<WriteReply> parse_put_reply(std::string_view json);
Result<WriteReply> parse_delete_reply(std::string_view json);
Result<WriteReply> parse_txn_reply(std::string_view json);

Result<int64_t> parse_lease_grant_reply(std::string_view json);
Result<std::string> parse_authenticate_reply(std::string_view json);

// One message of the /v3/watch stream: {"result": {...}} or {"error": {...}}.
struct WatchMessage {
  bool created = false;
  bool canceled = false;
  int64_t revision = 0;          // header revision (absent in some cancel messages: 0)
  int64_t compact_revision = 0;  // > 0: the start revision was compacted
  std::string cancel_reason;
  std::vector<Event> events;
};
Result<WatchMessage> parse_watch_message(std::string_view json);

}  // namespace apisix::store::etcd
