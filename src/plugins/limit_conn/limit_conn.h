#pragma once
// PLACEHOLDER: limit-conn is being written; replace this file.

#include <memory>
#include <string_view>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"

namespace apisix::plugins {

class LimitConn final : public Plugin {
 public:
  static constexpr std::string_view kName = "limit-conn";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);
};

}  // namespace apisix::plugins
