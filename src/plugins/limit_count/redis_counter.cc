#include "plugins/limit_count/redis_counter.h"

#include <algorithm>
#include <charconv>
#include <utility>
#include <vector>

#include "plugins/conf_value.h"
#include "plugins/limit_count/limiter_conf.h"
#include "plugins/limit_count/sliding_window.h"

namespace apisix::plugins::limit_count {
namespace {

// KEYS[1]: the counter; ARGV: count (unused, kept for parity with APISIX), window in
// seconds, cost. Answers {consumed, ttl in milliseconds}.
const redis::Script& commit_script() {
  static const redis::Script script(R"lua(
local cost = tonumber(ARGV[3])
assert(cost ~= nil and cost >= 0, "cost must be at least 0")
local window = tonumber(ARGV[2])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[2])
  return {cost, window * 1000}
end
return {redis.call('INCRBY', KEYS[1], cost), left}
)lua");
  return script;
}

// KEYS[1]: the current window's counter; ARGV: cost, count, window (s), time left in the
// window (s), expiry (s), the previous window's count. Admits iff the current count and the
// estimate (current + previous share of the time left) are both below count, and only then
// increments. Answers {admitted (0/1), current count (after the increment when admitted),
// previous count capped at count}.
const redis::Script& sliding_script() {
  static const redis::Script script(R"lua(
local cost = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local left = tonumber(ARGV[4])
local previous = math.min(tonumber(ARGV[6]), limit)
local current = 0
local ttl = redis.call('PTTL', KEYS[1])
if ttl >= 0 then
  current = tonumber(redis.call('GET', KEYS[1]) or 0)
end
if current >= limit or current + previous * left / window >= limit then
  return {0, current, previous}
end
if ttl < 0 then
  redis.call('SET', KEYS[1], cost, 'EX', ARGV[5])
  return {1, cost, previous}
end
return {1, redis.call('INCRBY', KEYS[1], cost), previous}
)lua");
  return script;
}

Error failure(ErrorKind kind, std::string context) {
  return Error{kind, ErrorSource::Upstream, false, "limit-count redis: " + std::move(context)};
}

// An integer element of the script's answer (Lua numbers come back as integer replies).
bool integer_of(const redis::Reply& reply, int64_t& out) {
  if (reply.type == redis::ReplyType::Integer) {
    out = reply.integer;
    return true;
  }
  if (reply.type == redis::ReplyType::Bulk) {
    const char* end = reply.str.data() + reply.str.size();
    auto [ptr, ec] = std::from_chars(reply.str.data(), end, out);
    return ec == std::errc() && ptr == end;
  }
  return false;
}

}  // namespace

RedisCounter::RedisCounter(redis::RedisClient& client) : client_(client) {}

std::string RedisCounter::redis_key(std::string_view key) {
  std::string out = "plugin-limit-count:v1:";
  out.append(key);
  return out;
}

std::string RedisCounter::sliding_key(std::string_view key, int64_t window_id) {
  std::string out = "plugin-limit-count:";
  out.append(key).append(".").append(std::to_string(window_id)).append(".counter");
  return out;
}

core::Task<Result<CountResult>> RedisCounter::incoming_sliding(
    std::string key, int64_t count, std::chrono::seconds window,
    std::chrono::system_clock::time_point now, int64_t cost) {
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const int64_t window_ms =
      std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(window).count());
  const int64_t window_id = now_ms / window_ms;
  const int64_t left_ms = window_ms - now_ms % window_ms;

  std::vector<std::string> get;
  get.push_back("GET");
  get.push_back(sliding_key(key, window_id - 1));
  auto previous = co_await client_.command(std::move(get));
  if (!previous) {
    co_return previous.error();
  }
  std::string previous_count = "0";
  if (previous->type == redis::ReplyType::Bulk) {
    previous_count = previous->str;
  } else if (previous->is_error()) {
    co_return failure(ErrorKind::Invalid, "GET failed: " + previous->str);
  }

  std::vector<std::string> keys;
  keys.push_back(sliding_key(key, window_id));
  std::vector<std::string> args;
  args.push_back(std::to_string(cost));
  args.push_back(std::to_string(count));
  args.push_back(std::to_string(window.count()));
  args.push_back(lua_number_text(static_cast<double>(left_ms) / 1000.0));
  args.push_back(std::to_string(2 * window.count()));
  args.push_back(std::move(previous_count));
  auto reply = co_await client_.eval_script(sliding_script(), std::move(keys), std::move(args));
  if (!reply) {
    co_return reply.error();
  }
  if (reply->is_error()) {
    co_return failure(ErrorKind::Invalid, "script failed: " + reply->str);
  }
  int64_t admitted = 0;
  int64_t current = 0;
  int64_t last = 0;
  if (reply->type != redis::ReplyType::Array || reply->elements.size() != 3 ||
      !integer_of(reply->elements[0], admitted) || !integer_of(reply->elements[1], current) ||
      !integer_of(reply->elements[2], last)) {
    co_return failure(ErrorKind::Invalid,
                      std::string("unexpected script reply of type ") + to_string(reply->type));
  }
  co_return sliding_outcome(admitted == 1, current, last, count, window_ms, left_ms);
}

core::Task<Result<CountResult>> RedisCounter::incoming(std::string key, int64_t count,
                                                       std::chrono::seconds window, int64_t cost) {
  std::vector<std::string> keys;
  keys.push_back(redis_key(key));
  std::vector<std::string> args;
  args.push_back(std::to_string(count));
  args.push_back(std::to_string(window.count()));
  args.push_back(std::to_string(cost));
  auto reply = co_await client_.eval_script(commit_script(), std::move(keys), std::move(args));
  if (!reply) {
    co_return reply.error();
  }
  if (reply->is_error()) {
    co_return failure(ErrorKind::Invalid, "script failed: " + reply->str);
  }
  int64_t consumed = 0;
  int64_t ttl_ms = 0;
  if (reply->type != redis::ReplyType::Array || reply->elements.size() != 2 ||
      !integer_of(reply->elements[0], consumed) || !integer_of(reply->elements[1], ttl_ms)) {
    co_return failure(ErrorKind::Invalid,
                      std::string("unexpected script reply of type ") + to_string(reply->type));
  }
  CountResult result;
  const int64_t remaining = count - consumed;
  result.rejected = remaining < 0;
  result.remaining = result.rejected ? 0 : remaining;
  result.reset = std::chrono::milliseconds(ttl_ms < 0 ? 0 : ttl_ms);
  co_return result;
}

}  // namespace apisix::plugins::limit_count
