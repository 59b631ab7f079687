#pragma once
// BodySubstitution: one `filters` entry of response-rewrite (plugins.md §5.15), compiled once:
// a PCRE pattern with ngx.re's option letters and a replacement template, applied to a whole
// response body the way ngx.re.sub ("once") and ngx.re.gsub ("global") do. Immutable after
// compile() and shared by every worker (each apply() uses its own match block).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace apisix::plugins::response_rewrite {

class BodySubstitution {
 public:
  // `options` are ngx.re flags ("jo", "i", ...): a anchored, d DFA (matched like the default
  // engine here), D duplicate names, i caseless, j JIT, J JavaScript compatibility, m
  // multiline, o compile once, s dot-all, u UTF-8, U UTF-8 unchecked, x extended. Errors are
  // APISIX's check_schema texts (`regex "<r>" validation failed: unknown flag "h" (flags "h")`).
  static Result<BodySubstitution> compile(std::string_view regex, std::string_view replace,
                                          bool global, std::string_view options);

  // Replaces the first (or every) match in `body`. The replacement's `$0`, `$1`, `${1}` are
  // the match and its groups (a group that did not take part is empty), `$$` is a `$`.
  // Returns false and leaves `body` as it was when matching failed (bad UTF-8 with `u`, match
  // limits); `error` then says why.
  bool apply(std::string& body, std::string& error) const;

  const std::string& regex() const { return regex_; }

 private:
  struct Code;
  struct Piece {
    std::string text;  // literal text (group < 0)
    int group = -1;    // capture group number
  };

  std::string regex_;
  std::shared_ptr<const Code> code_;
  std::vector<Piece> replacement_;
  bool global_ = false;
  bool utf_ = false;
  uint32_t match_options_ = 0;
};

}  // namespace apisix::plugins::response_rewrite
