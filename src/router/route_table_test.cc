#include "router/route_table.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "router/expr.h"
#include "router/ip_match.h"
#include "router/vars.h"

namespace apisix::router {
namespace {

constexpr int64_t kNone = RouteTable::kNoMatch;

RouteSpec spec(uint32_t payload, std::vector<std::string> uris, std::vector<std::string> hosts = {},
               int priority = 0, uint32_t methods = 0) {
  RouteSpec s;
  s.id = "r" + std::to_string(payload);
  s.payload = payload;
  s.uris = std::move(uris);
  s.hosts = std::move(hosts);
  s.priority = priority;
  s.method_mask = methods;
  return s;
}

std::shared_ptr<const Expr> vars_rule(std::string_view json) {
  auto compiled = Expr::compile(boost::json::parse(json));
  EXPECT_TRUE(compiled.ok());
  return std::make_shared<const Expr>(std::move(compiled.value()));
}

std::shared_ptr<const IpMatcher> cidrs(const std::vector<std::string>& list) {
  auto compiled = IpMatcher::compile(list);
  EXPECT_TRUE(compiled.ok());
  return std::make_shared<const IpMatcher>(std::move(compiled.value()));
}

// Query arguments for `arg_<name>`; every other variable is nil.
class ArgVars final : public VarSource {
 public:
  explicit ArgVars(std::map<std::string, std::string> args) : args_(std::move(args)) {}
  VarValue get(const VarRef& ref) const override {
    if (ref.kind == VarKind::Arg) {
      auto it = args_.find(ref.name);
      if (it != args_.end()) {
        return VarValue::string(it->second);
      }
    }
    return VarValue::nil();
  }

