#pragma once
// JSON Schema engine: compiles a schema document once into an immutable validator and checks
// JSON values against it with APISIX's semantics (core.md §4.17) and message shapes (§3.13).
//
// Behaviour follows the `jsonschema` Lua library APISIX uses, including its quirks:
// - Type names in messages are Lua's: objects and arrays are "table", null is "userdata".
// - Checks run in a fixed order: type; for objects required (in the order listed), properties
//   (schema order; defaults filled in), dependencies, patternProperties and
//   additionalProperties (the value's key order), min/maxProperties; for arrays
//   min/maxItems, items, uniqueItems; for strings min/maxLength, pattern; for numbers
//   minimum, exclusiveMinimum, maximum, exclusiveMaximum, multipleOf; then enum, allOf,
//   anyOf, oneOf, if/then/else, not, format, const. The first failure is reported.
// - A "$ref" replaces the whole schema object it sits in (sibling keywords are ignored).
// - A secret reference (a string starting with "$secret://", or with "$env://" in any case)
//   is valid for any schema whose "type" is absent or exactly "string" (apisix/secret.lua
//   is_secret_ref); a field of another type still wants its type.
// - Patterns are PCRE, unanchored, matched on bytes; "required": [] accepts only an empty
//   object or array.
// - Validation stops with "validation exceeded its work limit" or "schema recursion too
//   deep" when a value/schema pair would take unbounded time (schemas that recurse without
//   descending into the value, or exponential anyOf/oneOf nesting).
// Unknown keywords are ignored. Defaults are written only by the "properties" keyword, only
// into objects that exist, and inside anyOf/oneOf/if only by the branch that is accepted;
// they are copied as they are, not validated, and a null default is never written.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "core/result.h"

namespace apisix::schema {

// A compiled schema: immutable once built, shared read-only by any number of threads.
class Schema {
 public:
  // Compiles the subschema of `document` found at JSON pointer `pointer` ("" = the whole
  // document; a leading "#" is accepted). "$ref" values of the form "#/..." resolve against
  // `document`. The result does not refer to `document` afterwards.
  static Result<std::shared_ptr<const Schema>> compile(const boost::json::value& document,
                                                       std::string_view pointer = "");
  virtual ~Schema() = default;
  // Validates `value`, writing defaults into it where the parent object exists; nullopt when
  // valid, else the APISIX-shaped message.
  virtual std::optional<std::string> validate(boost::json::value& value) const = 0;
  // The same verdict without changing `value` (defaults are written into a copy, so rules
  // that depend on a defaulted field see the default, as in APISIX).
  virtual std::optional<std::string> check(const boost::json::value& value) const = 0;
};

// The subschema at `pointer` with every "$ref" replaced by what it points to (recursive
// references are left as they are after the first expansion), as the schema endpoints show it.
Result<boost::json::value> expand_refs(const boost::json::value& document,
                                       std::string_view pointer = "");

}  // namespace apisix::schema
