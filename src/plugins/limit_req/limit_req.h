#pragma once
// limit-req (plugins.md §5.3, APISIX apisix/plugins/limit-req*): a leaky bucket per key
// (§5.1) draining `rate` requests per second; up to `burst` requests beyond the rate are
// admitted but held until their turn (or at once with `nodelay`), and the rest get
// `rejected_code` (503). The buckets are counted in this process (`policy: local`, shared by
// every worker, leaky_bucket.h) or in Redis (`policy: redis`: one hash per key updated by one
// script, shared by every gateway using that Redis).
//
// One LimitReq per configured use, compiled on the control thread and shared read-only by all
// workers; the local buckets live in RuntimeState under the instance's identity (§0.6).
// Left out: `redis-cluster` (compile() refuses it with a clear message).

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "plugins/limit_count/limiter_conf.h"
#include "plugins/limit_req/leaky_bucket.h"
#include "plugins/plugin.h"
#include "redis/client.h"

namespace apisix::plugins {

class LimitReq final : public Plugin {
 public:
  static constexpr std::string_view kName = "limit-req";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  core::Task<PhaseResult> access(Request& request) const override;

  LimitReq() = default;

  // The Redis key of the bucket of counter key `key`: "limit_req:<key>".
  static std::string redis_key(std::string_view key);

 private:
  core::Task<Result<limit_req::ReqResult>> incoming_redis(Request& request, std::string key) const;

  double rate_ = 1;
  double burst_ = 0;
  limit_count::LimitKey key_;
  bool use_redis_ = false;
  std::string counter_prefix_;  // "<resource key>:<conf version>:"
  int rejected_code_ = 503;
  std::optional<std::string> rejected_msg_;
  bool nodelay_ = false;
  bool allow_degradation_ = false;
  std::shared_ptr<limit_req::LeakyBucket> bucket_;
  redis::RedisOptions redis_;
};

}  // namespace apisix::plugins
