#pragma once
// Consumers as the data plane sees them (plugins.md §3.1): each consumer with its compiled
// plugin chain (its own plugins merged over its consumer group's), and per auth plugin an
// index from the key attribute (key-auth `key`, basic-auth `username`) to the consumer and
// credential holding it. Built with the snapshot; immutable; shared by every worker.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace apisix::plugins {

struct CompiledChain;

struct Consumer {
  std::string username;
  std::string group_id;   // "" when none
  std::string custom_id;  // labels.custom_id, "" when none
  // The consumer's and its group's plugins, merged (consumer wins), compiled; null: none.
  std::shared_ptr<const CompiledChain> chain;
};

// One auth configuration that can identify a consumer.
struct ConsumerAuth {
  std::shared_ptr<const Consumer> consumer;
  std::string credential_id;  // "" when the consumer's own `plugins` hold it
  boost::json::value conf;    // the consumer-side configuration, defaults filled
};

class ConsumerIndex {
 public:
  // The entry of auth plugin `plugin` whose key attribute is `key`, or null.
  const ConsumerAuth* find(std::string_view plugin, std::string_view key) const;
  // A consumer by username, or null (anonymous_consumer).
  const Consumer* by_name(std::string_view username) const;

  // Building (control thread). A later add() for the same plugin and key wins (§1.5: the
  // last loaded wins).
  void add_consumer(std::shared_ptr<const Consumer> consumer);
  void add_auth(std::string plugin, std::string key, ConsumerAuth auth);
  size_t size() const { return consumers_.size(); }

 private:
  std::map<std::string, std::shared_ptr<const Consumer>, std::less<>> consumers_;
  std::map<std::string, std::map<std::string, ConsumerAuth, std::less<>>, std::less<>> auth_;
};

}  // namespace apisix::plugins