 private:
  std::map<std::string, std::string> args_;
};

int64_t match(const RouteTable& t, std::string_view path, std::string_view host = "",
              std::string_view method = "GET") {
  return t.match({path, host, method});
}

// ---------------------------------------------------------------------------------------
// The first tests, kept from the simple router.

// core.md §5.3: exact patterns match only themselves; `*` at the end is a prefix.
TEST(RouteTable, ExactAndPrefixPatterns) {
  RouteTable t(Mode::HostUri, {spec(1, {"/hello"}), spec(2, {"/a/*"}), spec(3, {"/b*"})});
  EXPECT_EQ(match(t, "/hello"), 1);
  EXPECT_EQ(match(t, "/hello/x"), kNone);
  EXPECT_EQ(match(t, "/a/x/y"), 2);
  EXPECT_EQ(match(t, "/a"), kNone);  // `/a/*` does not match `/a`
  EXPECT_EQ(match(t, "/b"), 3);
  EXPECT_EQ(match(t, "/bcd/e"), 3);
}

// core.md §5.6: exact beats prefix whatever the priorities; longer prefix beats shorter.
TEST(RouteTable, ExactBeatsPrefixAndLongerPrefixWins) {
  RouteTable t(Mode::HostUri,
               {spec(1, {"/*"}, {}, 100), spec(2, {"/blog/foo/*"}, {}, 50),
                spec(3, {"/blog/foo/a/*"}, {}, 0), spec(4, {"/blog/foo/a/b"}, {}, -5)});
  EXPECT_EQ(match(t, "/blog/foo/a/b"), 4);
  EXPECT_EQ(match(t, "/blog/foo/a/c"), 3);
  EXPECT_EQ(match(t, "/blog/foo/z"), 2);
  EXPECT_EQ(match(t, "/other"), 1);
}

// core.md §5.6: priority arbitrates within one bucket; then registration order.
TEST(RouteTable, PriorityThenRegistrationOrderWithinBucket) {
  RouteTable t(Mode::HostUri, {spec(1, {"/hello"}, {}, 0), spec(2, {"/hello"}, {}, 10),
                               spec(3, {"/hello"}, {}, 10)});
  EXPECT_EQ(match(t, "/hello"), 2);
}

// core.md §5.5: a failing condition moves on to the next candidate or bucket.
TEST(RouteTable, MethodConditionFallsThroughToNextBucket) {
  RouteTable t(Mode::HostUri, {spec(1, {"/api/*"}, {}, 0, method_bit("POST")), spec(2, {"/*"})});
  EXPECT_EQ(match(t, "/api/x", "", "POST"), 1);
  EXPECT_EQ(match(t, "/api/x", "", "GET"), 2);
  EXPECT_EQ(match(t, "/api/x", "", "BREW"), 2);
}

// core.md §5.4/§5.6: host-bound beats host-less; exact host beats wildcard; wildcards any depth.
TEST(RouteTable, HostBoundRoutesBeatHostless) {
  RouteTable t(Mode::HostUri, {spec(1, {"/a/b"}), spec(2, {"/*"}, {"*.example.com"}),
                               spec(3, {"/*"}, {"api.example.com"})});
  EXPECT_EQ(match(t, "/a/b", "api.example.com"), 3);
  EXPECT_EQ(match(t, "/a/b", "x.y.example.com"), 2);
  EXPECT_EQ(match(t, "/a/b", "example.com"), 1);
  EXPECT_EQ(match(t, "/a/b", "other.org"), 1);
}

TEST(RouteTable, UriModeTreatsHostAsPlainCondition) {
  RouteTable t(Mode::Uri, {spec(1, {"/a/b"}), spec(2, {"/*"}, {"api.example.com"})});
  EXPECT_EQ(match(t, "/a/b", "api.example.com"), 1);  // exact path wins in uri mode
  EXPECT_EQ(match(t, "/x", "api.example.com"), 2);
  EXPECT_EQ(match(t, "/x", "other"), kNone);
}

TEST(RouteTable, DisabledRoutesNeverMatch) {
  RouteSpec s = spec(1, {"/*"});
  s.matchable = false;
  RouteTable t(Mode::HostUri, {s});
  EXPECT_EQ(match(t, "/x"), kNone);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_TRUE(t.contains("r1"));
}

TEST(RouteTable, StarInTheMiddleMatchesAcrossSlashes) {
  RouteTable t(Mode::HostUri, {spec(1, {"/a/*/c"})});
  EXPECT_EQ(match(t, "/a/b/c"), 1);
  EXPECT_EQ(match(t, "/a/b/x/c"), 1);
  EXPECT_EQ(match(t, "/a/b/d"), kNone);
}

TEST(HostMatches, WildcardRules) {
  EXPECT_TRUE(host_matches("*.a.com", "x.a.com"));
  EXPECT_TRUE(host_matches("*.a.com", "x.y.a.com"));
  EXPECT_FALSE(host_matches("*.a.com", "a.com"));
  EXPECT_TRUE(host_matches("*a.com", "a.com"));
  EXPECT_TRUE(host_matches("*a.com", "mya.com"));
  EXPECT_TRUE(host_matches("*", "anything"));
  EXPECT_FALSE(host_matches("a.com", "b.com"));
}

// ---------------------------------------------------------------------------------------
// core.md §5.3: path patterns, one table per case: the mode, one route's pattern, a request
// path, whether it matches and what it captures.

struct PatternCase {
  const char* section;
  Mode mode;
  const char* pattern;
  const char* path;
  bool matches;
  std::vector<std::pair<std::string, std::string>> captures = {};
};

class PatternTest : public ::testing::TestWithParam<PatternCase> {};

TEST_P(PatternTest, MatchesAndCaptures) {
  const PatternCase& c = GetParam();
  RouteTable t(c.mode, {spec(7, {c.pattern})});
  UriParams params;
  params.push_back("stale", "value");
  MatchRequest request{c.path, "", "GET"};
  request.params = &params;
  EXPECT_EQ(t.match(request), c.matches ? 7 : kNone)
      << c.section << ": " << c.pattern << " vs " << c.path;
  std::vector<std::pair<std::string, std::string>> got;
  for (const UriParams::Param& p : params) {
    got.emplace_back(p.name, p.value);
    // Values are views into the request path.
    EXPECT_GE(p.value.data(), request.path.data());
    EXPECT_LE(p.value.data() + p.value.size(), request.path.data() + request.path.size());
  }
  EXPECT_EQ(got, c.captures) << c.section << ": " << c.pattern << " vs " << c.path;
}

constexpr Mode kH = Mode::HostUri;
constexpr Mode kU = Mode::Uri;
constexpr Mode kP = Mode::UriWithParameter;

INSTANTIATE_TEST_SUITE_P(
    CoreMd53, PatternTest,
    ::testing::Values(
        // no `*`: exact path only.
        PatternCase{"5.3 exact", kH, "/a/b", "/a/b", true},
        PatternCase{"5.3 exact", kH, "/a/b", "/a/b/", false},
        PatternCase{"5.3 trailing / is significant", kH, "/a/", "/a", false},
        PatternCase{"5.3 exact is case-sensitive (5.1.6)", kH, "/A", "/a", false},
        // `*` last: prefix; a bare trailing `*` segment is captured as ":ext".
        PatternCase{"5.3 prefix", kH, "/a/*", "/a/", true, {{":ext", ""}}},
        PatternCase{"5.3 prefix", kH, "/a/*", "/a/b/c", true, {{":ext", "b/c"}}},
        PatternCase{"5.3 /a/* does not match /a", kH, "/a/*", "/a", false},
        PatternCase{"5.3 /a* matches /a", kH, "/a*", "/a", true},
        PatternCase{"5.3 /a* matches /ab", kH, "/a*", "/ab", true},
        PatternCase{"5.3 /a* matches /a/b", kH, "/a*", "/a/b", true},
        PatternCase{"5.3 /*", kU, "/*", "/", true, {{":ext", ""}}},
        PatternCase{"5.3 *", kU, "*", "/x/y", true, {{":ext", "/x/y"}}},
        PatternCase{"5.3 *name at the end", kU, "/f/*rest", "/f/x/y", true, {{"rest", "x/y"}}},
        // `*` elsewhere: a `*` segment matches anything, '/' included; the rest is literal.
        PatternCase{"5.3 * in the middle", kH, "/a/*/c", "/a/b/c", true, {{":ext", "b"}}},
        PatternCase{"5.3 * spans /", kH, "/a/*/c", "/a/b/x/c", true, {{":ext", "b/x"}}},
        PatternCase{"5.3 * may be empty", kH, "/a/*/c", "/a//c", true, {{":ext", ""}}},
        PatternCase{"5.3 whole path must match", kH, "/a/*/c", "/a/b/c/d", false},
        PatternCase{"5.3 whole path must match", kH, "/a/*/c", "/a/b/d", false},
        PatternCase{"5.3 greedy *", kU, "/a/*x/c", "/a/1/c/2/c", true, {{"x", "1/c/2"}}},
        PatternCase{"5.3 two globs, greedy first",
                    kU,
                    "/*a/x/*b",
                    "/1/x/2/x/3",
                    true,
                    {{"a", "1/x/2"}, {"b", "3"}}},
        PatternCase{"5.3 glob backtracks", kU, "/*a/x/*b/y", "/1/x/2/x/y/z", false},
        PatternCase{"5.3 glob backtracks",
                    kU,
                    "/*a/x/*b/y",
                    "/1/x/2/y/x/y",
                    true,
                    {{"a", "1"}, {"b", "2/y/x"}}},
        // Only whole segments are converted: `/a/b*c` is the prefix `/a/b` and nothing else.
        PatternCase{"5.3 partial segment", kH, "/a/b*c", "/a/bxyz/q", true},
        PatternCase{"5.3 partial segment", kH, "/a/b*c", "/a/c", false},
        // `:` is literal outside parameter mode.
        PatternCase{"5.2 ':' literal", kH, "/u/:id", "/u/:id", true},
        PatternCase{"5.2 ':' literal", kU, "/u/:id", "/u/1", false},
        PatternCase{"5.2 ':' literal", kU, "/u/:id/*", "/u/:id/x", true, {{":ext", "x"}}},
        // Parameter mode: `:name` is one or more non-'/' characters.
        PatternCase{"5.3 :name", kP, "/u/:id", "/u/42", true, {{"id", "42"}}},
        PatternCase{"5.3 :name needs a character", kP, "/u/:id", "/u/", false},
        PatternCase{"5.3 :name stops at /", kP, "/u/:id", "/u/42/x", false},
        PatternCase{"5.3 :name prefix", kP, "/u/:id", "/u", false},
        PatternCase{"5.3 two params",
                    kP,
                    "/u/:id/posts/:post",
                    "/u/7/posts/hello",
                    true,
                    {{"id", "7"}, {"post", "hello"}}},
        PatternCase{"5.3 param, trailing /", kP, "/u/:id/", "/u/7/", true, {{"id", "7"}}},
        PatternCase{"5.3 param, trailing /", kP, "/u/:id/", "/u/7", false},
        PatternCase{"5.3 :name then *name",
                    kP,
                    "/f/:bucket/*key",
                    "/f/b1/x/y.txt",
                    true,
                    {{"bucket", "b1"}, {"key", "x/y.txt"}}},
        PatternCase{
            "5.3 bare * is :ext", kP, "/s/:v/*", "/s/1/a/b", true, {{"v", "1"}, {":ext", "a/b"}}},
        PatternCase{"5.3 glob then param", kP, "/d/*dir/:file", "/d/a/b/c.txt", false},
        PatternCase{"5.3 param then glob then param",
                    kP,
                    "/d/:v/*dir/:file",
                    "/d/1/a/b/c.txt",
                    true,
                    {{"v", "1"}, {"dir", "a/b"}, {"file", "c.txt"}}},
        PatternCase{"5.3 param then glob then param", kP, "/d/:v/*dir/:file", "/d/1/a/b/", false},
        // In parameter mode the prefix is the text before the first ':', even after a '*'.
        PatternCase{"5.3 prefix before ':'",
                    kP,
                    "/d/*dir/:file",
                    "/d/*dir/c.txt",
                    true,
                    {{"dir", "*dir"}, {"file", "c.txt"}}},
        PatternCase{"5.3 repeated name", kP, "/:x/:x", "/1/2", true, {{"x", "1"}, {"x", "2"}}},
        PatternCase{"5.3 ':' inside a segment is literal",
                    kP,
                    "/a/b:c/:id",
                    "/a/b:c/9",
                    true,
                    {{"id", "9"}}},
        PatternCase{"5.3 ':' inside a segment is literal", kP, "/a/b:c/:id", "/a/bxc/9", false},
        // A ':' that starts no segment leaves no parameter: only the prefix before it counts.
        PatternCase{"5.3 no parameter segment", kP, "/a/b:c", "/a/bzz", true},
        PatternCase{"5.3 :name at the root", kP, ":all", "/x", false},
        PatternCase{"5.3 :name at the root", kP, "/:all", "/x", true, {{"all", "x"}}}));

TEST(UriParams, GetReturnsTheLastValueOfAName) {
  UriParams params;
  EXPECT_FALSE(params.get("x").has_value());
  params.push_back("x", "1");
  params.push_back("y", "2");
  params.push_back("x", "3");
  EXPECT_EQ(params.get("x"), "3");
  EXPECT_EQ(params.get("y"), "2");
  for (size_t i = 0; i < 2 * UriParams::kCapacity; ++i) {
    params.push_back("z", "z");
  }
  EXPECT_EQ(params.size(), UriParams::kCapacity);
}

// ---------------------------------------------------------------------------------------
// core.md §5.6: candidate order and precedence. Each case is a set of routes, and requests
// with the payload expected for each.

struct Request {
  const char* path;
  const char* host;
  int64_t expected;
  const char* method = "GET";
};
struct PrecedenceCase {
  const char* rule;
  Mode mode;
  std::vector<RouteSpec> routes;
  std::vector<Request> requests;
};

class PrecedenceTest : public ::testing::TestWithParam<PrecedenceCase> {};

TEST_P(PrecedenceTest, FirstPassingCandidateWins) {
  const PrecedenceCase& c = GetParam();
  RouteTable t(c.mode, c.routes);
  for (const Request& r : c.requests) {
    EXPECT_EQ(match(t, r.path, r.host, r.method), r.expected)
        << c.rule << ": " << r.method << " " << r.host << r.path;
  }
  // The same routes added one change at a time give the same answers.
  auto incremental = std::make_shared<const RouteTable>(c.mode, std::vector<RouteSpec>{});
  for (const RouteSpec& s : c.routes) {
    incremental = incremental->apply({s}, {});
  }
  for (const Request& r : c.requests) {
    EXPECT_EQ(match(*incremental, r.path, r.host, r.method), r.expected)
        << c.rule << " (incremental): " << r.method << " " << r.host << r.path;
  }
}

const uint32_t post_bit = method_bit("POST");

INSTANTIATE_TEST_SUITE_P(
    CoreMd56, PrecedenceTest,
    ::testing::Values(
        PrecedenceCase{"5.6 an exact URI always beats a prefix URI, whatever the priorities",
                       kU,
                       {spec(1, {"/a/*"}, {}, 100), spec(2, {"/a/b"}, {}, -100)},
                       {{"/a/b", "", 2}, {"/a/c", "", 1}}},
        PrecedenceCase{"5.6 a longer matching prefix beats a shorter one, whatever the priorities",
                       kU,
                       {spec(1, {"/blog/foo/*"}, {}, 9), spec(2, {"/blog/foo/a/*"}, {}, 0)},
                       {{"/blog/foo/a/b", "", 2}, {"/blog/foo/b", "", 1}}},
        PrecedenceCase{"5.6 the prefix is the text before the first '*', not the whole pattern",
                       kU,
                       {spec(1, {"/a/*/zzzzzzzzzz"}), spec(2, {"/a/b*"})},
                       {{"/a/b/zzzzzzzzzz", "", 2}, {"/a/x/zzzzzzzzzz", "", 1}}},
        PrecedenceCase{
            "5.6 in parameter mode the prefix ends at the first ':'",
            kP,
            {spec(1, {"/u/:id"}, {}, 0), spec(2, {"/u/*"}, {}, 0), spec(3, {"/u/me"}, {}, 0)},
            // `/u/:id` and `/u/*` share the bucket `/u/`: the longer pattern first.
            {{"/u/me", "", 3}, {"/u/7", "", 1}, {"/u/7/x", "", 2}}},
        PrecedenceCase{"5.6 priority arbitrates within a bucket, higher first",
                       kU,
                       {spec(1, {"/h"}, {}, 1), spec(2, {"/h"}, {}, 5), spec(3, {"/h"}, {}, -1)},
                       {{"/h", "", 2}}},
        PrecedenceCase{"5.6 then the longer pattern",
                       kP,
                       {spec(1, {"/x/*"}), spec(2, {"/x/:a/*"}), spec(3, {"/x/:a"})},
                       {{"/x/1/2", "", 2}, {"/x/1", "", 3}, {"/x/", "", 1}}},
        PrecedenceCase{"5.6 then registration order",
                       kU,
                       {spec(1, {"/p/*"}), spec(2, {"/p/*"})},
                       {{"/p/q", "", 1}}},
        PrecedenceCase{"5.6 if conditions of the best bucket fail, the next bucket is tried",
                       kU,
                       {spec(1, {"/a/b"}, {}, 0, post_bit), spec(2, {"/a/*"}, {}, 0, post_bit),
                        spec(3, {"/*"})},
                       {{"/a/b", "", 1, "POST"}, {"/a/b", "", 3, "GET"}, {"/a/c", "", 2, "POST"}}},
        PrecedenceCase{"5.6 a route with uris [a, b] takes part in each bucket independently",
                       kU,
                       {spec(1, {"/one", "/two/*"}), spec(2, {"/two/x"}), spec(3, {"/*"}, {}, 9)},
                       {{"/one", "", 1}, {"/two/y", "", 1}, {"/two/x", "", 2}, {"/three", "", 3}}},
        PrecedenceCase{"5.6 a host-bound route beats every host-less route",
                       kH,
                       {spec(1, {"/exact/path"}, {}, 100), spec(2, {"/*"}, {"a.com"}, -100)},
                       {{"/exact/path", "a.com", 2}, {"/exact/path", "b.com", 1}}},
        PrecedenceCase{"5.6 an exact host beats a wildcard host, whatever URI or priority",
                       kH,
                       {spec(1, {"/x/y/z"}, {"*.a.com"}, 100), spec(2, {"/*"}, {"w.a.com"}, 0)},
                       {{"/x/y/z", "w.a.com", 2}, {"/x/y/z", "v.a.com", 1}}},
        PrecedenceCase{"5.6 wildcard host buckets, longest suffix first",
                       kH,
                       {spec(1, {"/*"}, {"*"}), spec(2, {"/*"}, {"*.com"}),
                        spec(3, {"/*"}, {"*.a.com"}), spec(4, {"/*"}, {"*b.a.com"})},
                       {{"/", "x.b.a.com", 4},
                        {"/", "b.a.com", 4},
                        {"/", "c.a.com", 3},
                        {"/", "x.com", 2},
                        {"/", "x.org", 1}}},
        PrecedenceCase{
            "5.6 no hit in a host bucket: the next host bucket, then host-less",
            kH,
            {spec(1, {"/only"}, {"a.com"}), spec(2, {"/two"}, {"*.com"}), spec(3, {"/*"})},
            {{"/only", "a.com", 1}, {"/two", "a.com", 2}, {"/three", "a.com", 3}}},
        PrecedenceCase{"5.4 wildcard rules in the host tree",
                       kH,
                       {spec(1, {"/*"}, {"*.example.com"}), spec(2, {"/*"}, {"*example.org"}),
                        spec(3, {"/*"})},
                       {{"/", "a.b.example.com", 1},
                        {"/", "example.com", 3},
                        {"/", "example.org", 2},
                        {"/", "myexample.org", 2}}},
        PrecedenceCase{"5.4 hosts are lower-cased when loaded",
                       kH,
                       {spec(1, {"/*"}, {"API.Example.COM"}), spec(2, {"/*"}, {"*.Upper.COM"})},
                       {{"/", "api.example.com", 1}, {"/", "x.upper.com", 2}}},
        PrecedenceCase{"5.4 in radixtree_host_uri a host entry with ':' never matches",
                       kH,
                       {spec(1, {"/*"}, {"a.com:8080"}), spec(2, {"/*"})},
                       {{"/", "a.com", 2}, {"/", "a.com:8080", 2}}},
        PrecedenceCase{"5.2 radixtree_uri: the host is a per-route condition",
                       kU,
                       {spec(1, {"/*"}, {"a.com"}), spec(2, {"/*"}, {"*.b.com"}), spec(3, {"/*"})},
                       {{"/", "a.com", 1}, {"/", "x.b.com", 2}, {"/", "c.com", 3}}}));

// core.md §5.4: in the uri modes a host entry with ':' is compared with the Host header.
TEST(RouteTable, UriModeHostWithPortUsesRawHost) {
  RouteTable t(Mode::Uri, {spec(1, {"/*"}, {"a.com:8080"}), spec(2, {"/*"}, {"*.b.com:81"})});
  MatchRequest r{"/x", "a.com", "GET"};
  EXPECT_EQ(t.match(r), kNone);
  r.raw_host = "a.com:8080";
  EXPECT_EQ(t.match(r), 1);
  r.raw_host = "A.com:8080";
  EXPECT_EQ(t.match(r), 1);
  r.raw_host = "a.com:8081";
  EXPECT_EQ(t.match(r), kNone);
  r.host = "x.b.com";
  r.raw_host = "x.b.com:81";
  EXPECT_EQ(t.match(r), 2);
}

// core.md §5.5: conditions, in order, falling through to the next candidate.
TEST(RouteTable, RemoteAddrsCondition) {
  RouteSpec inner = spec(1, {"/*"}, {}, 10);
  inner.remote_addrs = cidrs({"10.0.0.0/8", "::1"});
  RouteTable t(Mode::HostUri, {inner, spec(2, {"/*"})});
  MatchRequest r{"/x", "", "GET"};
  EXPECT_EQ(t.match(r), 2);  // no address: not inside any CIDR
  r.remote_addr = "10.1.2.3";
  EXPECT_EQ(t.match(r), 1);
  r.remote_addr = "11.0.0.1";
  EXPECT_EQ(t.match(r), 2);
  r.remote_addr = "::1";
  EXPECT_EQ(t.match(r), 1);
}

TEST(RouteTable, VarsCondition) {
  RouteSpec beta = spec(1, {"/api/*"}, {}, 1);
  beta.vars = vars_rule(R"([["arg_env","==","beta"]])");
  RouteSpec always = spec(3, {"/always"});
  always.vars = vars_rule("[]");  // `[]` is no condition at all
  RouteTable t(Mode::HostUri, {beta, spec(2, {"/api/*"}), always});
  ArgVars beta_args(std::map<std::string, std::string>{{"env", "beta"}});
  ArgVars prod_args(std::map<std::string, std::string>{{"env", "prod"}});
  MatchRequest r{"/api/x", "", "GET"};
  EXPECT_EQ(t.match(r), 2);  // no variables: a route with vars does not match
  r.vars = &prod_args;
  EXPECT_EQ(t.match(r), 2);
  r.vars = &beta_args;
  EXPECT_EQ(t.match(r), 1);
  r.path = "/always";
  r.vars = nullptr;
  EXPECT_EQ(t.match(r), 3);
}

// Counts variable lookups, to see which conditions ran.
class CountingVars final : public VarSource {
 public:
  VarValue get(const VarRef&) const override {
    ++lookups;
    return VarValue::string("yes");
  }
  mutable int lookups = 0;
};

TEST(RouteTable, ConditionOrderMethodsThenAddressThenHostsThenVars) {
  RouteSpec s = spec(1, {"/*"}, {"a.com"}, 0, post_bit);
  s.remote_addrs = cidrs({"10.0.0.0/8"});
  s.vars = vars_rule(R"([["arg_x","==","yes"]])");
  RouteTable t(Mode::Uri, {s});
  CountingVars vars;
  MatchRequest r{"/x", "a.com", "GET"};
  r.vars = &vars;
  r.remote_addr = "10.0.0.1";
  EXPECT_EQ(t.match(r), kNone);  // method fails first
  r.method = "POST";
  r.remote_addr = "192.168.0.1";
  EXPECT_EQ(t.match(r), kNone);  // then the address
  r.remote_addr = "10.0.0.1";
  r.host = "b.com";
  EXPECT_EQ(t.match(r), kNone);  // then the host
  EXPECT_EQ(vars.lookups, 0);
  r.host = "a.com";
  EXPECT_EQ(t.match(r), 1);
  EXPECT_EQ(vars.lookups, 1);
}

// §5.5: the pattern is checked last; a candidate whose pattern fails leaves no captures.
TEST(RouteTable, FailedPatternFallsThroughAndLeavesNoCaptures) {
  RouteTable t(Mode::UriWithParameter, {spec(1, {"/u/:id/x"}, {}, 5), spec(2, {"/u/*"})});
  UriParams params;
  MatchRequest r{"/u/7/y", "", "GET"};
  r.params = &params;
  EXPECT_EQ(t.match(r), 2);
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].name, ":ext");
  EXPECT_EQ(params[0].value, "7/y");
  r.path = "/nothing";
  EXPECT_EQ(t.match(r), kNone);
  EXPECT_TRUE(params.empty());
}

