#include "upstream/chash.h"

#include <map>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace apisix::upstream {
namespace {

// A ring over `addresses` (node i = addresses[i]) with the given weights.
ChashRing make_ring(const std::vector<std::string>& addresses, const std::vector<int>& weights) {
  std::vector<uint32_t> nodes(addresses.size());
  std::iota(nodes.begin(), nodes.end(), 0u);
  std::vector<std::string_view> views(addresses.begin(), addresses.end());
  return ChashRing(nodes, views, weights);
}

std::vector<std::string> addresses(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back("10.0.0." + std::to_string(i + 1) + ":80");
  }
  return out;
}

std::string key(int i) { return "client-" + std::to_string(i); }

// For each of `keys` keys, the address of the node it lands on.
std::vector<std::string> owners(const ChashRing& ring, const std::vector<std::string>& addrs,
                                int keys) {
  std::vector<std::string> out;
  for (int i = 0; i < keys; ++i) {
    int64_t node = ring.pick(ChashRing::hash_key(key(i)), TriedSet{});
    out.push_back(node < 0 ? std::string() : addrs[static_cast<size_t>(node)]);
  }
  return out;
}

TEST(Crc32, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32("123456789"), 0xcbf43926u);
  Crc32 pieces;
  pieces.update("1234");
  pieces.update("56789");
  EXPECT_EQ(pieces.value(), 0xcbf43926u);
}

// core.md §7.5: 160 points per weight unit, weights divided by their GCD.
TEST(ChashRing, PointsFollowGcdReducedWeights) {
  EXPECT_EQ(make_ring(addresses(3), {4, 2, 6}).point_count(), (2u + 1 + 3) * 160);
  EXPECT_EQ(make_ring(addresses(2), {0, 5}).point_count(), 160u);
  // All weights 0: every node counts as weight 1.
  EXPECT_EQ(make_ring(addresses(2), {0, 0}).point_count(), 320u);
}

TEST(ChashRing, HugeWeightsAreScaledDownButEveryNodeKeepsAPoint) {
  auto addrs = addresses(2);
  ChashRing ring = make_ring(addrs, {1000000, 1});
  EXPECT_LE(ring.point_count(), ChashRing::kMaxPoints + 2);
  TriedSet tried;
  tried.add(0);
  EXPECT_EQ(ring.pick(ChashRing::hash_key("x"), tried), 1);
}

TEST(ChashRing, SameKeySameNodeAndIndependentOfNodeOrder) {
  auto addrs = addresses(5);
  ChashRing ring = make_ring(addrs, {1, 2, 3, 1, 1});
  auto reversed = addrs;
  std::reverse(reversed.begin(), reversed.end());
  ChashRing other = make_ring(reversed, {1, 1, 3, 2, 1});
  auto first = owners(ring, addrs, 2000);
  EXPECT_EQ(first, owners(ring, addrs, 2000));
  EXPECT_EQ(first, owners(other, reversed, 2000));
}

// core.md §7.5: each node receives keys in proportion to its weight (within tolerance).
TEST(ChashRing, DistributesKeysByWeight) {
  const std::vector<std::vector<int>> cases = {
      {1, 1, 1, 1}, {1, 2, 3}, {5, 1}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}};
  for (const auto& weights : cases) {
    auto addrs = addresses(static_cast<int>(weights.size()));
    ChashRing ring = make_ring(addrs, weights);
    std::map<std::string, int> hits;
    const int keys = 40000;
    for (const std::string& owner : owners(ring, addrs, keys)) {
      hits[owner]++;
    }
    int total_weight = std::accumulate(weights.begin(), weights.end(), 0);
    for (size_t i = 0; i < weights.size(); ++i) {
      double expected = static_cast<double>(keys) * weights[i] / total_weight;
      EXPECT_NEAR(hits[addrs[i]], expected, expected * 0.2)
          << "node " << i << " of weight set of size " << weights.size();
    }
  }
}

