#include "upstream/least_conn.h"

#include <map>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace apisix::upstream {
namespace {

LeastConn make(LeastConnCounters& counters, const std::vector<int>& weights) {
  std::vector<uint32_t> nodes;
  std::vector<std::shared_ptr<NodeConnCount>> counts;
  for (size_t i = 0; i < weights.size(); ++i) {
    nodes.push_back(static_cast<uint32_t>(i));
    counts.push_back(counters.get("10.0.0." + std::to_string(i + 1) + ":80"));
  }
  return LeastConn(nodes, weights, std::move(counts));
}

// core.md §7.5: score (1 + in-flight) / weight. Held connections end up in proportion to the
// weights: with all picks held, (active + 1) / weight stays level across nodes.
TEST(LeastConn, HeldConnectionsFollowWeights) {
  struct Case {
    std::vector<int> weights;
    int picks;
    std::vector<int64_t> expected;
  };
  const Case cases[] = {
      {{1, 1, 1}, 9, {3, 3, 3}},
      {{1, 2}, 29, {9, 20}},  // (9+1)/1 = 10, (20+1)/2 = 10.5: next goes to node 0
      {{1, 3, 6}, 50, {4, 15, 31}},
  };
  for (const Case& c : cases) {
    LeastConnCounters counters;
    LeastConn lc = make(counters, c.weights);
    LeastConnCursor cursor;
    for (int i = 0; i < c.picks; ++i) {
      ASSERT_GE(lc.pick(cursor, TriedSet{}), 0);
    }
    for (size_t n = 0; n < c.weights.size(); ++n) {
      EXPECT_NEAR(lc.active(static_cast<uint32_t>(n)), c.expected[n], 1) << "node " << n;
    }
  }
}

TEST(LeastConn, SteersAwayFromBusyNodeAndReleasesBack) {
  LeastConnCounters counters;
  LeastConn lc = make(counters, {1, 1, 1});
  LeastConnCursor cursor;
  TriedSet only_zero;
  only_zero.add(1);
  only_zero.add(2);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(lc.pick(cursor, only_zero), 0);
  }
  EXPECT_EQ(lc.active(0), 3);
  // Pick and release one at a time: node 0 (3 held) is never chosen.
  std::map<int64_t, int> hits;
  for (int i = 0; i < 100; ++i) {
    int64_t node = lc.pick(cursor, TriedSet{});
    hits[node]++;
    ASSERT_TRUE(lc.release(static_cast<uint32_t>(node)));
  }
  EXPECT_EQ(hits[0], 0);
  EXPECT_EQ(hits[1], 50);  // equal idle nodes take turns
  EXPECT_EQ(hits[2], 50);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(lc.release(0));
  }
  EXPECT_EQ(lc.active(0), 0);
}

TEST(LeastConn, ReleaseWithoutPickIsRefusedAndNeverGoesNegative) {
  LeastConnCounters counters;
  LeastConn lc = make(counters, {1, 1});
  EXPECT_FALSE(lc.release(0));
  EXPECT_FALSE(lc.release(7));  // not a node of this balancer
  EXPECT_EQ(lc.active(0), 0);
}

TEST(LeastConn, ZeroWeightOnlyWhenNothingElse) {
  LeastConnCounters counters;
  LeastConn lc = make(counters, {0, 1});
  LeastConnCursor cursor;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(lc.pick(cursor, TriedSet{}), 1);  // held: node 1's score grows, still < infinity
  }
  TriedSet tried;
  tried.add(1);
  EXPECT_EQ(lc.pick(cursor, tried), 0);
  tried.add(0);
  EXPECT_EQ(lc.pick(cursor, tried), -1);
}

// Counts live per address in the registry: a rebuilt balancer (new snapshot) sees the
// connections of the old one, and releases through the old one reach the new one.
TEST(LeastConn, CountsSurviveRebuildThroughTheRegistry) {
  LeastConnCounters counters;
  auto old_lc = std::make_unique<LeastConn>(make(counters, {1, 1}));
  LeastConnCursor cursor;
  TriedSet only_one;
  only_one.add(0);
  ASSERT_EQ(old_lc->pick(cursor, only_one), 1);
  ASSERT_EQ(old_lc->pick(cursor, only_one), 1);

  // Scaled out: a third node appears, node order changes.
  std::vector<uint32_t> nodes = {0, 1, 2};
  std::vector<int> weights = {1, 1, 1};
  std::vector<std::shared_ptr<NodeConnCount>> counts = {
      counters.get("10.0.0.3:80"), counters.get("10.0.0.2:80"), counters.get("10.0.0.1:80")};
  LeastConn rebuilt(nodes, weights, std::move(counts));
  EXPECT_EQ(rebuilt.active(1), 2);  // 10.0.0.2 held by requests routed on the old balancer
  EXPECT_TRUE(old_lc->release(1));  // an old in-flight request ends
  EXPECT_EQ(rebuilt.active(1), 1);
  EXPECT_TRUE(old_lc->release(1));
  old_lc.reset();
  EXPECT_EQ(counters.size_for_test(), 3u);
  EXPECT_EQ(rebuilt.active(1), 0);
}

TEST(LeastConn, RegistryForgetsCountsNobodyHolds) {
  LeastConnCounters counters;
  {
    LeastConn lc = make(counters, {1, 1});
    LeastConnCursor cursor;
    (void)lc.pick(cursor, TriedSet{});
  }
  EXPECT_EQ(counters.size_for_test(), 0u);
  EXPECT_EQ(counters.get("10.0.0.1:80")->active.load(), 0);
}

// Several workers pick and release concurrently; one node's connections are held throughout.
// The counts are exact at the end, and the busy node is never chosen.
TEST(LeastConn, CountsAcrossThreads) {
  LeastConnCounters counters;
  LeastConn lc = make(counters, {1, 1, 1, 1});
  LeastConnCursor main_cursor;
  TriedSet only_zero;
  only_zero.add(1);
  only_zero.add(2);
  only_zero.add(3);
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(lc.pick(main_cursor, only_zero), 0);
  }
  constexpr int kThreads = 4;
  constexpr int kRounds = 20000;
  std::vector<int> picked_busy(kThreads, 0);
  std::vector<int> failed_release(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      LeastConnCursor cursor;
      for (int i = 0; i < kRounds; ++i) {
        int64_t a = lc.pick(cursor, TriedSet{});
        int64_t b = lc.pick(cursor, TriedSet{});  // two in flight per thread at most
        picked_busy[t] += (a == 0) + (b == 0);
        failed_release[t] += !lc.release(static_cast<uint32_t>(a));
        failed_release[t] += !lc.release(static_cast<uint32_t>(b));
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(picked_busy[t], 0);
    EXPECT_EQ(failed_release[t], 0);
  }
  EXPECT_EQ(lc.active(0), 50);
  for (uint32_t n = 1; n < 4; ++n) {
    EXPECT_EQ(lc.active(n), 0);
  }
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(lc.release(0));
  }
  EXPECT_EQ(lc.active(0), 0);
}

}  // namespace
}  // namespace apisix::upstream