// ---------------------------------------------------------------------------------------
// Incremental updates.

std::vector<int64_t> answers(const RouteTable& t, const std::vector<std::string>& paths) {
  std::vector<int64_t> out;
  out.reserve(paths.size());
  for (const std::string& p : paths) {
    out.push_back(match(t, p, "a.com"));
  }
  return out;
}

TEST(RouteTableApply, AddsReplacesAndRemovesByIdWithoutTouchingTheOldTable) {
  auto v1 = std::make_shared<const RouteTable>(
      Mode::HostUri, std::vector<RouteSpec>{spec(1, {"/a"}), spec(2, {"/b/*"}), spec(3, {"/c"})});
  const std::vector<std::string> paths = {"/a", "/b/x", "/c", "/d", "/e/f"};
  const std::vector<int64_t> before = answers(*v1, paths);

  RouteSpec moved = spec(2, {"/d"});  // r2 now serves /d
  auto v2 = v1->apply({moved, spec(4, {"/e/*"}, {"a.com"})}, {"r3", "unknown"});
  EXPECT_EQ(answers(*v2, paths), (std::vector<int64_t>{1, kNone, kNone, 2, 4}));
  EXPECT_EQ(v2->size(), 3u);
  EXPECT_FALSE(v2->contains("r3"));
  EXPECT_TRUE(v2->contains("r4"));
  // The old table answers as before.
  EXPECT_EQ(answers(*v1, paths), before);
  EXPECT_EQ(v1->size(), 3u);
  EXPECT_TRUE(v1->contains("r3"));

  auto v3 = v2->apply({}, {"r1", "r2", "r4"});
  EXPECT_EQ(answers(*v3, paths), (std::vector<int64_t>{kNone, kNone, kNone, kNone, kNone}));
  EXPECT_EQ(v3->size(), 0u);
  EXPECT_EQ(answers(*v2, paths), (std::vector<int64_t>{1, kNone, kNone, 2, 4}));
}

