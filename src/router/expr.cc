#include "router/expr.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include <boost/json/serialize.hpp>
#include <pcre2.h>

#include "router/ip_match.h"

namespace apisix::router {

namespace {

namespace json = boost::json;

// Deeper rules are refused so that compile() and eval() recursion stays bounded whatever
// the JSON came from. Real configurations nest a handful of levels.
constexpr int kMaxDepth = 64;

enum class Op : unsigned char {
  Eq,             // ==
  Ne,             // ~=
  Gt,             // >
  Ge,             // >=
  Lt,             // <
  Le,             // <=
  Match,          // ~~
  MatchCaseless,  // ~*
  In,             // in
  Has,            // has
  IpMatch,        // ipmatch
};

struct OpName {
  std::string_view name;
  Op op;
};

// Operator names after lower-casing (§5.7: operators are case-insensitive).
constexpr OpName kOps[] = {
    {"==", Op::Eq},
    {"~=", Op::Ne},
    {">", Op::Gt},
    {">=", Op::Ge},
    {"<", Op::Lt},
    {"<=", Op::Le},
    {"~~", Op::Match},
    {"~*", Op::MatchCaseless},
    {"in", Op::In},
    {"has", Op::Has},
    {"ipmatch", Op::IpMatch},
};

std::optional<Op> find_op(std::string_view lowered) {
  for (const OpName& entry : kOps) {
    if (entry.name == lowered) {
      return entry.op;
    }
  }
  return std::nullopt;
}

// The Lua type of the right-hand literal after cjson decoding, which decides how `==`
// compares: JSON null is nil (§5.7), arrays and objects are tables, equal to nothing.
enum class Literal : unsigned char { Nil, String, Number, Bool, Table };

// What `~~`/`~*` do with their right side: a string (or a number, which ngx.re.find
// coerces) is a pattern; anything else makes ngx.re.find raise, an evaluation error.
enum class RegexState : unsigned char {
  Ok,
  BadPattern,  // PCRE2 rejects it: ngx.re.find returns an error, so the test is false
  NotString,   // nil, boolean or table: the match raises
};

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return out;
}

double json_number(const json::value& v) {
  if (v.is_int64()) {
    return static_cast<double>(v.get_int64());
  }
  if (v.is_uint64()) {
    return static_cast<double>(v.get_uint64());
  }
  return v.get_double();
}

// How LuaJIT's tostring() prints a number ("%.14g"): cjson decodes every JSON number to a
// double, and lua-resty-expr turns a numeric operator or pattern into text this way.
std::string lua_number_text(double d) {
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%.14g", d);
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

// The logic operator named by a rule's first element, if it is one (case-insensitive).
std::optional<int> logic_op(const json::value& first) {
  if (!first.is_string()) {
    return std::nullopt;
  }
  const std::string upper = to_upper(first.get_string());
  if (upper == "AND") {
    return 0;
  }
  if (upper == "OR") {
    return 1;
  }
  if (upper == "!AND") {
    return 2;
  }
  if (upper == "!OR") {
    return 3;
  }
  return std::nullopt;
}

bool is_lua_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != b[i]) {
      return false;
    }
  }
  return true;
}

// from_chars over all of `text`; out-of-range values become what strtod gives (inf or a
// value rounded towards zero), as LuaJIT's scanner does. Only that rare case allocates.
std::optional<double> convert_all(std::string_view text, std::chars_format format) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value, format);
  if (ptr != end) {
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range) {
    std::string copy = format == std::chars_format::hex ? "0x" : "";
    copy.append(text);
    return std::strtod(copy.c_str(), nullptr);
  }
  if (ec != std::errc()) {
    return std::nullopt;
  }
  return value;
}

// One thread's PCRE2 match block: Expr objects are shared by all workers, so the scratch
// space a match needs cannot live in them. Made once per thread; we need no captures.
pcre2_match_data* thread_match_data() {
  struct Holder {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    ~Holder() { pcre2_match_data_free(data); }
  };
  thread_local Holder holder;
  return holder.data;
}

struct RegexDeleter {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
using RegexPtr = std::unique_ptr<pcre2_code, RegexDeleter>;

}  // namespace

