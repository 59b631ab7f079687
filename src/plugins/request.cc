#include "plugins/request.h"

#include <algorithm>

#include "plugins/consumers.h"

namespace apisix::plugins {

using router::VarKind;
using router::VarValue;

// ---- HeaderEdits ----

bool HeaderEdits::drops(std::string_view name) const {
  for (size_t i = 0; i < added_.size(); ++i) {
    if (replaces_[i] && http::iequals(added_[i].name, name)) {
      return true;
    }
  }
  return std::any_of(removed_.begin(), removed_.end(),
                     [&](const std::string& d) { return http::iequals(d, name); });
}

void HeaderEdits::set(std::string_view name, std::string_view value) {
  erase_added(name);
  if (added_.capacity() == 0) {
    added_.reserve(4);
  }
  added_.push_back(Field{std::string(name), std::string(value)});
  replaces_.push_back(true);
}

void HeaderEdits::add(std::string_view name, std::string_view value) {
  if (added_.capacity() == 0) {
    added_.reserve(4);
  }
  added_.push_back(Field{std::string(name), std::string(value)});
  replaces_.push_back(false);
}

void HeaderEdits::remove(std::string_view name) {
  bool replaced = erase_added(name);
  if (!replaced && std::none_of(removed_.begin(), removed_.end(),
                                [&](const std::string& d) { return http::iequals(d, name); })) {
    removed_.emplace_back(name);
  }
}

bool HeaderEdits::erase_added(std::string_view name) {
  // Drops the added fields called `name`; true when one of them replaced the originals (the
  // originals stay dropped: the name then moves to removed_).
  bool replaced = false;
  size_t out = 0;
  for (size_t i = 0; i < added_.size(); ++i) {
    if (http::iequals(added_[i].name, name)) {
      replaced = replaced || replaces_[i];
      continue;
    }
    if (out != i) {
      added_[out] = std::move(added_[i]);
      replaces_[out] = replaces_[i];
    }
    ++out;
  }
  if (out == added_.size()) {
    return false;
  }
  added_.resize(out);
  replaces_.resize(out);
  if (replaced) {
    removed_.emplace_back(name);
  }
  return replaced;
}

std::optional<std::string_view> HeaderEdits::get(std::string_view name,
                                                 const http::Header* original, size_t count) const {
  for (const auto& [n, v] : added_) {
    if (http::iequals(n, name)) {
      return std::string_view(v);
    }
  }
  if (drops(name)) {
    return std::nullopt;
  }
  for (size_t i = 0; i < count; ++i) {
    if (http::iequals(original[i].name, name)) {
      return original[i].value;
    }
  }
  return std::nullopt;
}

// ---- Request ----

Request::~Request() {
  for (Slot& s : slots_) {
    s.destroy(s.ptr);
  }
}

VarValue Request::get(const router::VarRef& ref) const {
  if (ref.kind == VarKind::Http) {
    if (!upstream_headers_.empty()) {
      // The header as changed by plugins ($http_* reads the request's current headers).
      for (const auto& [n, v] : upstream_headers_.added()) {
        if (router::http_header_name_matches(ref.name, n)) {
          return VarValue::string(v);
        }
      }
      for (size_t i = 0; head_ != nullptr && i < head_->header_count; ++i) {
        const http::Header& h = head_->headers[i];
        if (router::http_header_name_matches(ref.name, h.name) &&
            !upstream_headers_.drops(h.name)) {
          return VarValue::string(h.value);
        }
      }
      return VarValue::nil();
    }
  } else if (ref.kind == VarKind::Builtin) {
    const std::string& n = ref.name;
    auto text = [](std::string_view s) {
      return s.empty() ? VarValue::nil() : VarValue::string(s);
    };
    if (n == "consumer_name") {
      return consumer_ != nullptr ? VarValue::string(consumer_->username) : VarValue::nil();
    }
    if (n == "consumer_group_id") {
      return consumer_ != nullptr ? text(consumer_->group_id) : VarValue::nil();
    }
    if (n == "route_id") {
      return text(route.route_id);
    }
    if (n == "route_name") {
      return text(route.route_name);
    }
    if (n == "service_id") {
      return text(route.service_id);
    }
    if (n == "service_name") {
      return text(route.service_name);
    }
    if (n == "status" && response_.status != 0) {
      // nginx's $status once a response exists; the digits live in a buffer of the request.
      int s = response_.status;
      status_text_[0] = static_cast<char>('0' + s / 100 % 10);
      status_text_[1] = static_cast<char>('0' + s / 10 % 10);
      status_text_[2] = static_cast<char>('0' + s % 10);
      return VarValue::string(std::string_view(status_text_, 3));
    }
    if (n == "upstream_addr" || n == "balancer_ip" || n == "balancer_port") {
      // "ip:port" of the node tried last ("[v6]:port" for IPv6).
      std::string_view addr = outcome.upstream_addr;
      if (addr.empty()) {
        return VarValue::nil();
      }
      if (n == "upstream_addr") {
        return VarValue::string(addr);
      }
      size_t colon = addr.rfind(':');
      if (colon == std::string_view::npos) {
        return n == "balancer_ip" ? VarValue::string(addr) : VarValue::nil();
      }
      std::string_view ip = addr.substr(0, colon);
      if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') {
        ip = ip.substr(1, ip.size() - 2);
      }
      return VarValue::string(n == "balancer_ip" ? ip : addr.substr(colon + 1));
    }
    if (n == "upstream_uri" && upstream_uri_) {
      return VarValue::string(*upstream_uri_);
    }
    if ((n == "method" || n == "request_method") && method_) {
      return VarValue::string(*method_);
    }
  }
  if (base_ == nullptr || head_ == nullptr) {
    return VarValue::nil();
  }
  return base_->get(ref);
}

