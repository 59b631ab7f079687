#pragma once
// limit-conn (plugins.md §5.4, APISIX apisix/plugins/limit-conn*): at most `conn` requests in
// flight per key (§5.1), plus `burst` more that are held `default_conn_delay` seconds per
// excess slot before they go on; beyond conn + burst the request gets `rejected_code` (503).
// Access counts the request in, the log phase (which runs for every request whose access ran,
// exits included) counts it out. Counted in this process (`policy: local`, shared by every
// worker, conn_counter.h) or in Redis (`policy: redis`: a sorted set of request ids per key
// whose entries expire after `key_ttl`, shared by every gateway using that Redis).
//
// One LimitConn per configured use, compiled on the control thread and shared read-only by
// all workers; the local counts live in RuntimeState under the instance's identity (§0.6),
// and what a request counted is kept in its state until the log phase.
// Left out: `redis-cluster` (compile() refuses it with a clear message). As in APISIX, the
// delay always comes from default_conn_delay (`only_use_default_delay` changes nothing
// observable, §5.4).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "plugins/limit_conn/conn_counter.h"
#include "plugins/limit_count/limiter_conf.h"
#include "plugins/plugin.h"
#include "redis/client.h"

namespace apisix::plugins {

class LimitConn final : public Plugin {
 public:
  static constexpr std::string_view kName = "limit-conn";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  core::Task<PhaseResult> access(Request& request) const override;
  void log(Request& request) const override;

  // One limit: the configuration's conn/burst/key, or one of `rules`.
  struct Rule {
    limit_count::ConfNumber conn;
    limit_count::ConfNumber burst;
    limit_count::LimitKey key;
  };

  LimitConn() = default;

  // The Redis key of the requests in flight for counter key `key`: "limit_conn:<key>".
  static std::string redis_key(std::string_view key);

 private:
  // What one request counted in: released in the log phase.
  struct Held {
    std::string key;     // counter key
    std::string member;  // Redis policy: this request's member of the sorted set
  };
  struct State {
    std::vector<Held> held;
  };
  // A rule that applies to this request, with its numbers resolved.
  struct Applied {
    int64_t conn = 0;
    int64_t burst = 0;
    std::string value;
  };

  core::Task<PhaseResult> run(Request& request, const Applied& rule) const;
  core::Task<Result<limit_conn::ConnResult>> incoming_redis(Request& request,
                                                            const std::string& key, int64_t conn,
                                                            int64_t burst,
                                                            const std::string& member) const;
  PhaseResult failed(std::string_view what) const;

  std::vector<Rule> rules_;
  bool has_rules_ = false;
  double default_conn_delay_ = 0;
  bool use_redis_ = false;
  int64_t key_ttl_ = 3600;
  std::string counter_prefix_;  // "<resource key>:<conf version>:"
  int rejected_code_ = 503;
  std::optional<std::string> rejected_msg_;
  bool allow_degradation_ = false;
  std::shared_ptr<limit_conn::ConnCounter> counter_;
  redis::RedisOptions redis_;
};

}  // namespace apisix::plugins
