#pragma once
// Expr: a compiled `vars` / `_meta.filter` expression (core.md §5.7), with the semantics of
// lua-resty-expr 1.3.2, which APISIX uses. compile() runs when a snapshot is built and does
// all parsing up front (variable names, operators, numbers, regexes, CIDR sets); eval() runs
// per request on any worker: the object is immutable, so one instance is shared by all.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "core/result.h"
#include "router/vars.h"

namespace apisix::router {

class Expr {
 public:
  // The expression `[]`: always true.
  Expr();
  ~Expr();
  Expr(Expr&&) noexcept;
  Expr& operator=(Expr&&) noexcept;
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;

  // Compiles a rule. Errors are config errors whose text starts with lua-resty-expr's
  // message ("rule should be wrapped inside brackets", "invalid operator 'foo'", "rule too
  // short", "bad 'not' expression", "invalid expression", "invalid ip address[: x]") and
  // ends with " at " and the failing element's position as JSON indices, e.g.
  // "invalid operator 'foo' at [1][1]"; APISIX's Admin API prefixes such a message with
  // "failed to validate the 'vars' expression: ".
  [[nodiscard]] static Result<Expr> compile(const boost::json::value& rule);

  // True when the request satisfies the expression. Evaluation errors (where lua-resty-expr
  // would raise a Lua error, e.g. a regex match against a boolean) make the whole
  // expression false, as a route whose `vars` fail does not match (§5.5). Does not allocate.
  bool eval(const VarSource& vars) const;

  // True for `[]`, which needs no variables at all.
  bool is_always_true() const { return nodes_.empty(); }

 private:
  enum class Outcome : unsigned char { False, True, Error };
  struct Node;
  struct Comparison;
  class Compiler;

  Outcome eval_node(uint32_t index, const VarSource& vars) const;
  Outcome eval_comparison(const Comparison& cmp, const VarSource& vars) const;

  std::vector<Node> nodes_;              // nodes_[0] is the root; empty for `[]`
  std::vector<uint32_t> children_;       // child node ids of combinators, by range
  std::vector<Comparison> comparisons_;  // leaves
};

// Lua's tonumber() for a string (LuaJIT's grammar): optional surrounding whitespace and
// sign; decimal with optional fraction and exponent; `0x` hexadecimal (fraction and `p`
// exponent allowed); `0b` binary; `inf`, `infinity`, `nan` in any case. The whole text
// must be the number. Exposed for tests.
std::optional<double> parse_lua_number(std::string_view text);

}  // namespace apisix::router
