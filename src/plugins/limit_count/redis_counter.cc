#include "plugins/limit_count/redis_counter.h"

#include <charconv>
#include <utility>
#include <vector>

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
