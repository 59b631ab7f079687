#pragma once
// response-rewrite (plugins.md §5.15, APISIX apisix/plugins/response-rewrite.lua): when its
// `vars` match, changes the response's status, headers (add / set / remove, values are $var
// templates) and body (a fixed `body`, or regex `filters` over the whole body). Compiled once
// per configuration on the control thread, then shared read-only by every worker; what one
// request needs between phases lives in its ResponseRewriteState.
//
// APISIX evaluates `vars` and the header templates in header_filter against ngx.var. Here the
// request head is gone by then, so rewrite records the variables they name (only those), and
// header_filter reads response-time variables (status, upstream_status, upstream_addr,
// balancer_ip, balancer_port, sent_http_*, upstream_http_*) live and the rest from the record.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"
#include "plugins/response_rewrite/body_substitution.h"
#include "plugins/template.h"
#include "router/expr.h"
#include "router/vars.h"

namespace apisix::plugins {

class ResponseRewrite final : public Plugin {
 public:
  static constexpr std::string_view kName = "response-rewrite";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  // Records the variables `vars` and the header templates use (nothing else happens here).
  core::Task<PhaseResult> rewrite(Request& request) const override;
  void header_filter(Request& request, Response& response) const override;
  void body_filter(Request& request, std::string& chunk, bool last) const override;

  // The variables recorded in rewrite, in record order (exposed for tests).
  const std::vector<router::VarRef>& recorded_vars() const { return recorded_refs_; }

 private:
  struct HeaderOp {
    std::string name;
    Template value;
  };

  std::optional<int> status_code_;
  std::optional<std::string> body_;  // already base64-decoded when body_base64
  std::vector<response_rewrite::BodySubstitution> filters_;
  size_t max_body_bytes_ = 67108864;
  std::unique_ptr<const router::Expr> vars_;  // null: always matches
  // Header operations in APISIX's order: add, then set, then remove.
  std::vector<HeaderOp> add_;
  std::vector<HeaderOp> set_;
  std::vector<std::string> remove_;
  std::vector<router::VarRef> recorded_refs_;
};

}  // namespace apisix::plugins
