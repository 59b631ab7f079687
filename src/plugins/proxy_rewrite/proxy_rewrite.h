#pragma once
// proxy-rewrite (plugins.md §5.14, APISIX apisix/plugins/proxy-rewrite.lua): changes what goes
// to the upstream in the rewrite phase: URI (template or regex pairs), Host, method and
// request headers (add, set, remove, with `$N` regex captures and `$var` templates).
// One instance per configured use; compiled on the control thread, then immutable and shared
// by every worker.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"
#include "plugins/proxy_rewrite/uri_rewrite.h"
#include "plugins/template.h"
#include "router/vars.h"

namespace apisix::plugins {

class ProxyRewrite final : public Plugin {
 public:
  static constexpr std::string_view kName = "proxy-rewrite";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  core::Task<PhaseResult> rewrite(Request& request) const override;

  // A configured header value: a number (sent as LuaJIT prints it) or a template whose `$N`
  // are regex captures and whose `$name` are variables.
  struct HeaderValue {
    std::string text;            // the configured text (numbers already formatted)
    bool is_template = false;    // a string containing `$`
    bool uses_captures = false;  // it has `$N` / `${N}` references
    Template compiled;           // the variable template, when it has no captures
  };
  struct HeaderOp {
    std::string name;
    std::vector<HeaderValue> values;  // one, or the elements of an array value
  };

 private:
  std::string render_header(const HeaderValue& value, const router::VarSource& vars,
                            const std::vector<std::optional<std::string>>& captures) const;

  std::optional<std::string> host_;
  std::optional<std::string> method_;
  std::optional<Template> uri_;
  std::vector<UriRegex> regex_uri_;
  bool use_real_request_uri_unsafe_ = false;
  bool has_headers_ = false;
  std::vector<HeaderOp> add_;
  std::vector<HeaderOp> set_;
  std::vector<std::string> remove_;
};

}  // namespace apisix::plugins
