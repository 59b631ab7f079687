#include "schema/core_schemas.h"

#include <map>
#include <memory>
#include <string>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include "core/log.h"

namespace apisix::schema {
namespace detail {
// Defined in the source that core_schemas.cmake generates: {file stem, JSON text} of each
// document in core/.
std::vector<std::pair<std::string_view, std::string_view>> embedded_core_schema_texts();
}  // namespace detail

namespace {

// One served name: where its document sits in core.json, and where the schema to compile sits
// when that differs (ip_def is a list of four schemas, as in APISIX; checking a value against
// it means matching any one of them).
struct NamedSchema {
  std::string_view name;
  std::string_view pointer;
  std::string_view compile_pointer;
};

// APISIX's names: the tables exported by schema_def.lua (served by GET /apisix/admin/schema/
// <name>, core.md §3.12.5), then the secret managers' schemas (apisix/secret/*.lua, §4.14).
constexpr NamedSchema kNamedSchemas[] = {
    {"route", "/definitions/route", ""},
    {"service", "/definitions/service", ""},
    {"upstream", "/definitions/upstream", ""},
    {"consumer", "/definitions/consumer", ""},
    {"credential", "/definitions/credential", ""},
    {"consumer_group", "/definitions/consumer_group", ""},
    {"ssl", "/definitions/ssl", ""},
    {"global_rule", "/definitions/global_rule", ""},
    {"plugin_config", "/definitions/plugin_config", ""},
    {"proto", "/definitions/proto", ""},
    {"stream_route", "/definitions/stream_route", ""},
    {"graphql_cost_decoration", "/definitions/graphql_cost_decoration", ""},
    {"plugins", "/definitions/plugins", ""},
    {"id_schema", "/definitions/id_schema", ""},
    {"host_def", "/definitions/host_def", ""},
    {"ip_def", "/definitions/ip_def", "/definitions/ip_def_any"},
    {"uri_def", "/definitions/uri_def", ""},
    {"label_value_def", "/definitions/label_value_def", ""},
    {"method_schema", "/definitions/method_schema", ""},
    {"anonymous_consumer_schema", "/definitions/anonymous_consumer_schema", ""},
    {"health_checker", "/definitions/health_checker", ""},
    {"health_checker_active", "/definitions/health_checker_active", ""},
    {"health_checker_passive", "/definitions/health_checker_passive", ""},
    {"discovery_nodes", "/definitions/discovery_nodes", ""},
    {"upstream_hash_vars_schema", "/definitions/upstream_hash_vars_schema", ""},
    {"upstream_hash_header_schema", "/definitions/upstream_hash_header_schema", ""},
    {"upstream_hash_vars_combinations_schema",
     "/definitions/upstream_hash_vars_combinations_schema", ""},
    {"plugin_injected_schema", "/definitions/plugin_injected_schema", ""},
    {"secret_vault", "/definitions/secret_vault", ""},
    {"secret_aws", "/definitions/secret_aws", ""},
    {"secret_gcp", "/definitions/secret_gcp", ""},
};

constexpr std::string_view kDocumentStem = "core";

struct CompiledSchema {
  std::shared_ptr<const Schema> schema;
  boost::json::value expanded;
};

// Every named schema, compiled once on first use and immutable afterwards; shared by all
// threads. A document that fails to parse or compile is a bug in core/*.json: it is logged and
// its names stay unknown (the tests compile every name).
class CoreSchemaCatalog {
 public:
  CoreSchemaCatalog() {
    for (const auto& [stem, text] : detail::embedded_core_schema_texts()) {
      if (stem == kDocumentStem) {
        load(text);
      }
    }
  }

  const CompiledSchema* find(std::string_view name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &it->second;
  }

 private:
  void load(std::string_view text) {
    boost::system::error_code ec;
    boost::json::value document = boost::json::parse(text, ec);
    if (ec) {
      core::log_error("core schemas: ", kDocumentStem, ".json does not parse: ", ec.message());
      return;
    }
    for (const NamedSchema& named : kNamedSchemas) {
      std::string_view compile_at =
          named.compile_pointer.empty() ? named.pointer : named.compile_pointer;
      auto schema = Schema::compile(document, compile_at);
      if (!schema) {
        core::log_error("core schemas: ", named.name,
                        " does not compile: ", schema.error().context);
        continue;
      }
      auto expanded = expand(document, named.pointer);
      if (!expanded) {
        core::log_error("core schemas: ", named.name,
                        " cannot be expanded: ", expanded.error().context);
        continue;
      }
      by_name_.emplace(named.name,
                       CompiledSchema{std::move(schema.value()), std::move(expanded.value())});
    }
  }

  // expand_refs() expands a schema; a list of schemas (ip_def) is expanded item by item.
  static Result<boost::json::value> expand(const boost::json::value& document,
                                           std::string_view pointer) {
    boost::system::error_code ec;
    const boost::json::value* at = document.find_pointer(pointer, ec);
    if (at == nullptr || !at->is_array()) {
      return expand_refs(document, pointer);
    }
    boost::json::array items;
    for (size_t i = 0; i < at->get_array().size(); ++i) {
      auto item = expand_refs(document, std::string(pointer) + "/" + std::to_string(i));
      if (!item) {
        return item.error();
      }
      items.push_back(std::move(item.value()));
    }
    return boost::json::value(std::move(items));
  }

  std::map<std::string_view, CompiledSchema, std::less<>> by_name_;
};

const CoreSchemaCatalog& catalog() {
  static const CoreSchemaCatalog instance;
  return instance;
}

}  // namespace

const Schema* core_schema(std::string_view name) {
  const CompiledSchema* found = catalog().find(name);
  return found == nullptr ? nullptr : found->schema.get();
}

const boost::json::value* core_schema_document(std::string_view name) {
  const CompiledSchema* found = catalog().find(name);
  return found == nullptr ? nullptr : &found->expanded;
}

std::vector<std::string_view> core_schema_names() {
  std::vector<std::string_view> names;
  names.reserve(std::size(kNamedSchemas));
  for (const NamedSchema& named : kNamedSchemas) {
    names.push_back(named.name);
  }
  return names;
}

}  // namespace apisix::schema
