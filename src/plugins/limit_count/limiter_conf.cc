#include "plugins/limit_count/limiter_conf.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "plugins/conf_value.h"
#include "plugins/request.h"

namespace apisix::plugins::limit_count {

namespace json = boost::json;

namespace {

// 2^53 - 1: LuaJIT numbers are doubles; APISIX refuses resolved numbers beyond it.
constexpr double kMaxSafeInteger = 9007199254740991.0;

bool is_lua_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string client_address(const Request& request) {
  if (auto addr = request.var("remote_addr")) {
    return std::string(*addr);
  }
  return std::string(request.remote_addr());
}

}  // namespace

LimitKey LimitKey::compile(std::string_view key, std::string_view key_type) {
  LimitKey k;
  k.text_ = std::string(key);
  if (key_type == "var_combination") {
    k.type_ = KeyType::VarCombination;
    k.template_ = Template::compile(key);
  } else if (key_type == "constant") {
    k.type_ = KeyType::Constant;
  } else {
    k.type_ = KeyType::Var;
    k.ref_ = router::parse_var_ref(key);
  }
  return k;
}

std::string LimitKey::value(const Request& request) const {
  switch (type_) {
    case KeyType::Constant:
      return text_;
    case KeyType::Var:
      if (auto text = var_text(request.get(ref_))) {
        return std::move(*text);
      }
      break;
    case KeyType::VarCombination: {
      std::string out;
      if (template_.render(request, out) != 0) {
        return out;
      }
      break;
    }
  }
  // §5.1: an absent value counts by the client address.
  return client_address(request);
}

std::optional<std::string> LimitKey::rule_value(const Request& request) const {
  std::string out;
  if (template_.render(request, out) == 0) {
    return std::nullopt;
  }
  return out;
}

ConfNumber ConfNumber::from_json(const json::value& value) {
  ConfNumber n;
  if (value.is_string()) {
    n.is_template_ = true;
    n.text_ = std::string(value.get_string());
    n.template_ = Template::compile(n.text_);
  } else if (value.is_number()) {
    n.literal_ = int_of(value);  // saturated: 1e30 is an integer to the schema
  }
  return n;
}

ConfNumber ConfNumber::literal(int64_t value) {
  ConfNumber n;
  n.literal_ = value;
  return n;
}

std::optional<int64_t> ConfNumber::resolve(const Request& request, bool allow_zero,
                                           std::string* why) const {
  if (!is_template_) {
    return literal_;
  }
  auto fail = [&](std::string message) -> std::optional<int64_t> {
    if (why != nullptr) {
      *why = std::move(message);
    }
    return std::nullopt;
  };
  std::string text = template_.render(request);
  std::optional<double> number = lua_tonumber(text);
  if (!number) {
    return fail("resolved value is not a number: " + text);
  }
  const double v = *number;
  if (allow_zero ? v < 0 : v <= 0) {
    return fail(std::string("resolved value must be a ") +
                (allow_zero ? "non-negative" : "positive") + " number, got: " + lua_number(v));
  }
  if (v != std::floor(v)) {
    return fail("resolved value must be an integer, got: " + lua_number(v));
  }
  if (v > kMaxSafeInteger) {
    return fail("resolved value exceeds safe integer range (2^53-1), got: " + lua_number(v));
  }
  return static_cast<int64_t>(v);
}

std::optional<double> lua_tonumber(std::string_view text) {
  while (!text.empty() && is_lua_space(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_lua_space(text.back())) {
    text.remove_suffix(1);
  }
  if (text.empty()) {
    return std::nullopt;
  }
  std::string copy(text);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) {
    return std::nullopt;
  }
  if (std::isnan(v)) {
    return std::nullopt;
  }
  return v;
}

std::string lua_number(double value) {
  if (std::isinf(value)) {
    return value > 0 ? "inf" : "-inf";
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.14g", value);
  return buf;
}

std::string hundredths_text(int64_t centis) {
  if (centis < 0 || centis >= 1000000000000) {
    return lua_number(static_cast<double>(centis) / 100.0);
  }
  std::string out = std::to_string(centis / 100);
  int64_t fraction = centis % 100;
  if (fraction != 0) {
    out += '.';
    out += static_cast<char>('0' + fraction / 10);
    if (fraction % 10 != 0) {
      out += static_cast<char>('0' + fraction % 10);
    }
  }
  return out;
}

std::string counter_prefix(const CompileContext& ctx) {
  std::string prefix = ctx.resource_key;
  prefix += ':';
  prefix += ctx.conf_version;
  prefix += ':';
  return prefix;
}

redis::RedisOptions redis_options(const json::object& conf) {
  redis::RedisOptions o;
  o.host = string_field(conf, "redis_host", o.host);
  o.port = static_cast<uint16_t>(int_field(conf, "redis_port", 6379));
  o.username = string_field(conf, "redis_username");
  o.password = string_field(conf, "redis_password");
  o.database = int_field(conf, "redis_database", 0);
  o.timeout = std::chrono::milliseconds(int_field(conf, "redis_timeout", 1000));
  o.ssl = bool_field(conf, "redis_ssl", false);
  o.ssl_verify = bool_field(conf, "redis_ssl_verify", false);
  o.keepalive_timeout =
      std::chrono::milliseconds(int_field(conf, "redis_keepalive_timeout", 10000));
  o.keepalive_pool = static_cast<size_t>(int_field(conf, "redis_keepalive_pool", 100));
  return o;
}

std::string string_field(const json::object& conf, std::string_view name,
                         std::string_view fallback) {
  const json::value* v = conf.if_contains(name);
  if (v != nullptr && v->is_string()) {
    return std::string(v->get_string());
  }
  return std::string(fallback);
}

int64_t int_field(const json::object& conf, std::string_view name, int64_t fallback) {
  const json::value* v = conf.if_contains(name);
  if (v == nullptr) {
    return fallback;
  }
  return v->is_number() ? int_of(*v) : fallback;
}

double number_field(const json::object& conf, std::string_view name, double fallback) {
  const json::value* v = conf.if_contains(name);
  if (v == nullptr) {
    return fallback;
  }
  if (v->is_double()) {
    return v->get_double();
  }
  if (v->is_int64()) {
    return static_cast<double>(v->get_int64());
  }
  if (v->is_uint64()) {
    return static_cast<double>(v->get_uint64());
  }
  return fallback;
}

bool bool_field(const json::object& conf, std::string_view name, bool fallback) {
  const json::value* v = conf.if_contains(name);
  return v != nullptr && v->is_bool() ? v->get_bool() : fallback;
}

}  // namespace apisix::plugins::limit_count
