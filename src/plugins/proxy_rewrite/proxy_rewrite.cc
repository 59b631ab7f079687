#include "plugins/proxy_rewrite/proxy_rewrite.h"

#include <cstdio>
#include <deque>

#include <boost/json/object.hpp>

#include "plugins/conf_value.h"
#include "plugins/request.h"

namespace apisix::plugins {

namespace {

namespace json = boost::json;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// One `$N` / `${N}` reference of APISIX's resolve_var_with_captures, pattern
// `(?<!\\)\$\{?(\d+)\}?`: where it starts and ends and which capture it names.
struct CaptureRef {
  size_t begin = 0;
  size_t end = 0;
  size_t index = 0;
};

std::optional<CaptureRef> next_capture_ref(std::string_view text, size_t from) {
  for (size_t i = text.find('$', from); i != std::string_view::npos; i = text.find('$', i + 1)) {
    if (i > 0 && text[i - 1] == '\\') {
      continue;
    }
    size_t j = i + 1;
    if (j < text.size() && text[j] == '{') {
      ++j;
    }
    if (j >= text.size() || !is_digit(text[j])) {
      continue;
    }
    size_t index = 0;
    while (j < text.size() && is_digit(text[j])) {
      index = index < 100000 ? index * 10 + static_cast<size_t>(text[j] - '0') : index;
      ++j;
    }
    if (j < text.size() && text[j] == '}') {
      ++j;
    }
    return CaptureRef{i, j, index};
  }
  return std::nullopt;
}

// Variables as the `uri` template sees them: `?` inside a value is escaped as `%3F`, so that
// only a `?` written in the template starts the query (APISIX's escape_separator). Values
// live as long as this object (one render).
class SeparatorEscaper final : public router::VarSource {
 public:
  explicit SeparatorEscaper(const router::VarSource& base) : base_(base) {}

  router::VarValue get(const router::VarRef& ref) const override {
    router::VarValue v = base_.get(ref);
    std::optional<std::string> text = var_text(v);
    if (!text || text->find('?') == std::string::npos) {
      return v;
    }
    std::string escaped;
    for (char c : *text) {
      if (c == '?') {
        escaped += "%3F";
      } else {
        escaped += c;
      }
    }
    store_.push_back(std::move(escaped));
    return router::VarValue::string(store_.back());
  }

 private:
  const router::VarSource& base_;
  mutable std::deque<std::string> store_;
};

// The request's variables with `$uri` replaced by the rewritten path, when there is one.
class UriOverride final : public router::VarSource {
 public:
  UriOverride(const router::VarSource& base, const std::optional<std::string>& uri)
      : base_(base), uri_(uri) {}

  router::VarValue get(const router::VarRef& ref) const override {
    if (uri_ && ref.kind == router::VarKind::Builtin && ref.name == "uri") {
      return router::VarValue::string(*uri_);
    }
    return base_.get(ref);
  }

