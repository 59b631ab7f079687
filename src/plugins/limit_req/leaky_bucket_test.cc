#include "plugins/limit_req/leaky_bucket.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace apisix::plugins::limit_req {
namespace {

using std::chrono::milliseconds;

struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
  ClockFn fn() {
    return [this] { return now; };
  }
};

// t/plugin/limit-req.t: rate 0.1, burst 0.1 -> 200, 503, 503, 503.
TEST(LeakyBucket, TinyRateAdmitsOneThenRejects) {
  FakeClock clock;
  LeakyBucket bucket(0.1, 0.1, clock.fn());
  EXPECT_FALSE(bucket.incoming("k").rejected);
  for (int i = 0; i < 3; ++i) {
    clock.now += milliseconds(1);
    EXPECT_TRUE(bucket.incoming("k").rejected);
  }
}

// rate 4, burst 2 at one instant: 1 + burst requests admitted with growing delays.
TEST(LeakyBucket, BurstIsAdmittedWithDelays) {
  FakeClock clock;
  LeakyBucket bucket(4, 2, clock.fn());
  auto r1 = bucket.incoming("k");
  EXPECT_FALSE(r1.rejected);
  EXPECT_DOUBLE_EQ(r1.delay_seconds, 0);
  EXPECT_FALSE(r1.should_delay(false));
  auto r2 = bucket.incoming("k");
  EXPECT_FALSE(r2.rejected);
  EXPECT_DOUBLE_EQ(r2.delay_seconds, 0.25);
  EXPECT_DOUBLE_EQ(r2.excess, 1);
  EXPECT_TRUE(r2.should_delay(false));
  EXPECT_FALSE(r2.should_delay(true));  // nodelay
  auto r3 = bucket.incoming("k");
  EXPECT_DOUBLE_EQ(r3.delay_seconds, 0.5);
  auto r4 = bucket.incoming("k");
  EXPECT_TRUE(r4.rejected);
  EXPECT_FALSE(r4.should_delay(false));
  // The rejection left the state alone: 250 ms later one request's worth has leaked.
  clock.now += milliseconds(250);
  auto r5 = bucket.incoming("k");
  EXPECT_FALSE(r5.rejected);
  EXPECT_DOUBLE_EQ(r5.delay_seconds, 0.5);
  EXPECT_TRUE(bucket.incoming("k").rejected);
}

TEST(LeakyBucket, SustainedRateIsNeverDelayed) {
  FakeClock clock;
  LeakyBucket bucket(2, 0, clock.fn());
  for (int i = 0; i < 10; ++i) {
    auto r = bucket.incoming("k");
    EXPECT_FALSE(r.rejected);
    EXPECT_DOUBLE_EQ(r.delay_seconds, 0);
    clock.now += milliseconds(500);
  }
  clock.now -= milliseconds(499);  // one request 1 ms early, burst 0
  EXPECT_TRUE(bucket.incoming("k").rejected);
}

// excess is stored as an integer number of thousandths (the library's C struct), while the
// delay is computed before the truncation.
TEST(LeakyBucket, StoredExcessIsTruncated) {
  FakeClock clock;
  LeakyBucket bucket(0.7, 5, clock.fn());
  bucket.incoming("k");
  clock.now += milliseconds(1);
  auto r2 = bucket.incoming("k");  // 0 - 0.7 * 1 / 1000 * 1000 + 1000 = 999.3
  EXPECT_DOUBLE_EQ(r2.excess, 0.9993);
  EXPECT_DOUBLE_EQ(r2.delay_seconds, 999.3 / 700);
  auto r3 = bucket.incoming("k");  // stored 999, same instant: 1999
  EXPECT_DOUBLE_EQ(r3.excess, 1.999);
  EXPECT_DOUBLE_EQ(r3.delay_seconds, 1999.0 / 700);
}

TEST(LeakyBucket, SweepDropsDrainedKeysOnly) {
  FakeClock clock;
  LeakyBucket bucket(4, 2, clock.fn());
  for (int i = 0; i < 3; ++i) {
    bucket.incoming("k");  // stored excess 2000
  }
  clock.now += milliseconds(749);
  bucket.incoming("other");
  EXPECT_EQ(bucket.sweep(), 0U);
  clock.now += milliseconds(1);  // 4000 * 0.75 = 3000 = excess + 1000: drained
  EXPECT_EQ(bucket.sweep(), 1U);
  EXPECT_EQ(bucket.size(), 1U);
  auto r = bucket.incoming("k");
  EXPECT_FALSE(r.rejected);
  EXPECT_DOUBLE_EQ(r.delay_seconds, 0);
}

TEST(LeakyBucket, ThreadsShareTheBurstExactly) {
  FakeClock clock;  // frozen: nothing leaks, so exactly 1 + burst requests get in
  LeakyBucket bucket(1, 999, clock.fn());
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (!bucket.incoming("shared").rejected) {
          admitted.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(admitted.load(), 1000);
}

TEST(BucketRegistry, SameIdentitySameBucket) {
  FakeClock clock;
  BucketRegistry registry;
  auto id = limit_count::instance_identity("/apisix/routes/1", "7");
  auto a = registry.get_or_create(id, 1.0, 0.0, clock.fn());
  EXPECT_FALSE(a->incoming("k").rejected);
  auto b = registry.get_or_create(id, 1.0, 0.0, clock.fn());
  EXPECT_EQ(a, b);
  EXPECT_TRUE(b->incoming("k").rejected);
  auto c = registry.get_or_create(limit_count::instance_identity("/apisix/routes/1", "8"), 1.0, 0.0,
                                  clock.fn());
  EXPECT_FALSE(c->incoming("k").rejected);
}

}  // namespace
}  // namespace apisix::plugins::limit_req
