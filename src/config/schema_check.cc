#include "config/schema_check.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include <arpa/inet.h>
#include <boost/json/serialize.hpp>

namespace apisix::config::schema {
namespace json = boost::json;
namespace {

constexpr std::string_view kIdPattern = "^[a-zA-Z0-9-_.]+$";
constexpr std::string_view kHostPattern = R"(^\*?[0-9a-zA-Z-._\[\]:]+$)";
constexpr std::string_view kLabelPattern = R"(^\S+$)";

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++n;
    }
  }
  return n;
}

double as_double(const json::value& v) {
  if (v.is_int64()) {
    return static_cast<double>(v.get_int64());
  }
  if (v.is_uint64()) {
    return static_cast<double>(v.get_uint64());
  }
  return v.get_double();
}

// Digits only, value within [0, max].
bool is_prefix_length(std::string_view s, int max) {
  if (s.empty() || s.size() > 3) {
    return false;
  }
  int n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
    n = n * 10 + (c - '0');
  }
  return n <= max;
}

}  // namespace

std::string type_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
      return "object";
    case json::kind::array:
      return "array";
    case json::kind::string:
      return "string";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::bool_:
      return "boolean";
    case json::kind::null:
      return "null";
  }
  return "null";
}

double number_value(const json::value& v) {
  if (v.is_int64()) {
    return static_cast<double>(v.get_int64());
  }
  if (v.is_uint64()) {
    return static_cast<double>(v.get_uint64());
  }
  return v.get_double();
}

std::string lua_number_text(double d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.14g", d);
  return buf;
}

std::string number_text(const json::value& v) {
  if (v.is_int64()) {
    return std::to_string(v.get_int64());
  }
  if (v.is_uint64()) {
    return std::to_string(v.get_uint64());
  }
  if (v.is_double()) {
    return lua_number_text(v.get_double());
  }
  return json::serialize(v);
}

bool is_integer(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) {
    return true;
  }
  if (v.is_double()) {
    double d = v.get_double();
    return std::isfinite(d) && std::trunc(d) == d;
  }
  return false;
}

int64_t integer_of(const json::value& v) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (v.is_int64()) {
    return v.get_int64();
  }
  if (v.is_uint64()) {
    return v.get_uint64() > static_cast<uint64_t>(kMax) ? kMax
                                                        : static_cast<int64_t>(v.get_uint64());
  }
  double d = v.get_double();
  if (d >= 9.2e18) {
    return kMax;
  }
  if (d <= -9.2e18) {
    return kMin;
  }
  return static_cast<int64_t>(d);
}

Msg in_property(std::string_view name, Msg inner) {
  if (!inner) {
    return inner;
  }
  return "property \"" + std::string(name) + "\" validation failed: " + *inner;
}

Msg in_item(size_t zero_based_index, Msg inner) {
  if (!inner) {
    return inner;
  }
  return "failed to validate item " + std::to_string(zero_based_index + 1) + ": " + *inner;
}

Msg required(std::string_view name) { return "property \"" + std::string(name) + "\" is required"; }

Msg wrong_type(std::string_view expected, const json::value& v) {
  return "wrong type: expected " + std::string(expected) + ", got " + type_name(v);
}

Msg check_object(const json::value& v) { return v.is_object() ? Msg() : wrong_type("object", v); }

Msg check_bool(const json::value& v) { return v.is_bool() ? Msg() : wrong_type("boolean", v); }

Msg check_string(const json::value& v, size_t min_len, size_t max_len) {
  if (!v.is_string()) {
    return wrong_type("string", v);
  }
  const json::string& s = v.get_string();
  size_t len = utf8_length(std::string_view(s.data(), s.size()));
  if (len < min_len) {
    return "string too short, expected at least " + std::to_string(min_len) + ", got " +
           std::to_string(len);
  }
  if (len > max_len) {
    return "string too long, expected at most " + std::to_string(max_len) + ", got " +
           std::to_string(len);
  }
  return std::nullopt;
}

Msg check_integer(const json::value& v, std::optional<int64_t> min, std::optional<int64_t> max) {
  if (!v.is_number()) {
    return wrong_type("integer", v);
  }
  if (!is_integer(v)) {
    return wrong_type("integer", v);
  }
  int64_t n = integer_of(v);
  if (min && n < *min) {
    return "expected " + number_text(v) + " to be at least " + std::to_string(*min);
  }
  if (max && n > *max) {
    return "expected " + number_text(v) + " to be at most " + std::to_string(*max);
  }
  return std::nullopt;
}

Msg check_number(const json::value& v, std::optional<double> min,
                 std::optional<double> exclusive_min) {
  if (!v.is_number()) {
    return wrong_type("number", v);
  }
  double d = as_double(v);
  if (std::isnan(d)) {
    return "expected a number, got nan";
  }
  json::value bound;
  if (min && d < *min) {
    bound = *min;
    return "expected " + number_text(v) + " to be at least " + number_text(bound);
  }
  if (exclusive_min && d <= *exclusive_min) {
    bound = *exclusive_min;
    return "expected " + number_text(v) + " to be greater than " + number_text(bound);
  }
  return std::nullopt;
}

Msg check_array(const json::value& v, size_t min_items, bool unique) {
  if (!v.is_array()) {
    return wrong_type("array", v);
  }
  const json::array& arr = v.get_array();
  if (arr.size() < min_items) {
    return "expect array to have at least " + std::to_string(min_items) + " items";
  }
  if (unique) {
    for (size_t i = 0; i < arr.size(); ++i) {
      for (size_t j = i + 1; j < arr.size(); ++j) {
        if (arr[i] == arr[j]) {
          return "expected unique items but items " + std::to_string(i + 1) + " and " +
                 std::to_string(j + 1) + " are equal";
        }
      }
    }
  }
  return std::nullopt;
}

