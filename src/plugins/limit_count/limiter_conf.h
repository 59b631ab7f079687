#pragma once
// What limit-count, limit-req and limit-conn share, compiled once per plugin instance and
// read by any worker (immutable):
//  - LimitKey: the value a limiter counts by (plugins.md §5.1: `key` with `key_type`, the
//    client address when the value is absent);
//  - ConfNumber: a count, window, conn or burst given as an integer or as a template resolved
//    per request (§5.2 `count`, §5.4 `conn`), checked as APISIX checks the resolved number;
//  - counter_prefix(): `<resource key>:<conf version>:` of §0.6 / §5.1;
//  - redis_options(): the `policy = "redis"` fields of §3.2 as a redis::RedisOptions;

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/result.h"
#include "plugins/plugin.h"
#include "plugins/runtime.h"
#include "plugins/template.h"
#include "redis/client.h"
#include "router/vars.h"

namespace apisix::plugins {
class Request;
}

namespace apisix::plugins::limit_count {

// `key_type` of the limiters (§5.1); `constant` is limit-count's only.
enum class KeyType : uint8_t { Var, VarCombination, Constant };

class LimitKey {
 public:
  LimitKey() = default;
  // `key_type` as the schema allows it ("var", "var_combination", "constant").
  static LimitKey compile(std::string_view key, std::string_view key_type);
  // A rule's key of limit-count and limit-conn `rules`: a template rendered per request; the
  // rule does not apply when no variable in it resolved.
  static LimitKey rule(std::string_view key) { return compile(key, "var_combination"); }

  // The value to count by; the client address ($remote_addr) when the variable is absent
  // (var), or when no variable of the template resolved (var_combination).
  std::string value(const Request& request) const;
  // A rule key's rendered text, or nullopt when no variable of it resolved.
  std::optional<std::string> rule_value(const Request& request) const;

  KeyType type() const { return type_; }
  const std::string& text() const { return text_; }

 private:
  KeyType type_ = KeyType::Var;
  std::string text_;
  router::VarRef ref_;  // KeyType::Var
  Template template_;   // KeyType::VarCombination
};

// An integer setting that may be a template ("${http_count ?? 2}"), as limit-count's `count`
// and `time_window` and limit-conn's `conn` and `burst`. Resolved like APISIX's resolve_var:
// the rendered text must read as a Lua number (tonumber) that is an integer, positive (or,
// with `allow_zero`, not negative) and at most 2^53 - 1.
class ConfNumber {
 public:
  ConfNumber() = default;
  // An integer, or a string (the template). Anything else is a literal 0 (the schema refused
  // it before).
  static ConfNumber from_json(const boost::json::value& value);
  static ConfNumber literal(int64_t value);

  // The number for this request; nullopt when the template does not give a valid one
  // (the message, for the error log, in `why` when given).
  std::optional<int64_t> resolve(const Request& request, bool allow_zero,
                                 std::string* why = nullptr) const;
  bool is_literal() const { return !is_template_; }
  int64_t literal_value() const { return literal_; }

 private:
  bool is_template_ = false;
  int64_t literal_ = 0;
  std::string text_;
  Template template_;
};

// Lua's tonumber() of a string: optional surrounding white space, decimal (with fraction and
// exponent) or hexadecimal; nullopt when the text is not a number.
std::optional<double> lua_tonumber(std::string_view text);

// lua_number_text(centis / 100.0) (conf_value.h) for 0 <= centis < 10^12 ("59.93", "59.9",
// "60", "0.05"), without formatting a double: the X-RateLimit-Reset value of every request.
std::string hundredths_text(int64_t centis);

// `<resource key>:<conf version>:`, the start of every counter key of an instance (§5.1).
std::string counter_prefix(const CompileContext& ctx);

// The runtime state `key` of `ctx.runtime` (made with `make` when there is none alive, or
// always when the context has no runtime, as in unit tests).
template <typename T, typename Make>
std::shared_ptr<T> obtain_state(CompileContext& ctx, const std::string& key, Make&& make) {
  if (ctx.runtime == nullptr) {
    return make();
  }
  return ctx.runtime->obtain<T>(key, std::forward<Make>(make));
}

// The `policy = "redis"` fields of a limiter's configuration (defaults filled by the schema).
redis::RedisOptions redis_options(const boost::json::object& conf);
// The `policy` field: true for "redis", false for "local"; the Redis Cluster and Sentinel
// policies are refused with a configuration error (not supported by this gateway).
Result<bool> uses_redis(const boost::json::object& conf);

// Small readers of a validated configuration object.
std::string string_field(const boost::json::object& conf, std::string_view name,
                         std::string_view fallback = {});
int64_t int_field(const boost::json::object& conf, std::string_view name, int64_t fallback);
double number_field(const boost::json::object& conf, std::string_view name, double fallback);
bool bool_field(const boost::json::object& conf, std::string_view name, bool fallback);

}  // namespace apisix::plugins::limit_count
