#include "config/config_tree.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

#include <boost/json/object.hpp>

namespace apisix::config {
namespace json = boost::json;
namespace {

std::string_view trim_space(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// What Lua's tonumber() accepts for the strings users put in environment variables:
// decimal integers and floats, and 0x hex integers. Surrounding spaces are ignored.
std::optional<json::value> to_number(std::string_view text) {
  std::string s(trim_space(text));
  if (s.empty()) {
    return std::nullopt;
  }
  const char* begin = s.c_str();
  char* end = nullptr;
  size_t digits_at = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  bool is_hex = s.size() > digits_at + 2 && s[digits_at] == '0' &&
                (s[digits_at + 1] == 'x' || s[digits_at + 1] == 'X');
  bool is_integer = is_hex || s.find_first_of(".eE") == std::string::npos;
  if (is_integer) {
    errno = 0;
    long long v = std::strtoll(begin, &end, is_hex ? 16 : 10);
    if (end == begin + s.size() && errno == 0 && end != begin + digits_at) {
      return json::value(static_cast<int64_t>(v));
    }
    if (is_hex) {
      return std::nullopt;
    }
  }
  // Lua would also accept "inf" and "nan" spellings via strtod; we do not want those.
  for (char c : s) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' ||
          c == '-' || c == '+')) {
      return std::nullopt;
    }
  }
  errno = 0;
  double d = std::strtod(begin, &end);
  if (end != begin + s.size() || !std::isfinite(d)) {
    return std::nullopt;
  }
  return json::value(d);
}

json::value retype(std::string text) {
  if (auto n = to_number(text)) {
    return *n;
  }
  if (text == "true") {
    return true;
  }
  if (text == "false") {
    return false;
  }
  return json::value(json::string_view(text));
}

std::string join_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

Result<void> substitute(json::value& v, const EnvLookup& env, const std::string& path) {
  auto where = [&](const Error& e) {
    return Error::config("failed to handle configuration: " + e.context +
                         (path.empty() ? "" : " (at " + path + ")"));
  };
  if (v.is_string()) {
    json::string& s = v.get_string();
    Result<Substituted> r = substitute_env(std::string_view(s.data(), s.size()), env);
    if (!r) {
      return where(r.error());
    }
    if (r->replaced_any) {
      v = retype(std::move(r->text));
    }
    return {};
  }
  if (v.is_array()) {
    json::array& arr = v.get_array();
    for (size_t i = 0; i < arr.size(); ++i) {
      if (auto r = substitute(arr[i], env, path + "[" + std::to_string(i) + "]"); !r) {
        return r;
      }
    }
    return {};
  }
  if (v.is_object()) {
    json::object& obj = v.get_object();
    bool keys_changed = false;
    for (const auto& kv : obj) {
      if (kv.key().find("${{") != json::string_view::npos) {
        keys_changed = true;
        break;
      }
    }
    if (keys_changed) {
      // Rebuild so that renamed keys keep their position.
      json::object renamed;
      renamed.reserve(obj.size());
      for (auto& kv : obj) {
        Result<Substituted> r =
            substitute_env(std::string_view(kv.key().data(), kv.key().size()), env);
        if (!r) {
          return where(r.error());
        }
        renamed.insert_or_assign(r->text, std::move(kv.value()));
      }
      obj = std::move(renamed);
    }
    for (auto& kv : obj) {
      std::string child = join_path(path, std::string_view(kv.key().data(), kv.key().size()));
      if (auto r = substitute(kv.value(), env, child); !r) {
        return r;
      }
    }
  }
  return {};
}

const char* lua_type(const json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
    case json::kind::array:
      return "table";
    case json::kind::string:
      return "string";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::bool_:
      return "boolean";
    case json::kind::null:
      return "nil";
  }
  return "nil";
}

bool mismatch_allowed(const std::string& path, const json::value& user) {
  if (path == "apisix->node_listen" && user.is_number()) {
    return true;
  }
  if (path == "apisix->data_encryption->keyring" && user.is_string()) {
    return true;
  }
  return path.rfind("nginx_config->", 0) == 0 && (user.is_number() || user.is_string());
}

Result<void> merge(json::object& base, const json::object& user, const std::string& path) {
  for (const auto& kv : user) {
    std::string_view key(kv.key().data(), kv.key().size());
    std::string child = path.empty() ? std::string(key) : path + "->" + std::string(key);
    const json::value& val = kv.value();
    if (val.is_null()) {
      base.erase(kv.key());
      continue;
    }
    if (val.is_array()) {
      base.insert_or_assign(kv.key(), val);
      continue;
    }
    json::value* existing = base.if_contains(kv.key());
    if (val.is_object()) {
      if (existing == nullptr || existing->is_null()) {
        existing = &base.insert_or_assign(kv.key(), json::object()).first->value();
      } else if (existing->is_array()) {
        // Lua cannot tell the two apart; replacing lets validation report the shape.
        base.insert_or_assign(kv.key(), val);
        continue;
      } else if (!existing->is_object()) {
        return Error::config("failed to merge, path[" + child + "] expect: " + lua_type(*existing) +
                             ", but got: table");
      }
      if (auto r = merge(existing->get_object(), val.get_object(), child); !r) {
        return r;
      }
      continue;
    }
    if (existing != nullptr && !existing->is_null() &&
        std::string_view(lua_type(*existing)) != lua_type(val) && !mismatch_allowed(child, val)) {
      return Error::config("failed to merge, path[" + child + "] expect: " + lua_type(*existing) +
                           ", but got: " + lua_type(val));
    }
    base.insert_or_assign(kv.key(), val);
  }
  return {};
}

}  // namespace

Result<void> substitute_env_in_tree(json::value& tree, const EnvLookup& env) {
  return substitute(tree, env, "");
}

Result<void> merge_config_tree(json::value& base, const json::value& user) {
  if (!base.is_object() || !user.is_object()) {
    return Error::config("failed to merge: both configurations must be mappings");
  }
  return merge(base.get_object(), user.as_object(), "");
}

}  // namespace apisix::config
