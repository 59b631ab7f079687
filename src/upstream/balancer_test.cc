#include "upstream/balancer.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace apisix::upstream {
namespace {

using std::chrono::milliseconds;

const EwmaClock::time_point kT0 = EwmaClock::time_point(std::chrono::hours(1000));
constexpr BalancerType kAllTypes[] = {BalancerType::RoundRobin, BalancerType::Chash,
                                      BalancerType::LeastConn, BalancerType::Ewma};

struct NodeSpec {
  int weight;
  int priority;
};

// Owns the addresses the BalancerNodes point at.
struct Fixture {
  std::vector<std::string> addresses;
  Balancer balancer;
};

std::unique_ptr<Fixture> build(BalancerType type, const std::vector<NodeSpec>& specs,
                               uint32_t workers = 1) {
  auto f = std::make_unique<Fixture>();
  std::vector<BalancerNode> nodes;
  for (size_t i = 0; i < specs.size(); ++i) {
    f->addresses.push_back("10.0.0." + std::to_string(i + 1) + ":80");
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    nodes.push_back({f->addresses[i], specs[i].weight, specs[i].priority});
  }
  BalancerOptions options;
  options.type = type;
  options.worker_count = workers;
  options.seed = 99;
  f->balancer = Balancer(nodes, std::move(options));
  return f;
}

// One complete request: pick, then end the try (release) so least_conn stays level.
int64_t pick_once(const Balancer& b, const TriedSet& tried, const PickInput& input = {},
                  uint32_t worker = 0) {
  int64_t node = b.pick(worker, tried, input);
  if (node >= 0) {
    EXPECT_TRUE(b.release(static_cast<uint32_t>(node)));
  }
  return node;
}

PickInput with_hash(uint32_t hash, HealthMask health = {}) {
  PickInput input;
  input.health = health;
  input.key_hash = hash;
  input.now = kT0;
  return input;
}

TEST(BalancerType, ParsesApisixNames) {
  EXPECT_EQ(parse_balancer_type("roundrobin"), BalancerType::RoundRobin);
  EXPECT_EQ(parse_balancer_type("chash"), BalancerType::Chash);
  EXPECT_EQ(parse_balancer_type("least_conn"), BalancerType::LeastConn);
  EXPECT_EQ(parse_balancer_type("ewma"), BalancerType::Ewma);
  EXPECT_EQ(parse_balancer_type("RoundRobin"), std::nullopt);
  EXPECT_EQ(parse_balancer_type("random"), std::nullopt);
  for (BalancerType type : kAllTypes) {
    EXPECT_EQ(parse_balancer_type(balancer_type_name(type)), type);
  }
}

// core.md §7.5 priority groups: the lower group only once every node above has been tried.
TEST(Balancer, PriorityFallbackForEveryType) {
  for (BalancerType type : kAllTypes) {
    SCOPED_TRACE(balancer_type_name(type));
    auto f = build(type, {{1, 0}, {1, 5}, {1, -1}, {1, 5}});
    const Balancer& b = f->balancer;
    EXPECT_EQ(b.group_count(), 3u);
    for (uint32_t k = 0; k < 40; ++k) {
      int64_t node = pick_once(b, TriedSet{}, with_hash(k * 0x9e3779b9u));
      EXPECT_TRUE(node == 1 || node == 3) << node;
    }
    TriedSet tried;
    std::vector<int64_t> order;
    for (int i = 0; i < 4; ++i) {
      int64_t node = pick_once(b, tried, with_hash(12345));
      ASSERT_GE(node, 0);
      order.push_back(node);
      tried.add(static_cast<uint32_t>(node));
    }
    EXPECT_EQ(std::set<int64_t>(order.begin(), order.begin() + 2), (std::set<int64_t>{1, 3}));
    EXPECT_EQ(order[2], 0);
    EXPECT_EQ(order[3], 2);
    EXPECT_EQ(pick_once(b, tried, with_hash(12345)), -1);
  }
}

// core.md §7.5/§7.7: unhealthy nodes are skipped (a group whose nodes are all unhealthy is
// passed over); when no node of the upstream is healthy, all are used.
TEST(Balancer, HealthFilteringForEveryType) {
  for (BalancerType type : kAllTypes) {
    SCOPED_TRACE(balancer_type_name(type));
    auto f = build(type, {{1, 1}, {1, 1}, {1, 0}, {1, 0}});
    const Balancer& b = f->balancer;

    uint64_t one_down = 0b1101;  // node 1 unhealthy
    for (uint32_t k = 0; k < 40; ++k) {
      EXPECT_EQ(pick_once(b, TriedSet{}, with_hash(k * 0x9e3779b9u, HealthMask({&one_down, 1}))),
                0);
    }
    uint64_t top_down = 0b1100;  // the whole high group unhealthy: the low group serves
    std::set<int64_t> seen;
    for (uint32_t k = 0; k < 40; ++k) {
      seen.insert(pick_once(b, TriedSet{}, with_hash(k * 0x9e3779b9u, HealthMask({&top_down, 1}))));
    }
    EXPECT_EQ(seen, (std::set<int64_t>{2, 3}));

    uint64_t all_down = 0;  // nobody healthy: as if there were no checker
    seen.clear();
    TriedSet tried;
    for (int i = 0; i < 4; ++i) {
      int64_t node = pick_once(b, tried, with_hash(777, HealthMask({&all_down, 1})));
      ASSERT_GE(node, 0);
      seen.insert(node);
      if (i == 1) {
        EXPECT_EQ(seen, (std::set<int64_t>{0, 1}));  // highest group first, as usual
      }
      tried.add(static_cast<uint32_t>(node));
    }
    EXPECT_EQ(seen.size(), 4u);

    // A healthy node that was tried does not bring back the unhealthy one.
    TriedSet tried_zero;
    tried_zero.add(0);
    uint64_t zero_only_high = 0b1101;
    int64_t node = pick_once(b, tried_zero, with_hash(5, HealthMask({&zero_only_high, 1})));
    EXPECT_TRUE(node == 2 || node == 3) << node;
  }
}

// APISIX's single-node fast path (core.md §7.5, §7.6): the node, tried or unhealthy.
TEST(Balancer, SingleNodeIsAlwaysReturned) {
  for (BalancerType type : kAllTypes) {
    SCOPED_TRACE(balancer_type_name(type));
    auto f = build(type, {{1, 0}});
    TriedSet tried;
    tried.add(0);
    uint64_t down = 0;
    PickInput input = with_hash(1, HealthMask({&down, 1}));
    EXPECT_EQ(f->balancer.pick(0, tried, input), 0);
    if (type == BalancerType::LeastConn) {
      EXPECT_EQ(f->balancer.active_for_test(0), 1);  // still counted
      EXPECT_TRUE(f->balancer.release(0));
      EXPECT_EQ(f->balancer.active_for_test(0), 0);
    }
  }
}

TEST(Balancer, EmptyUpstreamPicksNothing) {
  for (BalancerType type : kAllTypes) {
    auto f = build(type, {});
    EXPECT_EQ(f->balancer.pick(0, TriedSet{}, {}), -1);
  }
}

// Traffic in proportion to weight (core.md §7.5) for the weighted types; ewma ignores
// weights as APISIX does.
TEST(Balancer, DistributionByWeight) {
  struct Case {
    BalancerType type;
    std::vector<int> weights;
    double tolerance;  // relative
  };
  const Case cases[] = {
      {BalancerType::RoundRobin, {5, 1, 1}, 0.0},
      {BalancerType::RoundRobin, {1, 2, 3, 4}, 0.0},
      {BalancerType::Chash, {5, 1, 1}, 0.2},
      {BalancerType::Chash, {1, 2, 3, 4}, 0.2},
      // least_conn with each request ending before the next: ties rotate, weights only break
      // ties in favour of heavier nodes when connections are held (least_conn_test.cc).
      {BalancerType::LeastConn, {1, 1, 1}, 0.0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(balancer_type_name(c.type));
    std::vector<NodeSpec> specs;
    for (int w : c.weights) {
      specs.push_back({w, 0});
    }
    auto f = build(c.type, specs);
    int total_weight = 0;
    for (int w : c.weights) {
      total_weight += w;
    }
    const int picks = total_weight * 3000;
    std::map<int64_t, int> hits;
    for (int i = 0; i < picks; ++i) {
      hits[pick_once(f->balancer, TriedSet{},
                     with_hash(ChashRing::hash_key("k" + std::to_string(i))))]++;
    }
    for (size_t n = 0; n < c.weights.size(); ++n) {
      double expected = static_cast<double>(picks) * c.weights[n] / total_weight;
      EXPECT_NEAR(hits[static_cast<int64_t>(n)], expected, expected * c.tolerance + 0.5)
          << "node " << n;
    }
  }
}

TEST(Balancer, WeightZeroHandling) {
  // roundrobin, chash, least_conn: a weight-0 node only when nothing else is left.
  for (BalancerType type :
       {BalancerType::RoundRobin, BalancerType::Chash, BalancerType::LeastConn}) {
    SCOPED_TRACE(balancer_type_name(type));
    auto f = build(type, {{0, 0}, {2, 0}, {1, 0}});
    for (uint32_t k = 0; k < 200; ++k) {
      EXPECT_NE(pick_once(f->balancer, TriedSet{}, with_hash(k * 0x9e3779b9u)), 0);
    }
    TriedSet tried;
    tried.add(1);
    tried.add(2);
    // chash keeps weight-0 nodes off the ring (as APISIX), so nothing is left for it.
    EXPECT_EQ(pick_once(f->balancer, tried, with_hash(3)), type == BalancerType::Chash ? -1 : 0);
  }
  // ewma ignores weights entirely (core.md §7.5).
  auto f = build(BalancerType::Ewma, {{0, 0}, {5, 0}});
  std::set<int64_t> seen;
  for (int i = 0; i < 50; ++i) {
    seen.insert(pick_once(f->balancer, TriedSet{}, with_hash(0)));
  }
  EXPECT_EQ(seen, (std::set<int64_t>{0, 1}));
}

// chash through the front: same key, same node; an unhealthy landing walks on along the ring
// exactly as a retry after trying that node would.
TEST(Balancer, ChashKeyAndHealthWalk) {
  auto f = build(BalancerType::Chash, {{1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}});
  const Balancer& b = f->balancer;
  for (int k = 0; k < 100; ++k) {
    uint32_t hash = ChashRing::hash_key("user-" + std::to_string(k));
    int64_t first = pick_once(b, TriedSet{}, with_hash(hash));
    EXPECT_EQ(pick_once(b, TriedSet{}, with_hash(hash)), first);
    uint64_t healthy = 0b11111 & ~(uint64_t{1} << first);
    TriedSet tried;
    tried.add(static_cast<uint32_t>(first));
    int64_t walked = pick_once(b, TriedSet{}, with_hash(hash, HealthMask({&healthy, 1})));
    EXPECT_NE(walked, first);
    EXPECT_EQ(walked, pick_once(b, tried, with_hash(hash)));
  }
  // The key comes from the request through the configured hash_on.
  Result<ChashKey> key = ChashKey::parse("header", "X-User");
  ASSERT_TRUE(key.ok());
  BalancerOptions options;
  options.type = BalancerType::Chash;
  options.chash_key = *key;
  std::vector<BalancerNode> nodes = {{"a:1", 1, 0}, {"b:1", 1, 0}};
  Balancer with_key(nodes, std::move(options));
  auto lookup = [](std::string_view name) -> std::optional<std::string_view> {
    if (name == "http_x_user") {
      return "alice";
    }
    return std::nullopt;
  };
  EXPECT_EQ(with_key.chash_key().hash(lookup), crc32("alice"));
}

TEST(Balancer, EwmaPrefersFasterNodeWithInjectedClock) {
  auto f = build(BalancerType::Ewma, {{1, 0}, {1, 0}});
  const Balancer& b = f->balancer;
  b.report(0, milliseconds(300), kT0);
  b.report(1, milliseconds(20), kT0);
  PickInput input;
  input.now = kT0 + std::chrono::seconds(1);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(b.pick(0, TriedSet{}, input), 1);
  }
  // Node 1 slows down: after 30 s of slow responses its average passes node 0's decayed one.
  for (int s = 1; s <= 30; ++s) {
    b.report(1, milliseconds(2000), kT0 + std::chrono::seconds(s));
  }
  b.report(0, milliseconds(300), kT0 + std::chrono::seconds(30));
  input.now = kT0 + std::chrono::seconds(30);
  EXPECT_GT(b.ewma_score_for_test(1, input.now), b.ewma_score_for_test(0, input.now));
  EXPECT_EQ(b.pick(0, TriedSet{}, input), 0);
}

// The snapshot builder hands the registries of the previous balancer to the next one.
TEST(Balancer, StateCarriesAcrossRebuilds) {
  auto f = build(BalancerType::LeastConn, {{1, 0}, {1, 0}});
  TriedSet only_one;
  only_one.add(0);
  ASSERT_EQ(f->balancer.pick(0, only_one, {}), 1);  // held by an in-flight request

  std::vector<std::string> addresses = {"10.0.0.2:80", "10.0.0.1:80", "10.0.0.9:80"};
  std::vector<BalancerNode> nodes = {
      {addresses[0], 1, 0}, {addresses[1], 1, 0}, {addresses[2], 1, 0}};
  BalancerOptions options;
  options.type = BalancerType::LeastConn;
  options.least_conn_counters = f->balancer.least_conn_counters();
  Balancer rebuilt(nodes, std::move(options));
  EXPECT_EQ(rebuilt.active_for_test(0), 1);  // 10.0.0.2 is now node 0
  for (int i = 0; i < 20; ++i) {
    EXPECT_NE(pick_once(rebuilt, TriedSet{}), 0);
  }
  EXPECT_TRUE(f->balancer.release(1));  // the old request ends on the old snapshot
  EXPECT_EQ(rebuilt.active_for_test(0), 0);
  EXPECT_FALSE(rebuilt.release(0));

  auto e = build(BalancerType::Ewma, {{1, 0}});
  e->balancer.report(0, milliseconds(40), kT0);
  BalancerOptions ewma_options;
  ewma_options.type = BalancerType::Ewma;
  ewma_options.ewma_stats = e->balancer.ewma_stats();
  std::vector<BalancerNode> one = {{"10.0.0.1:80", 1, 0}, {"10.0.0.5:80", 1, 0}};
  Balancer ewma_rebuilt(one, std::move(ewma_options));
  EXPECT_DOUBLE_EQ(ewma_rebuilt.ewma_score_for_test(0, kT0), 0.04);
}

TEST(Balancer, HooksAreNoOpsForTypesWithoutState) {
  auto f = build(BalancerType::RoundRobin, {{1, 0}, {1, 0}});
  EXPECT_TRUE(f->balancer.release(0));
  f->balancer.report(0, milliseconds(5), kT0);
  EXPECT_EQ(f->balancer.least_conn_counters(), nullptr);
  EXPECT_EQ(f->balancer.ewma_stats(), nullptr);
}

// Each worker has its own round-robin position: two workers each see the full smooth cycle.
TEST(Balancer, PerWorkerRoundRobinState) {
  auto f = build(BalancerType::RoundRobin, {{5, 0}, {1, 0}, {1, 0}}, 2);
  std::vector<int64_t> w0;
  std::vector<int64_t> w1;
  for (int i = 0; i < 7; ++i) {
    w0.push_back(f->balancer.pick(0, TriedSet{}, {}));
    w1.push_back(f->balancer.pick(1, TriedSet{}, {}));
  }
  EXPECT_EQ(w0, (std::vector<int64_t>{0, 0, 1, 0, 2, 0, 0}));
  EXPECT_EQ(w1, w0);
  EXPECT_EQ(f->balancer.pick(2, TriedSet{}, {}), -1);  // no such worker
}

TEST(HealthMask, CountsOnlyTheUpstreamsNodes) {
  uint64_t words[2] = {0, uint64_t{1} << 6};  // node 70 healthy
  HealthMask health({words, 2});
  EXPECT_TRUE(health.any_healthy(71));
  EXPECT_FALSE(health.any_healthy(70));
  EXPECT_TRUE(health.is_healthy(70));
  EXPECT_FALSE(health.is_healthy(500));
  EXPECT_TRUE(HealthMask().is_healthy(500));
}

}  // namespace
}  // namespace apisix::upstream