// Removing one node of N moves only the keys it owned (~1/N of them); adding one moves only
// the keys it now owns (~1/(N+1)).
TEST(ChashRing, RemovingOrAddingOneNodeMovesOnlyItsShare) {
  const int n = 10;
  const int keys = 10000;
  auto addrs = addresses(n);
  auto before = owners(make_ring(addrs, std::vector<int>(n, 1)), addrs, keys);

  auto fewer = addrs;
  fewer.erase(fewer.begin() + 3);
  auto after_remove = owners(make_ring(fewer, std::vector<int>(n - 1, 1)), fewer, keys);
  int moved = 0;
  for (int i = 0; i < keys; ++i) {
    if (before[i] != after_remove[i]) {
      ++moved;
      EXPECT_EQ(before[i], addrs[3]) << "key " << i << " moved but was not on the removed node";
    }
  }
  EXPECT_GT(moved, keys / n / 2);
  EXPECT_LT(moved, keys / n * 3 / 2);

  auto more = addrs;
  more.push_back("10.0.1.1:80");
  auto after_add = owners(make_ring(more, std::vector<int>(n + 1, 1)), more, keys);
  moved = 0;
  for (int i = 0; i < keys; ++i) {
    if (before[i] != after_add[i]) {
      ++moved;
      EXPECT_EQ(after_add[i], "10.0.1.1:80");
    }
  }
  EXPECT_GT(moved, keys / (n + 1) / 2);
  EXPECT_LT(moved, keys / (n + 1) * 3 / 2);
}

TEST(ChashRing, RetryWalksToDistinctNodesThenFails) {
  auto addrs = addresses(6);
  ChashRing ring = make_ring(addrs, {1, 1, 2, 1, 1, 3});
  for (int k = 0; k < 50; ++k) {
    uint32_t hash = ChashRing::hash_key(key(k));
    TriedSet tried;
    int64_t first = ring.pick(hash, tried);
    for (size_t i = 0; i < addrs.size(); ++i) {
      int64_t node = ring.pick(hash, tried);
      ASSERT_GE(node, 0);
      EXPECT_FALSE(tried.contains(static_cast<uint32_t>(node)));
      if (i == 0) {
        EXPECT_EQ(node, first);  // the first try is the key's own node
      }
      tried.add(static_cast<uint32_t>(node));
    }
    EXPECT_EQ(ring.pick(hash, tried), -1);
  }
}

TEST(ChashRing, ZeroWeightNodeNeverOwnsAKey) {
  auto addrs = addresses(3);
  ChashRing ring = make_ring(addrs, {1, 0, 1});
  for (const std::string& owner : owners(ring, addrs, 3000)) {
    EXPECT_NE(owner, addrs[1]);
  }
  TriedSet tried;
  tried.add(0);
  tried.add(2);
  EXPECT_EQ(ring.pick(1, tried), -1);  // not on the ring at all
}

TEST(ChashRing, EmptyRingPicksNothing) {
  ChashRing ring;
  EXPECT_EQ(ring.pick(123, TriedSet{}), -1);
}

// ---- ChashKey (core.md §4.4 hash_on / key) ----

using Vars = std::map<std::string, std::string, std::less<>>;

auto lookup_in(const Vars& vars) {
  return [&vars](std::string_view name) -> std::optional<std::string_view> {
    auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return std::string_view(it->second);
  };
}

TEST(ChashKey, ParseAcceptsAndRejectsAsApisix) {
  struct Case {
    std::string_view hash_on;
    std::optional<std::string_view> key;
    std::string_view error;  // empty: accepted
  };
  const Case cases[] = {
      {"", "remote_addr", ""},
      {"vars", "arg_user-id", ""},
      {"vars", "uri", ""},
      {"vars", "http_x", "invalid configuration: failed to match pattern"},
      {"vars", "arg_", "invalid configuration: failed to match pattern"},
      {"header", "X-User_1", ""},
      {"header", "x user", "invalid configuration: failed to match pattern"},
      {"cookie", "sid", ""},
      {"consumer", std::nullopt, ""},
      {"vars_combinations", "$remote_addr$http_x", ""},
      {"vars_combinations", "anything goes", ""},
      {"vars", std::nullopt, "missing key"},
      {"header", std::nullopt, "missing key"},
      {"body", "x", "type is chash, err: invalid hash_on type body"},
  };
  for (const Case& c : cases) {
    Result<ChashKey> parsed = ChashKey::parse(c.hash_on, c.key);
    if (c.error.empty()) {
      EXPECT_TRUE(parsed.ok()) << c.hash_on << " " << c.key.value_or("<none>") << ": "
                               << parsed.error().context;
    } else {
      ASSERT_FALSE(parsed.ok()) << c.hash_on << " " << c.key.value_or("<none>");
      EXPECT_EQ(parsed.error().context.substr(0, c.error.size()), c.error);
    }
  }
}