 private:
  const router::VarSource& base_;
  const std::optional<std::string>& uri_;
};

// APISIX's core.utils.validate_header_field / validate_header_value (legacy `headers` form).
bool valid_header_field(std::string_view field) {
  for (char ch : field) {
    auto b = static_cast<unsigned char>(ch);
    if (!(b > 32 && b < 127) || b == ':') {
      return false;
    }
  }
  return true;
}

bool valid_header_value(std::string_view value) {
  for (char ch : value) {
    auto b = static_cast<unsigned char>(ch);
    if (b < 32 || b >= 127) {
      return false;
    }
  }
  return true;
}

ProxyRewrite::HeaderValue make_header_value(const json::value& v) {
  ProxyRewrite::HeaderValue out;
  if (!v.is_string()) {
    out.text = lua_number_text(v);
    return out;
  }
  out.text = std::string(v.get_string());
  out.is_template = out.text.find('$') != std::string::npos;
  if (out.is_template) {
    out.uses_captures = next_capture_ref(out.text, 0).has_value();
    if (!out.uses_captures) {
      out.compiled = Template::compile(out.text);
    }
  }
  return out;
}

std::vector<ProxyRewrite::HeaderOp> make_header_ops(const json::object& fields) {
  std::vector<ProxyRewrite::HeaderOp> ops;
  for (const auto& [name, value] : fields) {
    ProxyRewrite::HeaderOp op;
    op.name = std::string(name);
    if (value.is_array()) {
      for (const json::value& item : value.get_array()) {
        op.values.push_back(make_header_value(item));
      }
    } else {
      op.values.push_back(make_header_value(value));
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

// APISIX's is_new_headers_conf: `add`, `set` or `remove` holds a table.
bool is_new_headers_conf(const json::object& headers) {
  for (std::string_view verb : {"add", "set", "remove"}) {
    const json::value* v = headers.if_contains(verb);
    if (v != nullptr && (v->is_object() || v->is_array())) {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<std::shared_ptr<const Plugin>> ProxyRewrite::compile(const json::value& conf,
                                                            CompileContext& /*ctx*/) {
  auto plugin = std::make_shared<ProxyRewrite>();
  const json::object& obj = conf.get_object();

  if (const json::value* v = obj.if_contains("host"); v != nullptr && v->is_string()) {
    plugin->host_ = std::string(v->get_string());
  }
  if (const json::value* v = obj.if_contains("method"); v != nullptr && v->is_string()) {
    plugin->method_ = std::string(v->get_string());
  }
  if (const json::value* v = obj.if_contains("uri"); v != nullptr && v->is_string()) {
    plugin->uri_ = Template::compile(v->get_string());
  }
  if (const json::value* v = obj.if_contains("use_real_request_uri_unsafe");
      v != nullptr && v->is_bool()) {
    plugin->use_real_request_uri_unsafe_ = v->get_bool();
  }
  if (const json::value* v = obj.if_contains("regex_uri"); v != nullptr && v->is_array()) {
    const json::array& items = v->get_array();
    if (items.size() % 2 != 0) {
      return Error::config("The length of regex_uri should be an even number");
    }
    for (size_t i = 0; i + 1 < items.size(); i += 2) {
      // (Both branches as string_view: a `?:` with "" would copy the json::string.)
      std::string_view pattern =
          items[i].is_string() ? std::string_view(items[i].get_string()) : std::string_view();
      std::string_view replacement = items[i + 1].is_string()
                                         ? std::string_view(items[i + 1].get_string())
                                         : std::string_view();
      auto re = UriRegex::compile(pattern, replacement);
      if (!re) {
        return Error::config("invalid regex_uri(" + std::string(pattern) + ", " +
                             std::string(replacement) + "): " + re.error().context);
      }
      plugin->regex_uri_.push_back(std::move(re.value()));
    }
  }
  if (const json::value* v = obj.if_contains("headers"); v != nullptr && v->is_object()) {
    const json::object& headers = v->get_object();
    plugin->has_headers_ = true;
    if (is_new_headers_conf(headers)) {
      if (const json::value* add = headers.if_contains("add"); add && add->is_object()) {
        plugin->add_ = make_header_ops(add->get_object());
      }
      if (const json::value* set = headers.if_contains("set"); set && set->is_object()) {
        plugin->set_ = make_header_ops(set->get_object());
      }
      if (const json::value* rm = headers.if_contains("remove"); rm && rm->is_array()) {
        for (const json::value& name : rm->get_array()) {
          if (name.is_string()) {
            plugin->remove_.emplace_back(name.get_string());
          }
        }
      }
    } else {
      // The legacy form: a flat map of headers to set, checked as APISIX's check_set_headers.
      for (const auto& [field, value] : headers) {
        if (!value.is_string() && !value.is_number()) {
          return Error::config("invalid type as header value");
        }
        if (field.empty()) {
          return Error::config("invalid field length in header");
        }
        if (!valid_header_field(field)) {
          return Error::config("invalid field character in header");
        }
        if (value.is_string() && !valid_header_value(value.get_string())) {
          return Error::config("invalid value character in header");
        }
      }
      plugin->set_ = make_header_ops(headers);
    }
  }
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

std::string ProxyRewrite::render_header(
    const HeaderValue& value, const router::VarSource& vars,
    const std::vector<std::optional<std::string>>& captures) const {
  if (!value.is_template) {
    return value.text;
  }
  if (!value.uses_captures) {
    return value.compiled.render(vars);
  }
  // APISIX resolves the regex captures first, then variables in what results.
  std::string text;
  size_t from = 0;
  while (auto ref = next_capture_ref(value.text, from)) {
    text.append(value.text, from, ref->begin - from);
    if (ref->index < captures.size() && captures[ref->index]) {
      text += *captures[ref->index];
    }
    from = ref->end;
  }
  text.append(value.text, from);
  return Template::compile(text).render(vars);
}

core::Task<PhaseResult> ProxyRewrite::rewrite(Request& request) const {
  if (host_) {
    request.set_upstream_host(*host_);
  }

  std::string upstream;
  std::string query_string;  // the original query ("?..."), unsafe mode only
  bool separator_escaped = false;
  std::vector<std::optional<std::string>> captures;

  if (use_real_request_uri_unsafe_) {
    std::optional<std::string_view> real = request.var("real_request_uri");
    upstream = std::string(real.value_or(std::string_view{}));
    if (size_t q = upstream.find('?'); q != std::string::npos) {
      query_string = upstream.substr(q);
    }
  } else {
    upstream = std::string(request.uri());
  }

  if (uri_) {
    separator_escaped = true;
    SeparatorEscaper vars(request);
    upstream = uri_->render(vars);
    if (!query_string.empty()) {
      if (upstream.find('?') != std::string::npos) {
        upstream += "&";
        upstream.append(query_string, 1);
      } else {
        upstream += query_string;
      }
    }
  } else if (!regex_uri_.empty()) {
    separator_escaped = upstream.find('?') == std::string::npos;
    for (const UriRegex& re : regex_uri_) {
      std::string out;
      std::string error;
      UriRegex::Outcome outcome = re.substitute(upstream, out, error, &captures);
      if (outcome == UriRegex::Outcome::Failed) {
        co_return Exit::error_msg(500, "failed to match the uri " + std::string(request.uri()) +
                                           " (" + re.pattern() + ")  : " + error);
      }
      if (outcome == UriRegex::Outcome::Matched) {
        upstream = std::move(out);
        break;
      }
    }
  }

  // APISIX calls ngx.req.set_uri() with the rewritten path (safe mode only), so `$uri` in the
  // header templates below reads the new one.
  std::optional<std::string> new_uri;
  if (!use_real_request_uri_unsafe_) {
    size_t index = separator_escaped ? upstream.find('?') : std::string::npos;
    if (index != std::string::npos) {
      // The query part keeps its delimiters; only control characters are escaped so that
      // nothing can break the upstream request line.
      upstream = escape_uri(std::string_view(upstream).substr(0, index)) +
                 escape_uri_control_chars(std::string_view(upstream).substr(index));
    } else {
      // A `?` here came from the client's `%3F` (in $uri or a capture): it stays escaped.
      upstream = escape_uri(upstream);
    }
    new_uri = upstream;
    if (request.var("is_args") == std::optional<std::string_view>("?")) {
      upstream += index != std::string::npos ? "&" : "?";
      upstream += request.var("args").value_or(std::string_view{});
    }
  }
  request.set_upstream_uri(std::move(upstream));

  if (has_headers_) {
    UriOverride vars(request, new_uri);
    // APISIX's order: add, set, remove (plugins.md §5.14, §15).
    for (const HeaderOp& op : add_) {
      for (const HeaderValue& v : op.values) {
        request.upstream_headers().add(op.name, render_header(v, vars, captures));
      }
    }
    for (const HeaderOp& op : set_) {
      std::vector<std::string> values;
      values.reserve(op.values.size());
      for (const HeaderValue& v : op.values) {
        values.push_back(render_header(v, vars, captures));
      }
      for (size_t i = 0; i < values.size(); ++i) {
        if (i == 0) {
          request.upstream_headers().set(op.name, values[i]);
        } else {
          request.upstream_headers().add(op.name, values[i]);
        }
      }
    }
    for (const std::string& name : remove_) {
      request.upstream_headers().remove(name);
    }
  }

  if (method_) {
    request.set_method(*method_);
  }
  co_return std::nullopt;
}

}  // namespace apisix::plugins
