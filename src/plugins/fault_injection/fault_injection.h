#pragma once
// fault-injection (plugins.md §5.16, APISIX apisix/plugins/fault-injection.lua): in the
// rewrite phase, delays a sampled share of matching requests and/or ends them with a fixed
// response. One instance per configured use; compiled on the control thread, then immutable
// and shared by every worker.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"
#include "plugins/template.h"
#include "router/expr.h"

namespace apisix::plugins {

class FaultInjection final : public Plugin {
 public:
  static constexpr std::string_view kName = "fault-injection";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  core::Task<PhaseResult> rewrite(Request& request) const override;

  // When an action applies: `percentage` of requests (all when absent) whose variables
  // satisfy one of `vars` (every request when absent).
  struct Condition {
    std::optional<int> percentage;
    std::optional<std::vector<router::Expr>> vars;
  };
  struct Header {
    std::string name;
    Template value;  // numbers are literal templates of their text
  };
  struct Abort {
    int http_status = 200;
    std::optional<Template> body;
    std::vector<Header> headers;
    Condition when;
  };
  struct Delay {
    std::chrono::nanoseconds duration{0};
    Condition when;
  };

 private:
  std::optional<Abort> abort_;
  std::optional<Delay> delay_;
};

}  // namespace apisix::plugins
