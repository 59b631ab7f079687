#include "plugins/limit_count/local_counter.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace apisix::plugins::limit_count {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
  ClockFn fn() {
    return [this] { return now; };
  }
};

// t/plugin/limit-count.t: count 2 per 60 s -> 200, 200, 503, with X-RateLimit-Remaining
// 1 then 0, and 0 on the rejection.
TEST(LocalCounter, TwoPerMinuteAdmitsTwoThenRejects) {
  FakeClock clock;
  LocalCounter counter(clock.fn());
  auto first = counter.incoming("k", 2, seconds(60));
  EXPECT_FALSE(first.rejected);
  EXPECT_EQ(first.remaining, 1);
  EXPECT_EQ(first.reset, seconds(60));
  EXPECT_EQ(first.reset_seconds(), 60);

  clock.now += milliseconds(2570);
  auto second = counter.incoming("k", 2, seconds(60));
  EXPECT_FALSE(second.rejected);
  EXPECT_EQ(second.remaining, 0);
  EXPECT_EQ(second.reset, milliseconds(57430));
  EXPECT_DOUBLE_EQ(second.reset_seconds(), 57.43);

  clock.now += milliseconds(5);
  auto third = counter.incoming("k", 2, seconds(60));
  EXPECT_TRUE(third.rejected);
  EXPECT_EQ(third.remaining, 0);
  EXPECT_EQ(third.reset, milliseconds(57425));
  EXPECT_DOUBLE_EQ(third.reset_seconds(), 57.42);  // floored to hundredths
}

TEST(LocalCounter, KeysAreIndependent) {
  FakeClock clock;
  LocalCounter counter(clock.fn());
  EXPECT_FALSE(counter.incoming("a", 1, seconds(10)).rejected);
  EXPECT_TRUE(counter.incoming("a", 1, seconds(10)).rejected);
  EXPECT_FALSE(counter.incoming("b", 1, seconds(10)).rejected);
}

// The window starts at the first request (not aligned to the clock) and includes its last
// millisecond; the first request after it opens a fresh window with a fresh reset.
TEST(LocalCounter, WindowResetsAfterTimeWindow) {
  FakeClock clock;
  LocalCounter counter(clock.fn());
  clock.now += milliseconds(123);
  EXPECT_FALSE(counter.incoming("k", 1, seconds(2)).rejected);
  clock.now += milliseconds(2000);  // exactly at the end: still the same window
  auto at_end = counter.incoming("k", 1, seconds(2));
  EXPECT_TRUE(at_end.rejected);
  EXPECT_EQ(at_end.reset, milliseconds(0));

  clock.now += milliseconds(1);
  auto fresh = counter.incoming("k", 1, seconds(2));
  EXPECT_FALSE(fresh.rejected);
  EXPECT_EQ(fresh.remaining, 0);
  EXPECT_EQ(fresh.reset, seconds(2));
}

// Rejected requests still consume: the counter grows through the window and everything is
// rejected until the window ends, however many requests were turned away.
TEST(LocalCounter, RejectedRequestsStillConsume) {
  FakeClock clock;
  LocalCounter counter(clock.fn());
  EXPECT_FALSE(counter.incoming("k", 2, seconds(5)).rejected);
  EXPECT_FALSE(counter.incoming("k", 2, seconds(5)).rejected);
  for (int i = 0; i < 5; ++i) {
    clock.now += milliseconds(500);
    EXPECT_TRUE(counter.incoming("k", 2, seconds(5)).rejected);
  }
  // A peek sees consumed (7) > count.
  EXPECT_TRUE(counter.peek("k", 2, seconds(5)).rejected);
  clock.now += milliseconds(2501);
  EXPECT_FALSE(counter.incoming("k", 2, seconds(5)).rejected);
}

TEST(LocalCounter, CostsAndLimitsPerCall) {
  FakeClock clock;
  LocalCounter counter(clock.fn());
  auto r = counter.incoming("k", 10, seconds(60), 4);
  EXPECT_EQ(r.remaining, 6);
  EXPECT_EQ(r.reset, seconds(60));
  clock.now += seconds(1);
  r = counter.incoming("k", 10, seconds(60), 6);
  EXPECT_FALSE(r.rejected);
  EXPECT_EQ(r.remaining, 0);
  EXPECT_EQ(r.reset, seconds(59));
  r = counter.incoming("k", 10, seconds(60), 1);
  EXPECT_TRUE(r.rejected);
  // A resolved count that grew (count from a template) admits again within the window.
  r = counter.incoming("k", 20, seconds(60), 1);
  EXPECT_FALSE(r.rejected);
  EXPECT_EQ(r.remaining, 8);
}

// Cost 0 on a zero counter counts as "first request": the reset end restarts, as in APISIX
// (remaining == count - cost), while the counter keeps its original expiry.
TEST(LocalCounter, ZeroCostRestartsResetEndOnlyWhileNothingConsumed) {
  FakeClock clock;
  LocalCounter counter(clock.fn());
  auto r = counter.incoming("k", 3, seconds(10), 0);
  EXPECT_EQ(r.remaining, 3);
  EXPECT_EQ(r.reset, seconds(10));
  clock.now += seconds(4);
  r = counter.incoming("k", 3, seconds(10), 1);
  EXPECT_EQ(r.remaining, 2);
  EXPECT_EQ(r.reset, seconds(10));  // consumed == cost: reset end restarted
  clock.now += seconds(1);
  r = counter.incoming("k", 3, seconds(10), 1);
  EXPECT_EQ(r.remaining, 1);
  EXPECT_EQ(r.reset, seconds(9));
  // But the counter itself expires 10 s after the cost-0 request.
  clock.now += milliseconds(5001);
  r = counter.incoming("k", 3, seconds(10), 1);
  EXPECT_EQ(r.remaining, 2);
  EXPECT_EQ(r.reset, seconds(10));
}

