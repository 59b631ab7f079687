#pragma once
// JSON Schema engine: compiles a schema document once into an immutable validator and checks
// JSON values against it with APISIX's semantics (core.md §4.17) and message shapes (§3.13).

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "core/result.h"

namespace apisix::schema {

class Schema {
 public:
  // Compiles the subschema of `document` found at JSON pointer `pointer` ("" = the whole
  // document). "$ref" values of the form "#/..." resolve against `document`.
  static Result<std::shared_ptr<const Schema>> compile(const boost::json::value& document,
                                                       std::string_view pointer = "");
  virtual ~Schema() = default;
  // Validates `value`, writing defaults into it where the parent object exists; nullopt when
  // valid, else the APISIX-shaped message.
  virtual std::optional<std::string> validate(boost::json::value& value) const = 0;
  // The same without changing `value`.
  virtual std::optional<std::string> check(const boost::json::value& value) const = 0;
};

// The subschema at `pointer` with every "$ref" replaced by what it points to (recursive
// references are left as they are after the first expansion), as the schema endpoints show it.
Result<boost::json::value> expand_refs(const boost::json::value& document,
                                       std::string_view pointer = "");

}  // namespace apisix::schema
