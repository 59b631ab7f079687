#pragma once
// Small building blocks for hand-written schema checks that produce APISIX's message shapes
// (core.md §3.13). Each check returns nullopt when the value is fine, else the message.
// Used by resource_parse.cc; kept apart so the resource rules read like the schema tables.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace apisix::config::schema {

using Msg = std::optional<std::string>;

// "object", "array", "string", "number", "boolean" or "null", as the messages name them.
std::string type_name(const boost::json::value& v);
// Numbers as Lua prints them: 70000, 1.5.
std::string number_text(const boost::json::value& v);

// A JSON number as the double Lua holds it.
double number_value(const boost::json::value& v);
// A double as LuaJIT's tostring() prints it ("%.14g").
std::string lua_number_text(double d);

// A JSON number without a fractional part (1.0 counts, as in APISIX).
bool is_integer(const boost::json::value& v);
// Only meaningful after is_integer(); saturates outside the int64 range.
int64_t integer_of(const boost::json::value& v);

Msg in_property(std::string_view name, Msg inner);
Msg in_item(size_t zero_based_index, Msg inner);  // reported 1-based
Msg required(std::string_view name);
Msg wrong_type(std::string_view expected, const boost::json::value& v);

Msg check_object(const boost::json::value& v);
Msg check_bool(const boost::json::value& v);
Msg check_string(const boost::json::value& v, size_t min_len, size_t max_len);
Msg check_integer(const boost::json::value& v, std::optional<int64_t> min,
                  std::optional<int64_t> max);
// `exclusive_min` is the numeric exclusiveMinimum.
Msg check_number(const boost::json::value& v, std::optional<double> min,
                 std::optional<double> exclusive_min);
Msg check_array(const boost::json::value& v, size_t min_items, bool unique);
Msg pattern_mismatch(std::string_view pattern, std::string_view text);
// First key of `o` not in `known`, as "additional properties forbidden, found <key>".
Msg check_known(const boost::json::object& o, std::initializer_list<std::string_view> known);

// A check of one value, for tables of field checks.
using Check = std::function<Msg(const boost::json::value&)>;

struct FieldCheck {
  std::string_view key;
  Check check;
};

// Checks each field of `o` that is present, in the order given; the first failure is
// returned, naming its property. Absent fields are not checked (see `required`).
Msg check_fields(const boost::json::object& o, std::initializer_list<FieldCheck> fields);

// Factories for the common shapes.
Check integer_in(std::optional<int64_t> min, std::optional<int64_t> max);
Check number_in(std::optional<double> min, std::optional<double> exclusive_min);
Check string_len(size_t min_len, size_t max_len = std::numeric_limits<size_t>::max());
Check string_enum(std::vector<std::string_view> allowed);  // views of string literals
Check array_of(size_t min_items, bool unique, Check item = nullptr);

// Runs `check` on o[key] when the key is present, naming the property in the message.
template <typename Check>
Msg field(const boost::json::object& o, std::string_view key, Check&& check) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr) {
    return std::nullopt;
  }
  return in_property(key, check(*v));
}

// Runs `check` on every item of an array (after check_array), naming the 1-based item.
template <typename Check>
Msg items(const boost::json::value& v, Check&& check) {
  const auto& arr = v.get_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    if (Msg m = check(arr[i])) {
      return in_item(i, std::move(m));
    }
  }
  return std::nullopt;
}

// Shared definitions (core.md §4.1).
Msg check_id(const boost::json::value& v);
std::string id_text(const boost::json::value& v);  // after check_id: "1" for 1
Msg check_host(const boost::json::value& v);
// IPv4, IPv4/0..32, IPv6, or IPv6 with any prefix length of 1..3 digits (APISIX's loose
// pattern, core.md §4.1).
Msg check_ip(const boost::json::value& v);
Msg check_labels(const boost::json::value& v);
Msg check_timeout(const boost::json::value& v);
Msg check_method(const boost::json::value& v);
// IP literals as inet_pton reads them; no brackets, no prefix length.
bool is_ipv4(const std::string& s);
bool is_ipv6(const std::string& s);

// Secret references ($secret://, $env://, $ENV://) skip the checks of the field they fill.
bool is_secret_ref(const boost::json::value& v);

}  // namespace apisix::config::schema
