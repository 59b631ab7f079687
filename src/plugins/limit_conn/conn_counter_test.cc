#include "plugins/limit_conn/conn_counter.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace apisix::plugins::limit_conn {
namespace {

// t/plugin/limit-conn.t: conn 2, burst 1, 10 concurrent requests -> 3 admitted, 7 x 503.
TEST(ConnCounter, ConcurrentRequestsBeyondConnPlusBurstAreRejected) {
  ConnCounter counter;
  int admitted = 0;
  std::vector<double> delays;
  for (int i = 0; i < 10; ++i) {
    auto r = counter.incoming("k", 2, 1, 0.1);
    if (!r.rejected) {
      ++admitted;
      delays.push_back(r.delay_seconds);
    }
  }
  EXPECT_EQ(admitted, 3);
  ASSERT_EQ(delays.size(), 3U);
  EXPECT_DOUBLE_EQ(delays[0], 0);
  EXPECT_DOUBLE_EQ(delays[1], 0);
  EXPECT_DOUBLE_EQ(delays[2], 0.1);  // 0.1 * floor((3 - 1) / 2)
  EXPECT_EQ(counter.in_flight("k"), 3);
}

TEST(ConnCounter, DelayGrowsPerConnSlot) {
  ConnCounter counter;
  EXPECT_DOUBLE_EQ(counter.incoming("k", 2, 5, 0.5).delay_seconds, 0);    // n = 1
  EXPECT_DOUBLE_EQ(counter.incoming("k", 2, 5, 0.5).delay_seconds, 0);    // n = 2
  EXPECT_DOUBLE_EQ(counter.incoming("k", 2, 5, 0.5).delay_seconds, 0.5);  // n = 3
  EXPECT_DOUBLE_EQ(counter.incoming("k", 2, 5, 0.5).delay_seconds, 0.5);  // n = 4
  EXPECT_DOUBLE_EQ(counter.incoming("k", 2, 5, 0.5).delay_seconds, 1.0);  // n = 5
  auto r = counter.incoming("k", 2, 5, 0.5);                              // n = 6
  EXPECT_EQ(r.in_flight, 6);
  EXPECT_DOUBLE_EQ(r.delay_seconds, 1.0);
  EXPECT_DOUBLE_EQ(counter.incoming("k", 2, 5, 0.5).delay_seconds, 1.5);  // n = 7
  EXPECT_TRUE(counter.incoming("k", 2, 5, 0.5).rejected);                 // n = 8 > 7
  EXPECT_EQ(counter.in_flight("k"), 7);
}

TEST(ConnCounter, LeavingFreesSlots) {
  ConnCounter counter;
  EXPECT_FALSE(counter.incoming("k", 1, 0, 0.1).rejected);
  EXPECT_TRUE(counter.incoming("k", 1, 0, 0.1).rejected);
  EXPECT_EQ(counter.leaving("k"), 0);
  EXPECT_EQ(counter.size(), 0U);  // a zero count is dropped
  EXPECT_FALSE(counter.incoming("k", 1, 0, 0.1).rejected);
  EXPECT_EQ(counter.leaving("k"), 0);
  EXPECT_EQ(counter.leaving("k"), std::nullopt);  // more leaves than entries
  EXPECT_EQ(counter.in_flight("k"), 0);
}

// conn and burst come per call (templates): a lower resolved conn applies at once.
TEST(ConnCounter, LimitsPerCall) {
  ConnCounter counter;
  EXPECT_FALSE(counter.incoming("k", 5, 0, 0.1).rejected);
  EXPECT_FALSE(counter.incoming("k", 5, 0, 0.1).rejected);
  EXPECT_TRUE(counter.incoming("k", 1, 0, 0.1).rejected);
  EXPECT_EQ(counter.in_flight("k"), 2);
}

TEST(ConnCounter, ThreadsShareTheLimitExactly) {
  ConnCounter counter;
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (!counter.incoming("shared", 100, 20, 0.1).rejected) {
          admitted.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(admitted.load(), 120);
  EXPECT_EQ(counter.in_flight("shared"), 120);
}

TEST(ConnCounter, ThreadsEnteringAndLeavingNeverExceedTheLimit) {
  ConnCounter counter;
  std::atomic<bool> exceeded{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto r = counter.incoming("shared", 2, 1, 0.1);
        if (!r.rejected) {
          if (r.in_flight > 3) {
            exceeded = true;
          }
          EXPECT_TRUE(counter.leaving("shared").has_value());
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_FALSE(exceeded.load());
  EXPECT_EQ(counter.in_flight("shared"), 0);
  EXPECT_EQ(counter.size(), 0U);
}

TEST(ConnRegistry, SameIdentitySameCounts) {
  ConnRegistry registry;
  auto id = limit_count::instance_identity("/apisix/routes/1", "9");
  auto a = registry.get_or_create(id);
  a->incoming("k", 1, 0, 0.1);
  auto b = registry.get_or_create(id);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(b->incoming("k", 1, 0, 0.1).rejected);
}

}  // namespace
}  // namespace apisix::plugins::limit_conn
