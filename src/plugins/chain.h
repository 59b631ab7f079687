#pragma once
// Plugin chains: which plugin instances run for a request and in which order, from the
// `plugins` objects of the resources involved, with APISIX's merge rules (plugins.md §1.1,
// §1.3, §2). Pure functions over JSON, used when a snapshot is built (never per request); the
// result points into the JSON it was built from, which must outlive it.
//
// Precedence, highest first: consumer > consumer group > route > plugin config > service
// (one instance per plugin name). Global rules form a chain of their own; a plugin named in
// two global rules runs in neither. `_meta.disable` removes an instance after merging, so a
// disabled instance hides the ones it overrides. Order: effective priority (`_meta.priority`
// when set, else the plugin's), descending; ties by name.

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace apisix::plugins {

// Where an instance's configuration came from.
enum class Origin { Service, PluginConfig, Route, ConsumerGroup, Consumer, GlobalRule };

struct ChainEntry {
  std::string name;                          // "limit-count"
  const boost::json::value* conf = nullptr;  // the instance's configuration object
  Origin origin = Origin::Route;
  std::string owner_id;   // id of the resource holding it (route id, global rule id, ...)
  int priority = 0;       // effective priority
  bool disabled = false;  // _meta.disable: kept while merging, dropped by finish()
};

// A set of instances by plugin name, merged layer by layer.
class PluginSet {
 public:
  // Adds every plugin of `plugins` (a `plugins` object) from `origin`, replacing instances
  // of the same name that came from a layer of lower precedence. `priority_of` gives a
  // plugin's default priority, or nullopt for a plugin this build does not know (skipped;
  // its name is added to `unknown`).
  template <typename PriorityOf>
  void add(const boost::json::object& plugins, Origin origin, std::string_view owner_id,
           PriorityOf&& priority_of);

  const std::vector<ChainEntry>& entries() const { return entries_; }
  const std::vector<std::string>& unknown() const { return unknown_; }

  // The chain to run: enabled instances in execution order.
  std::vector<ChainEntry> finish() const;

 private:
  void put(ChainEntry entry);
  std::vector<ChainEntry> entries_;
  std::vector<std::string> unknown_;
};

// The effective priority of an instance: an integer `_meta.priority`, else `fallback`.
int effective_priority(const boost::json::value& conf, int fallback);
// True when `_meta.disable` is true.
bool is_disabled(const boost::json::value& conf);
// Execution order: priority descending, then name.
void sort_chain(std::vector<ChainEntry>& chain);

// The global-rule chain: every global rule's plugins; a plugin name found in more than one
// rule is dropped from the chain entirely (its name goes to `conflicts`).
struct GlobalRule {
  std::string id;
  const boost::json::object* plugins = nullptr;
};
template <typename PriorityOf>
std::vector<ChainEntry> global_chain(const std::vector<GlobalRule>& rules, PriorityOf&& priority_of,
                                     std::vector<std::string>& conflicts);

// ---- implementation of the templates ----

template <typename PriorityOf>
void PluginSet::add(const boost::json::object& plugins, Origin origin, std::string_view owner_id,
                    PriorityOf&& priority_of) {
  for (const auto& [key, conf] : plugins) {
    std::string_view name = key;
    auto priority = priority_of(name);
    if (!priority) {
      unknown_.emplace_back(name);
      continue;
    }
    put(ChainEntry{std::string(name), &conf, origin, std::string(owner_id),
                   effective_priority(conf, *priority), is_disabled(conf)});
  }
}

template <typename PriorityOf>
std::vector<ChainEntry> global_chain(const std::vector<GlobalRule>& rules, PriorityOf&& priority_of,
                                     std::vector<std::string>& conflicts) {
  std::vector<ChainEntry> all;
  for (const GlobalRule& rule : rules) {
    if (rule.plugins == nullptr) continue;
    for (const auto& [key, conf] : *rule.plugins) {
      std::string_view name = key;
      auto priority = priority_of(name);
      if (!priority) continue;
      all.push_back(ChainEntry{std::string(name), &conf, Origin::GlobalRule, rule.id,
                               effective_priority(conf, *priority), is_disabled(conf)});
    }
  }
  std::vector<ChainEntry> out;
  for (const ChainEntry& e : all) {
    size_t uses = 0;
    for (const ChainEntry& other : all) {
      uses += other.name == e.name ? 1 : 0;
    }
    if (uses > 1) {
      bool listed = false;
      for (const std::string& c : conflicts) listed = listed || c == e.name;
      if (!listed) conflicts.push_back(e.name);
      continue;
    }
    if (!e.disabled) out.push_back(e);
  }
  sort_chain(out);
  return out;
}

}  // namespace apisix::plugins
