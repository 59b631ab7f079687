#pragma once
// echo (plugins.md §5.17, APISIX apisix/plugins/echo.lua): changes the response body — replaces
// it (`body`), puts text before it (`before_body`) or after it (`after_body`) — and sets
// response headers. Compiled once per configuration on the control thread, then shared
// read-only by every worker; per-request progress lives in the request's EchoState.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"

namespace apisix::plugins {

class Echo final : public Plugin {
 public:
  static constexpr std::string_view kName = "echo";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  void header_filter(Request& request, Response& response) const override;
  void body_filter(Request& request, std::string& chunk, bool last) const override;

 private:
  std::optional<std::string> before_body_;
  std::optional<std::string> body_;
  std::optional<std::string> after_body_;
  // `headers`, in configuration order, values as text (numbers as Lua prints them).
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace apisix::plugins