TEST(ChashKey, DefaultIsRemoteAddr) {
  Vars vars = {{"remote_addr", "1.2.3.4"}};
  ChashKey key;
  EXPECT_EQ(key.hash_on(), HashOn::Vars);
  EXPECT_EQ(key.key(lookup_in(vars)), "1.2.3.4");
  EXPECT_EQ(key.hash(lookup_in(vars)), crc32("1.2.3.4"));
}

TEST(ChashKey, ReadsTheVariableOfItsHashOn) {
  Vars vars = {{"remote_addr", "1.2.3.4"},  {"arg_a", "7"},
               {"http_x_user_id", "alice"}, {"cookie_SID", "abc"},
               {"consumer_name", "jack"},   {"uri", "/p"}};
  struct Case {
    std::string_view hash_on;
    std::optional<std::string_view> key;
    std::string_view expected;
  };
  const Case cases[] = {
      {"vars", "arg_a", "7"},
      {"vars", "uri", "/p"},
      {"header", "X-User-Id", "alice"},  // as ctx.var: lower case, '-' -> '_'
      {"cookie", "SID", "abc"},
      {"consumer", std::nullopt, "jack"},
      // Fallbacks to remote_addr when the value is absent.
      {"vars", "arg_missing", "1.2.3.4"},
      {"header", "X-Other", "1.2.3.4"},
      {"cookie", "sid", "1.2.3.4"},  // cookie names are case-sensitive
  };
  for (const Case& c : cases) {
    Result<ChashKey> key = ChashKey::parse(c.hash_on, c.key);
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(key->key(lookup_in(vars)), c.expected) << c.hash_on << " " << c.key.value_or("");
    EXPECT_EQ(key->hash(lookup_in(vars)), crc32(c.expected));
  }
  Vars no_consumer = {{"remote_addr", "9.9.9.9"}};
  EXPECT_EQ(ChashKey::parse("consumer", std::nullopt)->key(lookup_in(no_consumer)), "9.9.9.9");
}

TEST(ChashKey, EmptyValueIsStillAKey) {
  Vars vars = {{"remote_addr", "1.2.3.4"}, {"arg_a", ""}};
  EXPECT_EQ(ChashKey::parse("vars", "arg_a")->key(lookup_in(vars)), "");
}

TEST(ChashKey, VarsCombinationsExpandsTemplates) {
  Vars vars = {{"remote_addr", "1.2.3.4"}, {"http_x", "X"}, {"uri", "/a"}, {"arg_k.v", "d"}};
  struct Case {
    std::string_view tpl;
    std::string_view expected;
  };
  const Case cases[] = {
      {"$remote_addr$http_x", "1.2.3.4X"},
      {"$uri-$http_x", "/a-X"},
      {"${uri}x", "/ax"},
      {"${ uri }", "/a"},
      {"$arg_k.v", "d"},
      {"$uri$missing", "/a"},                  // a missing variable expands to ""
      {"${missing ?? dflt}-$uri", "dflt-/a"},  // default value
      {"\\$uri:$uri", "\\$uri:/a"},            // an escaped '$' stays literal
      {"$ and ${}$uri", "$ and ${}/a"},        // not variable references
      // Nothing resolved: remote_addr instead, as APISIX's chash.lua.
      {"$missing$other", "1.2.3.4"},
      {"no variables", "1.2.3.4"},
      {"${missing ?? d}", "d"},  // a default counts as resolved
  };
  for (const Case& c : cases) {
    Result<ChashKey> key = ChashKey::parse("vars_combinations", c.tpl);
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(key->key(lookup_in(vars)), c.expected) << c.tpl;
    EXPECT_EQ(key->hash(lookup_in(vars)), crc32(c.expected)) << c.tpl;
  }
}

}  // namespace
}  // namespace apisix::upstream
