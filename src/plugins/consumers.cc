#include "plugins/consumers.h"

namespace apisix::plugins {

const ConsumerAuth* ConsumerIndex::find(std::string_view plugin, std::string_view key) const {
  auto by_plugin = auth_.find(plugin);
  if (by_plugin == auth_.end()) {
    return nullptr;
  }
  auto it = by_plugin->second.find(key);
  return it == by_plugin->second.end() ? nullptr : &it->second;
}

const Consumer* ConsumerIndex::by_name(std::string_view username) const {
  auto it = consumers_.find(username);
  return it == consumers_.end() ? nullptr : it->second.get();
}

void ConsumerIndex::add_consumer(std::shared_ptr<const Consumer> consumer) {
  std::string name = consumer->username;
  consumers_[std::move(name)] = std::move(consumer);
}

void ConsumerIndex::add_auth(std::string plugin, std::string key, ConsumerAuth auth) {
  auth_[std::move(plugin)][std::move(key)] = std::move(auth);
}

}  // namespace apisix::plugins