// §5.6 registration order is the order of first insertion, kept when a route is replaced.
TEST(RouteTableApply, ReplacedRouteKeepsItsRegistrationOrder) {
  auto t = std::make_shared<const RouteTable>(
      Mode::Uri, std::vector<RouteSpec>{spec(1, {"/p/*"}), spec(2, {"/p/*"})});
  EXPECT_EQ(match(*t, "/p/x"), 1);
  RouteSpec again = spec(1, {"/p/*"});
  again.payload = 11;
  t = t->apply({again}, {});
  EXPECT_EQ(match(*t, "/p/x"), 11);  // still first
  // Removed and added back: registered anew, after r2.
  t = t->apply({}, {"r1"});
  t = t->apply({spec(1, {"/p/*"})}, {});
  EXPECT_EQ(match(*t, "/p/x"), 2);
  // A new route comes after every earlier one.
  t = t->apply({spec(3, {"/p/*"})}, {"r2"});
  EXPECT_EQ(match(*t, "/p/x"), 1);
}

TEST(RouteTableApply, RepeatedIdInFullBuildReplacesInPlace) {
  RouteSpec a = spec(1, {"/p/*"});
  RouteSpec b = spec(2, {"/p/*"});
  RouteSpec a2 = spec(1, {"/p/*"});
  a2.payload = 9;
  RouteTable t(Mode::Uri, {a, b, a2});
  EXPECT_EQ(match(t, "/p/x"), 9);
  EXPECT_EQ(t.size(), 2u);
}

