#pragma once
// key-auth (plugins.md §4.1, APISIX apisix/plugins/key-auth.lua): authenticates a request by a
// key in a header (or, when that header is absent, a query argument) that some consumer's
// key-auth configuration holds, and attaches that consumer (§3.1). One object per configured
// use, built by compile() on the control thread, then shared read-only by every worker.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"

namespace apisix::plugins {

namespace key_auth {

// How a query argument occurs in a query string, as ngx.req.get_uri_args() sees it.
struct QueryArg {
  enum class Kind {
    Absent,    // no argument of that name
    Single,    // exactly one, with a value (`k=v`, `k=`)
    Unusable,  // repeated, or without `=`: a table or `true` in Lua, never a key
  } kind = Kind::Absent;
  std::string value;  // decoded (`%XX`, `+`), for Single
};

// The argument `name` of `query` (the text after `?`): arguments split on `&`, keys and
// values percent-decoded as nginx does (`+` is a space), only the first 100 arguments count.
QueryArg find_query_arg(std::string_view query, std::string_view name);

// `query` without the arguments whose decoded key is `name` (the others keep their bytes and
// order; empty segments go); nullopt when there is no such argument.
std::optional<std::string> remove_query_arg(std::string_view query, std::string_view name);

}  // namespace key_auth

class KeyAuth final : public Plugin {
 public:
  static constexpr std::string_view kName = "key-auth";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  core::Task<PhaseResult> rewrite(Request& request) const override;

 private:
  KeyAuth() = default;

  PhaseResult authenticate(Request& request) const;
  // The credential header's value and the name it was found under; nullopt when absent.
  std::optional<std::pair<std::string_view, std::string_view>> find_header(
      const Request& request) const;
  void remove_query(Request& request) const;
  Exit reject(std::string_view message) const;

  std::string header_;
  // header_ with `_` turned into `-`, as the lookup of ngx.req.get_headers() also tries;
  // empty when header_ has no `_`.
  std::string header_dashed_;
  std::string query_;
  std::string www_authenticate_;  // `apikey realm="<realm>"`
  bool hide_credentials_ = false;
  std::optional<std::string> anonymous_consumer_;
};

}  // namespace apisix::plugins