Msg pattern_mismatch(std::string_view pattern, std::string_view text) {
  return "failed to match pattern \"" + std::string(pattern) + "\" with \"" + std::string(text) +
         "\"";
}

Msg check_known(const json::object& o, std::initializer_list<std::string_view> known) {
  for (const auto& kv : o) {
    bool found = false;
    for (std::string_view k : known) {
      if (kv.key() == k) {
        found = true;
        break;
      }
    }
    if (!found) {
      return "additional properties forbidden, found " + std::string(kv.key());
    }
  }
  return std::nullopt;
}

Msg check_fields(const json::object& o, std::initializer_list<FieldCheck> fields) {
  for (const FieldCheck& f : fields) {
    if (Msg m = field(o, f.key, f.check)) {
      return m;
    }
  }
  return std::nullopt;
}

Check integer_in(std::optional<int64_t> min, std::optional<int64_t> max) {
  return [min, max](const json::value& v) { return check_integer(v, min, max); };
}

Check number_in(std::optional<double> min, std::optional<double> exclusive_min) {
  return [min, exclusive_min](const json::value& v) { return check_number(v, min, exclusive_min); };
}

Check string_len(size_t min_len, size_t max_len) {
  return [min_len, max_len](const json::value& v) { return check_string(v, min_len, max_len); };
}

Check string_enum(std::vector<std::string_view> allowed) {
  return [allowed = std::move(allowed)](const json::value& v) -> Msg {
    if (!v.is_string()) {
      return wrong_type("string", v);
    }
    for (std::string_view a : allowed) {
      if (v.get_string() == a) {
        return std::nullopt;
      }
    }
    return "matches none of the enum values";
  };
}

Check array_of(size_t min_items, bool unique, Check item) {
  return [min_items, unique, item = std::move(item)](const json::value& v) -> Msg {
    if (Msg m = check_array(v, min_items, unique)) {
      return m;
    }
    return item ? items(v, item) : std::nullopt;
  };
}

Msg check_id(const json::value& v) {
  if (v.is_string()) {
    if (Msg m = check_string(v, 1, 64)) {
      return m;
    }
    for (char c : v.get_string()) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.';
      if (!ok) {
        return pattern_mismatch(kIdPattern, v.get_string());
      }
    }
    return std::nullopt;
  }
  if (v.is_number()) {
    return check_integer(v, 1, std::nullopt);
  }
  return wrong_type("string or integer", v);
}

std::string id_text(const json::value& v) {
  if (v.is_string()) {
    return std::string(v.get_string());
  }
  return std::to_string(integer_of(v));
}

Msg check_host(const json::value& v) {
  if (!v.is_string()) {
    return wrong_type("string", v);
  }
  std::string_view s(v.get_string().data(), v.get_string().size());
  if (s == "*") {
    return std::nullopt;
  }
  std::string_view rest = s;
  if (!rest.empty() && rest.front() == '*') {
    rest.remove_prefix(1);
  }
  bool ok = !rest.empty();
  for (char c : rest) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '[' || c == ']' || c == ':');
  }
  return ok ? Msg() : pattern_mismatch(kHostPattern, s);
}

Msg check_ip(const json::value& v) {
  if (!v.is_string()) {
    return wrong_type("string", v);
  }
  std::string s(v.get_string());
  size_t slash = s.find('/');
  std::string addr = s.substr(0, slash);
  bool ok = false;
  if (slash == std::string::npos) {
    ok = is_ipv4(addr) || is_ipv6(addr);
  } else {
    std::string_view prefix = std::string_view(s).substr(slash + 1);
    // APISIX's IPv6/CIDR pattern takes any 1..3 digit prefix length ("/[0-9]{1,3}$"), so
    // "::1/200" passes; lua-resty-ipmatcher then reads a length above 128 as 128.
    ok = (is_ipv4(addr) && is_prefix_length(prefix, 32)) ||
         (is_ipv6(addr) && is_prefix_length(prefix, 999));
  }
  return ok ? Msg() : "\"" + s + "\" is not an IPv4 or IPv6 address or CIDR";
}

Msg check_labels(const json::value& v) {
  if (Msg m = check_object(v)) {
    return m;
  }
  for (const auto& kv : v.get_object()) {
    Msg m = check_string(kv.value(), 1, 256);
    if (!m) {
      for (char c : kv.value().get_string()) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
          m = pattern_mismatch(kLabelPattern, kv.value().get_string());
          break;
        }
      }
    }
    if (m) {
      return "failed to validate " + std::string(kv.key()) + " (matching \".*\"): " + *m;
    }
  }
  return std::nullopt;
}

Msg check_timeout(const json::value& v) {
  if (Msg m = check_object(v)) {
    return m;
  }
  const json::object& o = v.get_object();
  for (std::string_view key : {"connect", "send", "read"}) {
    if (!o.contains(key)) {
      return required(key);
    }
  }
  Check positive = number_in(std::nullopt, 0.0);
  return check_fields(o, {{"connect", positive}, {"send", positive}, {"read", positive}});
}

Msg check_method(const json::value& v) {
  static const Check kMethod = string_enum(
      {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "PURGE"});
  return kMethod(v);
}

bool is_ipv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

bool is_secret_ref(const json::value& v) {
  if (!v.is_string()) {
    return false;
  }
  std::string_view s(v.get_string().data(), v.get_string().size());
  return s.starts_with("$secret://") || s.starts_with("$env://") || s.starts_with("$ENV://");
}

}  // namespace apisix::config::schema
