#include "plugins/plugin.h"

#include <boost/json/serialize.hpp>

#include "plugins/request.h"

namespace apisix::plugins {

namespace {

Exit json_exit(int status, std::string_view key, std::string_view text) {
  boost::json::object body;
  body[key] = text;
  return Exit::json(status, body);
}

}  // namespace

Exit Exit::message(int status, std::string_view text) { return json_exit(status, "message", text); }

Exit Exit::error_msg(int status, std::string_view text) {
  return json_exit(status, "error_msg", text);
}

Exit Exit::json(int status, const boost::json::value& body) {
  Exit e;
  e.status = status;
  e.body = boost::json::serialize(body);
  *e.body += '\n';
  return e;
}

Exit Exit::text(int status, std::string body) {
  Exit e;
  e.status = status;
  e.body = std::move(body);
  return e;
}

Exit Exit::status_only(int status) {
  Exit e;
  e.status = status;
  return e;
}

core::Task<PhaseResult> Plugin::rewrite(Request&) const { co_return std::nullopt; }
core::Task<PhaseResult> Plugin::access(Request&) const { co_return std::nullopt; }
core::Task<PhaseResult> Plugin::before_proxy(Request&) const { co_return std::nullopt; }
void Plugin::header_filter(Request&, Response&) const {}
void Plugin::body_filter(Request&, std::string&, bool) const {}
void Plugin::log(Request&) const {}

}  // namespace apisix::plugins
