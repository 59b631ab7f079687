#pragma once
// ip-restriction (plugins.md §5.5, APISIX apisix/plugins/ip-restriction/init.lua): lets a
// request through in the access phase only when $remote_addr is in the whitelist, or not in
// the blacklist. One instance per configured use; compiled on the control thread, then
// immutable and shared by every worker.

#include <memory>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"
#include "router/ip_match.h"

namespace apisix::plugins {

class IpRestriction final : public Plugin {
 public:
  static constexpr std::string_view kName = "ip-restriction";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  core::Task<PhaseResult> access(Request& request) const override;

  // True when a request from `remote_addr` is refused.
  bool blocks(std::string_view remote_addr) const;

 private:
  router::IpMatcher list_;
  bool is_whitelist_ = false;
  std::string message_ = "Your IP address is not allowed";
  int response_code_ = 403;
};

}  // namespace apisix::plugins
