#pragma once
// basic-auth (plugins.md §4.2, APISIX apisix/plugins/basic-auth.lua): authenticates a request
// by the user name and password of its `Authorization: Basic ...` header against the
// basic-auth configuration of some consumer, and attaches that consumer (§3.1). One object
// per configured use, built by compile() on the control thread, then shared read-only by
// every worker.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"

namespace apisix::plugins {

namespace basic_auth {

struct Credentials {
  std::string username;
  std::string password;
};

// The credentials of an Authorization header value as APISIX reads them: the first
// (case-insensitive, unanchored) `basic` followed by one whitespace character; the rest
// base64-decoded as nginx does; split on every `:`; user name = first field, password =
// second field, each with all whitespace deleted. nullopt when any step fails.
std::optional<Credentials> parse_authorization(std::string_view value);

// ngx.decode_base64: standard alphabet, padding optional, stops at the first `=`; nullopt for
// a character outside the alphabet before that or a length of 4n+1.
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace basic_auth

class BasicAuth final : public Plugin {
 public:
  static constexpr std::string_view kName = "basic-auth";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  core::Task<PhaseResult> rewrite(Request& request) const override;

 private:
  BasicAuth() = default;

  PhaseResult authenticate(Request& request) const;
  Exit reject(std::string_view message) const;

  std::string www_authenticate_;  // `Basic realm="<realm>"`
  bool hide_credentials_ = false;
  std::optional<std::string> anonymous_consumer_;
};

}  // namespace apisix::plugins
