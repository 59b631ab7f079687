#include "plugins/catalog.h"

#include <algorithm>
#include <iterator>

#include "plugin_schema_texts.h"

namespace apisix::plugins {
namespace {

namespace e = embedded;

constexpr PluginFacts plugin(std::string_view name, int priority, std::string_view version,
                             std::string_view type, std::string_view scope,
                             std::string_view run_policy, const e::SchemaTexts& texts) {
  return PluginFacts{.name = name,
                     .priority = priority,
                     .version = version,
                     .type = type,
                     .scope = scope,
                     .run_policy = run_policy,
                     .schema = texts.schema,
                     .consumer_schema = texts.consumer_schema,
                     .metadata_schema = texts.metadata_schema};
}

// One line per plugin, alphabetical by name: name, priority, version, type, scope,
// run_policy, then the documents of its folder (src/plugins/<snake_name>/). The facts are
// those of APISIX's module tables (`apisix/plugins/<name>.lua`), cross-checked with the
// plugin index of plugins.md.
constexpr PluginFacts kBuiltin[] = {
    plugin("basic-auth", 2520, "0.1", "auth", "", "", e::basic_auth),
    plugin("consumer-restriction", 2400, "0.1", "", "", "", e::consumer_restriction),
    plugin("cors", 4000, "0.1", "", "", "", e::cors),
    plugin("echo", 412, "0.1", "", "", "", e::echo),
    plugin("fault-injection", 11000, "0.1", "", "", "", e::fault_injection),
    plugin("ip-restriction", 3000, "0.1", "", "", "", e::ip_restriction),
    plugin("key-auth", 2500, "0.1", "auth", "", "", e::key_auth),
    plugin("limit-conn", 1003, "0.1", "", "", "", e::limit_conn),
    plugin("limit-count", 1002, "0.5", "", "", "", e::limit_count),
    plugin("limit-req", 1001, "0.1", "", "", "", e::limit_req),
    plugin("mocking", 10900, "0.1", "", "", "", e::mocking),
    plugin("prometheus", 500, "0.2", "", "", "prefer_route", e::prometheus),
    plugin("proxy-rewrite", 1008, "0.1", "", "", "", e::proxy_rewrite),
    plugin("redirect", 900, "0.1", "", "", "", e::redirect),
    plugin("request-id", 12015, "0.1", "", "", "", e::request_id),
    plugin("response-rewrite", 899, "0.1", "", "", "", e::response_rewrite),
};

static_assert(std::ranges::is_sorted(kBuiltin, {}, &PluginFacts::name),
              "kBuiltin must stay in alphabetical order");
static_assert(std::ranges::adjacent_find(kBuiltin, {}, &PluginFacts::name) == std::end(kBuiltin),
              "kBuiltin must not name a plugin twice");

}  // namespace

std::span<const PluginFacts> builtin_facts() { return kBuiltin; }

const PluginFacts* find_facts(std::string_view name) {
  const auto* it = std::ranges::lower_bound(kBuiltin, name, {}, &PluginFacts::name);
  if (it == std::end(kBuiltin) || it->name != name) {
    return nullptr;
  }
  return it;
}

}  // namespace apisix::plugins