TEST(RouteTableApply, DisablingAndEnablingARoute) {
  auto t = std::make_shared<const RouteTable>(Mode::HostUri,
                                              std::vector<RouteSpec>{spec(1, {"/x"}, {"h.com"})});
  RouteSpec off = spec(1, {"/x"}, {"h.com"});
  off.matchable = false;
  auto t2 = t->apply({off}, {});
  EXPECT_EQ(match(*t2, "/x", "h.com"), kNone);
  EXPECT_EQ(t2->size(), 0u);
  auto t3 = t2->apply({spec(1, {"/x"}, {"h.com"})}, {});
  EXPECT_EQ(match(*t3, "/x", "h.com"), 1);
  EXPECT_EQ(match(*t, "/x", "h.com"), 1);
}

TEST(RouteTableApply, RoutesWithoutIdStayUntilTheNextFullBuild) {
  RouteSpec anonymous = spec(1, {"/a"});
  anonymous.id.clear();
  auto t = std::make_shared<const RouteTable>(Mode::Uri, std::vector<RouteSpec>{anonymous});
  t = t->apply({anonymous}, {""});
  EXPECT_EQ(match(*t, "/a"), 1);
  EXPECT_EQ(t->size(), 2u);
}

// ---------------------------------------------------------------------------------------
// Randomised checks against a straightforward model of §5.3-§5.6: every entry of every
// route is a candidate; candidates are sorted by (host bucket, uri bucket, priority,
// pattern length, registration order) and the first whose conditions pass wins. Patterns
// are checked by a plain backtracking matcher over the regex APISIX builds, including its
// "first match must be the whole path" test. Tables are built both at once and through
// random batches of apply() and must agree with the model at every step.

