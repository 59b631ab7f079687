#pragma once
// AdminServer: APISIX's Admin API (core.md §3) on the control thread's loop, for every resource
// of §3.3 (routes, services, upstreams, consumers and their credentials, consumer groups, ssls,
// global rules, plugin configs, plugin metadata, stream routes, protos, secrets) and the
// special endpoints of §3.12. Requests are authenticated (§3.1: api_key argument, X-API-KEY
// header or x_api_key cookie; admin and viewer roles; allow_admin CIDRs), validated (routes,
// services, upstreams by the typed resource parsers, the other kinds by the core JSON
// schemas) plus the write-time reference checks of §3.10, stored with etcd-like revisions, and
// answered with the v3 envelopes of §3.4. Every accepted write is handed to `on_change`, which
// turns it into a new snapshot.
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
#include "schema/json_schema.h"
#include "store/config_store.h"

namespace apisix::admin {

enum class Role { Admin, Viewer };

struct AdminKey {
  std::string key;
  Role role = Role::Admin;
};

// Facts about one plugin the gateway knows, as the Admin API validates and shows it (core.md
// §3.10 plugin validation, §3.12 plugin endpoints). Schemas are APISIX's JSON Schema documents
// (null: none).
struct PluginInfo {
  std::string name;     // APISIX's name, e.g. "key-auth"
  int priority = 0;     // higher runs earlier; /plugins/list is sorted by it
  std::string type;     // "auth" for authentication plugins, else ""
  bool stream = false;  // an entry of the stream subsystem (a plugin in both has two entries)
  std::string version = "0.1";
  std::string scope;          // "global" for plugins that only make sense as global rules, else ""
  boost::json::value schema;  // the plugin configuration (without `_meta`)
  boost::json::value consumer_schema;  // auth plugins: the consumer/credential configuration
  boost::json::value metadata_schema;  // plugin_metadata (null: any object)
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
  // apisix.data_encryption.keyring (core.md §2.2): SSL private keys are stored encrypted with
  // the first entry (16 bytes: AES-128-CBC, 32 bytes: AES-256-CBC; other lengths are ignored);
  // empty: stored as sent. The default is APISIX's (conf/config.yaml.example).
  std::vector<std::string> keyring = {"qeddd145sfvddff3", "edd1c9f0985e76a2"};
  // apisix.proxy_mode is "stream" or "http&stream": otherwise stream_routes are refused (§3.2).
  bool stream_proxy = false;
  // xRPC protocols a stream route's `protocol.name` may name (apisix.stream.xrpc).
  std::vector<std::string> xrpc_protocols;
  // The plugins this gateway knows: both subsystems, any order. A `plugins` object naming a
  // plugin not listed here is refused (`unknown plugin [<name>]`).
  std::vector<PluginInfo> plugins;
  // A plugin's own checks beyond its JSON schema (APISIX's check_schema, plugins.md §1.5): run
  // on a route-side configuration the schema accepted (defaults filled, `_meta` removed);
  // returns the error detail. Unset: none.
  std::function<std::optional<std::string>(std::string_view name, const boost::json::value& conf)>
      check_plugin;
  // PUT /apisix/admin/plugins/reload (§3.12.4): re-read the plugin list. Unset: nothing to do.
  std::function<void()> reload_plugins;
};

// An SSL private key as stored (core.md §2.2) back to PEM: a value starting with "---" is
// returned as is, anything else is base64-decoded and decrypted with each keyring entry in
// turn. nullopt when no entry decrypts it.
std::optional<std::string> decrypt_private_key(std::string_view stored,
                                               const std::vector<std::string>& keyring);
// PEM text encrypted for storage with the first usable keyring entry, then base64; values that
// do not start with "---", or an empty keyring, are returned unchanged.
std::string encrypt_private_key(std::string_view pem, const std::vector<std::string>& keyring);

// One stored resource, as §3.4 lists it.
struct StoredItem {
  boost::json::value value;
  int64_t created_index = 0;
  int64_t modified_index = 0;
  int64_t expire_at = 0;  // unix seconds; 0 = no TTL
};

// What a write changed: the directory the key lives in ("routes", "consumers", "ssls", ...),
// the rest of the key after "<prefix>/<directory>/" as its id (a credential's is
// "<username>/credentials/<id>", a secret's "<manager>/<id>"), and the new value (null when
// deleted).
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
    // Keys deleted, one by one, before `key` is written or deleted: a consumer's credentials.
    std::vector<std::string> also_remove;
    // POST: the id was generated here; a shared store (etcd) replaces it with one taken from
    // its own revision (core.md §2.4), so that nodes never hand out the same id.
    bool generated_id = false;
  };
  // Where a request points (core.md §3.2, §3.3): the resource type ("credentials" for a
  // consumer's credentials), the id the URL names, and what the rest of the path adds.
  struct Target {
    std::string type;
    std::string id;       // secrets: "<manager>/<id>"; "" when the URL has none
    std::string owner;    // credentials: the consumer's username
    std::string manager;  // secrets: the manager segment
    std::vector<std::string_view> sub_path;
  };
  // A plugin of options_.plugins with its schemas compiled (null: none, or not compilable).
  struct KnownPlugin {
    const PluginInfo* info = nullptr;
    boost::json::value document;  // the schema with `_meta` injected (core.md §4.16)
    std::shared_ptr<const schema::Schema> schema;
    std::shared_ptr<const schema::Schema> consumer_schema;
    std::shared_ptr<const schema::Schema> metadata_schema;
  };
  enum class PluginScope { Http, Consumer, Stream };

  using Outcome = std::variant<Response, Pending>;
  Outcome prepare(const Request& request);
  Outcome dispatch(const Request& request, Target target);
  Response get(const Target& target, std::string_view query);
  Outcome write(std::string_view method, Target target, boost::json::value body,
                std::string_view query);
  Outcome remove(const Target& target, std::string_view query);
  // Applies a write to the map and the snapshot; `created`/`modified` 0: the map's own.
  Response commit(const Pending& pending, int64_t created, int64_t modified);
  // Applies the delete of one of a Pending's `also_remove` keys (`revision` 0: the map's own).
  void commit_removed(const std::string& key, int64_t revision);
  // Validates `value` as a resource at `target` whose id is `id`: schema, then the checks of
  // core.md §3.10. The message is the `error_msg` of a 400.
  std::optional<std::string> validate(const Target& target, const std::string& id,
                                      const boost::json::value& value);
  std::optional<std::string> check_plugins(const boost::json::value& plugins, PluginScope scope);
  std::optional<std::string> check_duplicate_auth_key(const boost::json::value& plugins,
                                                      const std::string& consumer,
                                                      const std::string* credential);
  std::optional<std::string> reference_holder(const Target& target);
  // The special endpoints (core.md §3.12).
  Response plugin_list(std::string_view query);
  Response plugin_schema(std::string_view name, std::string_view query);
  Response schema_validate(std::string_view type, std::string_view body);
  const std::map<std::string, KnownPlugin, std::less<>>& plugins_of(bool stream) const {
    return stream ? stream_plugins_ : http_plugins_;
  }
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
  std::map<std::string, KnownPlugin, std::less<>> http_plugins_;
  std::map<std::string, KnownPlugin, std::less<>> stream_plugins_;
  TcpListener listener_;
  bool stopping_ = false;
};

}  // namespace apisix::admin
