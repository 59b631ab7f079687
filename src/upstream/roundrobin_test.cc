#include "upstream/roundrobin.h"

#include <limits>
#include <map>

#include <gtest/gtest.h>

namespace apisix::upstream {
namespace {

// core.md §7.5: over a cycle each node receives traffic proportional to its weight.
TEST(RoundRobin, DistributesByWeight) {
  RoundRobin rr({0, 1, 2}, {5, 1, 1});
  RoundRobinState state;
  std::map<int64_t, int> hits;
  for (int i = 0; i < 700; ++i) {
    hits[rr.pick(state, TriedSet{})]++;
  }
  EXPECT_EQ(hits[0], 500);
  EXPECT_EQ(hits[1], 100);
  EXPECT_EQ(hits[2], 100);
}

TEST(RoundRobin, SmoothOrderSpreadsHeavyNode) {
  RoundRobin rr({0, 1, 2}, {5, 1, 1});
  RoundRobinState state;
  std::vector<int64_t> seq;
  for (int i = 0; i < 7; ++i) {
    seq.push_back(rr.pick(state, TriedSet{}));
  }
  EXPECT_EQ(seq, (std::vector<int64_t>{0, 0, 1, 0, 2, 0, 0}));
}

TEST(RoundRobin, SkipsTriedNodesAndReportsExhaustion) {
  RoundRobin rr({0, 1}, {1, 1});
  RoundRobinState state;
  TriedSet tried;
  int64_t first = rr.pick(state, tried);
  tried.add(static_cast<uint32_t>(first));
  int64_t second = rr.pick(state, tried);
  EXPECT_NE(first, second);
  tried.add(static_cast<uint32_t>(second));
  EXPECT_EQ(rr.pick(state, tried), -1);
}

TEST(RoundRobin, ZeroWeightOnlyWhenNothingElse) {
  RoundRobin rr({0, 1}, {0, 3});
  RoundRobinState state;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(rr.pick(state, TriedSet{}), 1);
  }
  TriedSet tried;
  tried.add(1);
  EXPECT_EQ(rr.pick(state, tried), 0);
}

// APISIX puts no upper bound on weights (core.md §4.4.1): the largest int weights, summed over
// many nodes, must neither overflow nor skew the rotation.
TEST(RoundRobin, LargestWeightsDoNotOverflow) {
  constexpr int kMax = std::numeric_limits<int>::max();
  std::vector<uint32_t> nodes;
  for (uint32_t i = 0; i < 100; ++i) {
    nodes.push_back(i);
  }
  RoundRobin rr(nodes, std::vector<int>(nodes.size(), kMax));
  RoundRobinState state;
  std::map<int64_t, int> hits;
  for (int i = 0; i < 1000; ++i) {
    hits[rr.pick(state, TriedSet{})]++;
  }
  ASSERT_EQ(hits.size(), 100u);
  for (const auto& [node, count] : hits) {
    EXPECT_EQ(count, 10) << node;
  }
}

}  // namespace
}  // namespace apisix::upstream