struct ModelRoute {
  RouteSpec spec;
  uint64_t order;
};

// APISIX's regex for a pattern, as tokens: literal text, `([^/]+)` for `:name` (parameter
// mode), `((.|\n)*)` for `*name`.
struct RegexToken {
  enum Kind { Literal, Param, Glob } kind;
  std::string text;  // literal text, or the capture name
};

std::vector<RegexToken> regex_for(const std::string& pattern, bool with_parameters) {
  std::vector<RegexToken> out;
  size_t i = 0;
  for (;;) {
    size_t slash = pattern.find('/', i);
    if (slash == std::string::npos) {
      slash = pattern.size();
    }
    const std::string segment = pattern.substr(i, slash - i);
    if (with_parameters && !segment.empty() && segment[0] == ':') {
      out.push_back({RegexToken::Param, segment.substr(1)});
    } else if (!segment.empty() && segment[0] == '*') {
      out.push_back({RegexToken::Glob, segment.size() > 1 ? segment.substr(1) : ":ext"});
    } else {
      out.push_back({RegexToken::Literal, segment});
    }
    if (slash == pattern.size()) {
      break;
    }
    out.push_back({RegexToken::Literal, "/"});
    i = slash + 1;
  }
  return out;
}

// A backtracking regex engine's first match of tokens[t..] at `pos` (greedy quantifiers
// try the longest run first), as PCRE finds it; its end, or npos.
size_t first_match(const std::vector<RegexToken>& tokens, size_t t, std::string_view path,
                   size_t pos, std::vector<std::pair<std::string, std::string>>& captures) {
  if (t == tokens.size()) {
    return pos;
  }
  const RegexToken& token = tokens[t];
  if (token.kind == RegexToken::Literal) {
    if (path.substr(pos).starts_with(token.text)) {
      return first_match(tokens, t + 1, path, pos + token.text.size(), captures);
    }
    return std::string::npos;
  }
  size_t longest = path.size() - pos;
  if (token.kind == RegexToken::Param) {
    const size_t slash = path.find('/', pos);
    longest = (slash == std::string::npos ? path.size() : slash) - pos;
  }
  const size_t shortest = token.kind == RegexToken::Param ? 1 : 0;
  for (size_t length = longest + 1; length-- > shortest;) {
    captures.emplace_back(token.text, std::string(path.substr(pos, length)));
    const size_t end = first_match(tokens, t + 1, path, pos + length, captures);
    if (end != std::string::npos) {
      return end;
    }
    captures.pop_back();
  }
  return std::string::npos;
}

