#pragma once
// The catalogue of built-in plugins: what APISIX declares about each kind of plugin in its
// module table (plugins.md §1.1, §1.6) and the schema documents embedded from the plugin
// folders. Immutable data with static storage; any thread may read it at any time.

#include <span>
#include <string_view>

namespace apisix::plugins {

// Facts about one kind of plugin, as APISIX declares them in its module table. The views
// point at static storage and never dangle.
struct PluginFacts {
  std::string_view name;             // APISIX's name, "limit-count"
  int priority;                      // APISIX's default priority (higher runs earlier)
  std::string_view version;          // APISIX's `version` field as text, "0.1"
  std::string_view type;             // "auth" for credential plugins (plugins.md §3.1), else ""
  std::string_view scope;            // "global" for plugins not meant for routes, else ""
  std::string_view run_policy;       // "prefer_route" (plugins.md §1.3), else ""
  std::string_view schema;           // JSON text of the plugin's schema.json
  std::string_view consumer_schema;  // JSON text of consumer_schema.json; "" when none
  std::string_view metadata_schema;  // JSON text of metadata_schema.json; "" when none
};

// The built-in plugins, alphabetical by name.
std::span<const PluginFacts> builtin_facts();

// The built-in plugin called `name` (APISIX's kebab-case name), or nullptr.
const PluginFacts* find_facts(std::string_view name);

}  // namespace apisix::plugins
