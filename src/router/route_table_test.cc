#include "router/route_table.h"

#include <gtest/gtest.h>

namespace apisix::router {
namespace {

RouteSpec spec(uint32_t payload, std::vector<std::string> uris, std::vector<std::string> hosts = {},
               int priority = 0, uint32_t methods = 0) {
  RouteSpec s;
  s.payload = payload;
  s.uris = std::move(uris);
  s.hosts = std::move(hosts);
  s.priority = priority;
  s.method_mask = methods;
  return s;
}

int64_t match(const RouteTable& t, std::string_view path, std::string_view host = "",
              std::string_view method = "GET") {
  return t.match({path, host, method});
}

// core.md §5.3: exact patterns match only themselves; `*` at the end is a prefix.
TEST(RouteTable, ExactAndPrefixPatterns) {
  RouteTable t(Mode::HostUri, {spec(1, {"/hello"}), spec(2, {"/a/*"}), spec(3, {"/b*"})});
  EXPECT_EQ(match(t, "/hello"), 1);
  EXPECT_EQ(match(t, "/hello/x"), RouteTable::kNoMatch);
  EXPECT_EQ(match(t, "/a/x/y"), 2);
  EXPECT_EQ(match(t, "/a"), RouteTable::kNoMatch);  // `/a/*` does not match `/a`
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
  EXPECT_EQ(match(t, "/x", "other"), RouteTable::kNoMatch);
}

TEST(RouteTable, DisabledRoutesNeverMatch) {
  RouteSpec s = spec(1, {"/*"});
  s.matchable = false;
  RouteTable t(Mode::HostUri, {s});
  EXPECT_EQ(match(t, "/x"), RouteTable::kNoMatch);
}

TEST(RouteTable, StarInTheMiddleMatchesAcrossSlashes) {
  RouteTable t(Mode::HostUri, {spec(1, {"/a/*/c"})});
  EXPECT_EQ(match(t, "/a/b/c"), 1);
  EXPECT_EQ(match(t, "/a/b/x/c"), 1);
  EXPECT_EQ(match(t, "/a/b/d"), RouteTable::kNoMatch);
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

}  // namespace
}  // namespace apisix::router
