#pragma once
// Environment lookups and `${{NAME}}` / `${{NAME:=default}}` substitution, shared by
// config.yaml and the standalone apisix.yaml loaders (core.md §1.2, §2.7).

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace apisix::config {

// Returns the value of an environment variable, or nullopt when it is not set.
// Injected so that tests and fuzzers do not depend on the process environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

// Reads the real process environment (getenv). Safe as long as nobody calls setenv
// concurrently, which we never do after start-up.
[[nodiscard]] EnvLookup process_env();

// A fixed set of variables; for tests, fuzzers and embedding.
[[nodiscard]] EnvLookup env_from_map(std::map<std::string, std::string, std::less<>> vars);

struct Substituted {
  std::string text;
  bool replaced_any = false;  // at least one reference was replaced
};

// Replaces every `${{NAME}}` and `${{NAME:=default}}` in `text`. Spaces around the name and
// the default are ignored; names are made of letters, digits and '_'. Text that does not
// look like a reference is kept as is. A variable that is unset and has no default is an
// error: "can't find environment variable NAME".
[[nodiscard]] Result<Substituted> substitute_env(std::string_view text, const EnvLookup& env);

}  // namespace apisix::config