std::optional<double> parse_lua_number(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && is_lua_space(text[begin])) {
    ++begin;
  }
  while (end > begin && is_lua_space(text[end - 1])) {
    --end;
  }
  std::string_view t = text.substr(begin, end - begin);
  bool negative = false;
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
    negative = t[0] == '-';
    t.remove_prefix(1);
  }
  if (t.empty()) {
    return std::nullopt;
  }
  double value = 0;
  if (iequals(t, "inf") || iequals(t, "infinity")) {
    value = HUGE_VAL;
  } else if (iequals(t, "nan")) {
    return std::nan("");
  } else if (t.size() >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    t.remove_prefix(2);
    // from_chars would also take a sign or "inf" here; Lua wants digits or a point.
    if (t.empty() || !(is_hex_digit(t[0]) || t[0] == '.')) {
      return std::nullopt;
    }
    const std::optional<double> hex = convert_all(t, std::chars_format::hex);
    if (!hex) {
      return std::nullopt;
    }
    value = *hex;
  } else if (t.size() >= 2 && t[0] == '0' && (t[1] == 'b' || t[1] == 'B')) {
    t.remove_prefix(2);
    if (t.empty()) {
      return std::nullopt;
    }
    while (t.size() > 1 && t[0] == '0') {
      t.remove_prefix(1);
    }
    if (t.size() > 64) {  // LuaJIT's limit for binary digits
      return std::nullopt;
    }
    uint64_t bits = 0;
    for (char c : t) {
      if (c != '0' && c != '1') {
        return std::nullopt;
      }
      bits = (bits << 1) | static_cast<uint64_t>(c - '0');
    }
    value = static_cast<double>(bits);
  } else {
    if (!((t[0] >= '0' && t[0] <= '9') || t[0] == '.')) {
      return std::nullopt;
    }
    const std::optional<double> dec = convert_all(t, std::chars_format::general);
    if (!dec) {
      return std::nullopt;
    }
    value = *dec;
  }
  return negative ? -value : value;
}

// A combinator or a comparison. Combinators own the children_ range [begin, end); a
// comparison's `begin` indexes comparisons_.
struct Expr::Node {
  enum class Kind : unsigned char { And, Or, NotAnd, NotOr, Compare } kind = Kind::And;
  uint32_t begin = 0;
  uint32_t end = 0;
};

// One `[var, op, value]` with everything eval() needs precomputed.
struct Expr::Comparison {
  VarRef var;
  Op op = Op::Eq;
  bool negate = false;  // the `[var, "!", op, value]` form

  // `==`, `~=`, `has`: the literal as Lua sees it.
  Literal literal = Literal::Nil;
  std::string literal_string;
  double literal_number = 0;
  bool literal_bool = false;

  // `>`, `>=`, `<`, `<=`: tonumber(right side), or nothing (the test is always false).
  std::optional<double> order_number;

  // `in`: the string elements sorted for a binary search, and which booleans appear.
  // Numbers, nulls and tables in the list can never equal a variable's value.
  std::vector<std::string> in_strings;
  bool in_true = false;
  bool in_false = false;

  // `~~`, `~*`.
  RegexPtr regex;
  RegexState regex_state = RegexState::Ok;

  // `ipmatch`.
  IpMatcher ips;
};

// Builds an Expr from JSON, following lua-resty-expr's compile() shape for shape, with the
// failing element's position kept for error messages.
class Expr::Compiler {
 public:
  explicit Compiler(Expr& out) : out_(out) {}

  Result<uint32_t> node(const json::value& rule, int depth) {
    if (depth > kMaxDepth) {
      return fail("rule nested too deeply");
    }
    if (!rule.is_array()) {
      return fail("invalid expression");
    }
    const json::array& items = rule.get_array();
    if (items.empty()) {
      return fail("rule too short");
    }
    if (items[0].is_array()) {
      // `[[...], [...]]`: every element is a sub-expression, all of which must hold.
      return combinator(Node::Kind::And, items, 0, depth);
    }
    if (const std::optional<int> logic = logic_op(items[0])) {
      if (items.size() <= 2) {
        return fail("rule too short");
      }
      static constexpr Node::Kind kKinds[] = {Node::Kind::And, Node::Kind::Or, Node::Kind::NotAnd,
                                              Node::Kind::NotOr};
      return combinator(kKinds[*logic], items, 1, depth);
    }
    return comparison(items);
  }

 private:
  Result<uint32_t> combinator(Node::Kind kind, const json::array& items, size_t first, int depth) {
    const auto index = static_cast<uint32_t>(out_.nodes_.size());
    out_.nodes_.push_back(Node{kind, 0, 0});
    std::vector<uint32_t> children;
    children.reserve(items.size() - first);
    for (size_t i = first; i < items.size(); ++i) {
      path_.push_back(i);
      Result<uint32_t> child = node(items[i], depth + 1);
      if (!child) {
        return child.error();
      }
      path_.pop_back();
      children.push_back(*child);
    }
    Node& self = out_.nodes_[index];
    self.begin = static_cast<uint32_t>(out_.children_.size());
    out_.children_.insert(out_.children_.end(), children.begin(), children.end());
    self.end = static_cast<uint32_t>(out_.children_.size());
    return index;
  }

