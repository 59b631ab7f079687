#include "plugins/redirect/redirect.h"

#include <boost/json/object.hpp>

#include "plugins/conf_value.h"
#include "plugins/request.h"
#include "plugins/template.h"

namespace apisix::plugins {

namespace {

namespace json = boost::json;

bool is_name_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

size_t name_end(std::string_view s, size_t from) {
  while (from < s.size() && is_name_char(s[from])) {
    ++from;
  }
  return from;
}

}  // namespace

// APISIX matches the uri repeatedly (ngx.re.gmatch) against
//   (\\\$[0-9a-zA-Z_]+) | \$\{([0-9a-zA-Z_]+)\} | \$([0-9a-zA-Z_]+) | (\$|[^$\\]+)
// so `\$name` stays literal with its backslash, a lone `$` is literal, and a backslash that
// does not start `\$name` matches no alternative and is dropped.
std::vector<Redirect::Segment> Redirect::parse_uri(std::string_view s) {
  std::vector<Segment> out;
  auto literal = [&](std::string_view text) {
    if (!out.empty() && !out.back().is_var) {
      out.back().text += text;
    } else {
      out.push_back(Segment{std::string(text), false, {}});
    }
  };
  auto variable = [&](std::string_view name) {
    out.push_back(Segment{std::string(name), true, router::parse_var_ref(name)});
  };
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '\\') {
      if (i + 1 < s.size() && s[i + 1] == '$') {
        size_t end = name_end(s, i + 2);
        if (end > i + 2) {
          literal(s.substr(i, end - i));
          i = end;
          continue;
        }
      }
      ++i;  // no alternative matches here
      continue;
    }
    if (s[i] == '$') {
      if (i + 1 < s.size() && s[i + 1] == '{') {
        size_t end = name_end(s, i + 2);
        if (end > i + 2 && end < s.size() && s[end] == '}') {
          variable(s.substr(i + 2, end - i - 2));
          i = end + 1;
          continue;
        }
      }
      size_t end = name_end(s, i + 1);
      if (end > i + 1) {
        variable(s.substr(i + 1, end - i - 1));
        i = end;
        continue;
      }
      literal("$");
      ++i;
      continue;
    }
    size_t end = i;
    while (end < s.size() && s[end] != '$' && s[end] != '\\') {
      ++end;
    }
    literal(s.substr(i, end - i));
    i = end;
  }
  return out;
}

Result<std::shared_ptr<const Plugin>> Redirect::compile(const json::value& conf,
                                                        CompileContext& ctx) {
  auto plugin = std::make_shared<Redirect>();
  const json::object& obj = conf.get_object();

  if (const json::value* v = obj.if_contains("ret_code"); v != nullptr && v->is_number()) {
    plugin->ret_code_ = int32_of(*v);
  }
  if (const json::value* v = obj.if_contains("uri"); v != nullptr && v->is_string()) {
    plugin->uri_ = parse_uri(v->get_string());
    plugin->has_uri_ = true;
  }
  if (const json::value* v = obj.if_contains("regex_uri"); v != nullptr && v->is_array()) {
    const json::array& items = v->get_array();
    if (items.size() >= 2 && items[0].is_string() && items[1].is_string()) {
      std::string_view pattern = items[0].get_string();
      std::string_view replacement = items[1].get_string();
      auto re = UriRegex::compile(pattern, replacement);
      if (!re) {
        return Error::config("invalid regex_uri (" + std::string(pattern) + ", " +
                             std::string(replacement) + "), err:" + re.error().context);
      }
      plugin->regex_uri_ = std::move(re.value());
    }
  }
  if (const json::value* v = obj.if_contains("http_to_https"); v != nullptr && v->is_bool()) {
    plugin->http_to_https_ = v->get_bool();
  }
  if (const json::value* v = obj.if_contains("encode_uri"); v != nullptr && v->is_bool()) {
    plugin->encode_uri_ = v->get_bool();
  }
  if (const json::value* v = obj.if_contains("append_query_string"); v != nullptr && v->is_bool()) {
    plugin->append_query_string_ = v->get_bool();
  }
  if (plugin->http_to_https_ && plugin->append_query_string_) {
    return Error::config(
        "only one of `http_to_https` and `append_query_string` can be configured.");
  }
  if (ctx.attr != nullptr && ctx.attr->is_object()) {
    if (const json::value* port = ctx.attr->get_object().if_contains("https_port");
        port != nullptr && port->is_number()) {
      plugin->https_port_ = int_of(*port);
    }
  }
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

std::string Redirect::render(const std::vector<Segment>& segments, const Request& request) const {
  std::string out;
  for (const Segment& s : segments) {
    if (!s.is_var) {
      out += s.text;
    } else if (auto text = var_text(request.get(s.ref))) {
      out += *text;
    }
  }
  return out;
}

core::Task<PhaseResult> Redirect::rewrite(Request& request) const {
  int ret_code = ret_code_;
  std::optional<std::string> new_uri;

  std::optional<std::string_view> proto = request.header("X-Forwarded-Proto");
  std::string_view scheme = proto ? *proto : request.var("scheme").value_or("http");
  if (http_to_https_ && scheme != "https") {
    // plugins.md §5.13: the port is left out when unknown, 443 or out of range.
    // TODO(plugins): when plugin_attr has no https_port, APISIX picks one of apisix.ssl.listen
    // (when SSL is enabled); CompileContext does not carry that part of config.yaml.
    std::string target = "https://";
    target += request.var("host").value_or(std::string_view{});
    if (https_port_ && *https_port_ != 443 && *https_port_ > 0 && *https_port_ <= 65535) {
      target += ':';
      target += std::to_string(*https_port_);
    }
    target += request.var("request_uri").value_or(std::string_view{});
    new_uri = std::move(target);
    std::string_view method = request.method();
    ret_code = method == "GET" || method == "HEAD" ? 301 : 308;
  } else if (has_uri_) {
    new_uri = render(uri_, request);
  } else if (regex_uri_) {
    std::string out;
    std::string error;
    UriRegex::Outcome outcome = regex_uri_->substitute(request.uri(), out, error);
    if (outcome == UriRegex::Outcome::Failed) {
      co_return Exit::status_only(500);
    }
    if (outcome == UriRegex::Outcome::NoMatch) {
      co_return std::nullopt;  // no match: the request goes on to the upstream
    }
    new_uri = std::move(out);
  }
  if (!new_uri) {
    co_return std::nullopt;
  }

  size_t index = new_uri->find('?');
  if (encode_uri_) {
    if (index != std::string::npos) {
      *new_uri = escape_uri(std::string_view(*new_uri).substr(0, index)) + new_uri->substr(index);
    } else {
      *new_uri = escape_uri(*new_uri);
    }
  }
  if (append_query_string_ && request.var("is_args") == std::optional<std::string_view>("?")) {
    *new_uri += index != std::string::npos ? "&" : "?";
    *new_uri += request.var("args").value_or(std::string_view{});
  }

  Exit exit = Exit::status_only(ret_code);
  exit.headers.emplace_back("Location", std::move(*new_uri));
  co_return exit;
}

}  // namespace apisix::plugins
