#pragma once
// The core resource schemas of APISIX (core.md §4), embedded from core/*.json and compiled once,
// by name: the resources "route", "service", "upstream", "consumer", "credential",
// "consumer_group", "ssl", "global_rule", "plugin_config", "stream_route", "proto",
// "graphql_cost_decoration" and "plugins" (the plugin list, §4.15); every other table that
// APISIX's schema_def.lua exports ("id_schema", "host_def", "ip_def", "uri_def",
// "label_value_def", "method_schema", "anonymous_consumer_schema", "health_checker",
// "health_checker_active", "health_checker_passive", "discovery_nodes",
// "upstream_hash_vars_schema", "upstream_hash_header_schema",
// "upstream_hash_vars_combinations_schema", "plugin_injected_schema"); and the secret managers'
// schemas "secret_vault", "secret_aws", "secret_gcp" (§4.14), which APISIX's schema endpoint
// does not serve. Immutable after first use; safe to call from any thread.

#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "schema/json_schema.h"

namespace apisix::schema {

// The compiled schema, or null for an unknown name.
const Schema* core_schema(std::string_view name);
// The schema document as the schema endpoints return it (references expanded), or null.
// For "ip_def" that is APISIX's list of four schemas; core_schema("ip_def") matches any of them.
const boost::json::value* core_schema_document(std::string_view name);
// Every name core_schema() knows.
std::vector<std::string_view> core_schema_names();

}  // namespace apisix::schema
