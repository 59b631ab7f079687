#pragma once
// YAML text to JSON values, typed the way APISIX's YAML loader types them, so that the rest
// of the configuration code only ever sees boost::json values. yaml-cpp stays inside the .cc.

#include <string_view>

#include <boost/json/value.hpp>

#include "core/result.h"

namespace apisix::config {

// Deepest collection nesting accepted; real configuration files stay far below it.
inline constexpr int kMaxYamlDepth = 128;

// Parses the first YAML document of `text`.
//
// Scalar typing (plain, i.e. unquoted, scalars only; quoted and block scalars stay strings):
//   ~, null, Null, NULL, empty         -> null
//   true/yes/on, false/no/off          -> boolean (also the Capitalised and UPPER forms)
//   123, -7, 0x1f, 0o17                -> integer (double when it does not fit 64 bits)
//   1.5, -2e3, .inf, .nan              -> number
//   anything else                      -> string
// Explicit tags !!str, !!int, !!float, !!bool and !!null are honoured. Mapping keys are
// always strings; complex keys (sequences or mappings) are an error. An empty document is
// null. Aliases are expanded, with a budget proportional to the input size so that alias
// bombs fail instead of exhausting memory.
[[nodiscard]] Result<boost::json::value> parse_yaml(std::string_view text);

}  // namespace apisix::config
