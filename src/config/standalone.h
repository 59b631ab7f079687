#pragma once
// The standalone configuration file, conf/apisix.yaml (core.md §2.7): every resource in one
// YAML document, re-read as a whole when it changes. Parsed on the control thread; the
// result is turned into a snapshot and then dropped.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "config/env.h"
#include "config/model/route.h"
#include "config/model/service.h"
#include "config/model/upstream.h"
#include "core/result.h"

namespace apisix::config {

struct StandaloneConfig {
  std::vector<Route> routes;
  std::vector<Service> services;
  std::vector<Upstream> upstreams;
  // The file's own `plugins:` list (names of entries without `stream: true`), which replaces
  // the enabled-plugin list from config.yaml; unset when the file has no such key.
  std::optional<std::vector<std::string>> plugins;
  // One line per skipped item, naming its kind and id: "route r1: invalid configuration: ...".
  std::vector<std::string> item_errors;
  // The whole document after substitution, with ids normalised (integers stringified,
  // missing ids filled with arr_<n>) and null plugin entries turned into {}. Kinds that are
  // not typed yet (consumers, ssls, global_rules, plugin_configs, ...) are read from here.
  boost::json::value raw;
};

// Parses the text of apisix.yaml:
//  - the text must contain "#END" within its last 10 bytes ("missing valid end flag");
//  - `${{VAR}}` / `${{VAR:=default}}` are replaced in the text before YAML parsing, so quoting
//    decides the type; an unset variable without default fails the whole file;
//  - a YAML error fails the whole file (the caller keeps its previous configuration);
//  - an invalid item is skipped and reported in item_errors.
// `enabled_plugins`, when given, is the enabled-plugin list from config.yaml: an item using a
// plugin outside it (or outside the file's own `plugins:` list) is invalid, as in APISIX's
// file mode.
[[nodiscard]] Result<StandaloneConfig> parse_standalone_yaml(
    std::string_view text, const EnvLookup& env,
    const std::vector<std::string>* enabled_plugins = nullptr);

}  // namespace apisix::config
