#include "router/expr.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "router/vars.h"

// Counts operator new calls made on this thread while armed, to check that eval() does not
// allocate (STYLE.md §3: per-request code reads precompiled structs).
namespace {
thread_local bool count_allocations = false;
thread_local size_t allocation_count = 0;
}  // namespace

// Not inlined: GCC would otherwise see free() applied to operator new's result at the call
// sites and warn (-Wmismatched-new-delete), although both sides here use malloc/free.
[[gnu::noinline]] void* operator new(size_t size) {
  if (count_allocations) {
    ++allocation_count;
  }
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  return p;
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace apisix::router {
namespace {

namespace json = boost::json;

// A request's variables for tests: header-backed `http_*`, the rest by parsed name.
class FakeVars final : public VarSource {
 public:
  FakeVars& set(std::string_view name, std::string value) {
    Entry& e = entry(name);
    e.kind = VarValue::Kind::String;
    e.text = std::move(value);
    return *this;
  }
  FakeVars& set_bool(std::string_view name, bool value) {
    Entry& e = entry(name);
    e.kind = VarValue::Kind::Bool;
    e.boolean = value;
    return *this;
  }
  FakeVars& set_array(std::string_view name, std::vector<std::string> items) {
    Entry& e = entry(name);
    e.kind = VarValue::Kind::Array;
    e.items = std::move(items);
    e.views.assign(e.items.begin(), e.items.end());
    return *this;
  }
  FakeVars& header(std::string name, std::string value) {
    headers_.emplace_back(std::move(name), std::move(value));
    return *this;
  }

  VarValue get(const VarRef& ref) const override {
    if (ref.kind == VarKind::Http) {
      for (const auto& [name, value] : headers_) {
        if (http_header_name_matches(ref.name, name)) {
          return VarValue::string(value);
        }
      }
      return VarValue::nil();
    }
    const auto family = vars_.find(ref.kind);
    if (family == vars_.end()) {
      return VarValue::nil();
    }
    const auto it = family->second.find(std::string_view(ref.name));
    if (it == family->second.end()) {
      return VarValue::nil();
    }
    const Entry& e = it->second;
    switch (e.kind) {
      case VarValue::Kind::String:
        return VarValue::string(e.text);
      case VarValue::Kind::Bool:
        return VarValue::from_bool(e.boolean);
      case VarValue::Kind::Array:
        return VarValue::from_array(e.views);
      case VarValue::Kind::Nil:
        break;
    }
    return VarValue::nil();
  }

 private:
  struct Entry {
    VarValue::Kind kind = VarValue::Kind::Nil;
    std::string text;
    bool boolean = false;
    std::vector<std::string> items;
    std::vector<std::string_view> views;
  };
  Entry& entry(std::string_view name) {
    const VarRef ref = parse_var_ref(name);
    return vars_[ref.kind][ref.name];
  }

  // Looked up by string_view (std::less<>) so that get() itself does not allocate.
  std::map<VarKind, std::map<std::string, Entry, std::less<>>> vars_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

// The one request every table case is evaluated against.
const FakeVars& sample_request() {
  static const FakeVars vars = [] {
    FakeVars v;
    v.set("arg_name", "json")
        .set("arg_n", "10")
        .set("arg_x", "abc")
        .set_bool("arg_flag", true)
        .set("arg_empty", "")
        .set("arg_hex", "0x10")
        .set("arg_ws", " 42 ")
        .set("arg_float", "1.5e1")
        .set("arg_v6", "::ffff:10.0.0.1")
        .set("arg_ip6", "2001:db8::1")
        .set("cookie_session", "abc123")
        .set("remote_addr", "192.168.1.10")
        .set("uri", "/api/v1/users")
        .set_array("graphql_root_fields", {"owner", "repo"})
        .header("X-Api-Key", "Secret")
        .header("User-Agent", "curl/8.0")
        .header("X-Canary", "Yes");
    return v;
  }();
  return vars;
}

struct EvalCase {
  const char* rule;  // JSON
  bool expected;
};

// NOLINTNEXTLINE(readability-identifier-naming): GoogleTest's printer hook
void PrintTo(const EvalCase& c, std::ostream* os) { *os << c.rule; }

class ExprEvalTest : public ::testing::TestWithParam<EvalCase> {};

TEST_P(ExprEvalTest, EvaluatesLikeLuaRestyExpr) {
  const EvalCase& c = GetParam();
  Result<Expr> expr = Expr::compile(json::parse(c.rule));
  ASSERT_TRUE(expr.ok()) << expr.error().context;
  EXPECT_EQ(expr->eval(sample_request()), c.expected) << c.rule;
}

// core.md §5.7 `==`: string equality; a numeric right side converts the left with
// tonumber() (non-numeric left → false); JSON null is nil; booleans compare as booleans
// (`arg_flag` is `?flag` without `=`, APISIX's `true`, §6.9); tables equal nothing.
INSTANTIATE_TEST_SUITE_P(Equal, ExprEvalTest,
                         ::testing::Values(EvalCase{R"([["arg_name","==","json"]])", true},
                                           EvalCase{R"([["arg_name","==","JSON"]])", false},
                                           EvalCase{R"([["arg_n","==",10]])", true},
                                           EvalCase{R"([["arg_n","==",10.0]])", true},
                                           EvalCase{R"([["arg_n","==","10.0"]])", false},
                                           EvalCase{R"([["arg_x","==",1]])", false},
                                           EvalCase{R"([["arg_missing","==",null]])", true},
                                           EvalCase{R"([["arg_name","==",null]])", false},
                                           EvalCase{R"([["arg_flag","==",true]])", true},
                                           EvalCase{R"([["arg_flag","==","true"]])", false},
                                           EvalCase{R"([["arg_missing","==","x"]])", false},
                                           EvalCase{R"([["arg_hex","==",16]])", true},
                                           EvalCase{R"([["arg_ws","==",42]])", true},
                                           EvalCase{R"([["arg_name","==",["json"]]])", false},
                                           EvalCase{R"([["arg_missing","==",0]])", false},
                                           EvalCase{R"([["arg_empty","==",""]])", true}));

// core.md §5.7 `~=`: the negation of `==`, so a non-numeric left with a numeric right is
// true, and nil ~= nil is false.
INSTANTIATE_TEST_SUITE_P(NotEqual, ExprEvalTest,
                         ::testing::Values(EvalCase{R"([["arg_name","~=","xml"]])", true},
                                           EvalCase{R"([["arg_x","~=",1]])", true},
                                           EvalCase{R"([["arg_n","~=",10]])", false},
                                           EvalCase{R"([["arg_missing","~=",null]])", false},
                                           EvalCase{R"([["arg_missing","~=","a"]])", true},
                                           EvalCase{R"([["arg_flag","~=",1]])", true}));

// core.md §5.7 `>` `>=` `<` `<=`: both sides through tonumber() (a numeric string on the
// right counts); either side non-numeric → false.
INSTANTIATE_TEST_SUITE_P(Order, ExprEvalTest,
                         ::testing::Values(EvalCase{R"([["arg_n",">",9]])", true},
                                           EvalCase{R"([["arg_n",">",10]])", false},
                                           EvalCase{R"([["arg_n",">=",10]])", true},
                                           EvalCase{R"([["arg_n","<","11"]])", true},
                                           EvalCase{R"([["arg_n","<=",9.5]])", false},
                                           EvalCase{R"([["arg_x",">",1]])", false},
                                           EvalCase{R"([["arg_n",">","abc"]])", false},
                                           EvalCase{R"([["arg_missing","<",100]])", false},
                                           EvalCase{R"([["arg_float",">",14]])", true},
                                           EvalCase{R"([["arg_flag",">",0]])", false},
                                           EvalCase{R"([["arg_n","<",null]])", false},
                                           EvalCase{R"([["arg_n","!",">",10]])", true}));

// core.md §5.7 `~~` / `~*`: unanchored PCRE search (case-insensitive for `~*`); a missing
// left is false. A boolean subject or a non-string pattern is an evaluation error, which
// makes the whole expression false even under `!` (§5.5); a pattern PCRE rejects never
// matches; a numeric pattern is its text.
INSTANTIATE_TEST_SUITE_P(
    Regex, ExprEvalTest,
    ::testing::Values(
        EvalCase{R"([["uri","~~","^/api/v[0-9]+/"]])", true},
        EvalCase{R"([["uri","~~","users$"]])", true}, EvalCase{R"([["uri","~~","^/API"]])", false},
        EvalCase{R"([["uri","~*","^/API"]])", true},
        EvalCase{R"([["arg_missing","~~",".*"]])", false},
        EvalCase{R"([["arg_missing","!","~~",".*"]])", true},
        EvalCase{R"([["arg_flag","~~",".*"]])", false},
        EvalCase{R"([["arg_flag","!","~~",".*"]])", false},
        EvalCase{R"([["uri","~~","("]])", false}, EvalCase{R"([["uri","!","~~","("]])", true},
        EvalCase{R"([["arg_n","~~",10]])", true}, EvalCase{R"([["uri","~~",null]])", false},
        EvalCase{R"([["uri","!","~~",null]])", false},
        EvalCase{R"([["arg_empty","~~","^$"]])", true},
        EvalCase{R"(["OR",["arg_name","==","json"],["arg_flag","~~","x"]])", true},
        EvalCase{R"(["OR",["arg_flag","~~","x"],["arg_name","==","json"]])", false},
        EvalCase{R"(["!OR",["arg_flag","~~","x"],["arg_name","==","json"]])", false}));

// core.md §5.7 `in`: type-sensitive membership in the right array (a string never equals
// a number; nil is in nothing); a non-array right side contains nothing.
INSTANTIATE_TEST_SUITE_P(In, ExprEvalTest,
                         ::testing::Values(EvalCase{R"([["arg_name","in",["xml","json"]]])", true},
                                           EvalCase{R"([["arg_name","IN",["xml"]]])", false},
                                           EvalCase{R"([["arg_n","in",[10,11]]])", false},
                                           EvalCase{R"([["arg_n","in",["10"]]])", true},
                                           EvalCase{R"([["arg_flag","in",[true]]])", true},
                                           EvalCase{R"([["arg_flag","in",[false,"true"]]])", false},
                                           EvalCase{R"([["arg_missing","in",[null]]])", false},
                                           EvalCase{R"([["arg_name","in","json"]])", false},
                                           EvalCase{R"([["arg_name","in",{"json":1}]])", false},
                                           EvalCase{R"([["arg_name","!","in",["a","b"]]])", true}));

// core.md §5.7 `has`: the left side is an array that contains the right value.
INSTANTIATE_TEST_SUITE_P(
    Has, ExprEvalTest,
    ::testing::Values(EvalCase{R"([["graphql_root_fields","has","owner"]])", true},
                      EvalCase{R"([["graphql_root_fields","has","user"]])", false},
                      EvalCase{R"([["graphql_root_fields","HAS","repo"]])", true},
                      EvalCase{R"([["arg_name","has","json"]])", false},
                      EvalCase{R"([["graphql_root_fields","has",1]])", false},
                      EvalCase{R"([["arg_missing","has",null]])", false}));

// core.md §5.7 `ipmatch` (and §5.5 remote_addrs): IP or CIDR, string or list; IPv4-mapped
// IPv6 matches IPv4 rules; nil or text that is not an address does not match.
INSTANTIATE_TEST_SUITE_P(
    IpMatch, ExprEvalTest,
    ::testing::Values(EvalCase{R"([["remote_addr","ipmatch","192.168.1.0/24"]])", true},
                      EvalCase{R"([["remote_addr","ipmatch",["10.0.0.0/8","192.168.1.10"]]])",
                               true},
                      EvalCase{R"([["remote_addr","ipmatch",["10.0.0.0/8"]]])", false},
                      EvalCase{R"([["arg_v6","ipmatch","10.0.0.0/8"]])", true},
                      EvalCase{R"([["arg_ip6","ipmatch","2001:db8::/32"]])", true},
                      EvalCase{R"([["arg_ip6","ipmatch","2001:db9::/32"]])", false},
                      EvalCase{R"([["arg_missing","ipmatch","0.0.0.0/0"]])", false},
                      EvalCase{R"([["arg_x","ipmatch","0.0.0.0/0"]])", false},
                      EvalCase{R"([["arg_flag","ipmatch","0.0.0.0/0"]])", false},
                      EvalCase{R"([["remote_addr","IPMATCH","192.168.1.10"]])", true},
                      EvalCase{R"([["remote_addr","!","ipmatch","192.168.0.0/16"]])", false}));

// core.md §6.9: `http_*` is a case-insensitive header lookup with `_` as `-`; `cookie_*` is
// case-sensitive.
INSTANTIATE_TEST_SUITE_P(Variables, ExprEvalTest,
                         ::testing::Values(EvalCase{R"([["http_x_api_key","==","Secret"]])", true},
                                           EvalCase{R"([["http_X_API_KEY","==","Secret"]])", true},
                                           EvalCase{R"([["http_user_agent","~~","^curl/"]])", true},
                                           EvalCase{R"([["http_x_missing","==",null]])", true},
                                           EvalCase{R"([["cookie_session","==","abc123"]])", true},
                                           EvalCase{R"([["cookie_Session","==","abc123"]])",
                                                    false}));

// core.md §5.7 `[var, value]` is `==`. lua-resty-expr lower-cases the value on the way
// (it passes through the operator's string.lower) and a number becomes its text; a value
// that names an operator is that operator with a nil right side.
INSTANTIATE_TEST_SUITE_P(Shorthand, ExprEvalTest,
                         ::testing::Values(EvalCase{R"([["arg_name","json"]])", true},
                                           EvalCase{R"([["arg_name","JSON"]])", true},
                                           EvalCase{R"([["http_x_api_key","Secret"]])", false},
                                           EvalCase{R"([["arg_n",10]])", true},
                                           EvalCase{R"([["arg_missing","=="]])", true},
                                           EvalCase{R"([["arg_name","=="]])", false}));

// core.md §5.7 `[]`, lists (AND), `!`, and AND / OR / !AND / !OR in any case, nested.
INSTANTIATE_TEST_SUITE_P(
    Logic, ExprEvalTest,
    ::testing::Values(
        EvalCase{R"([])", true}, EvalCase{R"([["arg_name","!","==","json"]])", false},
        EvalCase{R"([["arg_name","==","json"],["arg_n","==","10"]])", true},
        EvalCase{R"([["arg_name","==","json"],["arg_n","==","11"]])", false},
        EvalCase{R"(["AND",["arg_name","==","json"],["arg_n",">",5]])", true},
        EvalCase{R"(["and",["arg_name","==","json"],["arg_n",">",50]])", false},
        EvalCase{R"(["OR",["arg_name","==","xml"],["arg_n",">",5]])", true},
        EvalCase{R"(["or",["arg_name","==","xml"],["arg_n",">",50]])", false},
        EvalCase{R"(["!AND",["arg_name","==","json"],["arg_n",">",50]])", true},
        EvalCase{R"(["!and",["arg_name","==","json"],["arg_n",">",5]])", false},
        EvalCase{R"(["!OR",["arg_name","==","xml"],["arg_n",">",50]])", true},
        EvalCase{R"(["!or",["arg_name","==","json"],["arg_n",">",50]])", false},
        EvalCase{R"(["OR",["AND",["arg_name","==","json"],["arg_n","==",10]],["arg_x","==","no"]])",
                 true},
        EvalCase{R"(["AND",[["arg_name","==","json"],["arg_x","==","abc"]],
                    ["!OR",["arg_n","<",0],["arg_n",">",100]]])",
                 true},
        EvalCase{R"([["OR",["arg_name","==","xml"],["arg_x","==","abc"]],["arg_n","==",10]])",
                 true},
        EvalCase{R"([["OR",["arg_name","==","xml"],["arg_x","==","abd"]],["arg_n","==",10]])",
                 false},
        EvalCase{R"(["OR",["arg_env","==","beta"],["http_x_canary","~*","^(yes|true)$"]])", true},
        EvalCase{R"(["Or",["arg_a","==","1"],["arg_b","==","2"],["arg_n","==","10"]])", true}));

struct ErrorCase {
  const char* rule;
  const char* message;
};

// NOLINTNEXTLINE(readability-identifier-naming): GoogleTest's printer hook
void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.rule; }

class ExprErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ExprErrorTest, RefusesWithApisixMessage) {
  const ErrorCase& c = GetParam();
  Result<Expr> expr = Expr::compile(json::parse(c.rule));
  ASSERT_FALSE(expr.ok()) << c.rule;
  EXPECT_EQ(expr.error().context, c.message);
  EXPECT_EQ(expr.error().source, ErrorSource::Config);
}

// core.md §5.7: lua-resty-expr's messages, with the position of the failing element.
INSTANTIATE_TEST_SUITE_P(
    Compile, ExprErrorTest,
    ::testing::Values(
        ErrorCase{R"(["arg_name","==","json"])", "rule should be wrapped inside brackets"},
        ErrorCase{R"([5])", "rule should be wrapped inside brackets"},
        ErrorCase{R"([null,["a","==","b"]])", "rule should be wrapped inside brackets"},
        ErrorCase{R"("arg_name")", "invalid expression: rule must be an array"},
        ErrorCase{R"({"a":1})", "invalid expression: rule must be an array"},
        ErrorCase{R"([["arg_name","=~","x"]])", "invalid operator '=~' at [0]"},
        ErrorCase{R"([["arg_name","FOO","x"]])", "invalid operator 'foo' at [0]"},
        ErrorCase{R"([["arg_name","!","regex","x"]])", "invalid operator 'regex' at [0]"},
        ErrorCase{R"([["arg_name",5,"x"]])", "invalid operator '5' at [0]"},
        ErrorCase{R"([["arg_name","bad",null]])", "invalid operator 'bad' at [0]"},
        ErrorCase{R"(["AND",["a","==","b"]])", "rule too short"},
        ErrorCase{R"(["OR"])", "rule too short"}, ErrorCase{R"([[]])", "rule too short at [0]"},
        ErrorCase{R"([["a","==","b","c"]])", "bad 'not' expression at [0]"},
        ErrorCase{R"([["a"]])", "invalid expression at [0]"},
        ErrorCase{R"([["a","==","b","c","d"]])", "invalid expression at [0]"},
        ErrorCase{R"([["a",null]])", "invalid expression at [0]"},
        ErrorCase{R"([["a",true,"x"]])", "invalid expression at [0]"},
        ErrorCase{R"([[5,"==","x"]])", "invalid expression at [0]"},
        ErrorCase{R"([["a","==","x"],"b"])", "invalid expression at [1]"},
        ErrorCase{R"([["a","ipmatch",null]])", "invalid ip address at [0]"},
        ErrorCase{R"([["a","ipmatch"]])", "invalid ip address at [0]"},
        ErrorCase{R"([["a","ipmatch",""]])", "invalid ip address at [0]"},
        ErrorCase{R"([["a","ipmatch",[]]])", "invalid ip address at [0]"},
        ErrorCase{R"([["a","ipmatch",[""]]])", "invalid ip address:  at [0]"},
        ErrorCase{R"([["a","ipmatch","1.2.3.4/33"]])", "invalid ip address: 1.2.3.4/33 at [0]"},
        ErrorCase{R"([["a","ipmatch",["10.0.0.0/8",7]]])", "invalid ip address: 7 at [0]"},
        ErrorCase{R"(["OR",["a","==","b"],["c","bad","d"]])", "invalid operator 'bad' at [2]"},
        ErrorCase{R"([["a","==","b"],["OR",["c","==","d"],["e","nope","f"]]])",
                  "invalid operator 'nope' at [1][2]"},
        ErrorCase{R"(["AND",["a","==","b"],["OR",["c","==","d"]]])", "rule too short at [2]"}));

// core.md §5.7: compile() refuses absurd nesting instead of recursing without bound.
TEST(ExprTest, RefusesDeepNesting) {
  json::value rule = json::array{"a", "==", "b"};
  for (int i = 0; i < 100; ++i) {
    rule = json::array{"OR", rule, json::array{"a", "==", "c"}};
  }
  Result<Expr> expr = Expr::compile(rule);
  ASSERT_FALSE(expr.ok());
  EXPECT_TRUE(expr.error().context.starts_with("rule nested too deeply")) << expr.error().context;
}

// core.md §5.7: `[]` is true and needs no variables.
TEST(ExprTest, EmptyRuleIsAlwaysTrue) {
  Result<Expr> expr = Expr::compile(json::array{});
  ASSERT_TRUE(expr.ok());
  EXPECT_TRUE(expr->is_always_true());
  EXPECT_TRUE(expr->eval(FakeVars{}));
  EXPECT_TRUE(Expr{}.eval(FakeVars{}));
}

// core.md §5.7: a compiled expression is moved into route tables; it must stay usable.
TEST(ExprTest, SurvivesMove) {
  Result<Expr> compiled = Expr::compile(json::parse(R"([["uri","~~","^/api"]])"));
  ASSERT_TRUE(compiled.ok());
  Expr moved = std::move(compiled).value();
  std::vector<Expr> many;
  many.push_back(std::move(moved));
  EXPECT_TRUE(many[0].eval(sample_request()));
  EXPECT_FALSE(many[0].is_always_true());
}

// core.md §5.7: the same expression evaluated against different requests.
TEST(ExprTest, EvaluatesPerRequest) {
  Result<Expr> expr =
      Expr::compile(json::parse(R"([["arg_v","in",["1","2"]],["http_x_user","~*","^ADMIN"]])"));
  ASSERT_TRUE(expr.ok());
  FakeVars admin;
  admin.set("arg_v", "2").header("x-user", "admin-bob");
  FakeVars guest;
  guest.set("arg_v", "2").header("X-User", "guest");
  FakeVars old;
  old.set("arg_v", "3").header("X-User", "admin");
  EXPECT_TRUE(expr->eval(admin));
  EXPECT_FALSE(expr->eval(guest));
  EXPECT_FALSE(expr->eval(old));
}

// core.md §5.7: everything eval() needs is precomputed by compile(), so evaluating any
// operator (numbers, regexes, lists, CIDR sets, combinators) allocates nothing.
TEST(ExprTest, EvalDoesNotAllocate) {
  Result<Expr> expr = Expr::compile(json::parse(R"(["OR",
      ["AND", ["arg_n", ">=", "9.5"], ["arg_n", "==", 10], ["arg_name", "~=", 1],
              ["uri", "~*", "^/API/v\\d+"], ["arg_name", "in", ["a", "json", "z"]],
              ["graphql_root_fields", "has", "repo"], ["http_x_api_key", "==", "Secret"],
              ["remote_addr", "ipmatch", ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"]],
              ["arg_v6", "ipmatch", "10.0.0.0/8"], ["cookie_session", "!", "~~", "^x"],
              ["arg_missing", "==", null], ["arg_flag", "==", true]],
      ["arg_x", "==", "never"]])"));
  ASSERT_TRUE(expr.ok()) << expr.error().context;
  const FakeVars& vars = sample_request();
  ASSERT_TRUE(expr->eval(vars));  // warm-up: the thread's PCRE2 match block
  allocation_count = 0;
  count_allocations = true;
  const bool result = expr->eval(vars);
  count_allocations = false;
  EXPECT_TRUE(result);
  EXPECT_EQ(allocation_count, 0u);
}

// core.md §5.7 `in` with many elements (binary search over the sorted list).
TEST(ExprTest, InWithLongList) {
  json::array list;
  for (int i = 0; i < 500; ++i) {
    list.emplace_back(json::string("user" + std::to_string(i)));
  }
  // Built element by element: `json::array{inner_array}` would copy inner_array.
  json::array rule;
  rule.emplace_back(json::array{"arg_u", "in", list});
  Result<Expr> expr = Expr::compile(rule);
  ASSERT_TRUE(expr.ok());
  FakeVars hit;
  hit.set("arg_u", "user377");
  FakeVars miss;
  miss.set("arg_u", "user500");
  EXPECT_TRUE(expr->eval(hit));
  EXPECT_FALSE(expr->eval(miss));
}

// core.md §5.7 `~~`: regexes work on bytes (no UTF mode) and across embedded NULs.
TEST(ExprTest, RegexOnBinarySubject) {
  Result<Expr> expr = Expr::compile(json::parse(R"([["arg_b","~~","a\u0000b"]])"));
  ASSERT_TRUE(expr.ok());
  FakeVars vars;
  vars.set("arg_b", std::string("xa\0by", 5));
  EXPECT_TRUE(expr->eval(vars));
  FakeVars latin;
  latin.set("arg_b", "\xff\xfe");
  Result<Expr> any = Expr::compile(json::parse(R"([["arg_b","~~","^..$"]])"));
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(any->eval(latin));
}

struct NumberCase {
  const char* text;
  bool ok;
  double value;
};

class LuaNumberTest : public ::testing::TestWithParam<NumberCase> {};

TEST_P(LuaNumberTest, ParsesLikeTonumber) {
  const NumberCase& c = GetParam();
  const std::optional<double> n = parse_lua_number(c.text);
  ASSERT_EQ(n.has_value(), c.ok) << '"' << c.text << '"';
  if (c.ok && !std::isnan(c.value)) {
    EXPECT_EQ(*n, c.value) << '"' << c.text << '"';
  }
}

// core.md §5.7: numeric operators convert with Lua's tonumber() (LuaJIT's grammar).
INSTANTIATE_TEST_SUITE_P(
    Grammar, LuaNumberTest,
    ::testing::Values(
        NumberCase{"10", true, 10}, NumberCase{"-2.5", true, -2.5}, NumberCase{"+7", true, 7},
        NumberCase{" 42\t\n", true, 42}, NumberCase{"1e3", true, 1000},
        NumberCase{"1E-2", true, 0.01}, NumberCase{".5", true, 0.5}, NumberCase{"5.", true, 5},
        NumberCase{"007", true, 7}, NumberCase{"0x10", true, 16}, NumberCase{"0X1p4", true, 16},
        NumberCase{"-0xff", true, -255}, NumberCase{"0b101", true, 5},
        NumberCase{"inf", true, HUGE_VAL}, NumberCase{"-Infinity", true, -HUGE_VAL},
        NumberCase{"nan", true, NAN}, NumberCase{"1e400", true, HUGE_VAL}, NumberCase{"", false, 0},
        NumberCase{" ", false, 0}, NumberCase{"abc", false, 0}, NumberCase{"1e", false, 0},
        NumberCase{"1.2.3", false, 0}, NumberCase{"0x", false, 0}, NumberCase{"0x-1", false, 0},
        NumberCase{"0xinf", false, 0}, NumberCase{"- 1", false, 0}, NumberCase{"1 2", false, 0},
        NumberCase{"10px", false, 0}, NumberCase{"infx", false, 0}, NumberCase{".", false, 0},
        NumberCase{"0b2", false, 0}, NumberCase{"0b", false, 0}, NumberCase{"1ull", false, 0},
        NumberCase{"++1", false, 0}));

// core.md §5.7: a string with an embedded NUL is not a number (LuaJIT checks the length).
TEST(LuaNumberTest, EmbeddedNulIsNotANumber) {
  EXPECT_FALSE(parse_lua_number(std::string_view("5\0", 2)).has_value());
}

struct VarNameCase {
  const char* name;
  VarKind kind;
  const char* stored;
};

class VarNameTest : public ::testing::TestWithParam<VarNameCase> {};

TEST_P(VarNameTest, ParsesOnce) {
  const VarNameCase& c = GetParam();
  const VarRef ref = parse_var_ref(c.name);
  EXPECT_EQ(ref.kind, c.kind) << c.name;
  EXPECT_EQ(ref.name, c.stored) << c.name;
}

// core.md §6.9: the name families and what each keeps of the name.
INSTANTIATE_TEST_SUITE_P(
    Families, VarNameTest,
    ::testing::Values(VarNameCase{"arg_name", VarKind::Arg, "name"},
                      VarNameCase{"arg_Name_X", VarKind::Arg, "Name_X"},
                      VarNameCase{"http_X_Api_Key", VarKind::Http, "x-api-key"},
                      VarNameCase{"http_user-agent", VarKind::Http, "user-agent"},
                      VarNameCase{"cookie_Session_ID", VarKind::Cookie, "Session_ID"},
                      VarNameCase{"post_arg_user", VarKind::PostArg, "user"},
                      VarNameCase{"uri_param_id", VarKind::UriParam, "id"},
                      VarNameCase{"uri", VarKind::Builtin, "uri"},
                      VarNameCase{"remote_addr", VarKind::Builtin, "remote_addr"},
                      VarNameCase{"request_method", VarKind::Builtin, "request_method"},
                      VarNameCase{"method", VarKind::Builtin, "method"},
                      VarNameCase{"route_id", VarKind::Builtin, "route_id"},
                      VarNameCase{"post_arg.a.b", VarKind::Builtin, "post_arg.a.b"},
                      VarNameCase{"args", VarKind::Builtin, "args"},
                      VarNameCase{"arg_", VarKind::Arg, ""},
                      VarNameCase{"HTTP_HOST", VarKind::Builtin, "HTTP_HOST"}));

// core.md §6.9: nginx matches `$http_*` with `-` and `_` equivalent, in any case.
TEST(VarNameTest, HeaderNameCompare) {
  EXPECT_TRUE(http_header_name_matches("x-api-key", "X-API-Key"));
  EXPECT_TRUE(http_header_name_matches("x-api-key", "x_api_key"));
  EXPECT_FALSE(http_header_name_matches("x-api-key", "x-api-keys"));
  EXPECT_FALSE(http_header_name_matches("x-api-key", "x.api.key"));
}

struct QueryCase {
  const char* query;
  const char* name;
  std::optional<std::string_view> value;
  bool bare;
};

class QueryArgTest : public ::testing::TestWithParam<QueryCase> {};

TEST_P(QueryArgTest, FindsFirstArgument) {
  const QueryCase& c = GetParam();
  bool bare = true;
  const std::optional<std::string_view> v = query_arg(c.query, c.name, bare);
  EXPECT_EQ(v, c.value) << c.query << " / " << c.name;
  EXPECT_EQ(bare, c.bare) << c.query << " / " << c.name;
}

// core.md §6.9 `arg_<name>`: first value if repeated; no `=` is boolean true.
INSTANTIATE_TEST_SUITE_P(
    Args, QueryArgTest,
    ::testing::Values(QueryCase{"a=1&b=2", "b", "2", false}, QueryCase{"a=1&a=2", "a", "1", false},
                      QueryCase{"a&a=2", "a", std::nullopt, true},
                      QueryCase{"a=&b", "a", "", false}, QueryCase{"a=1", "A", std::nullopt, false},
                      QueryCase{"a=1=2", "a", "1=2", false}, QueryCase{"&&a=1&&", "a", "1", false},
                      QueryCase{"=x&b=1", "", "x", false}, QueryCase{"", "a", std::nullopt, false},
                      QueryCase{"ab=1", "a", std::nullopt, false},
                      QueryCase{"a%20b=1", "a b", std::nullopt, false},
                      QueryCase{"x=a+b", "x", "a+b", false}));

// core.md §6.9: get_uri_args reads at most 100 arguments; later ones are invisible.
TEST(QueryArgTest, OnlyFirstHundredArguments) {
  std::string query;
  for (int i = 0; i < 100; ++i) {
    query += "k" + std::to_string(i) + "=v&";
  }
  bool bare = false;
  EXPECT_EQ(query_arg(query + "late=1", "k99", bare), "v");
  EXPECT_EQ(query_arg(query + "late=1", "late", bare), std::nullopt);
}

struct CookieCase {
  const char* header;
  const char* name;
  std::optional<std::string_view> value;
};

class CookieTest : public ::testing::TestWithParam<CookieCase> {};

TEST_P(CookieTest, ParsesLikeApisix) {
  const CookieCase& c = GetParam();
  EXPECT_EQ(cookie_value(c.header, c.name), c.value) << c.header << " / " << c.name;
}

// core.md §6.9 `cookie_<name>`: case-sensitive names, parsed as lua-resty-cookie does
// (values end at `;` or tab, spaces kept, last duplicate wins, a key runs to the next `=`).
INSTANTIATE_TEST_SUITE_P(
    Cookies, CookieTest,
    ::testing::Values(CookieCase{"a=1; b=2", "b", "2"}, CookieCase{"a=1;b=2", "a", "1"},
                      CookieCase{"a=1; b=2", "B", std::nullopt}, CookieCase{"a=1; a=2", "a", "2"},
                      CookieCase{"a=", "a", ""}, CookieCase{"a=x y; b=2", "a", "x y"},
                      CookieCase{"a=x ; b=2", "a", "x "}, CookieCase{"  \ta=1", "a", "1"},
                      CookieCase{"a=1\tb=2", "b", "2"}, CookieCase{"flag; b=2", "b", std::nullopt},
                      CookieCase{"flag; b=2", "flag; b", "2"}, CookieCase{"a=b=c", "a", "b=c"},
                      CookieCase{"=v", "", "v"}, CookieCase{"", "a", std::nullopt},
                      CookieCase{"a=1;", "a", "1"}, CookieCase{"a=1; b", "b", std::nullopt}));

}  // namespace
}  // namespace apisix::router
