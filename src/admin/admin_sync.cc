// Keeping the Admin API's resource map in step with the store (core.md §2.6): the first load,
// full re-lists, and watched events from other writers. Writes of this process are applied
// when acknowledged (admin_listener.cc); their watch events arrive later and are skipped here
// by revision, per key.
#include <boost/json/parse.hpp>

#include "admin/admin_server.h"
#include "core/log.h"

namespace apisix::admin {
namespace json = boost::json;

namespace {

// The directories APISIX keeps resources in (core.md §2.1).
bool is_resource_dir(std::string_view type) {
  static constexpr std::string_view kDirs[] = {
      "routes",          "services",      "upstreams",    "consumers",
      "consumer_groups", "ssls",          "global_rules", "plugin_configs",
      "plugin_metadata", "stream_routes", "protos",       "secrets"};
  for (std::string_view d : kDirs) {
    if (d == type) return true;
  }
  return false;
}

// A stored value that is a JSON object, or nullopt (placeholders such as "init_dir", and
// anything else that is not an object, are skipped as APISIX does).
std::optional<json::value> parse_object(const store::KeyValue& kv) {
  boost::system::error_code ec;
  json::value value = json::parse(kv.value, ec);
  if (ec || !value.is_object()) {
    return std::nullopt;
  }
  return value;
}

// The value as the gateway compiles it: readers overwrite `id` with the key's suffix (§2.2),
// whatever the stored value says. Consumers (and their credentials) are named by username.
json::value with_key_id(const json::value& value, const std::string& type, const std::string& id) {
  json::value out = value;
  if (type != "consumers") {
    out.as_object()["id"] = id;
  }
  return out;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> AdminServer::split_key(
    std::string_view key) const {
  const std::string& prefix = options_.prefix;
  if (key.size() <= prefix.size() + 1 || key.compare(0, prefix.size(), prefix) != 0 ||
      key[prefix.size()] != '/') {
    return std::nullopt;
  }
  std::string_view rest = key.substr(prefix.size() + 1);
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 >= rest.size() ||
      !is_resource_dir(rest.substr(0, slash))) {
    return std::nullopt;  // <P>/gen_id, <P>/plugins, directory placeholders, other keys
  }
  return std::make_pair(std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1)));
}

std::vector<Change> AdminServer::load(const std::vector<store::KeyValue>& items) {
  std::vector<Change> changes;
  for (const store::KeyValue& kv : items) {
    auto names = split_key(kv.key);
    if (!names) {
      continue;
    }
    auto value = parse_object(kv);
    if (!value) {
      core::log_error("store: ", kv.key, " is not a JSON object; skipped");
      continue;
    }
    store_.put_at(kv.key, *value, 0, kv.create_revision, kv.mod_revision);
    json::value compiled = with_key_id(*value, names->first, names->second);
    changes.push_back(
        Change{std::move(names->first), std::move(names->second), std::move(compiled)});
  }
  return changes;
}

std::vector<Change> AdminServer::resync(const std::vector<store::KeyValue>& items,
                                        int64_t revision) {
  std::vector<Change> changes;
  std::set<std::string> listed;
  for (const store::KeyValue& kv : items) {
    auto names = split_key(kv.key);
    if (!names) {
      continue;
    }
    const StoredItem* held = store_.get(kv.key);
    if (held != nullptr && held->modified_index == kv.mod_revision) {
      listed.insert(kv.key);
      continue;  // unchanged
    }
    auto value = parse_object(kv);
    if (!value) {
      // §2.6 step 7: an item whose new data is invalid keeps its old value.
      core::log_error("store: ", kv.key, " is not a JSON object; skipped");
      if (held != nullptr) {
        listed.insert(kv.key);
      }
      continue;
    }
    listed.insert(kv.key);
    store_.put_at(kv.key, *value, held ? held->expire_at : 0, kv.create_revision, kv.mod_revision);
    json::value compiled = with_key_id(*value, names->first, names->second);
    changes.push_back(
        Change{std::move(names->first), std::move(names->second), std::move(compiled)});
  }
  // Items that disappeared are removed.
  std::vector<std::string> gone;
  for (const auto& [key, item] : store_.items()) {
    if (!listed.contains(key) && split_key(key)) {
      gone.push_back(key);
    }
  }
  for (const std::string& key : gone) {
    auto names = split_key(key);
    store_.erase_at(key, revision);
    changes.push_back(Change{std::move(names->first), std::move(names->second), std::nullopt});
  }
  // The listing is complete up to `revision`: nothing older can arrive any more.
  tombstones_.clear();
  store_.advance(revision);
  return changes;
}

std::vector<Change> AdminServer::apply_events(const std::vector<store::Event>& events) {
  std::vector<Change> changes;
  int64_t last = 0;
  for (const store::Event& event : events) {
    const store::KeyValue& kv = event.kv;
    last = std::max(last, kv.mod_revision);
    auto names = split_key(kv.key);
    if (!names) {
      continue;
    }
    const StoredItem* held = store_.get(kv.key);
    if (held != nullptr && held->modified_index >= kv.mod_revision) {
      continue;  // already applied (this process's own write, acknowledged earlier)
    }
    if (auto t = tombstones_.find(kv.key); t != tombstones_.end() && t->second >= kv.mod_revision) {
      continue;  // deleted here after this event was written
    }
    if (event.type == store::EventType::Delete) {
      if (held == nullptr) {
        continue;
      }
      store_.erase_at(kv.key, kv.mod_revision);
      changes.push_back(Change{std::move(names->first), std::move(names->second), std::nullopt});
      continue;
    }
    auto value = parse_object(kv);
    if (!value) {
      // §2.6 step 4: an invalid item keeps the previous value; the revision still advances.
      core::log_error("store: ", kv.key, " is not a JSON object; kept the previous value");
      continue;
    }
    store_.put_at(kv.key, *value, held ? held->expire_at : 0, kv.create_revision, kv.mod_revision);
    json::value compiled = with_key_id(*value, names->first, names->second);
    changes.push_back(
        Change{std::move(names->first), std::move(names->second), std::move(compiled)});
  }
  // Tombstones the watch has passed can no longer hide anything.
  for (auto it = tombstones_.begin(); it != tombstones_.end();) {
    it = it->second <= last ? tombstones_.erase(it) : std::next(it);
  }
  return changes;
}

}  // namespace apisix::admin
