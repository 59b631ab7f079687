#pragma once
// redirect (plugins.md §5.13, APISIX apisix/plugins/redirect.lua): answers in the rewrite phase
// with a redirect: a `uri` template, a `regex_uri` substitution of $uri, or HTTP to HTTPS.
// One instance per configured use; compiled on the control thread, then immutable and shared
// by every worker.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"
#include "plugins/proxy_rewrite/uri_rewrite.h"
#include "router/vars.h"

namespace apisix::plugins {

class Redirect final : public Plugin {
 public:
  static constexpr std::string_view kName = "redirect";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  core::Task<PhaseResult> rewrite(Request& request) const override;

  // One piece of a `uri` template as APISIX's redirect parses it: literal text, or a
  // variable (`$name`, `${name}`).
  struct Segment {
    std::string text;
    bool is_var = false;
    router::VarRef ref;
  };
  // Splits `uri` the way APISIX's parse_uri does (exposed for tests).
  static std::vector<Segment> parse_uri(std::string_view uri);

 private:
  std::string render(const std::vector<Segment>& segments, const Request& request) const;

  int ret_code_ = 302;
  std::vector<Segment> uri_;
  bool has_uri_ = false;
  std::optional<UriRegex> regex_uri_;
  bool http_to_https_ = false;
  bool encode_uri_ = false;
  bool append_query_string_ = false;
  std::optional<int64_t> https_port_;  // plugin_attr.redirect.https_port
};

}  // namespace apisix::plugins
