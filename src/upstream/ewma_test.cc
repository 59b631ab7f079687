#include "upstream/ewma.h"

#include <cmath>
#include <map>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace apisix::upstream {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// An injected clock: any fixed point works, the stats only use differences.
const EwmaClock::time_point kT0 = EwmaClock::time_point(std::chrono::hours(1000));

Ewma make(EwmaStatsRegistry& registry, int n) {
  std::vector<uint32_t> nodes;
  std::vector<std::shared_ptr<EwmaNodeStats>> stats;
  for (int i = 0; i < n; ++i) {
    nodes.push_back(static_cast<uint32_t>(i));
    stats.push_back(registry.get("10.0.0." + std::to_string(i + 1) + ":80"));
  }
  return Ewma(nodes, std::move(stats));
}

// core.md §7.5: ewma <- ewma * e^(-dt/10) + rtt * (1 - e^(-dt/10)); decayed toward 0 when
// read; forgotten after 60 s idle.
TEST(EwmaNodeStats, DecaysAndExpiresAsApisix) {
  EwmaNodeStats stats;
  EXPECT_EQ(stats.score(kT0), 0.0);  // never reported
  stats.update(milliseconds(100), kT0);
  EXPECT_DOUBLE_EQ(stats.score(kT0), 0.1);
  EXPECT_NEAR(stats.score(kT0 + seconds(10)), 0.1 * std::exp(-1.0), 1e-12);
  EXPECT_NEAR(stats.score(kT0 + seconds(60)), 0.1 * std::exp(-6.0), 1e-12);
  EXPECT_EQ(stats.score(kT0 + seconds(61)), 0.0);

  stats.update(milliseconds(200), kT0 + seconds(10));
  double w = std::exp(-1.0);
  EXPECT_NEAR(stats.score(kT0 + seconds(10)), 0.1 * w + 0.2 * (1 - w), 1e-12);

  // An update in the same instant does not move the average (weight 1), as with ngx.now().
  double before = stats.score(kT0 + seconds(10));
  stats.update(milliseconds(900), kT0 + seconds(10));
  EXPECT_DOUBLE_EQ(stats.score(kT0 + seconds(10)), before);

  // After expiry the next report starts over.
  stats.update(milliseconds(50), kT0 + seconds(100));
  EXPECT_DOUBLE_EQ(stats.score(kT0 + seconds(100)), 0.05);
}

TEST(Ewma, PrefersTheFasterNode) {
  EwmaStatsRegistry registry;
  Ewma ewma = make(registry, 2);
  ASSERT_TRUE(ewma.report(0, milliseconds(10), kT0));
  ASSERT_TRUE(ewma.report(1, milliseconds(200), kT0));
  EwmaRandom random(42);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(ewma.pick(random, kT0 + milliseconds(i), TriedSet{}), 0);
  }
}

// Power of two choices: the slowest of four nodes can win against nobody, the others share
// the traffic by rank (fastest wins every pair it is in: 3/6 of the picks, then 2/6, 1/6).
TEST(Ewma, TwoChoicesShareByRank) {
  EwmaStatsRegistry registry;
  Ewma ewma = make(registry, 4);
  const int rtt_ms[] = {10, 20, 30, 400};
  for (uint32_t n = 0; n < 4; ++n) {
    ewma.report(n, milliseconds(rtt_ms[n]), kT0);
  }
  EwmaRandom random(7);
  std::map<int64_t, int> hits;
  const int picks = 60000;
  for (int i = 0; i < picks; ++i) {
    hits[ewma.pick(random, kT0, TriedSet{})]++;
  }
  EXPECT_EQ(hits[3], 0);
  EXPECT_NEAR(hits[0], picks * 3 / 6, picks * 0.02);
  EXPECT_NEAR(hits[1], picks * 2 / 6, picks * 0.02);
  EXPECT_NEAR(hits[2], picks * 1 / 6, picks * 0.02);
}

TEST(Ewma, UnmeasuredAndExpiredNodesAttractTraffic) {
  EwmaStatsRegistry registry;
  Ewma ewma = make(registry, 2);
  ewma.report(0, milliseconds(10), kT0);
  EwmaRandom random(1);
  EXPECT_EQ(ewma.pick(random, kT0, TriedSet{}), 1);  // node 1 scores 0
  ewma.report(1, milliseconds(500), kT0);
  EXPECT_EQ(ewma.pick(random, kT0 + seconds(1), TriedSet{}), 0);
  // Node 0 idle past the expiry while node 1 keeps reporting: node 0 is tried again.
  ewma.report(1, milliseconds(500), kT0 + seconds(59));
  EXPECT_EQ(ewma.pick(random, kT0 + seconds(70), TriedSet{}), 0);
  ewma.report(1, milliseconds(500), kT0 + seconds(70));
  ewma.report(0, milliseconds(900), kT0 + seconds(71));  // the fresh report counts in full
  EXPECT_EQ(ewma.pick(random, kT0 + seconds(71), TriedSet{}), 1);
}

TEST(Ewma, SkipsTriedNodesAndReportsExhaustion) {
  EwmaStatsRegistry registry;
  Ewma ewma = make(registry, 3);
  ewma.report(0, milliseconds(1), kT0);  // the best node, but tried
  ewma.report(1, milliseconds(50), kT0);
  ewma.report(2, milliseconds(90), kT0);
  EwmaRandom random(3);
  TriedSet tried;
  tried.add(0);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(ewma.pick(random, kT0, tried), 1);
  }
  tried.add(1);
  EXPECT_EQ(ewma.pick(random, kT0, tried), 2);  // the last candidate
  tried.add(2);
  EXPECT_EQ(ewma.pick(random, kT0, tried), -1);
  EXPECT_FALSE(ewma.report(9, milliseconds(1), kT0));
}

TEST(Ewma, SameSeedSameChoices) {
  EwmaStatsRegistry registry;
  Ewma ewma = make(registry, 8);
  auto run = [&](uint64_t seed) {
    EwmaRandom random(seed);
    std::vector<int64_t> out;
    for (int i = 0; i < 64; ++i) {
      out.push_back(ewma.pick(random, kT0, TriedSet{}));
    }
    return out;
  };
  EXPECT_EQ(run(5), run(5));
  EXPECT_NE(run(5), run(6));
}

// Stats are per address in the registry: a rebuilt balancer keeps what was measured.
TEST(Ewma, StatsSurviveRebuildThroughTheRegistry) {
  EwmaStatsRegistry registry;
  auto old_ewma = std::make_unique<Ewma>(make(registry, 2));
  old_ewma->report(1, milliseconds(300), kT0);
  Ewma rebuilt = make(registry, 2);
  old_ewma.reset();
  EXPECT_DOUBLE_EQ(rebuilt.score(1, kT0), 0.3);
}

// Reports from several workers at once keep the (average, time) pair consistent.
TEST(EwmaNodeStats, ConcurrentReportsStayConsistent) {
  EwmaNodeStats stats;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&stats] {
      for (int i = 0; i < 20000; ++i) {
        stats.update(milliseconds(100), kT0 + milliseconds(i));
        double s = stats.score(kT0 + milliseconds(i));
        ASSERT_GE(s, 0.0);
        ASSERT_LE(s, 0.1 + 1e-12);
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_NEAR(stats.score(kT0 + milliseconds(19999)), 0.1, 1e-9);
}

}  // namespace
}  // namespace apisix::upstream
