#pragma once
// The core resource schemas of APISIX (core.md §4), compiled once, by name: "route",
// "service", "upstream", "consumer", "credential", "consumer_group", "ssl", "global_rule",
// "plugin_config", "stream_route", "proto", "secret_vault", "secret_aws", "secret_gcp", and
// the shared definitions the schema endpoints also serve ("id_schema", "plugins",
// "upstream_hash_vars_schema", "upstream_hash_header_schema", "method_schema",
// "health_checker", ...).

#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "schema/json_schema.h"

namespace apisix::schema {

// The compiled schema, or null for an unknown name.
const Schema* core_schema(std::string_view name);
// The schema document as the schema endpoints return it (references expanded), or null.
const boost::json::value* core_schema_document(std::string_view name);
// Every name core_schema() knows.
std::vector<std::string_view> core_schema_names();

}  // namespace apisix::schema
