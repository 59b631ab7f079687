#pragma once
// AdminServer: APISIX's Admin API (core.md §3) on the control thread's loop, for the resources
// the gateway compiles today: routes, services and upstreams. Requests are authenticated
// (§3.1: api_key argument, X-API-KEY header or x_api_key cookie; admin and viewer roles;
// allow_admin CIDRs), validated with the typed resource parsers plus the write-time reference
// checks of §3.10, stored with etcd-like revisions, and answered with the v3 envelopes of
// §3.4. Every accepted write is handed to `on_change`, which turns it into a new snapshot.
//
// Storage is the in-memory ResourceMap below until the durable embedded store and etcd are
// wired in (issue 5); its revisions already follow etcd's (one global counter).

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <boost/json/value.hpp>

#include "admin/tcp_listener.h"
#include "core/loop.h"
#include "core/result.h"
#include "core/socket.h"
#include "router/ip_match.h"
#include "store/config_store.h"

namespace apisix::admin {

enum class Role { Admin, Viewer };

struct AdminKey {
  std::string key;
  Role role = Role::Admin;
};

struct AdminOptions {
  std::string ip = "0.0.0.0";
  uint16_t port = 9180;  // 0: a free port (tests); see bound_port()
  bool key_required = true;
  // Unset: `deployment.admin.admin_key` absent, requests are not authenticated (§1.5).
  std::optional<std::vector<AdminKey>> keys;
  std::shared_ptr<const router::IpMatcher> allow;  // null: every client is allowed
  bool cors = true;
  std::string server_header = "APISIX";
  std::string prefix = "/apisix";  // deployment.etcd.prefix: keys are <prefix>/<type>/<id>
};

// One stored resource, as §3.4 lists it.
struct StoredItem {
  boost::json::value value;
  int64_t created_index = 0;
  int64_t modified_index = 0;
  int64_t expire_at = 0;  // unix seconds; 0 = no TTL
};

// What a write changed: the resource kind ("routes", "services", "upstreams"), its id, and
// the new value (null when deleted).
struct Change {
  std::string type;
  std::string id;
  std::optional<boost::json::value> value;
};

// The resources by key, in key order (etcd's list order), with a global revision.
class ResourceMap {
 public:
  const StoredItem* get(const std::string& key) const;
  // Stores `value` under `key`; returns whether the key was new.
  bool put(const std::string& key, boost::json::value value, int64_t expire_at);
  // The same with revisions a durable store assigned (the map's revision follows them).
  bool put_at(const std::string& key, boost::json::value value, int64_t expire_at, int64_t created,
              int64_t modified);
  bool erase(const std::string& key);
  void erase_at(const std::string& key, int64_t revision);
  int64_t next_revision() { return ++revision_; }
  // Moves the revision forward to `revision` (a listing taken there), never back.
  void advance(int64_t revision) { revision_ = std::max(revision_, revision); }
  int64_t revision() const { return revision_; }
  const std::map<std::string, StoredItem>& items() const { return items_; }
  // Keys whose TTL ran out by `now_unix`, without scanning every item.
  std::vector<std::string> expired(int64_t now_unix) const;

 private:
  void set_expiry(const std::string& key, int64_t old_expire_at, int64_t expire_at);
  std::map<std::string, StoredItem> items_;
  std::set<std::pair<int64_t, std::string>> expiries_;  // (expire_at, key) of TTL'd items
  int64_t revision_ = 0;
};

class AdminServer {
 public:
  using ChangeSink = std::function<void(const std::vector<Change>&)>;

  // With `durable` (owned by the caller, outliving the server), every write is acknowledged
  // only once the store has it; without, resources live in memory only.
  AdminServer(core::Loop& loop, AdminOptions options, ChangeSink on_change,
              store::ConfigStore* durable = nullptr);
  ~AdminServer();

  // Binds the listener; call before start().
  [[nodiscard]] Result<void> listen();
  uint16_t bound_port() const { return listener_.bound_port(); }
  void start();
  // Closes the listener; connections end with their current request.
  void stop();

  // Request handling without the socket, for unit tests and the fuzz target: a response
  // status, and the JSON (or text) body.
  struct Response {
    int status = 200;
    std::string body;
    bool json = true;
    bool api_version = true;  // X-API-VERSION: v3
  };
  struct Request {
    std::string_view method;
    std::string_view path;
    std::string_view query;
    std::string_view body;
    std::string_view api_key_header;  // X-API-KEY
    std::string_view cookie;          // Cookie header
    std::string_view client_ip;
  };
  // Answers `request` with the in-memory map only (tests, fuzzing).
  Response handle(const Request& request);
  // Answers `request`, writing through the durable store when there is one.
  core::Task<Response> handle_async(const Request& request);

  // ---- Following the store (admin_sync.cc) ----
  // Resources already in the durable store at start: (key, JSON text, create and mod
  // revisions). Returns the changes for the first snapshot; unparsable items are logged
  // and skipped.
  std::vector<Change> load(const std::vector<store::KeyValue>& items);
  // Replaces what is held with a full listing taken at store revision `revision` (etcd: the
  // first load, and the re-list after a compacted watch); returns what changed.
  std::vector<Change> resync(const std::vector<store::KeyValue>& items, int64_t revision);
  // Applies watched events (etcd, where other nodes write too). An event this process has
  // already applied — its own acknowledged write, or anything older for that key — is
  // skipped, so a write is applied once whether it arrives by ack or by watch.
  std::vector<Change> apply_events(const std::vector<store::Event>& events);

  // Drops resources whose TTL passed (§3.4.7); called every second by the server's loop.
  void expire(int64_t now_unix);
  const ResourceMap& resources() const { return store_; }

 private:
  core::Task<void> serve(core::Socket socket, std::string client_ip);

  // A validated write, waiting to be made durable and then applied.
  struct Pending {
    bool remove = false;
    std::string type;
    std::string id;
    std::string key;
    boost::json::value value;
    int64_t ttl = 0;
    int status = 200;
    std::optional<int64_t> expected;  // PATCH: the mod revision the merge started from
  };
  using Outcome = std::variant<Response, Pending>;
  Outcome prepare(const Request& request);
  Outcome dispatch(const Request& request, std::string_view type, std::string_view id,
                   const std::vector<std::string_view>& sub_path);
  Response get(std::string_view type, std::string_view id, std::string_view query);
  Outcome write(std::string_view method, std::string_view type, std::string id,
                boost::json::value body, std::string_view query,
                const std::vector<std::string_view>& sub_path);
  Outcome remove(std::string_view type, std::string_view id, std::string_view query);
  // Applies a write to the map and the snapshot; `created`/`modified` 0: the map's own.
  Response commit(const Pending& pending, int64_t created, int64_t modified);
  // Validates `value` as a resource of `type` with id `id`: schema, then references.
  std::optional<std::string> validate(std::string_view type, const boost::json::value& value);
  std::string key_of(std::string_view type, std::string_view id) const;
  static Response json_error(int status, std::string message);  // {"error_msg": ...}

  // Splits "<prefix>/<type>/<id>" into (type, id) for a known resource type.
  std::optional<std::pair<std::string, std::string>> split_key(std::string_view key) const;
  // Deleted keys and the revision of their delete, until the watch has passed it.
  std::map<std::string, int64_t> tombstones_;

  core::Loop& loop_;
  AdminOptions options_;
  ChangeSink on_change_;
  ResourceMap store_;
  store::ConfigStore* durable_ = nullptr;
  int64_t last_generated_id_ = 0;
  TcpListener listener_;
  bool stopping_ = false;
};

}  // namespace apisix::admin