  Result<uint32_t> comparison(const json::array& items) {
    Comparison cmp;
    const json::value* left = &items[0];
    const json::value* op_value = nullptr;
    const json::value* right = nullptr;
    // Lua's view of the right side: absent (nil), or a JSON value.
    if (items.size() == 4) {
      if (!(items[1].is_string() && items[1].get_string() == "!")) {
        return fail("bad 'not' expression");
      }
      cmp.negate = true;
      op_value = &items[2];
      right = &items[3];
    } else if (items.size() == 2 || items.size() == 3) {
      op_value = &items[1];
      right = items.size() == 3 ? &items[2] : nullptr;
    } else {
      // One element has no operator; lua-resty-expr ignores a fifth element and beyond,
      // which we refuse rather than silently drop part of a condition.
      return fail("invalid expression");
    }

    // lua-resty-expr lower-cases the operator with string.lower, which also turns a
    // number into its text; other types make it raise, so they are refused here.
    std::string op_text;
    if (op_value->is_string()) {
      op_text = to_lower(op_value->get_string());
    } else if (op_value->is_number()) {
      op_text = lua_number_text(json_number(*op_value));
    } else {
      return fail("invalid expression");
    }
    std::optional<Op> op = find_op(op_text);

    // `[var, value]` is `[var, "==", value]`. The value is the already lower-cased text:
    // lua-resty-expr compares `["http_x", "Beta"]` against "beta", and `["arg_n", 5]`
    // against the string "5". A value that names an operator (`["arg_x", "=="]`) is that
    // operator with a nil right side instead.
    std::optional<json::value> shorthand;
    if (right == nullptr && !op) {
      shorthand.emplace(json::string(op_text));
      right = &*shorthand;
      op = Op::Eq;
    }
    if (!left->is_string()) {
      return fail("invalid expression");
    }
    if (!op) {
      return fail("invalid operator '" + op_text + "'");
    }
    cmp.var = parse_var_ref(left->get_string());
    cmp.op = *op;
    static const json::value null_value;
    const json::value& rhs = right != nullptr ? *right : null_value;
    if (Result<void> ok = prepare(cmp, rhs); !ok) {
      return ok.error();
    }
    const auto index = static_cast<uint32_t>(out_.nodes_.size());
    out_.nodes_.push_back(
        Node{Node::Kind::Compare, static_cast<uint32_t>(out_.comparisons_.size()), 0});
    out_.comparisons_.push_back(std::move(cmp));
    return index;
  }

  // Precomputes what the operator needs from the right side.
  Result<void> prepare(Comparison& cmp, const json::value& rhs) {
    switch (cmp.op) {
      case Op::Eq:
      case Op::Ne:
      case Op::Has:
        if (rhs.is_null()) {
          cmp.literal = Literal::Nil;
        } else if (rhs.is_string()) {
          cmp.literal = Literal::String;
          cmp.literal_string = rhs.get_string();
        } else if (rhs.is_number()) {
          cmp.literal = Literal::Number;
          cmp.literal_number = json_number(rhs);
        } else if (rhs.is_bool()) {
          cmp.literal = Literal::Bool;
          cmp.literal_bool = rhs.get_bool();
        } else {
          cmp.literal = Literal::Table;
        }
        return {};
      case Op::Gt:
      case Op::Ge:
      case Op::Lt:
      case Op::Le:
        // tonumber() of the right side: a numeric string counts as its number.
        if (rhs.is_number()) {
          cmp.order_number = json_number(rhs);
        } else if (rhs.is_string()) {
          cmp.order_number = parse_lua_number(rhs.get_string());
        }
        return {};
      case Op::Match:
      case Op::MatchCaseless:
        return prepare_regex(cmp, rhs);
      case Op::In:
        if (rhs.is_array()) {
          for (const json::value& item : rhs.get_array()) {
            if (item.is_string()) {
              cmp.in_strings.emplace_back(item.get_string());
            } else if (item.is_bool()) {
              (item.get_bool() ? cmp.in_true : cmp.in_false) = true;
            }
          }
          std::sort(cmp.in_strings.begin(), cmp.in_strings.end());
        }
        return {};
      case Op::IpMatch:
        return prepare_ips(cmp, rhs);
    }
    return {};
  }

