#include "plugins/limit_conn/limit_conn.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <utility>

#include "core/log.h"
#include "core/loop.h"
#include "plugins/request.h"

namespace apisix::plugins {

namespace json = boost::json;
using limit_count::bool_field;
using limit_count::ConfNumber;
using limit_count::int_field;
using limit_count::LimitKey;
using limit_count::number_field;
using limit_count::string_field;

namespace {

// The requests in flight for one key in Redis, as a sorted set whose scores are expiry times,
// so that the entries of a gateway that died mid-request leave after key_ttl. KEYS[1]: the
// set; ARGV: conn + burst, key_ttl (s), now (s), this request's member. Answers
// {1, in flight with this one} when admitted, {0, in flight} when rejected.
const redis::Script& enter_script() {
  static const redis::Script script(R"lua(
local now = tonumber(ARGV[3])
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now)
local in_flight = redis.call('ZCARD', KEYS[1])
if in_flight >= tonumber(ARGV[1]) then
  return {0, in_flight}
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[4])
redis.call('EXPIRE', KEYS[1], ttl)
return {1, in_flight + 1}
)lua");
  return script;
}

// A random UUID (version 4) naming one request in a Redis set.
std::string random_member() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  uint64_t hi = engine();
  uint64_t lo = engine();
  hi = (hi & ~uint64_t{0xF000}) | uint64_t{0x4000};            // version 4
  lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);  // variant 10
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

// Removes one request from a Redis set; runs detached from the log phase (which cannot wait),
// as APISIX's timer does. `client` belongs to the worker and outlives the command.
core::Task<void> leave_in_redis(redis::RedisClient* client, std::string key, std::string member) {
  std::vector<std::string> command;
  command.push_back("ZREM");
  command.push_back(std::move(key));
  command.push_back(std::move(member));
  auto reply = co_await client->command(std::move(command));
  if (!reply) {
    core::log_error("limit-conn: failed to record the connection leaving request: ",
                    reply.error().context);
  } else if (reply->is_error()) {
    core::log_error("limit-conn: failed to record the connection leaving request: ", reply->str);
  }
}

Error redis_failure(std::string context) {
  return Error{ErrorKind::Invalid, ErrorSource::Upstream, false,
               "limit-conn redis: " + std::move(context)};
}

}  // namespace

std::string LimitConn::redis_key(std::string_view key) {
  std::string out = "limit_conn:";
  out.append(key);
  return out;
}

