#include "plugins/limit_req/limit_req.h"

#include <chrono>
#include <cmath>
#include <utility>
#include <vector>

#include "core/log.h"
#include "core/loop.h"
#include "plugins/conf_value.h"
#include "plugins/request.h"

namespace apisix::plugins {

namespace json = boost::json;
using limit_count::bool_field;
using limit_count::number_field;
using limit_count::string_field;

namespace {

// The leaky bucket of one key in Redis, read, drained and written in one atomic step (two
// requests must not both see the same old excess). KEYS[1]: a hash {excess, last}; ARGV: rate
// (thousandths of a request per second), burst (thousandths of a request), now (ms), TTL (s).
// Answers {1, excess} when admitted (the state is stored) or {0, excess} when rejected
// (nothing is stored); excess goes back as a string so that its fraction survives.
const redis::Script& bucket_script() {
  static const redis::Script script(R"lua(
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'excess', 'last')
local excess = 0
if state[1] and state[2] then
  local elapsed = math.abs(now - tonumber(state[2]))
  excess = math.max(tonumber(state[1]) - rate * elapsed / 1000 + 1000, 0)
  if excess > burst then
    return {0, tostring(excess)}
  end
end
redis.call('HSET', KEYS[1], 'excess', excess, 'last', now)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {1, tostring(excess)}
)lua");
  return script;
}

Error redis_failure(std::string context) {
  return Error{ErrorKind::Invalid, ErrorSource::Upstream, false,
               "limit-req redis: " + std::move(context)};
}

}  // namespace

std::string LimitReq::redis_key(std::string_view key) {
  std::string out = "limit_req:";
  out.append(key);
  return out;
}

Result<std::shared_ptr<const Plugin>> LimitReq::compile(const json::value& conf_value,
                                                        CompileContext& ctx) {
  if (!conf_value.is_object()) {
    return Error::config("the configuration must be an object");
  }
  const json::object& conf = conf_value.get_object();
  auto plugin = std::make_shared<LimitReq>();

  auto redis = limit_count::uses_redis(conf);
  if (!redis) {
    return redis.error();
  }
  plugin->use_redis_ = *redis;
  plugin->rate_ = number_field(conf, "rate", 1);
  plugin->burst_ = number_field(conf, "burst", 0);
  plugin->key_ = limit_count::LimitKey::compile(string_field(conf, "key", "remote_addr"),
                                                string_field(conf, "key_type", "var"));
  plugin->counter_prefix_ = limit_count::counter_prefix(ctx);
  plugin->rejected_code_ = static_cast<int>(limit_count::int_field(conf, "rejected_code", 503));
  if (const json::value* msg = conf.if_contains("rejected_msg"); msg && msg->is_string()) {
    plugin->rejected_msg_ = std::string(msg->get_string());
  }
  plugin->nodelay_ = bool_field(conf, "nodelay", false);
  plugin->allow_degradation_ = bool_field(conf, "allow_degradation", false);
  if (plugin->use_redis_) {
    plugin->redis_ = limit_count::redis_options(conf);
  } else {
    const double rate = plugin->rate_;
    const double burst = plugin->burst_;
    plugin->bucket_ = limit_count::obtain_state<limit_req::LeakyBucket>(
        ctx, "limit-req:" + limit_count::instance_identity(ctx.resource_key, ctx.conf_version),
        [rate, burst] { return std::make_shared<limit_req::LeakyBucket>(rate, burst); });
  }
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

core::Task<Result<limit_req::ReqResult>> LimitReq::incoming_redis(Request& request,
                                                                  std::string key) const {
  if (request.redis == nullptr) {
    co_return Error{ErrorKind::Unsupported, ErrorSource::Internal, false,
                    "no Redis clients on this worker"};
  }
  auto client = request.redis->get(redis_);
  if (!client) {
    co_return client.error();
  }
  const double rate = rate_ * 1000;
  const double burst = burst_ * 1000;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  std::vector<std::string> keys;
  keys.push_back(redis_key(key));
  std::vector<std::string> args;
  args.push_back(lua_number_text(rate));
  args.push_back(lua_number_text(burst));
  args.push_back(std::to_string(now_ms));
  // The state outlives a full drain by a second: ceil(burst / rate) + 1.
  args.push_back(lua_number_text(std::ceil(burst / rate) + 1));
  auto reply = co_await (*client)->eval_script(bucket_script(), std::move(keys), std::move(args));
  if (!reply) {
    co_return reply.error();
  }
  if (reply->is_error()) {
    co_return redis_failure("script failed: " + reply->str);
  }
  if (reply->type != redis::ReplyType::Array || reply->elements.size() != 2 ||
      reply->elements[0].type != redis::ReplyType::Integer ||
      reply->elements[1].type != redis::ReplyType::Bulk) {
    co_return redis_failure(std::string("unexpected script reply of type ") +
                            to_string(reply->type));
  }
  std::optional<double> excess = limit_count::lua_tonumber(reply->elements[1].str);
  if (!excess) {
    co_return redis_failure("unexpected excess " + reply->elements[1].str);
  }
  limit_req::ReqResult result;
  if (reply->elements[0].integer == 0) {
    result.rejected = true;
    co_return result;
  }
  result.delay_seconds = *excess / rate;
  result.excess = *excess / 1000;
  co_return result;
}

core::Task<PhaseResult> LimitReq::access(Request& request) const {
  std::string key = counter_prefix_ + key_.value(request);
  Result<limit_req::ReqResult> outcome = limit_req::ReqResult{};
  if (use_redis_) {
    outcome = co_await incoming_redis(request, std::move(key));
  } else {
    outcome = bucket_->incoming(key);
  }
  if (!outcome) {
    core::log_error("limit-req: failed to limit req: ", outcome.error().context);
    if (allow_degradation_) {
      co_return std::nullopt;
    }
    co_return Exit::status_only(500);
  }
  if (outcome->rejected) {
    if (rejected_msg_) {
      co_return Exit::error_msg(rejected_code_, *rejected_msg_);
    }
    co_return Exit::status_only(rejected_code_);
  }
  if (outcome->should_delay(nodelay_) && request.loop != nullptr) {
    co_await request.loop->sleep_for(std::chrono::duration_cast<core::Clock::duration>(
        std::chrono::duration<double>(outcome->delay_seconds)));
  }
  co_return std::nullopt;
}

}  // namespace apisix::plugins
