#include "plugins/echo/echo.h"

#include <cstdio>

#include "plugins/conf_value.h"
#include "plugins/request.h"

namespace apisix::plugins {

namespace json = boost::json;

namespace {

// What echo has done so far to one response body.
struct EchoState {
  bool before_done = false;  // before_body went out with the first piece
  bool ended = false;        // `body` went out: the rest of the upstream body is dropped
};

std::optional<std::string> string_field(const json::object& conf, std::string_view name) {
  if (const auto* v = conf.if_contains(name); v != nullptr && v->is_string()) {
    return std::string(v->get_string());
  }
  return std::nullopt;
}

}  // namespace

Result<std::shared_ptr<const Plugin>> Echo::compile(const json::value& conf, CompileContext&) {
  auto plugin = std::make_shared<Echo>();
  const json::object& o = conf.get_object();
  plugin->before_body_ = string_field(o, "before_body");
  plugin->body_ = string_field(o, "body");
  plugin->after_body_ = string_field(o, "after_body");
  if (const auto* headers = o.if_contains("headers"); headers != nullptr && headers->is_object()) {
    for (const auto& [name, value] : headers->get_object()) {
      // APISIX's schema takes any values here; its header_filter gives up on a name that is
      // empty or a value that is neither string nor number. Such entries are left out.
      auto text = header_value_text(value);
      if (name.empty() || !text) {
        continue;
      }
      plugin->headers_.emplace_back(std::string(name), std::move(*text));
    }
  }
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

void Echo::header_filter(Request&, Response& response) const {
  if (before_body_ || body_ || after_body_) {
    // core.response.clear_header_as_body_modified: the old length, encoding and cache
    // validators no longer describe the body.
    response.modify_body();
    response.remove_header("Content-Length");
    response.remove_header("Content-Encoding");
    response.remove_header("Last-Modified");
    response.remove_header("ETag");
  }
  for (const auto& [name, value] : headers_) {
    if (value.empty()) {
      response.remove_header(name);  // nginx sends no field for an empty ngx.header value
    } else {
      response.set_header(name, value);
    }
  }
}

void Echo::body_filter(Request& request, std::string& chunk, bool last) const {
  if (!body_ && !before_body_) {
    if (last && after_body_) {
      chunk += *after_body_;
    }
    return;
  }
  EchoState& state = request.state<EchoState>(*this);
  if (state.ended) {
    chunk.clear();  // the body was replaced and the stream ended (ngx.arg[2] = true)
    return;
  }
  bool eof = last;
  if (body_) {
    chunk = *body_;
    eof = true;
    state.ended = true;
  }
  if (before_body_ && !state.before_done) {
    chunk.insert(0, *before_body_);
    state.before_done = true;
  }
  if (eof && after_body_) {
    chunk += *after_body_;
  }
}

}  // namespace apisix::plugins
