// Fuzzes the JSON Schema engine (core.md §4.17). The input is a schema document on the first
// line and the value to check on the rest. Compiles the schema (whole document and, when the
// document has "definitions", each of them), checks and validates the value, and expands
// references. Checks that nothing crashes, that check() leaves the value alone and is
// repeatable, and that every failure comes with a message.
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "fuzz/fuzz_support.h"
#include "schema/json_schema.h"

namespace {

namespace json = boost::json;
using apisix::fuzz::require;

void exercise(const json::value& document, std::string_view pointer, const json::value* value) {
  auto schema = apisix::schema::Schema::compile(document, pointer);
  if (!schema) {
    require(!schema.error().context.empty(), "compile errors have a message");
    return;
  }
  if (value == nullptr) {
    return;
  }
  const std::string before = json::serialize(*value);
  auto first = (*schema)->check(*value);
  auto second = (*schema)->check(*value);
  require(first == second, "check() is repeatable");
  require(!first || !first->empty(), "failures have a message");
  require(json::serialize(*value) == before, "check() leaves the value alone");

  json::value copy = *value;
  auto validated = (*schema)->validate(copy);
  require(!validated || !validated->empty(), "failures have a message");
  if (validated) {
    return;
  }
  // Whatever defaults were written, they were only added: a second validate() may now
  // reject the filled-in value (defaults are not validated), but it must not crash.
  json::value again = copy;
  (void)(*schema)->validate(again);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  std::string_view schema_text = input.substr(0, newline);
  std::string_view value_text =
      newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);

  boost::system::error_code ec;
  json::value document = json::parse(schema_text, ec);
  if (ec) {
    return 0;
  }
  json::value value = json::parse(value_text, ec);
  const json::value* value_ptr = ec ? nullptr : &value;

  exercise(document, "", value_ptr);
  if (document.is_object()) {
    if (const json::value* defs = document.get_object().if_contains("definitions");
        defs != nullptr && defs->is_object()) {
      for (const auto& kv : defs->get_object()) {
        std::string pointer = "/definitions/";
        for (char c : kv.key()) {
          pointer += c == '~'   ? std::string("~0")
                     : c == '/' ? std::string("~1")
                                : std::string(1, c);
        }
        exercise(document, pointer, value_ptr);
      }
    }
  }

  auto expanded = apisix::schema::expand_refs(document);
  if (expanded) {
    // An expanded document keeps its definitions, so it still compiles whenever references
    // left in it (recursive ones) resolve; either way compiling it must not crash.
    (void)apisix::schema::Schema::compile(*expanded);
  } else {
    require(!expanded.error().context.empty(), "expand errors have a message");
  }
  return 0;
}
