#pragma once
// RequestVars: the request variables of core.md §6.9 (`arg_*`, `http_*`, `cookie_*`, `uri`,
// `host`, `remote_addr`, ...) for one request, read lazily from its parsed head. Used by route
// `vars` conditions while the route is matched, and by plugins through plugins::Request, on
// the worker thread serving the request.
// It holds views into the connection buffer: valid only while the request head is.

#include <cstdint>
#include <string_view>

#include "http/parser.h"
#include "router/route_table.h"
#include "router/vars.h"

namespace apisix::plugins {

struct RequestFacts {
  std::string_view uri;          // normalised path ($uri)
  std::string_view host;         // $host: lower-cased, without port
  std::string_view remote_addr;  // client address text
  uint16_t remote_port = 0;
  uint16_t server_port = 0;
};

class RequestVars final : public router::VarSource {
 public:
  RequestVars(const http::RequestHead& head, const RequestFacts& facts)
      : head_(head), facts_(facts) {}

  router::VarValue get(const router::VarRef& ref) const override;

  // Captures of the matched route's pattern, for `uri_param_<name>` (core.md §5.3, §6.9);
  // unset (nil values) while the route is being matched.
  void set_params(const router::UriParams* params) { params_ = params; }
  // The request body when it is already buffered whole, for `post_arg_<name>`
  // (form-urlencoded bodies only); empty view: post_arg_* read as nil.
  void set_body(std::string_view body) { body_ = body; }

 private:
  router::VarValue builtin(std::string_view name) const;
  std::string_view number(uint16_t value) const;

  const http::RequestHead& head_;
  const RequestFacts& facts_;
  const router::UriParams* params_ = nullptr;
  std::string_view body_;
  mutable char digits_[8] = {};
};

}  // namespace apisix::plugins
