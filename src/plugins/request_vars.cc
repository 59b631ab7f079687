#include "plugins/request_vars.h"

namespace apisix::plugins {

using router::VarKind;
using router::VarValue;

std::string_view RequestVars::number(uint16_t value) const {
  char* end = digits_ + sizeof(digits_);
  char* p = end;
  do {
    *--p = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  return {p, static_cast<size_t>(end - p)};
}

VarValue RequestVars::get(const router::VarRef& ref) const {
  switch (ref.kind) {
    case VarKind::Http:
      for (size_t i = 0; i < head_.header_count; ++i) {
        if (router::http_header_name_matches(ref.name, head_.headers[i].name)) {
          return VarValue::string(head_.headers[i].value);
        }
      }
      return VarValue::nil();
    case VarKind::Arg: {
      bool bare = false;
      auto value = router::query_arg(head_.query, ref.name, bare);
      if (value) {
        return VarValue::string(*value);
      }
      // An argument given without '=' reads as boolean true (core.md §6.9).
      return bare ? VarValue::from_bool(true) : VarValue::nil();
    }
    case VarKind::Cookie: {
      const http::Header* cookie = http::find_header(head_.headers, head_.header_count, "cookie");
      if (cookie == nullptr) {
        return VarValue::nil();
      }
      auto value = router::cookie_value(cookie->value, ref.name);
      return value ? VarValue::string(*value) : VarValue::nil();
    }
    case VarKind::Builtin:
      return builtin(ref.name);
    case VarKind::UriParam: {
      if (params_ == nullptr) {
        return VarValue::nil();
      }
      auto value = params_->get(ref.name);
      return value ? VarValue::string(*value) : VarValue::nil();
    }
    case VarKind::PostArg: {
      // A form body read whole before matching; parsed like the query string (§6.9).
      if (body_.empty()) {
        return VarValue::nil();
      }
      bool bare = false;
      auto value = router::query_arg(body_, ref.name, bare);
      if (value) {
        return VarValue::string(*value);
      }
      return bare ? VarValue::from_bool(true) : VarValue::nil();
    }
  }
  return VarValue::nil();
}

VarValue RequestVars::builtin(std::string_view name) const {
  if (name == "uri") {
    return VarValue::string(facts_.uri);
  }
  if (name == "host") {
    return VarValue::string(facts_.host);
  }
  if (name == "remote_addr" || name == "realip_remote_addr") {
    return VarValue::string(facts_.remote_addr);
  }
  if (name == "method" || name == "request_method") {
    return VarValue::string(head_.method_text);
  }
  if (name == "request_uri" || name == "real_request_uri") {
    return VarValue::string(head_.target);
  }
  if (name == "args" || name == "query_string") {
    return head_.query.empty() ? VarValue::nil() : VarValue::string(head_.query);
  }
  if (name == "is_args") {
    return VarValue::string(head_.query.empty() ? "" : "?");
  }
  if (name == "http_host") {
    return VarValue::string(head_.host);
  }
  if (name == "scheme") {
    return VarValue::string("http");
  }
  if (name == "server_protocol") {
    return VarValue::string(head_.version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1");
  }
  if (name == "remote_port") {
    return VarValue::string(number(facts_.remote_port));
  }
  if (name == "server_port") {
    return VarValue::string(number(facts_.server_port));
  }
  if (name == "content_type") {
    const http::Header* h = http::find_header(head_.headers, head_.header_count, "content-type");
    return h != nullptr ? VarValue::string(h->value) : VarValue::nil();
  }
  if (name == "content_length") {
    const http::Header* h = http::find_header(head_.headers, head_.header_count, "content-length");
    return h != nullptr ? VarValue::string(h->value) : VarValue::nil();
  }
  return VarValue::nil();
}

}  // namespace apisix::plugins
