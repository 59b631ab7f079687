#pragma once
// limit-count (plugins.md §5.2, APISIX apisix/plugins/limit-count*): at most `count` requests
// per `time_window` seconds for each key (§5.1), in a fixed window that starts with the first
// request or in a window sliding over epoch-aligned windows, counted in this process
// (`policy: local`, shared by every worker) or in Redis (`policy: redis`, shared by every
// gateway using that Redis). Answers X-RateLimit-Limit / -Remaining / -Reset on proxied
// responses and on rejections, and `rejected_code` (503) once the quota is spent.
//
// One LimitCount per configured use, compiled on the control thread and shared read-only by
// all workers; its counters live in RuntimeState under the instance's identity (§0.6), or
// under its `group`, so that they outlive snapshots.
//
// Left out: `redis-cluster` and `redis-sentinel` (compile() refuses them with a clear
// message); `sync_interval` is accepted and checked but every request is counted in Redis at
// once (the exact behaviour delayed sync approximates); the `$rate_limiting_info` variable
// (the request has no writable variables); the `group conf mismatched` check.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "plugins/limit_count/limiter_conf.h"
#include "plugins/limit_count/local_counter.h"
#include "plugins/limit_count/sliding_window.h"
#include "plugins/plugin.h"
#include "redis/client.h"

namespace apisix::plugins {

class LimitCount final : public Plugin {
 public:
  static constexpr std::string_view kName = "limit-count";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  core::Task<PhaseResult> access(Request& request) const override;

  // The three response header names (plugin metadata, or a rule's prefixed ones).
  struct HeaderNames {
    std::string limit;
    std::string remaining;
    std::string reset;
  };
  // One limit: the whole configuration's count/time_window/key, or one of `rules`.
  struct Rule {
    limit_count::ConfNumber count;
    limit_count::ConfNumber time_window;
    limit_count::LimitKey key;
    HeaderNames headers;
  };
  enum class Policy : uint8_t { Local, Redis };
  enum class WindowType : uint8_t { Fixed, Sliding };

  LimitCount() = default;

 private:
  // A rule that applies to this request, with its numbers resolved.
  struct Applied {
    int64_t count = 0;
    int64_t time_window = 0;
    std::string value;  // what the request is counted by
    const HeaderNames* headers = nullptr;
  };

  core::Task<PhaseResult> run(Request& request, const Applied& rule) const;
  core::Task<Result<limit_count::CountResult>> count_in_redis(Request& request, std::string key,
                                                              int64_t count,
                                                              std::chrono::seconds window) const;
  limit_count::CountResult count_locally(const std::string& key, int64_t count,
                                         std::chrono::seconds window) const;
  PhaseResult failed(std::string_view what, bool with_message) const;

  std::vector<Rule> rules_;
  bool has_rules_ = false;  // `rules`: skip rules whose key does not resolve
  Policy policy_ = Policy::Local;
  WindowType window_type_ = WindowType::Fixed;
  std::string counter_prefix_;  // "<resource key>:<conf version>:" or "<group>:"
  int rejected_code_ = 503;
  std::optional<std::string> rejected_msg_;
  bool allow_degradation_ = false;
  bool show_limit_quota_header_ = true;
  std::shared_ptr<limit_count::LocalCounter> fixed_;
  std::shared_ptr<limit_count::SlidingWindowCounter> sliding_;
  redis::RedisOptions redis_;
};

}  // namespace apisix::plugins
