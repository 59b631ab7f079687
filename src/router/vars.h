#pragma once
// Request variables as route conditions see them (core.md §6.9): a variable name is parsed
// once, when a `vars` expression is compiled, into a VarRef; at request time a VarSource
// turns a VarRef into a VarValue. Compiled VarRefs are immutable and shared by all workers;
// a VarSource and the views it hands out belong to one request on one worker.

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace apisix::router {

// Which family a variable name belongs to; the request side dispatches on this instead of
// comparing name prefixes on every lookup. Resolution order follows core.md §6.9.
enum class VarKind : unsigned char {
  Builtin,   // any other name, kept as written: `uri`, `host`, `remote_addr`, `route_id`...
  Arg,       // arg_<name>: first query argument `name` (case-sensitive)
  Http,      // http_<name>: request header; `name` stored lower-cased with `_` as `-`
  Cookie,    // cookie_<name>: cookie `name` (case-sensitive) from the Cookie header
  PostArg,   // post_arg_<name>: urlencoded form field
  UriParam,  // uri_param_<name>: parameter captured by the matched route pattern (§5.3)
};

// A parsed variable name. For every kind but Builtin, `name` is the part after the prefix.
struct VarRef {
  VarKind kind = VarKind::Builtin;
  std::string name;

  friend bool operator==(const VarRef&, const VarRef&) = default;
};

// Parses a variable name as written in a `vars` expression (core.md §6.9).
// `method` and `post_arg.<path>` (JSONPath into the body, an array-valued lookup) stay
// Builtin: the request side treats them as named variables of their own.
inline VarRef parse_var_ref(std::string_view name) {
  // Longest prefixes first is not needed: none of these is a prefix of another
  // ("arg_" is not a prefix of "post_arg_").
  struct Prefix {
    std::string_view text;
    VarKind kind;
  };
  static constexpr Prefix kPrefixes[] = {
      {"cookie_", VarKind::Cookie},      {"arg_", VarKind::Arg},   {"post_arg_", VarKind::PostArg},
      {"uri_param_", VarKind::UriParam}, {"http_", VarKind::Http},
  };
  for (const Prefix& prefix : kPrefixes) {
    if (!name.starts_with(prefix.text)) {
      continue;
    }
    VarRef ref{prefix.kind, std::string(name.substr(prefix.text.size()))};
    if (prefix.kind == VarKind::Http) {
      // nginx compares `$http_*` names lower-cased with `-` and `_` equivalent, so
      // `http_X_Api_Key` is the header `X-API-Key` (§6.9). Storing the header spelling
      // lets the request side use a plain case-insensitive header compare.
      for (char& c : ref.name) {
        if (c >= 'A' && c <= 'Z') {
          c = static_cast<char>(c - 'A' + 'a');
        } else if (c == '_') {
          c = '-';
        }
      }
    }
    return ref;
  }
  return VarRef{VarKind::Builtin, std::string(name)};
}

// True when the request header `header_name` is the one an Http VarRef names (`stored`,
// lower-case with `-`). Like nginx, `_` in the request's header name counts as `-`.
inline bool http_header_name_matches(std::string_view stored, std::string_view header_name) {
  if (stored.size() != header_name.size()) {
    return false;
  }
  for (size_t i = 0; i < stored.size(); ++i) {
    char c = header_name[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    } else if (c == '_') {
      c = '-';
    }
    if (c != stored[i]) {
      return false;
    }
  }
  return true;
}

// The value of one variable for one request, as lua-resty-expr sees it: nil (missing),
// a string, a boolean (`arg_x` for `?x` without `=` is `true`), or an array of strings
// (JSONPath `post_arg.*` results, `graphql_root_fields`). Views point into request-owned
// memory and stay valid for one Expr::eval call.
struct VarValue {
  enum class Kind { Nil, String, Bool, Array } kind = Kind::Nil;
  std::string_view str;
  bool boolean = false;
  std::span<const std::string_view> array;

  static VarValue nil() { return {}; }
  static VarValue string(std::string_view s) {
    VarValue v;
    v.kind = Kind::String;
    v.str = s;
    return v;
  }
  static VarValue from_bool(bool b) {
    VarValue v;
    v.kind = Kind::Bool;
    v.boolean = b;
    return v;
  }
  static VarValue from_array(std::span<const std::string_view> items) {
    VarValue v;
    v.kind = Kind::Array;
    v.array = items;
    return v;
  }
};

// Implemented by the request side; one per request, used on that request's worker only.
// get() must not fail: an unknown or unavailable variable is nil.
class VarSource {
 public:
  virtual ~VarSource() = default;
  virtual VarValue get(const VarRef& ref) const = 0;
};

// The value of query argument `name` in `query` (the text after `?`, without `#`), as
// `arg_<name>` sees it (§6.9, ngx.req.get_uri_args): arguments are split on `&`; the first
// argument whose key equals `name` (case-sensitive) wins; `a=` yields "", a bare `a` yields
// nullopt with `present_without_value` set (APISIX's boolean `true`); empty segments are
// skipped and, as with get_uri_args' default limit, only the first 100 arguments count.
// The returned view is raw: neither percent-escapes nor `+` are decoded, and keys are
// compared undecoded.
// TODO(router): decode `%XX` and `+` in keys and values as get_uri_args does; that needs
// a per-request buffer for the decoded text.
inline std::optional<std::string_view> query_arg(std::string_view query, std::string_view name,
                                                 bool& present_without_value) {
  constexpr int kMaxArgs = 100;
  present_without_value = false;
  int seen = 0;
  size_t pos = 0;
  while (pos <= query.size() && seen < kMaxArgs) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) {
      amp = query.size();
    }
    const std::string_view segment = query.substr(pos, amp - pos);
    pos = amp + 1;
    if (segment.empty()) {
      continue;
    }
    ++seen;
    const size_t eq = segment.find('=');
    if (eq == std::string_view::npos) {
      if (segment == name) {
        present_without_value = true;
        return std::nullopt;
      }
      continue;
    }
    if (segment.substr(0, eq) == name) {
      return segment.substr(eq + 1);
    }
  }
  return std::nullopt;
}

// The value of cookie `name` in a Cookie header, parsed the way APISIX's cookie variables
// are (lua-resty-cookie, §6.9): leading spaces and tabs before a key are skipped; a key
// runs to the next `=` (so a key-only segment such as `flag; a=1` swallows the next
// cookie's name: the key is "flag; a"); a value runs to the next `;` or tab (spaces inside
// and before `;` are kept); if a name repeats, the last value wins. Case-sensitive.
inline std::optional<std::string_view> cookie_value(std::string_view cookie_header,
                                                    std::string_view name) {
  std::optional<std::string_view> found;
  size_t i = 0;
  const size_t n = cookie_header.size();
  while (i < n) {
    while (i < n && (cookie_header[i] == ' ' || cookie_header[i] == '\t')) {
      ++i;
    }
    if (i >= n) {
      break;
    }
    const size_t eq = cookie_header.find('=', i);
    if (eq == std::string_view::npos) {
      break;  // a trailing key without `=` has no value
    }
    const std::string_view key = cookie_header.substr(i, eq - i);
    size_t end = eq + 1;
    while (end < n && cookie_header[end] != ';' && cookie_header[end] != '\t') {
      ++end;
    }
    if (key == name) {
      found = cookie_header.substr(eq + 1, end - eq - 1);
    }
    i = end + 1;
  }
  return found;
}

}  // namespace apisix::router