  Result<void> prepare_regex(Comparison& cmp, const json::value& rhs) {
    std::string pattern;
    if (rhs.is_string()) {
      pattern = rhs.get_string();
    } else if (rhs.is_number()) {
      pattern = lua_number_text(json_number(rhs));
    } else {
      cmp.regex_state = RegexState::NotString;
      return {};
    }
    // ngx.re.find(subject, pattern, "jo"[+"i"]): no UTF mode, JIT, compiled once.
    const uint32_t options = cmp.op == Op::MatchCaseless ? PCRE2_CASELESS : 0;
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     options, &error_code, &error_offset, nullptr);
    if (code == nullptr) {
      // APISIX accepts such a rule (the pattern is only compiled when first matched) and
      // the test is then false for every request; we keep that rather than refuse it.
      cmp.regex_state = RegexState::BadPattern;
      return {};
    }
    // Without JIT support pcre2_match interprets the pattern; same results, slower.
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    cmp.regex.reset(code);
    return {};
  }

  Result<void> prepare_ips(Comparison& cmp, const json::value& rhs) {
    // lua-resty-expr: nil, "" and an empty list are "invalid ip address"; an entry that
    // lua-resty-ipmatcher cannot parse is "invalid ip address: <entry>".
    if (rhs.is_null() || (rhs.is_string() && rhs.get_string().empty()) || rhs.is_object() ||
        (rhs.is_array() && rhs.get_array().empty())) {
      return fail("invalid ip address");
    }
    std::vector<std::string> entries;
    auto add = [&](const json::value& item) -> bool {
      if (!item.is_string()) {
        return false;
      }
      entries.emplace_back(item.get_string());
      return true;
    };
    if (rhs.is_array()) {
      for (const json::value& item : rhs.get_array()) {
        if (!add(item)) {
          return fail("invalid ip address: " + json::serialize(item));
        }
      }
    } else if (!add(rhs)) {
      return fail("invalid ip address: " + json::serialize(rhs));
    }
    Result<IpMatcher> ips = IpMatcher::compile(entries);
    if (!ips) {
      return fail(ips.error().context);
    }
    cmp.ips = std::move(*ips);
    return {};
  }

  Error fail(const std::string& message) const {
    std::string text = message;
    if (!path_.empty()) {
      text += " at ";
      for (size_t index : path_) {
        text += '[';
        text += std::to_string(index);
        text += ']';
      }
    }
    return Error::config(std::move(text));
  }

  Expr& out_;
  std::vector<size_t> path_;  // indices from the root to the element being compiled
};

Expr::Expr() = default;
Expr::~Expr() = default;
Expr::Expr(Expr&&) noexcept = default;
Expr& Expr::operator=(Expr&&) noexcept = default;

Result<Expr> Expr::compile(const boost::json::value& rule) {
  Expr expr;
  if (!rule.is_array()) {
    return Error::config("invalid expression: rule must be an array");
  }
  const json::array& items = rule.get_array();
  if (items.empty()) {
    return expr;  // `[]` is always true (§5.7)
  }
  // A top-level rule is a list of expressions or a combinator; a bare comparison such as
  // ["arg_a", "==", "1"] must be wrapped as [["arg_a", "==", "1"]] (§5.7).
  if (!items[0].is_array() && !logic_op(items[0])) {
    return Error::config("rule should be wrapped inside brackets");
  }
  Compiler compiler(expr);
  Result<uint32_t> root = compiler.node(rule, 0);
  if (!root) {
    return root.error();
  }
  // Nodes are appended parent first, so the root is node 0.
  return expr;
}

bool Expr::eval(const VarSource& vars) const {
  if (nodes_.empty()) {
    return true;
  }
  return eval_node(0, vars) == Outcome::True;
}

Expr::Outcome Expr::eval_node(uint32_t index, const VarSource& vars) const {
  const Node& node = nodes_[index];
  if (node.kind == Node::Kind::Compare) {
    return eval_comparison(comparisons_[node.begin], vars);
  }
  const bool is_and = node.kind == Node::Kind::And || node.kind == Node::Kind::NotAnd;
  // AND stops at the first false, OR at the first true; an error stops either (in Lua the
  // raise unwinds the whole evaluation, so later operands are never looked at).
  bool result = is_and;
  for (uint32_t i = node.begin; i < node.end; ++i) {
    const Outcome child = eval_node(children_[i], vars);
    if (child == Outcome::Error) {
      return Outcome::Error;
    }
    if ((child == Outcome::True) != is_and) {
      result = !is_and;
      break;
    }
  }
  if (node.kind == Node::Kind::NotAnd || node.kind == Node::Kind::NotOr) {
    result = !result;
  }
  return result ? Outcome::True : Outcome::False;
}

