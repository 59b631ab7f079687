#pragma once
// Operations on a parsed config.yaml tree before it is read: environment substitution and
// merging the user file over the built-in defaults (core.md §1.2).

#include <boost/json/value.hpp>

#include "config/env.h"
#include "core/result.h"

namespace apisix::config {

// Replaces `${{NAME}}` / `${{NAME:=default}}` in every string value and every mapping key of
// `tree`. A string value in which something was replaced is then retyped: a numeric string
// becomes a number and "true"/"false" a boolean, so `port: ${{PORT}}` yields an integer.
// Values without a reference keep their type (a quoted "123" stays a string).
[[nodiscard]] Result<void> substitute_env_in_tree(boost::json::value& tree, const EnvLookup& env);

// Merges `user` into `base` with APISIX's rules:
//   mapping  -> merged key by key, recursively
//   sequence -> replaces the base value entirely
//   null     -> deletes the key
//   scalar   -> replaces; when the base holds a different type the merge fails with
//               "failed to merge, path[a->b] expect: <type>, but got: <type>" (Lua type
//               names: table, string, number, boolean), except that a number may replace
//               apisix->node_listen, a string may replace apisix->data_encryption->keyring,
//               and numbers and strings are interchangeable under nginx_config->.
// Both values must be objects. On error `base` is left partly merged.
[[nodiscard]] Result<void> merge_config_tree(boost::json::value& base,
                                             const boost::json::value& user);

}  // namespace apisix::config