class Model {
 public:
  explicit Model(Mode mode) : mode_(mode) {}

  void apply(const std::vector<RouteSpec>& upserts, const std::vector<std::string>& removed) {
    for (const std::string& id : removed) {
      std::erase_if(routes_, [&](const ModelRoute& r) { return r.spec.id == id; });
    }
    for (const RouteSpec& s : upserts) {
      auto it = std::find_if(routes_.begin(), routes_.end(),
                             [&](const ModelRoute& r) { return r.spec.id == s.id; });
      if (it != routes_.end()) {
        it->spec = s;
      } else {
        routes_.push_back({s, next_order_++});
      }
    }
  }

  int64_t match(std::string_view path, std::string_view host, std::string_view method,
                std::vector<std::pair<std::string, std::string>>* captures) const {
    struct Candidate {
      int host_rank;  // 0 exact host, 1.. wildcard by longest suffix, large: host-less
      int uri_rank;   // 0 exact, then by longer prefix
      int priority;
      size_t pattern_size;
      uint64_t order;
      const ModelRoute* route;
      std::string pattern;
      size_t sequence;  // keeps the sort deterministic among a route's own entries
    };
    std::vector<Candidate> candidates;
    const bool with_params = mode_ == Mode::UriWithParameter;
    for (const ModelRoute& r : routes_) {
      if (!r.spec.matchable) {
        continue;
      }
      std::vector<int> host_ranks;
      if (mode_ == Mode::HostUri && !r.spec.hosts.empty()) {
        for (const std::string& h : r.spec.hosts) {
          if (h.find(':') != std::string::npos) {
            continue;
          }
          if (h == host) {
            host_ranks.push_back(0);
          } else if (!h.empty() && h[0] == '*' && host_matches(h, host)) {
            host_ranks.push_back(1000 - static_cast<int>(h.size()));
          }
        }
      } else {
        host_ranks.push_back(100000);
      }
      for (int host_rank : host_ranks) {
        for (const std::string& uri : r.spec.uris) {
          size_t special = with_params ? uri.find(':') : std::string::npos;
          if (special == std::string::npos) {
            special = uri.find('*');
          }
          int uri_rank;
          if (special == std::string::npos) {
            if (uri != path) {
              continue;
            }
            uri_rank = 0;
          } else {
            if (!path.starts_with(std::string_view(uri).substr(0, special))) {
              continue;
            }
            uri_rank = 100000 - static_cast<int>(special);
          }
          candidates.push_back({host_rank, uri_rank, r.spec.priority, uri.size(), r.order, &r, uri,
                                candidates.size()});
        }
      }
    }
    std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
      if (a.host_rank != b.host_rank) {
        return a.host_rank < b.host_rank;
      }
      if (a.uri_rank != b.uri_rank) {
        return a.uri_rank < b.uri_rank;
      }
      if (a.priority != b.priority) {
        return a.priority > b.priority;
      }
      if (a.pattern_size != b.pattern_size) {
        return a.pattern_size > b.pattern_size;
      }
      if (a.order != b.order) {
        return a.order < b.order;
      }
      return a.sequence < b.sequence;
    });
    const uint32_t bit = method_bit(method);
    for (const Candidate& c : candidates) {
      const RouteSpec& s = c.route->spec;
      if (s.method_mask != 0 && (s.method_mask & bit) == 0) {
        continue;
      }
      if (mode_ != Mode::HostUri && !s.hosts.empty() &&
          std::none_of(s.hosts.begin(), s.hosts.end(),
                       [&](const std::string& h) { return host_matches(h, host); })) {
        continue;
      }
      captures->clear();
      if (c.uri_rank != 0) {
        const std::vector<RegexToken> tokens = regex_for(c.pattern, with_params);
        const bool has_names = std::any_of(tokens.begin(), tokens.end(), [](const auto& t) {
          return t.kind != RegexToken::Literal;
        });
        // APISIX: no capture names, no regex; else the first match must be the whole path
        // (a match starting later than 0 cannot be).
        if (has_names && first_match(tokens, 0, path, 0, *captures) != path.size()) {
          captures->clear();
          continue;
        }
      }
      return s.payload;
    }
    captures->clear();
    return kNone;
  }

  const std::vector<ModelRoute>& routes() const { return routes_; }

 private:
  Mode mode_;
  std::vector<ModelRoute> routes_;
  uint64_t next_order_ = 0;
};

class RandomRoutes {
 public:
  explicit RandomRoutes(uint32_t seed) : rng_(seed) {}

