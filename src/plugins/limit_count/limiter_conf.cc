#include "plugins/limit_count/limiter_conf.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "plugins/conf_value.h"
#include "plugins/request.h"
#include "router/expr.h"

namespace apisix::plugins::limit_count {

namespace json = boost::json;

namespace {

// 2^53 - 1: LuaJIT numbers are doubles; APISIX refuses resolved numbers beyond it.
constexpr double kMaxSafeInteger = 9007199254740991.0;

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
                (allow_zero ? "non-negative" : "positive") + " number, got: " + lua_number_text(v));
  }
  if (v != std::floor(v)) {
    return fail("resolved value must be an integer, got: " + lua_number_text(v));
  }
  if (v > kMaxSafeInteger) {
    return fail("resolved value exceeds safe integer range (2^53-1), got: " + lua_number_text(v));
  }
  return static_cast<int64_t>(v);
}

std::optional<double> lua_tonumber(std::string_view text) {
  std::optional<double> v = router::parse_lua_number(text);
  if (v && std::isnan(*v)) {
    return std::nullopt;  // the count checks treat NaN as "not a number"
  }
  return v;
}

Result<bool> uses_redis(const json::object& conf) {
  const std::string policy = string_field(conf, "policy", "local");
  if (policy == "redis-cluster" || policy == "redis-sentinel") {
    return Error::config("policy \"" + policy +
                         "\" is not supported by this gateway; use \"local\" or \"redis\"");
  }
  return policy == "redis";
}

std::string hundredths_text(int64_t centis) {
  if (centis < 0 || centis >= 1000000000000) {
    return lua_number_text(static_cast<double>(centis) / 100.0);
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
