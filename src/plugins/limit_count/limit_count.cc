#include "plugins/limit_count/limit_count.h"

#include <algorithm>
#include <set>
#include <utility>

#include "core/log.h"
#include "plugins/limit_count/redis_counter.h"
#include "plugins/request.h"

namespace apisix::plugins {

namespace json = boost::json;
using limit_count::bool_field;
using limit_count::ConfNumber;
using limit_count::CountResult;
using limit_count::LimitKey;
using limit_count::number_field;
using limit_count::string_field;

namespace {

// -1: every request is counted in Redis at once (no delayed sync).
constexpr double kNoDelayedSync = -1;
// Windows beyond this (68 years) are treated as this long, so that millisecond arithmetic on
// the clock cannot overflow; no observable difference.
constexpr int64_t kMaxWindowSeconds = int64_t{1} << 31;

// The header names of plugin metadata (§5.2), or the defaults; a configuration's own
// `limit_header` etc. (kept by the schema as unknown properties) win, as in APISIX.
LimitCount::HeaderNames base_header_names(const json::object& conf, const json::value* metadata) {
  LimitCount::HeaderNames names{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"};
  if (metadata != nullptr && metadata->is_object()) {
    const json::object& m = metadata->get_object();
    names.limit = string_field(m, "limit_header", names.limit);
    names.remaining = string_field(m, "remaining_header", names.remaining);
    names.reset = string_field(m, "reset_header", names.reset);
  }
  names.limit = string_field(conf, "limit_header", names.limit);
  names.remaining = string_field(conf, "remaining_header", names.remaining);
  names.reset = string_field(conf, "reset_header", names.reset);
  return names;
}

// A rule's header: the prefix inserted before the first "RateLimit-" ("X-RateLimit-Limit"
// with prefix 1 is "X-1-RateLimit-Limit"); a name without it is kept.
std::string prefixed(const std::string& name, const std::string& prefix) {
  constexpr std::string_view kMark = "RateLimit-";
  size_t at = name.find(kMark);
  if (at == std::string::npos) {
    return name;
  }
  std::string out = name.substr(0, at);
  out += prefix;
  out += '-';
  out += name.substr(at);
  return out;
}

bool has(const json::object& conf, std::string_view name) {
  return conf.if_contains(name) != nullptr;
}

}  // namespace

Result<std::shared_ptr<const Plugin>> LimitCount::compile(const json::value& conf_value,
                                                          CompileContext& ctx) {
  if (!conf_value.is_object()) {
    return Error::config("the configuration must be an object");
  }
  const json::object& conf = conf_value.get_object();
  auto plugin = std::make_shared<LimitCount>();

  auto redis = limit_count::uses_redis(conf);
  if (!redis) {
    return redis.error();
  }
  plugin->policy_ = *redis ? Policy::Redis : Policy::Local;

  // The write-time checks of APISIX's check_schema, in its order.
  const bool has_rules = has(conf, "rules");
  if (has_rules && (has(conf, "count") || has(conf, "time_window"))) {
    return Error::config("count/time_window and rules cannot be specified at the same time");
  }
  const json::value* group = conf.if_contains("group");
  if (group != nullptr && has_rules) {
    return Error::config("group and rules cannot be specified at the same time");
  }
  if (plugin->policy_ == Policy::Redis) {
    double sync_interval = number_field(conf, "sync_interval", kNoDelayedSync);
    if (sync_interval != kNoDelayedSync) {
      if (sync_interval < 0.1) {
        return Error::config("sync_interval should not be smaller than 0.1");
      }
      const json::value* window = conf.if_contains("time_window");
      if (window != nullptr && window->is_number() &&
          sync_interval >= window->to_number<double>()) {
        return Error::config("sync_interval should be smaller than time_window");
      }
    }
  }

  const HeaderNames base = base_header_names(conf, ctx.metadata);
  if (has_rules) {
    plugin->has_rules_ = true;
    std::set<std::string, std::less<>> keys;
    const json::value& rules = conf.at("rules");
    if (!rules.is_array()) {
      return Error::config("rules must be an array");
    }
    size_t index = 0;
    for (const json::value& item : rules.get_array()) {
      ++index;
      if (!item.is_object()) {
        continue;
      }
      const json::object& r = item.get_object();
      std::string key = string_field(r, "key");
      if (!keys.insert(key).second) {
        return Error::config("duplicate key '" + key + "' in rules");
      }
      Rule rule;
      rule.count = ConfNumber::from_json(r.at("count"));
      rule.time_window = ConfNumber::from_json(r.at("time_window"));
      rule.key = LimitKey::rule(key);
      std::string prefix = string_field(r, "header_prefix", std::to_string(index));
      rule.headers = HeaderNames{prefixed(base.limit, prefix), prefixed(base.remaining, prefix),
                                 prefixed(base.reset, prefix)};
      plugin->rules_.push_back(std::move(rule));
    }
  } else {
    Rule rule;
    rule.count = ConfNumber::from_json(conf.at("count"));
    rule.time_window = ConfNumber::from_json(conf.at("time_window"));
    rule.key = LimitKey::compile(string_field(conf, "key", "remote_addr"),
                                 string_field(conf, "key_type", "var"));
    rule.headers = base;
    plugin->rules_.push_back(std::move(rule));
  }

  plugin->window_type_ = string_field(conf, "window_type", "fixed") == "sliding"
                             ? WindowType::Sliding
                             : WindowType::Fixed;
  plugin->rejected_code_ = static_cast<int>(limit_count::int_field(conf, "rejected_code", 503));
  if (const json::value* msg = conf.if_contains("rejected_msg"); msg && msg->is_string()) {
    plugin->rejected_msg_ = std::string(msg->get_string());
  }
  plugin->allow_degradation_ = bool_field(conf, "allow_degradation", false);
  plugin->show_limit_quota_header_ = bool_field(conf, "show_limit_quota_header", true);

  // §5.1: a group's counters are shared by every instance naming it; otherwise they belong
  // to this instance's identity.
  std::string identity;
  if (group != nullptr && group->is_string()) {
    plugin->counter_prefix_ = std::string(group->get_string()) + ":";
    identity = limit_count::group_identity(group->get_string());
  } else {
    plugin->counter_prefix_ = limit_count::counter_prefix(ctx);
    identity = limit_count::instance_identity(ctx.resource_key, ctx.conf_version);
  }
  if (plugin->policy_ == Policy::Redis) {
    plugin->redis_ = limit_count::redis_options(conf);
  } else if (plugin->window_type_ == WindowType::Fixed) {
    plugin->fixed_ = limit_count::obtain_state<limit_count::LocalCounter>(
        ctx, "limit-count:fixed:" + identity,
        [] { return std::make_shared<limit_count::LocalCounter>(); });
  } else {
    plugin->sliding_ = limit_count::obtain_state<limit_count::SlidingWindowCounter>(
        ctx, "limit-count:sliding:" + identity,
        [] { return std::make_shared<limit_count::SlidingWindowCounter>(); });
  }
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

PhaseResult LimitCount::failed(std::string_view what, bool with_message) const {
  core::log_error("limit-count: ", what);
  if (allow_degradation_) {
    return std::nullopt;
  }
  if (with_message) {
    return Exit::error_msg(500, "failed to limit count");
  }
  return Exit::status_only(500);
}

core::Task<PhaseResult> LimitCount::access(Request& request) const {
  std::vector<Applied> applied;
  applied.reserve(rules_.size());
  std::string why;
  for (const Rule& rule : rules_) {
    std::string value;
    if (has_rules_) {
      // A rule keyed on variables this request does not have does not apply.
      auto rendered = rule.key.rule_value(request);
      if (!rendered) {
        continue;
      }
      value = std::move(*rendered);
    } else {
      value = rule.key.value(request);
    }
    // A rule that applies with an invalid count or window fails the request rather than
    // letting a client-controlled variable switch the limit off.
    auto count = rule.count.resolve(request, false, &why);
    auto window = count ? rule.time_window.resolve(request, false, &why) : std::nullopt;
    if (!count || !window) {
      co_return failed("failed to get rate limit rules: " + why, false);
    }
    applied.push_back(Applied{*count, *window, std::move(value), &rule.headers});
  }
  if (applied.empty()) {
    co_return failed("failed to get rate limit rules: no rule applies", false);
  }
  for (const Applied& rule : applied) {
    PhaseResult result = co_await run(request, rule);
    if (result) {
      co_return result;
    }
  }
  co_return std::nullopt;
}

CountResult LimitCount::count_locally(const std::string& key, int64_t count,
                                      std::chrono::seconds window) const {
  if (window_type_ == WindowType::Sliding) {
    return sliding_->incoming(key, count, window);
  }
  return fixed_->incoming(key, count, window);
}

core::Task<Result<CountResult>> LimitCount::count_in_redis(Request& request, std::string key,
                                                           int64_t count,
                                                           std::chrono::seconds window) const {
  if (request.redis == nullptr) {
    co_return Error{ErrorKind::Unsupported, ErrorSource::Internal, false,
                    "no Redis clients on this worker"};
  }
  auto client = request.redis->get(redis_);
  if (!client) {
    co_return client.error();
  }
  limit_count::RedisCounter counter(**client);
  if (window_type_ == WindowType::Sliding) {
    co_return co_await counter.incoming_sliding(std::move(key), count, window,
                                                std::chrono::system_clock::now());
  }
  co_return co_await counter.incoming(std::move(key), count, window);
}

core::Task<PhaseResult> LimitCount::run(Request& request, const Applied& rule) const {
  std::string key = counter_prefix_ + rule.value;
  const std::chrono::seconds window(std::min(rule.time_window, kMaxWindowSeconds));
  Result<CountResult> outcome = CountResult{};
  if (policy_ == Policy::Redis) {
    outcome = co_await count_in_redis(request, std::move(key), rule.count, window);
  } else {
    outcome = count_locally(key, rule.count, window);
  }
  if (!outcome) {
    co_return failed("failed to limit count: " + outcome.error().context, true);
  }
  if (show_limit_quota_header_) {
    Response& response = request.response();
    response.set_header(rule.headers->limit, std::to_string(rule.count));
    response.set_header(rule.headers->remaining,
                        std::to_string(outcome->rejected ? 0 : outcome->remaining));
    response.set_header(rule.headers->reset,
                        limit_count::hundredths_text(outcome->reset.count() / 10));
  }
  if (outcome->rejected) {
    if (rejected_msg_) {
      co_return Exit::error_msg(rejected_code_, *rejected_msg_);
    }
    co_return Exit::status_only(rejected_code_);
  }
  co_return std::nullopt;
}

}  // namespace apisix::plugins
