#pragma once
// Variable templates (plugins.md §0.4): strings such as "/v2$uri?user=${http_x_user ?? anon}"
// compiled once, rendered per request against the request's variables.
//   $name            name = [A-Za-z0-9_.]+ (a `$` not followed by such a character is literal)
//   ${name}          any characters but `}`; surrounding spaces trimmed
//   ${name ?? text}  `text` (trimmed) when the variable is absent
//   \$               not substituted; the backslash stays in the output, as in APISIX
// An absent variable renders as "". Booleans render "true"/"false"; arrays are joined by ", ".

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/vars.h"

namespace apisix::plugins {

class Template {
 public:
  Template() = default;
  static Template compile(std::string_view text);

  // Appends the rendered text to `out`; returns how many variables resolved (present, or
  // absent with a default), which limiters use to tell "no key" (§5.1).
  size_t render(const router::VarSource& vars, std::string& out) const;
  std::string render(const router::VarSource& vars) const {
    std::string out;
    render(vars, out);
    return out;
  }
  // True when the text has no variable: render() always gives it back unchanged.
  bool is_literal() const { return vars_ == 0; }
  const std::string& literal() const { return literal_; }

 private:
  struct Part {
    std::string text;  // literal text, or the variable name
    bool is_var = false;
    router::VarRef ref;
    std::optional<std::string> fallback;
  };
  std::vector<Part> parts_;
  std::string literal_;  // the whole text when it has no variable
  size_t vars_ = 0;
};

// The text of a variable value: strings as they are, booleans "true"/"false", arrays joined
// by ", "; nullopt for nil.
std::optional<std::string> var_text(const router::VarValue& value);

}  // namespace apisix::plugins