namespace {

// tonumber(value): only strings convert; nil, booleans and tables give nil.
std::optional<double> to_number(const VarValue& value) {
  if (value.kind != VarValue::Kind::String) {
    return std::nullopt;
  }
  return parse_lua_number(value.str);
}

}  // namespace

Expr::Outcome Expr::eval_comparison(const Comparison& cmp, const VarSource& vars) const {
  using Kind = VarValue::Kind;
  const VarValue left = vars.get(cmp.var);
  bool matched = false;
  switch (cmp.op) {
    case Op::Eq:
    case Op::Ne: {
      // Lua `==`: a numeric literal first converts the left side (no number: `==` is
      // false, `~=` true); otherwise types must agree. `~=` is exactly `not ==`.
      bool equal = false;
      switch (cmp.literal) {
        case Literal::Nil:
          equal = left.kind == Kind::Nil;
          break;
        case Literal::String:
          equal = left.kind == Kind::String && left.str == cmp.literal_string;
          break;
        case Literal::Number: {
          const std::optional<double> number = to_number(left);
          equal = number && *number == cmp.literal_number;
          break;
        }
        case Literal::Bool:
          equal = left.kind == Kind::Bool && left.boolean == cmp.literal_bool;
          break;
        case Literal::Table:
          equal = false;  // a table equals only itself
          break;
      }
      matched = cmp.op == Op::Eq ? equal : !equal;
      break;
    }
    case Op::Gt:
    case Op::Ge:
    case Op::Lt:
    case Op::Le: {
      const std::optional<double> number = to_number(left);
      if (!number || !cmp.order_number) {
        matched = false;
        break;
      }
      const double l = *number;
      const double r = *cmp.order_number;
      matched = cmp.op == Op::Gt   ? l > r
                : cmp.op == Op::Ge ? l >= r
                : cmp.op == Op::Lt ? l < r
                                   : l <= r;
      break;
    }
    case Op::Match:
    case Op::MatchCaseless: {
      // `if not l_v then return false`: nil and false are a plain no-match; any other
      // non-string subject, or a non-string pattern, makes ngx.re.find raise.
      if (left.kind == Kind::Nil || (left.kind == Kind::Bool && !left.boolean)) {
        matched = false;
        break;
      }
      if (cmp.regex_state == RegexState::NotString || left.kind != Kind::String) {
        return Outcome::Error;
      }
      if (cmp.regex_state == RegexState::BadPattern) {
        matched = false;
        break;
      }
      pcre2_match_data* data = thread_match_data();
      if (data == nullptr) {
        return Outcome::Error;
      }
      // PCRE2 wants a non-null subject pointer even when the length is 0.
      const char* subject = left.str.data() != nullptr ? left.str.data() : "";
      const int rc = pcre2_match(cmp.regex.get(), reinterpret_cast<PCRE2_SPTR>(subject),
                                 left.str.size(), 0, 0, data, nullptr);
      // rc == 0 means a match whose captures did not fit; a negative rc other than
      // NOMATCH is a matching error (limits), which ngx.re.find reports as no match.
      matched = rc >= 0;
      break;
    }
    case Op::In:
      if (left.kind == Kind::String) {
        matched = std::binary_search(cmp.in_strings.begin(), cmp.in_strings.end(), left.str,
                                     [](std::string_view a, std::string_view b) { return a < b; });
      } else if (left.kind == Kind::Bool) {
        matched = left.boolean ? cmp.in_true : cmp.in_false;
      }
      break;
    case Op::Has:
      // Array elements are strings, so only a string literal can be contained.
      if (left.kind == Kind::Array && cmp.literal == Literal::String) {
        matched = std::find(left.array.begin(), left.array.end(),
                            std::string_view(cmp.literal_string)) != left.array.end();
      }
      break;
    case Op::IpMatch:
      // lua-resty-ipmatcher: nil/false is not an address; a string that does not parse
      // matches nothing; other values raise inside inet_pton's FFI call.
      if (left.kind == Kind::Nil || (left.kind == Kind::Bool && !left.boolean)) {
        matched = false;
      } else if (left.kind == Kind::String) {
        matched = cmp.ips.contains(left.str);
      } else {
        return Outcome::Error;
      }
      break;
  }
  return matched != cmp.negate ? Outcome::True : Outcome::False;
}

}  // namespace apisix::router
