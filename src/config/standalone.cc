#include "config/standalone.h"

#include <set>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "config/resource_parse.h"
#include "config/schema_check.h"
#include "config/yaml_json.h"

namespace apisix::config {
namespace json = boost::json;
namespace {

constexpr std::string_view kEndFlag = "#END";
constexpr size_t kEndWindow = 10;  // the flag must sit within the last 10 bytes

// Collections whose items are normalised. Consumers are keyed by username and plugin
// metadata by plugin name, so neither gets a synthetic id.
struct Kind {
  std::string_view key;
  bool synthetic_id;
};
constexpr Kind kKinds[] = {
    {"routes", true},        {"services", true},        {"upstreams", true},
    {"consumers", false},    {"consumer_groups", true}, {"ssls", true},
    {"global_rules", true},  {"plugin_configs", true},  {"plugin_metadata", false},
    {"stream_routes", true}, {"protos", true},          {"secrets", true},
};

bool has_end_flag(std::string_view text) {
  std::string_view tail = text.size() > kEndWindow ? text.substr(text.size() - kEndWindow) : text;
  return tail.find(kEndFlag) != std::string_view::npos;
}

std::string synthetic_id(size_t zero_based) { return "arr_" + std::to_string(zero_based + 1); }

// Integer ids become strings; a missing id becomes arr_<n>; `plugin:` with no value is {}.
void normalise_items(json::object& root) {
  for (const Kind& kind : kKinds) {
    json::value* list = root.if_contains(kind.key);
    if (list == nullptr || !list->is_array()) {
      continue;
    }
    json::array& items = list->get_array();
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_object()) {
        continue;
      }
      json::object& item = items[i].get_object();
      if (json::value* id = item.if_contains("id")) {
        if (id->is_number()) {
          *id = json::value(json::string_view(schema::number_text(*id)));
        }
      } else if (kind.synthetic_id) {
        item["id"] = json::string_view(synthetic_id(i));
      }
      if (json::value* plugins = item.if_contains("plugins"); plugins && plugins->is_object()) {
        for (auto& kv : plugins->get_object()) {
          if (kv.value().is_null()) {
            kv.value() = json::object();
          }
        }
      }
    }
  }
}

std::string item_id(const json::value& item, size_t zero_based) {
  if (item.is_object()) {
    if (const json::value* id = item.get_object().if_contains("id"); id && id->is_string()) {
      return std::string(id->get_string());
    }
  }
  return synthetic_id(zero_based);
}

// The file's `plugins:` list: [{name, stream?}, ...]; stream plugins are not HTTP plugins.
std::optional<std::vector<std::string>> read_plugin_list(const json::value& v,
                                                         std::vector<std::string>& errors) {
  if (!v.is_array()) {
    errors.push_back("plugins: expected a list of {name, stream?} items, got " +
                     schema::type_name(v));
    return std::nullopt;
  }
  std::vector<std::string> names;
  const json::array& items = v.get_array();
  for (size_t i = 0; i < items.size(); ++i) {
    const json::value& item = items[i];
    const json::value* name = item.is_object() ? item.get_object().if_contains("name") : nullptr;
    if (name == nullptr || !name->is_string()) {
      errors.push_back("plugins: item " + std::to_string(i + 1) +
                       " needs a string \"name\"; the list is ignored");
      return std::nullopt;
    }
    const json::value* stream = item.get_object().if_contains("stream");
    if (stream != nullptr && stream->is_bool() && stream->get_bool()) {
      continue;
    }
    names.emplace_back(name->get_string());
  }
  return names;
}

std::optional<std::string> disabled_plugin(const json::object& item,
                                           const std::set<std::string, std::less<>>* enabled) {
  if (enabled == nullptr) {
    return std::nullopt;
  }
  const json::value* plugins = item.if_contains("plugins");
  if (plugins == nullptr || !plugins->is_object()) {
    return std::nullopt;
  }
  for (const auto& kv : plugins->get_object()) {
    std::string_view name(kv.key().data(), kv.key().size());
    if (enabled->find(name) == enabled->end()) {
      return std::string(name);
    }
  }
  return std::nullopt;
}

