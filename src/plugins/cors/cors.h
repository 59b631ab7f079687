#pragma once
// cors (plugins.md §5.9, APISIX apisix/plugins/cors.lua): answers preflight OPTIONS requests
// in rewrite and adds the Access-Control-* (and Timing-Allow-Origin) headers to every response
// of the route in header_filter. Compiled once per configuration (origin lists, regexes and
// the plugin metadata's origin lists parsed then) on the control thread; shared read-only by
// every worker. The request's Origin is kept in the request's CorsState.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"

namespace apisix::plugins {

class Cors final : public Plugin {
 public:
  static constexpr std::string_view kName = "cors";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  core::Task<PhaseResult> rewrite(Request& request) const override;
  void header_filter(Request& request, Response& response) const override;

  // A compiled PCRE pattern (several configured ones joined by "|"), searched unanchored.
  class OriginRegex;

 private:
  using Origin = std::optional<std::string_view>;

  Origin by_metadata(Origin origin) const;

  std::string allow_origins_;
  std::string allow_methods_;  // "**" already expanded
  std::string allow_headers_;
  bool allow_headers_from_request_ = false;  // allow_headers "**"
  std::optional<std::string> expose_headers_;
  std::string max_age_;
  bool allow_credential_ = false;
  std::shared_ptr<const OriginRegex> origins_regex_;  // allow_origins_by_regex, or null
  bool by_metadata_ = false;                          // allow_origins_by_metadata is set
  std::vector<std::string> metadata_origins_;  // the referenced metadata origin lists, in order
  std::optional<std::string> timing_allow_origins_;
  std::shared_ptr<const OriginRegex> timing_regex_;  // timing_allow_origins_by_regex, or null
};

}  // namespace apisix::plugins
