#include "plugins/response_rewrite/response_rewrite.h"

#include <algorithm>
#include <cstdio>
#include <span>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/log.h"
#include "http/parser.h"
#include "plugins/conf_value.h"
#include "plugins/request.h"

namespace apisix::plugins {

namespace json = boost::json;
using router::VarKind;
using router::VarRef;
using router::VarValue;

namespace {

// A variable's value copied out of the request head in rewrite, for header_filter.
struct RecordedVar {
  VarValue::Kind kind = VarValue::Kind::Nil;
  std::string text;
  bool boolean = false;
  std::vector<std::string> items;
  std::vector<std::string_view> views;  // into `items`; rebuilt by set()

  void set(const VarValue& v) {
    kind = v.kind;
    text.assign(v.str);
    boolean = v.boolean;
    items.assign(v.array.begin(), v.array.end());
    views.assign(items.begin(), items.end());
  }
  VarValue value() const {
    switch (kind) {
      case VarValue::Kind::String:
        return VarValue::string(text);
      case VarValue::Kind::Bool:
        return VarValue::from_bool(boolean);
      case VarValue::Kind::Array:
        return VarValue::from_array(std::span<const std::string_view>(views));
      case VarValue::Kind::Nil:
        break;
    }
    return VarValue::nil();
  }
};

// What one request needs between the phases.
struct ResponseRewriteState {
  std::vector<RecordedVar> recorded;  // parallel to the plugin's recorded_vars()
  bool has_recorded = false;
  bool matched = false;      // header_filter: `vars` matched and the body is to be changed
  bool passthrough = false;  // filters cannot read an encoded body: it goes out unchanged
  bool done = false;         // the new body went out; later pieces are dropped
  std::string held;          // `filters`: the body so far, at most max_resp_body_size bytes
};

bool is_late_var(const VarRef& ref) {
  if (ref.kind != VarKind::Builtin) {
    return false;
  }
  const std::string& n = ref.name;
  return n == "status" || n == "upstream_status" || n == "upstream_addr" || n == "balancer_ip" ||
         n == "balancer_port" || n.starts_with("sent_http_") || n.starts_with("upstream_http_");
}

// Variables for header_filter: response-time variables from the response and the gateway's
// record, then what the request still answers (route, consumer, status), then the values
// recorded in rewrite. Lives on the stack for one header_filter call.
class LateVars final : public router::VarSource {
 public:
  LateVars(const Request& request, const Response& response, const std::vector<VarRef>& refs,
           const std::vector<RecordedVar>* recorded)
      : request_(request), response_(response), refs_(refs), recorded_(recorded) {}

  VarValue get(const VarRef& ref) const override {
    if (ref.kind == VarKind::Builtin) {
      const std::string& n = ref.name;
      if (n == "status") {
        return status_text(response_.status);
      }
      if (n == "upstream_status") {
        return request_.outcome.proxied ? status_text(response_.status) : VarValue::nil();
      }
      std::string_view addr = request_.outcome.upstream_addr;
      if (n == "upstream_addr") {
        return addr.empty() ? VarValue::nil() : VarValue::string(addr);
      }
      if (n == "balancer_ip" || n == "balancer_port") {
        size_t colon = addr.rfind(':');
        if (addr.empty() || colon == std::string_view::npos) {
          return VarValue::nil();
        }
        if (n == "balancer_port") {
          return VarValue::string(addr.substr(colon + 1));
        }
        std::string_view ip = addr.substr(0, colon);
        if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') {
          ip = ip.substr(1, ip.size() - 2);
        }
        return VarValue::string(ip);
      }
      for (std::string_view prefix : {"sent_http_", "upstream_http_"}) {
        if (n.starts_with(prefix)) {
          std::string name = n.substr(prefix.size());
          std::replace(name.begin(), name.end(), '_', '-');
          auto value = response_.header(name);
          return value ? VarValue::string(*value) : VarValue::nil();
        }
      }
    }
    VarValue live = request_.get(ref);
    if (live.kind != VarValue::Kind::Nil || recorded_ == nullptr) {
      return live;
    }
    for (size_t i = 0; i < refs_.size() && i < recorded_->size(); ++i) {
      if (refs_[i] == ref) {
        return (*recorded_)[i].value();
      }
    }
    return VarValue::nil();
  }