  std::string pick(const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng_)];
  }
  int number(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  std::string pattern() {
    static const std::vector<std::string> pieces = {"a", "b", "ab", ":p", ":q", "*", "*g", ""};
    std::string p;
    const int segments = number(0, 4);
    for (int i = 0; i < segments; ++i) {
      p += "/" + pick(pieces);
    }
    switch (number(0, 5)) {
      case 0:
        p += "/*";
        break;
      case 1:
        p += "*";
        break;
      case 2:
        p += "/";
        break;
      default:
        break;
    }
    return p.empty() ? "/" : p;
  }

  std::string path() {
    static const std::vector<std::string> pieces = {"a", "b", "ab", "x", ":p", "*", ""};
    std::string p;
    const int segments = number(0, 5);
    for (int i = 0; i < segments; ++i) {
      p += "/" + pick(pieces);
    }
    return p.empty() ? "/" : p;
  }

  std::string host() { return pick({"a.com", "b.a.com", "c.b.a.com", "x.org", "a.com:80"}); }
  std::string host_entry() {
    return pick({"a.com", "b.a.com", "*.a.com", "*a.com", "*", "*.org", "x.org", "a.com:80"});
  }

  RouteSpec route(int id) {
    RouteSpec s;
    s.id = "id" + std::to_string(id);
    s.payload = static_cast<uint32_t>(number(0, 1 << 20));
    const int uris = number(1, 2);
    for (int i = 0; i < uris; ++i) {
      s.uris.push_back(pattern());
    }
    if (number(0, 2) == 0) {
      const int hosts = number(1, 2);
      for (int i = 0; i < hosts; ++i) {
        s.hosts.push_back(host_entry());
      }
    }
    s.priority = number(-1, 1);
    if (number(0, 3) == 0) {
      s.method_mask = method_bit(number(0, 1) == 0 ? "GET" : "POST");
    }
    s.matchable = number(0, 15) != 0;
    return s;
  }

 private:
  std::mt19937 rng_;
};

// How many requests expect_same() saw, matched, and matched with captures: the randomised
// test checks that it is not vacuous.
struct Coverage {
  int requests = 0;
  int matched = 0;
  int captured = 0;
};
Coverage coverage;

void expect_same(const RouteTable& table, const Model& model, RandomRoutes& random, int requests,
                 const std::string& context) {
  for (int i = 0; i < requests; ++i) {
    const std::string path = random.path();
    const std::string host = random.host();
    const std::string method = random.number(0, 1) == 0 ? "GET" : "POST";
    std::vector<std::pair<std::string, std::string>> want;
    const int64_t expected = model.match(path, host, method, &want);
    ++coverage.requests;
    coverage.matched += expected != kNone ? 1 : 0;
    coverage.captured += want.empty() ? 0 : 1;
    UriParams params;
    MatchRequest r{path, host, method};
    r.raw_host = host;
    r.params = &params;
    ASSERT_EQ(table.match(r), expected) << context << ": " << method << " " << host << path;
    std::vector<std::pair<std::string, std::string>> got;
    for (const UriParams::Param& p : params) {
      got.emplace_back(p.name, p.value);
    }
    ASSERT_EQ(got, want) << context << ": " << host << path;
  }
}

class RandomisedTest : public ::testing::TestWithParam<Mode> {};

TEST_P(RandomisedTest, FullBuildAndAppliedBatchesAgreeWithTheModel) {
  coverage = {};
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    RandomRoutes random(seed);
    Model model(GetParam());
    auto table = std::make_shared<const RouteTable>(GetParam(), std::vector<RouteSpec>{});
    std::vector<std::pair<std::shared_ptr<const RouteTable>, Model>> history;
    for (int step = 0; step < 12; ++step) {
      std::vector<RouteSpec> upserts;
      std::vector<std::string> removed;
      const int changes = random.number(1, 8);
      for (int i = 0; i < changes; ++i) {
        if (random.number(0, 3) == 0) {
          removed.push_back("id" + std::to_string(random.number(0, 24)));
        } else {
          upserts.push_back(random.route(random.number(0, 24)));
        }
      }
      table = table->apply(upserts, removed);
      model.apply(upserts, removed);
      history.emplace_back(table, model);
      const std::string context = "seed " + std::to_string(seed) + " step " + std::to_string(step);
      expect_same(*table, model, random, 40, context);
      if (HasFatalFailure()) {
        return;
      }
    }
    // A full build of the final routes, in registration order, agrees too.
    std::vector<ModelRoute> ordered = model.routes();
    std::sort(ordered.begin(), ordered.end(),
              [](const ModelRoute& a, const ModelRoute& b) { return a.order < b.order; });
    std::vector<RouteSpec> specs;
    specs.reserve(ordered.size());
    for (const ModelRoute& r : ordered) {
      specs.push_back(r.spec);
    }
    RouteTable full(GetParam(), specs);
    expect_same(full, model, random, 100, "full build, seed " + std::to_string(seed));
    // Earlier versions were not changed by later batches.
    for (size_t i = 0; i < history.size(); ++i) {
      expect_same(*history[i].first, history[i].second, random, 20,
                  "old version " + std::to_string(i) + ", seed " + std::to_string(seed));
    }
    if (HasFatalFailure()) {
      return;
    }
  }
  EXPECT_GT(coverage.matched, coverage.requests / 5);
  EXPECT_GT(coverage.captured, coverage.requests / 20);
  std::printf("%d requests, %d matched, %d with captures\n", coverage.requests, coverage.matched,
              coverage.captured);
}

INSTANTIATE_TEST_SUITE_P(AllModes, RandomisedTest,
                         ::testing::Values(Mode::HostUri, Mode::Uri, Mode::UriWithParameter));

}  // namespace
}  // namespace apisix::router
