#pragma once
// URI rewriting pieces shared by proxy-rewrite and redirect (plugins.md §5.13, §5.14):
// ngx.re.sub-style regex substitution compiled once, and nginx's URI escaping.
// UriRegex objects are immutable after compile() and shared by every worker; the scratch space
// a match needs is per thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace apisix::plugins {

// `ngx.re.sub(subject, pattern, replacement, "jo")` / `ngx.re.match(subject, pattern, "jo")`
// with the pattern and the replacement template compiled once. Replacement syntax is
// lua-nginx-module's: `$N` / `${N}` capture N (absent or unset: empty), `$$` a dollar; any
// other `$` makes compile() fail.
class UriRegex {
 public:
  // The outcome of one substitution.
  enum class Outcome : uint8_t {
    NoMatch,  // the pattern does not match: nothing was changed
    Matched,  // `out` holds the subject with its first match replaced
    Failed,   // matching failed (PCRE2 limits); `error` says why
  };

  UriRegex();
  ~UriRegex();
  UriRegex(UriRegex&&) noexcept;
  UriRegex& operator=(UriRegex&&) noexcept;

  // Errors carry lua-nginx-module's text: `pcre2_compile() failed: <why> in "<pattern>"[ at
  // "<rest>"]`, or `failed to compile the replacement template`.
  [[nodiscard]] static Result<UriRegex> compile(std::string_view pattern,
                                                std::string_view replacement);

  // Replaces the first match of the pattern in `subject` by the replacement. When
  // `captures` is given and the pattern matched, it receives the match (index 0) and each
  // group (unset groups as nullopt), like ngx.re.match's table.
  Outcome substitute(std::string_view subject, std::string& out, std::string& error,
                     std::vector<std::optional<std::string>>* captures = nullptr) const;

  const std::string& pattern() const { return pattern_; }
  const std::string& replacement() const { return replacement_; }

 private:
  struct Code;
  struct Piece {
    std::string literal;
    int capture = -1;  // >= 0: the capture to copy instead of `literal`
  };

  std::unique_ptr<Code> code_;
  std::vector<Piece> pieces_;
  std::string pattern_;
  std::string replacement_;
};

// nginx's ngx_escape_uri(NGX_ESCAPE_URI), which APISIX's core.utils.uri_safe_encode calls:
// percent-escapes (upper-case hex) control characters, space, `#`, `%`, `?`, DEL and bytes
// >= 0x80; everything else is kept.
std::string escape_uri(std::string_view text);

// APISIX's core.utils.escape_uri_control_chars: percent-escapes 0x00-0x1F and 0x7F only.
std::string escape_uri_control_chars(std::string_view text);

}  // namespace apisix::plugins