std::optional<std::string_view> Request::var(std::string_view name) const {
  VarValue v = get(router::parse_var_ref(name));
  if (v.kind == VarValue::Kind::String) {
    return v.str;
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  if (head_ == nullptr) {
    return upstream_headers_.get(name, nullptr, 0);
  }
  return upstream_headers_.get(name, head_->headers, head_->header_count);
}

std::string_view Request::method() const {
  if (method_) {
    return *method_;
  }
  return head_ != nullptr ? head_->method_text : std::string_view{};
}

std::string_view Request::uri() const {
  VarValue v = base_ != nullptr && head_ != nullptr
                   ? base_->get(router::VarRef{VarKind::Builtin, "uri"})
                   : VarValue::nil();
  if (v.kind == VarValue::Kind::String) {
    return v.str;
  }
  return head_ != nullptr ? head_->path : std::string_view{};
}

std::string_view Request::remote_addr() const {
  VarValue v = base_ != nullptr && head_ != nullptr
                   ? base_->get(router::VarRef{VarKind::Builtin, "remote_addr"})
                   : VarValue::nil();
  return v.kind == VarValue::Kind::String ? v.str : std::string_view{};
}

void Request::attach_consumer(const Consumer& consumer, std::string_view credential_id) {
  consumer_ = &consumer;
  // plugins.md §3.1: set when known, removed otherwise, so that clients cannot spoof them.
  upstream_headers_.set("X-Consumer-Username", consumer.username);
  if (!credential_id.empty()) {
    upstream_headers_.set("X-Credential-Identifier", credential_id);
  } else {
    upstream_headers_.remove("X-Credential-Identifier");
  }
  if (!consumer.custom_id.empty()) {
    upstream_headers_.set("X-Consumer-Custom-ID", consumer.custom_id);
  } else {
    upstream_headers_.remove("X-Consumer-Custom-ID");
  }
}

std::optional<bool> Request::cached_filter(const void* instance) const {
  for (const auto& [i, pass] : filters_) {
    if (i == instance) {
      return pass;
    }
  }
  return std::nullopt;
}

void Request::cache_filter(const void* instance, bool pass) {
  filters_.emplace_back(instance, pass);
}

}  // namespace apisix::plugins
