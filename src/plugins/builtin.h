#pragma once
// The registry of built-in plugins (STYLE.md §2): an explicit list in builtin.cc, one line
// per plugin class, alphabetical, and the view of it that config.yaml's `plugins:` list
// enables.

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/plugin.h"
#include "schema/json_schema.h"

namespace apisix::plugins {

// Every plugin class this build has, alphabetical by APISIX name.
std::span<const PluginKind> builtin_kinds();

// The kinds a gateway runs: those of builtin_kinds() that config.yaml enables.
class Registry {
 public:
  // `enabled`: the `plugins:` names of config.yaml; null enables every built-in kind.
  explicit Registry(const std::vector<std::string>* enabled = nullptr)
      : Registry(builtin_kinds(), enabled) {}
  // The same over other kinds (tests); `kinds` must outlive the registry.
  Registry(std::span<const PluginKind> kinds, const std::vector<std::string>* enabled);

  const PluginKind* find(std::string_view name) const;
  // The default priority of an enabled kind, or nullopt (chain.h's `priority_of`).
  std::optional<int> priority(std::string_view name) const;
  // The kind's compiled schema.json (without `_meta`), consumer_schema.json (auth plugins),
  // metadata_schema.json; null when it has none.
  const schema::Schema* schema_of(std::string_view name) const;
  const schema::Schema* consumer_schema_of(std::string_view name) const;
  const schema::Schema* metadata_schema_of(std::string_view name) const;
  size_t size() const { return kinds_.size(); }
  // Enabled kinds by name.
  const std::map<std::string_view, const PluginKind*, std::less<>>& kinds() const { return kinds_; }

 private:
  struct Schemas {
    std::shared_ptr<const schema::Schema> schema, consumer, metadata;
  };
  std::map<std::string_view, const PluginKind*, std::less<>> kinds_;
  std::map<std::string_view, Schemas, std::less<>> schemas_;
};

}  // namespace apisix::plugins