Result<std::shared_ptr<const Plugin>> LimitConn::compile(const json::value& conf_value,
                                                         CompileContext& ctx) {
  if (!conf_value.is_object()) {
    return Error::config("the configuration must be an object");
  }
  const json::object& conf = conf_value.get_object();
  auto plugin = std::make_shared<LimitConn>();

  auto redis = limit_count::uses_redis(conf);
  if (!redis) {
    return redis.error();
  }
  plugin->use_redis_ = *redis;
  if (const json::value* rules = conf.if_contains("rules")) {
    if (!rules->is_array()) {
      return Error::config("rules must be an array");
    }
    plugin->has_rules_ = true;
    for (const json::value& item : rules->get_array()) {
      if (!item.is_object()) {
        continue;
      }
      const json::object& r = item.get_object();
      plugin->rules_.push_back(Rule{ConfNumber::from_json(r.at("conn")),
                                    ConfNumber::from_json(r.at("burst")),
                                    LimitKey::rule(string_field(r, "key"))});
    }
  } else {
    plugin->rules_.push_back(Rule{ConfNumber::from_json(conf.at("conn")),
                                  ConfNumber::from_json(conf.at("burst")),
                                  LimitKey::compile(string_field(conf, "key", "remote_addr"),
                                                    string_field(conf, "key_type", "var"))});
  }
  plugin->default_conn_delay_ = number_field(conf, "default_conn_delay", 1);
  plugin->key_ttl_ = int_field(conf, "key_ttl", 3600);
  plugin->counter_prefix_ = limit_count::counter_prefix(ctx);
  plugin->rejected_code_ = static_cast<int>(int_field(conf, "rejected_code", 503));
  if (const json::value* msg = conf.if_contains("rejected_msg"); msg && msg->is_string()) {
    plugin->rejected_msg_ = std::string(msg->get_string());
  }
  plugin->allow_degradation_ = bool_field(conf, "allow_degradation", false);
  if (plugin->use_redis_) {
    plugin->redis_ = limit_count::redis_options(conf);
  } else {
    plugin->counter_ = limit_count::obtain_state<limit_conn::ConnCounter>(
        ctx, "limit-conn:" + limit_count::instance_identity(ctx.resource_key, ctx.conf_version),
        [] { return std::make_shared<limit_conn::ConnCounter>(); });
  }
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

PhaseResult LimitConn::failed(std::string_view what) const {
  core::log_error("limit-conn: ", what);
  if (allow_degradation_) {
    return std::nullopt;
  }
  return Exit::status_only(500);
}

core::Task<PhaseResult> LimitConn::access(Request& request) const {
  std::vector<Applied> applied;
  applied.reserve(rules_.size());
  std::string why;
  for (const Rule& rule : rules_) {
    auto conn = rule.conn.resolve(request, false, &why);
    auto burst = conn ? rule.burst.resolve(request, true, &why) : std::nullopt;
    if (has_rules_) {
      // A rule whose numbers or key do not resolve for this request does not apply.
      auto value = conn && burst ? rule.key.rule_value(request) : std::nullopt;
      if (value) {
        applied.push_back(Applied{*conn, *burst, std::move(*value)});
      }
      continue;
    }
    if (!conn || !burst) {
      co_return failed("failed to get limit conn rules: " + why);
    }
    applied.push_back(Applied{*conn, *burst, rule.key.value(request)});
  }
  if (applied.empty()) {
    co_return failed("failed to get limit conn rules: no rule applies");
  }
  for (const Applied& rule : applied) {
    PhaseResult result = co_await run(request, rule);
    if (result) {
      co_return result;
    }
  }
  co_return std::nullopt;
}

core::Task<Result<limit_conn::ConnResult>> LimitConn::incoming_redis(
    Request& request, const std::string& key, int64_t conn, int64_t burst,
    const std::string& member) const {
  if (request.redis == nullptr) {
    co_return Error{ErrorKind::Unsupported, ErrorSource::Internal, false,
                    "no Redis clients on this worker"};
  }
  auto client = request.redis->get(redis_);
  if (!client) {
    co_return client.error();
  }
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  std::vector<std::string> keys;
  keys.push_back(redis_key(key));
  std::vector<std::string> args;
  args.push_back(std::to_string(conn + burst));
  args.push_back(std::to_string(key_ttl_));
  args.push_back(std::to_string(now_s));
  args.push_back(member);
  auto reply = co_await (*client)->eval_script(enter_script(), std::move(keys), std::move(args));
  if (!reply) {
    co_return reply.error();
  }
  if (reply->is_error()) {
    co_return redis_failure("script failed: " + reply->str);
  }
  if (reply->type != redis::ReplyType::Array || reply->elements.size() != 2 ||
      reply->elements[0].type != redis::ReplyType::Integer ||
      reply->elements[1].type != redis::ReplyType::Integer) {
    co_return redis_failure(std::string("unexpected script reply of type ") +
                            to_string(reply->type));
  }
  limit_conn::ConnResult result;
  if (reply->elements[0].integer == 0) {
    result.rejected = true;
    co_return result;
  }
  result.in_flight = reply->elements[1].integer;
  if (result.in_flight > conn) {
    // One default_conn_delay per full `conn` of requests ahead of this one.
    const int64_t slots = (result.in_flight - 1) / conn;
    result.delay_seconds = default_conn_delay_ * static_cast<double>(slots);
  }
  co_return result;
}

core::Task<PhaseResult> LimitConn::run(Request& request, const Applied& rule) const {
  std::string key = counter_prefix_ + rule.value;
  std::string member;
  Result<limit_conn::ConnResult> outcome = limit_conn::ConnResult{};
  if (use_redis_) {
    member = random_member();
    outcome = co_await incoming_redis(request, key, rule.conn, rule.burst, member);
  } else {
    outcome = counter_->incoming(key, rule.conn, rule.burst, default_conn_delay_);
  }
  if (!outcome) {
    co_return failed("failed to limit conn: " + outcome.error().context);
  }
  if (outcome->rejected) {
    if (rejected_msg_) {
      co_return Exit::error_msg(rejected_code_, *rejected_msg_);
    }
    co_return Exit::status_only(rejected_code_);
  }
  // Counted in: the log phase counts it out, whatever happens next.
  request.state<State>(*this).held.push_back(Held{std::move(key), std::move(member)});
  if (outcome->delay_seconds >= 0.001 && request.loop != nullptr) {
    co_await request.loop->sleep_for(std::chrono::duration_cast<core::Clock::duration>(
        std::chrono::duration<double>(outcome->delay_seconds)));
  }
  co_return std::nullopt;
}

void LimitConn::log(Request& request) const {
  State* state = request.find_state<State>(*this);
  if (state == nullptr) {
    return;
  }
  redis::RedisClient* client = nullptr;
  if (use_redis_ && !state->held.empty()) {
    if (request.redis == nullptr) {
      core::log_error("limit-conn: no Redis clients on this worker to record the leaving");
      state->held.clear();
      return;
    }
    auto got = request.redis->get(redis_);
    if (!got) {
      core::log_error("limit-conn: failed to record the connection leaving request: ",
                      got.error().context);
      state->held.clear();
      return;
    }
    client = *got;
  }
  for (Held& held : state->held) {
    if (client != nullptr) {
      core::spawn(leave_in_redis(client, redis_key(held.key), std::move(held.member)));
    } else if (!counter_->leaving(held.key)) {
      core::log_error("limit-conn: failed to record the connection leaving request: ", held.key);
      break;
    }
  }
  state->held.clear();
}

}  // namespace apisix::plugins