 private:
  VarValue status_text(int status) const {
    if (status <= 0) {
      return VarValue::nil();
    }
    int n = std::snprintf(digits_, sizeof digits_, "%d", status);
    return VarValue::string(std::string_view(digits_, static_cast<size_t>(n)));
  }

  const Request& request_;
  const Response& response_;
  const std::vector<VarRef>& refs_;
  const std::vector<RecordedVar>* recorded_;
  mutable char digits_[12] = {};
};

// Collects the variables a template reads: render() asks for every one of them.
class RefCollector final : public router::VarSource {
 public:
  explicit RefCollector(std::vector<VarRef>& refs) : refs_(refs) {}
  VarValue get(const VarRef& ref) const override {
    add(refs_, ref);
    return VarValue::nil();
  }
  static void add(std::vector<VarRef>& refs, const VarRef& ref) {
    if (!is_late_var(ref) && std::find(refs.begin(), refs.end(), ref) == refs.end()) {
      refs.push_back(ref);
    }
  }

 private:
  std::vector<VarRef>& refs_;
};

bool is_logical_operator(std::string_view s) {
  return http::iequals(s, "AND") || http::iequals(s, "OR") || http::iequals(s, "!AND") ||
         http::iequals(s, "!OR");
}

// The variables a lua-resty-expr rule names (plugins.md §0.5): the first element of each
// condition. The rule has compiled already, so only its shape matters here.
void collect_expr_vars(const json::value& rule, std::vector<VarRef>& refs) {
  const json::array* items = rule.if_array();
  if (items == nullptr || items->empty()) {
    return;
  }
  if (const json::string* first = (*items)[0].if_string()) {
    if (!is_logical_operator(*first)) {
      RefCollector::add(refs, router::parse_var_ref(*first));
      return;
    }
    for (size_t i = 1; i < items->size(); ++i) {
      collect_expr_vars((*items)[i], refs);
    }
    return;
  }
  for (const json::value& item : *items) {
    collect_expr_vars(item, refs);
  }
}

// An `add` entry split as APISIX does, with `^([^:\s]+)\s*:\s*([^:]+)$`.
std::optional<std::pair<std::string, std::string>> split_add(std::string_view entry) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  size_t colon = entry.find(':');
  if (colon == std::string_view::npos || entry.find(':', colon + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  size_t name_end = 0;
  while (name_end < colon && !is_space(entry[name_end])) {
    ++name_end;
  }
  if (name_end == 0) {
    return std::nullopt;
  }
  for (size_t i = name_end; i < colon; ++i) {
    if (!is_space(entry[i])) {
      return std::nullopt;
    }
  }
  std::string_view v = entry.substr(colon + 1);
  if (v.empty()) {
    return std::nullopt;
  }
  size_t lead = 0;
  while (lead < v.size() && is_space(v[lead])) {
    ++lead;
  }
  // `\s*` gives back one character when the value would otherwise be empty.
  v = lead == v.size() ? v.substr(v.size() - 1) : v.substr(lead);
  return std::make_pair(std::string(entry.substr(0, name_end)), std::string(v));
}

// ngx.decode_base64: the standard alphabet, reading up to the first "="; a length that leaves
// a lone character is invalid.
std::optional<std::string> decode_base64(std::string_view text) {
  auto digit = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') {
      return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
      return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
      return c - '0' + 52;
    }
    if (c == '+') {
      return 62;
    }
    return c == '/' ? 63 : -1;
  };
  size_t len = 0;
  while (len < text.size() && text[len] != '=') {
    if (digit(text[len]) < 0) {
      return std::nullopt;
    }
    ++len;
  }
  if (len % 4 == 1) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(len / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    acc = (acc << 6) | static_cast<uint32_t>(digit(text[i]));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

bool is_table(const json::value* v) { return v != nullptr && (v->is_array() || v->is_object()); }

}  // namespace

Result<std::shared_ptr<const Plugin>> ResponseRewrite::compile(const json::value& conf,
                                                               CompileContext&) {
  const json::object& o = conf.get_object();
  auto plugin = std::make_shared<ResponseRewrite>();

  if (const auto* headers = o.if_contains("headers"); headers != nullptr && headers->is_object()) {
    const json::object& h = headers->get_object();
    if (!is_table(h.if_contains("add")) && !is_table(h.if_contains("set")) &&
        !is_table(h.if_contains("remove"))) {
      // The old form: a map of headers to set.
      for (const auto& [name, value] : h) {
        auto text = header_value_text(value);
        if (!text) {
          return Error::config("invalid type as header value");
        }
        if (name.empty()) {
          return Error::config("invalid field length in header");
        }
        plugin->set_.push_back(HeaderOp{std::string(name), Template::compile(*text)});
      }
    } else {
      bool usable = true;
      if (const auto* add = h.if_contains("add"); add != nullptr && add->is_array()) {
        for (const json::value& entry : add->get_array()) {
          auto split = entry.is_string() ? split_add(entry.get_string()) : std::nullopt;
          if (!split) {
            // APISIX's header_filter logs this and applies none of the header operations.
            core::log_error("response-rewrite: failed to create header operation: bad add entry \"",
                            entry.is_string() ? std::string_view(entry.get_string()) : "",
                            "\"; the response headers are left unchanged");
            usable = false;
            break;
          }
          plugin->add_.push_back(
              HeaderOp{std::move(split->first), Template::compile(split->second)});
        }
      }
      if (const auto* set = h.if_contains("set"); usable && set != nullptr && set->is_object()) {
        for (const auto& [name, value] : set->get_object()) {
          auto text = header_value_text(value);
          if (text) {
            plugin->set_.push_back(HeaderOp{std::string(name), Template::compile(*text)});
          }
        }
      }
      if (const auto* remove = h.if_contains("remove");
          usable && remove != nullptr && remove->is_array()) {
        for (const json::value& name : remove->get_array()) {
          if (name.is_string()) {
            plugin->remove_.emplace_back(name.get_string());
          }
        }
      }
      if (!usable) {
        plugin->add_.clear();
        plugin->set_.clear();
        plugin->remove_.clear();
      }
    }
  }

  const json::value* body = o.if_contains("body");
  bool body_base64 = false;
  if (const auto* b = o.if_contains("body_base64"); b != nullptr && b->is_bool()) {
    body_base64 = b->get_bool();
  }
  if (body != nullptr && body->is_string()) {
    plugin->body_ = std::string(body->get_string());
  }
  if (body_base64) {
    std::optional<std::string> decoded;
    if (plugin->body_ && !plugin->body_->empty()) {
      decoded = decode_base64(*plugin->body_);
    }
    if (!decoded) {
      return Error::config("invalid base64 content");
    }
    plugin->body_ = std::move(decoded);
  }

  if (const auto* vars = o.if_contains("vars")) {
    auto expr = router::Expr::compile(*vars);
    if (!expr) {
      return Error::config("failed to validate the 'vars' expression: " + expr.error().context);
    }
    if (!expr->is_always_true()) {
      plugin->vars_ = std::make_unique<const router::Expr>(std::move(expr.value()));
      collect_expr_vars(*vars, plugin->recorded_refs_);
    }
  }

  if (const auto* filters = o.if_contains("filters"); filters != nullptr && filters->is_array()) {
    for (const json::value& f : filters->get_array()) {
      const json::object& filter = f.get_object();
      auto text = [&](std::string_view key, std::string_view fallback) -> std::string_view {
        const json::value* v = filter.if_contains(key);
        return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : fallback;
      };
      auto compiled = response_rewrite::BodySubstitution::compile(
          text("regex", ""), text("replace", ""), text("scope", "once") == "global",
          text("options", "jo"));
      if (!compiled) {
        return compiled.error();
      }
      plugin->filters_.push_back(std::move(*compiled));
    }
  }
  if (const auto* max = o.if_contains("max_resp_body_size"); max != nullptr && max->is_number()) {
    plugin->max_body_bytes_ = static_cast<size_t>(int_of(*max, 1));
  }
  if (const auto* status = o.if_contains("status_code"); status != nullptr && status->is_number()) {
    plugin->status_code_ = int32_of(*status);
  }

  RefCollector collector(plugin->recorded_refs_);
  for (const auto* ops : {&plugin->add_, &plugin->set_}) {
    for (const HeaderOp& op : *ops) {
      (void)op.value.render(collector);
    }
  }
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

core::Task<PhaseResult> ResponseRewrite::rewrite(Request& request) const {
  if (!recorded_refs_.empty()) {
    auto& state = request.state<ResponseRewriteState>(*this);
    state.recorded.resize(recorded_refs_.size());
    for (size_t i = 0; i < recorded_refs_.size(); ++i) {
      state.recorded[i].set(request.get(recorded_refs_[i]));
    }
    state.has_recorded = true;
  }
  co_return std::nullopt;
}

void ResponseRewrite::header_filter(Request& request, Response& response) const {
  ResponseRewriteState* state = request.find_state<ResponseRewriteState>(*this);
  const std::vector<RecordedVar>* recorded =
      state != nullptr && state->has_recorded ? &state->recorded : nullptr;
  LateVars vars(request, response, recorded_refs_, recorded);
  if (vars_ && !vars_->eval(vars)) {
    if (state != nullptr) {
      state->matched = false;
    }
    return;
  }
  if (status_code_) {
    response.status = *status_code_;
  }
  if (body_ || !filters_.empty()) {
    ResponseRewriteState& s = request.state<ResponseRewriteState>(*this);
    s.matched = true;
    auto encoding = response.header("Content-Encoding");
    if (!body_ && encoding && !encoding->empty()) {
      // APISIX inflates gzip and br bodies before filtering; this build cannot, so the body
      // goes out as it came, still described by its own headers.
      s.passthrough = true;
      core::log_error(
          "response-rewrite: filters may not work as expected due to unsupported "
          "compression encoding type: ",
          *encoding);
    } else {
      // core.response.clear_header_as_body_modified
      response.modify_body();
      response.remove_header("Content-Length");
      response.remove_header("Content-Encoding");
      response.remove_header("Last-Modified");
      response.remove_header("ETag");
    }
  }
  std::string value;
  for (const HeaderOp& op : add_) {
    value.clear();
    op.value.render(vars, value);
    if (!value.empty()) {
      response.add_header(op.name, value);
    }
  }
  for (const HeaderOp& op : set_) {
    value.clear();
    op.value.render(vars, value);
    if (value.empty()) {
      response.remove_header(op.name);  // nginx sends no field for an empty value
    } else {
      response.set_header(op.name, value);
    }
  }
  for (const std::string& name : remove_) {
    response.remove_header(name);
  }
}

void ResponseRewrite::body_filter(Request& request, std::string& chunk, bool last) const {
  ResponseRewriteState* state = request.find_state<ResponseRewriteState>(*this);
  if (state == nullptr || !state->matched || state->passthrough) {
    return;
  }
  if (state->done) {
    chunk.clear();  // the new body is out; what the upstream still sends is dropped
    return;
  }
  if (body_) {
    chunk = *body_;
    state->done = true;
    return;
  }
  // `filters` need the whole body: hold the pieces (sending nothing) until the last one, or
  // until max_resp_body_size bytes are held — then the body is cut there (APISIX's
  // hold_body_chunk) and the rest of the upstream's body is dropped.
  if (!chunk.empty()) {
    size_t room = max_body_bytes_ - state->held.size();
    state->held.append(chunk, 0, std::min(room, chunk.size()));
    chunk.clear();
  }
  if (state->held.size() < max_body_bytes_ && !last) {
    return;
  }
  std::string body = std::move(state->held);
  state->held = std::string();
  for (const auto& filter : filters_) {
    std::string error;
    if (!filter.apply(body, error)) {
      core::log_error("response-rewrite: regex \"", filter.regex(),
                      "\" substitutes failed:", error);
    }
  }
  chunk = std::move(body);
  state->done = true;
}

}  // namespace apisix::plugins