// Parses one collection with `parse`, skipping and reporting invalid or duplicate items.
template <typename T, typename Parse>
void parse_kind(const json::object& root, std::string_view key, std::string_view singular,
                Parse parse, const std::set<std::string, std::less<>>* enabled, std::vector<T>& out,
                std::vector<std::string>& errors) {
  const json::value* list = root.if_contains(key);
  if (list == nullptr || list->is_null()) {
    return;
  }
  if (!list->is_array()) {
    errors.push_back(std::string(key) + ": expected a list, got " + schema::type_name(*list));
    return;
  }
  std::set<std::string> seen;
  const json::array& items = list->get_array();
  for (size_t i = 0; i < items.size(); ++i) {
    std::string label = std::string(singular) + " " + item_id(items[i], i);
    json::value item = items[i];
    if (item.is_object()) {
      // Bookkeeping that the resource schemas do not know about.
      item.get_object().erase("modifiedIndex");
      if (std::optional<std::string> name = disabled_plugin(item.get_object(), enabled)) {
        errors.push_back(label + ": unknown plugin [" + *name + "]");
        continue;
      }
    }
    Result<T> parsed = parse(item);
    if (!parsed) {
      errors.push_back(label + ": " + parsed.error().context);
      continue;
    }
    if (!seen.insert(parsed->id).second) {
      errors.push_back(label + ": duplicate id, item " + std::to_string(i + 1) + " skipped");
      continue;
    }
    out.push_back(std::move(*parsed));
  }
}

}  // namespace

Result<StandaloneConfig> parse_standalone_yaml(std::string_view text, const EnvLookup& env,
                                               const std::vector<std::string>* enabled_plugins) {
  if (!has_end_flag(text)) {
    return Error::config("missing valid end flag");
  }
  Result<Substituted> substituted = substitute_env(text, env);
  if (!substituted) {
    return Error::config("failed to handle configuration: " + substituted.error().context);
  }
  Result<json::value> doc = parse_yaml(substituted->text);
  if (!doc) {
    return doc.error();
  }
  if (doc->is_null()) {
    *doc = json::object();
  }
  if (!doc->is_object()) {
    return Error::config("invalid standalone configuration: the top level must be a mapping, got " +
                         schema::type_name(*doc));
  }
  StandaloneConfig out;
  json::object& root = doc->get_object();
  // A collection that is not a list makes the whole file unusable: like a YAML error, it keeps
  // the previous configuration in place (core.md §2.7) instead of emptying that collection.
  for (std::string_view key :
       {"routes", "services", "upstreams", "consumers", "ssls", "global_rules", "plugin_configs",
        "plugin_metadata", "stream_routes", "protos", "secrets", "consumer_groups"}) {
    const json::value* list = root.if_contains(key);
    if (list != nullptr && !list->is_null() && !list->is_array()) {
      return Error::config(std::string(key) + ": expected a list, got " + schema::type_name(*list));
    }
  }
  normalise_items(root);

  if (const json::value* list = root.if_contains("plugins"); list && !list->is_null()) {
    out.plugins = read_plugin_list(*list, out.item_errors);
  }
  std::optional<std::set<std::string, std::less<>>> enabled;
  if (out.plugins) {
    enabled.emplace(out.plugins->begin(), out.plugins->end());
  } else if (enabled_plugins != nullptr) {
    enabled.emplace(enabled_plugins->begin(), enabled_plugins->end());
  }
  const auto* enabled_set = enabled ? &*enabled : nullptr;

  parse_kind<Upstream>(root, "upstreams", "upstream", parse_upstream, nullptr, out.upstreams,
                       out.item_errors);
  parse_kind<Service>(root, "services", "service", parse_service, enabled_set, out.services,
                      out.item_errors);
  parse_kind<Route>(root, "routes", "route", parse_route, enabled_set, out.routes, out.item_errors);
  out.raw = std::move(*doc);
  return out;
}

}  // namespace apisix::config
