#pragma once
// Numbers from a plugin configuration. A schema's "integer" accepts any integer-valued JSON
// number (2.0, 1e30, 18446744073709551615), which Boost.JSON's to_number<int64_t>() refuses
// with an exception; these saturate instead.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>

#include <boost/json/value.hpp>

namespace apisix::plugins {

// The integer `v` stands for, clamped to [lo, hi]; 0 clamped when `v` is not a number.
inline int64_t int_of(const boost::json::value& v, int64_t lo = std::numeric_limits<int64_t>::min(),
                      int64_t hi = std::numeric_limits<int64_t>::max()) {
  int64_t out = 0;
  if (v.is_int64()) {
    out = v.get_int64();
  } else if (v.is_uint64()) {
    out = v.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
              ? std::numeric_limits<int64_t>::max()
              : static_cast<int64_t>(v.get_uint64());
  } else if (v.is_double()) {
    double d = std::trunc(v.get_double());
    if (std::isnan(d)) {
      out = 0;
    } else if (d >= 9.2e18) {
      out = std::numeric_limits<int64_t>::max();
    } else if (d <= -9.2e18) {
      out = std::numeric_limits<int64_t>::min();
    } else {
      out = static_cast<int64_t>(d);
    }
  }
  return out < lo ? lo : (out > hi ? hi : out);
}

// The same within the range of int.
inline int int32_of(const boost::json::value& v) {
  return static_cast<int>(
      int_of(v, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

// A number as LuaJIT's tostring() prints it ("%.14g": 3 -> "3", 3.5 -> "3.5", 1e15 -> "1e+15",
// inf -> "inf").
inline std::string lua_number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.14g", v);
  return buf;
}

// A JSON number the same way (cjson decodes every number to a double); "" for anything else.
inline std::string lua_number_text(const boost::json::value& v) {
  return v.is_number() ? lua_number_text(v.to_number<double>()) : std::string();
}

// A header value from a configuration, as APISIX writes it into ngx.header: strings as they
// are, integers in full, other numbers as tostring() prints them; nullopt for other types.
inline std::optional<std::string> header_value_text(const boost::json::value& v) {
  if (const auto* s = v.if_string()) {
    return std::string(*s);
  }
  if (v.is_int64()) {
    return std::to_string(v.get_int64());
  }
  if (v.is_uint64()) {
    return std::to_string(v.get_uint64());
  }
  if (v.is_double()) {
    return lua_number_text(v.get_double());
  }
  return std::nullopt;
}

}  // namespace apisix::plugins
