#pragma once
// PLACEHOLDER: request-id is being written; replace this file.

#include <memory>
#include <string_view>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"

namespace apisix::plugins {

class RequestId final : public Plugin {
 public:
  static constexpr std::string_view kName = "request-id";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);
};

}  // namespace apisix::plugins
