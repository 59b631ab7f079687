#pragma once
// consumer-restriction (plugins.md §4.5, APISIX apisix/plugins/consumer-restriction.lua):
// in access, after an auth plugin attached a consumer, lets a request through or rejects it
// by its consumer name, consumer group, route or service, against a blacklist, a whitelist
// and per-consumer allowed methods. One object per configured use, built by compile() on the
// control thread, then shared read-only by every worker.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"

namespace apisix::plugins {

class ConsumerRestriction final : public Plugin {
 public:
  static constexpr std::string_view kName = "consumer-restriction";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  core::Task<PhaseResult> access(Request& request) const override;

 private:
  // What `type` restricts on.
  enum class Subject { ConsumerName, ServiceId, RouteId, ConsumerGroupId };

  // One `allowed_by_methods` entry; `user` absent never matches.
  struct AllowedMethods {
    std::optional<std::string> user;
    std::vector<std::string> methods;
  };

  ConsumerRestriction() = default;

  PhaseResult check(const Request& request) const;
  // The request's value for subject_; nullopt when it has none.
  std::optional<std::string_view> subject_value(const Request& request) const;
  bool method_allowed(std::string_view value, std::string_view method) const;

  Subject subject_ = Subject::ConsumerName;
  std::string type_;  // the configured `type`, for messages
  std::vector<std::string> blacklist_;
  std::vector<std::string> whitelist_;
  std::vector<AllowedMethods> allowed_by_methods_;
  int rejected_code_ = 403;
  std::string rejected_message_;  // rejected_msg, or "The <type> is forbidden."
  std::string missing_message_;   // "The request is rejected, please check the <type> ..."
};

}  // namespace apisix::plugins