TEST(LocalCounter, PeekDoesNotConsume) {
  FakeClock clock;
  LocalCounter counter(clock.fn());
  auto p = counter.peek("k", 2, seconds(60));
  EXPECT_FALSE(p.rejected);
  EXPECT_EQ(p.remaining, 2);
  EXPECT_EQ(p.reset, seconds(60));
  EXPECT_EQ(counter.size(), 0U);
  counter.incoming("k", 2, seconds(60));
  clock.now += seconds(3);
  p = counter.peek("k", 2, seconds(60));
  EXPECT_EQ(p.remaining, 1);
  EXPECT_EQ(p.reset, seconds(57));
  p = counter.peek("k", 2, seconds(60));
  EXPECT_EQ(p.remaining, 1);
  EXPECT_FALSE(counter.incoming("k", 2, seconds(60)).rejected);
}

TEST(LocalCounter, SweepDropsOnlyEndedWindows) {
  FakeClock clock;
  LocalCounter counter(clock.fn());
  counter.incoming("old", 5, seconds(1));
  clock.now += milliseconds(500);
  counter.incoming("new", 5, seconds(10));
  EXPECT_EQ(counter.size(), 2U);
  clock.now += milliseconds(500);
  EXPECT_EQ(counter.sweep(), 0U);  // "old" ends exactly now: still live
  clock.now += milliseconds(1);
  EXPECT_EQ(counter.sweep(), 1U);
  EXPECT_EQ(counter.size(), 1U);
  EXPECT_EQ(counter.incoming("new", 5, seconds(10)).remaining, 3);
}

// Without the timer, a shard sweeps itself as it grows, so idle keys do not pile up.
TEST(LocalCounter, ShardsSweepThemselvesAsTheyGrow) {
  FakeClock clock;
  LocalCounter counter(clock.fn());
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 2000; ++i) {
      counter.incoming("r" + std::to_string(round) + ":" + std::to_string(i), 1, seconds(1));
    }
    clock.now += seconds(2);
  }
  // 80000 keys inserted; each shard holds at most about its sweep threshold.
  EXPECT_LT(counter.size(), 40000U);
}

TEST(LocalCounter, ThreadsShareTheLimitExactly) {
  LocalCounter counter;  // real clock: the window (1 h) cannot end during the test
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  constexpr int64_t kLimit = 5000;
  std::atomic<int64_t> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!counter.incoming("shared", kLimit, std::chrono::hours(1)).rejected) {
          admitted.fetch_add(1, std::memory_order_relaxed);
        }
        counter.incoming("other", kLimit, std::chrono::hours(1));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(admitted.load(), kLimit);
  EXPECT_TRUE(counter.peek("shared", kLimit, std::chrono::hours(1)).rejected);
}

TEST(CounterRegistry, SameIdentitySameCountersAcrossRebuilds) {
  FakeClock clock;
  CounterRegistry registry;
  auto id = instance_identity("/apisix/routes/1", "3053465547");
  auto a = registry.get_or_create(id, clock.fn());
  EXPECT_FALSE(a->incoming("k", 2, seconds(60)).rejected);
  // The next snapshot (the route changed elsewhere, same plugin conf) asks again while the
  // old snapshot still holds the store.
  auto b = registry.get_or_create(id, clock.fn());
  EXPECT_EQ(a, b);
  EXPECT_EQ(b->incoming("k", 2, seconds(60)).remaining, 0);
  a.reset();  // old snapshot released
  EXPECT_TRUE(b->incoming("k", 2, seconds(60)).rejected);
  EXPECT_EQ(registry.size(), 1U);
}

TEST(CounterRegistry, ChangedConfVersionGetsFreshCounters) {
  FakeClock clock;
  CounterRegistry registry;
  auto a = registry.get_or_create(instance_identity("/apisix/routes/1", "1"), clock.fn());
  a->incoming("k", 1, seconds(60));
  EXPECT_TRUE(a->incoming("k", 1, seconds(60)).rejected);
  auto b = registry.get_or_create(instance_identity("/apisix/routes/1", "2"), clock.fn());
  EXPECT_NE(a, b);
  EXPECT_FALSE(b->incoming("k", 1, seconds(60)).rejected);
  // Another route with the same conf version is another instance too.
  auto c = registry.get_or_create(instance_identity("/apisix/routes/2", "1"), clock.fn());
  EXPECT_NE(a, c);
}

TEST(CounterRegistry, GroupsAreSharedAndDistinctFromInstances) {
  CounterRegistry registry;
  auto a = registry.get_or_create(group_identity("g1"));
  auto b = registry.get_or_create(group_identity("g1"));
  EXPECT_EQ(a, b);
  EXPECT_NE(group_identity("x"), instance_identity("x", ""));
  EXPECT_NE(registry.get_or_create(group_identity("g2")), a);
}

TEST(CounterRegistry, DropsStoresNoSnapshotUses) {
  CounterRegistry registry;
  std::weak_ptr<LocalCounter> weak;
  {
    auto a = registry.get_or_create("i:/apisix/routes/1:1");
    a->incoming("k", 1, seconds(60));
    weak = a;
    EXPECT_EQ(registry.size(), 1U);
  }
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(registry.size(), 0U);
  EXPECT_EQ(registry.prune(), 1U);
  // Coming back after every holder is gone starts afresh.
  auto again = registry.get_or_create("i:/apisix/routes/1:1");
  EXPECT_FALSE(again->incoming("k", 1, seconds(60)).rejected);
}

}  // namespace
}  // namespace apisix::plugins::limit_count
