#pragma once
// PLACEHOLDER: consumer-restriction is being written; replace this file.

#include <memory>
#include <string_view>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"

namespace apisix::plugins {

class ConsumerRestriction final : public Plugin {
 public:
  static constexpr std::string_view kName = "consumer-restriction";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);
};

}  // namespace apisix::plugins
