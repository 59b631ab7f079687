// The sliding-window counters of limit-count (sliding_window.h) with a fake wall clock: the
// estimate over two epoch-aligned windows, what admitted and rejected requests report, and
// the Lua-compatible number helpers of limiter_conf.h.

#include "plugins/limit_count/sliding_window.h"

#include <gtest/gtest.h>

#include "plugins/conf_value.h"
#include "plugins/limit_count/limiter_conf.h"

namespace apisix::plugins::limit_count {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct FakeWallClock {
  // 1700000040000 ms is a multiple of 60 s: a window starts there.
  std::chrono::system_clock::time_point now{milliseconds(1700000040000)};
  WallClockFn fn() {
    return [this] { return now; };
  }
};

TEST(SlidingWindowCounter, AdmitsCountPerWindowThenRejects) {
  FakeWallClock clock;
  clock.now += seconds(30);
  SlidingWindowCounter counter(clock.fn());
  for (int i = 1; i <= 10; ++i) {
    CountResult r = counter.incoming("k", 10, seconds(60));
    EXPECT_FALSE(r.rejected) << i;
    EXPECT_EQ(r.remaining, 10 - i);
    EXPECT_EQ(r.reset, milliseconds(30000));
  }
  CountResult r = counter.incoming("k", 10, seconds(60));
  EXPECT_TRUE(r.rejected);
  EXPECT_EQ(r.remaining, 0);
  EXPECT_EQ(r.reset, milliseconds(30000)) << "current window full: the time left in it";
  // Another key is not affected.
  EXPECT_FALSE(counter.incoming("other", 10, seconds(60)).rejected);
}

// The previous window weighs in by the share of the current window still to come.
TEST(SlidingWindowCounter, PreviousWindowDecaysAcrossTheBoundary) {
  FakeWallClock clock;
  SlidingWindowCounter counter(clock.fn());
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(counter.incoming("k", 10, seconds(60)).rejected);
  }
  // 15 s into the next window: 45 s left, previous share 10 * 45/60 = 7.5.
  clock.now += seconds(75);
  CountResult r = counter.incoming("k", 10, seconds(60));
  EXPECT_FALSE(r.rejected);
  EXPECT_EQ(r.remaining, 1);  // floor(10 - 1 - 7.5)
  EXPECT_EQ(r.reset, milliseconds(45000));
  EXPECT_EQ(counter.incoming("k", 10, seconds(60)).remaining, 0);   // floor(10 - 2 - 7.5)
  EXPECT_EQ(counter.incoming("k", 10, seconds(60)).remaining, -1);  // floor(10 - 3 - 7.5)
  r = counter.incoming("k", 10, seconds(60));                       // 3 + 7.5 >= 10
  EXPECT_TRUE(r.rejected);
  EXPECT_EQ(r.remaining, 0);
  // Until enough of the previous window decayed: 45 s - (10 - 3) / (10 / 60 s) = 3 s.
  EXPECT_EQ(r.reset, milliseconds(3000));
  EXPECT_DOUBLE_EQ(r.reset_seconds(), 3.0);

  clock.now += milliseconds(3000);  // 3 + 10 * 42/60 = 10: still rejected, nothing to wait
  r = counter.incoming("k", 10, seconds(60));
  EXPECT_TRUE(r.rejected);
  EXPECT_EQ(r.reset, milliseconds(0));
  clock.now += milliseconds(1);
  r = counter.incoming("k", 10, seconds(60));
  EXPECT_FALSE(r.rejected);
  EXPECT_EQ(r.remaining, -1);               // floor(10 - 4 - 6.9998)
  EXPECT_EQ(r.reset, milliseconds(42000));  // 41.999 s rounded up to hundredths

  // Two windows later nothing is left, and sweep() drops the key.
  clock.now += seconds(120);
  EXPECT_EQ(counter.sweep(), 1u);
  EXPECT_EQ(counter.size(), 0u);
  r = counter.incoming("k", 10, seconds(60));
  EXPECT_FALSE(r.rejected);
  EXPECT_EQ(r.remaining, 9);
}

TEST(SlidingWindowOutcome, RoundsResetUpToHundredths) {
  CountResult r = sliding_outcome(true, 1, 0, 5, 60000, 12341);
  EXPECT_EQ(r.reset, milliseconds(12350));
  EXPECT_DOUBLE_EQ(r.reset_seconds(), 12.35);
  EXPECT_EQ(r.remaining, 4);
}

TEST(LimiterConf, LuaToNumberAndPrinting) {
  EXPECT_EQ(lua_tonumber("5"), 5.0);
  EXPECT_EQ(lua_tonumber(" 7\t"), 7.0);
  EXPECT_EQ(lua_tonumber("0x10"), 16.0);
  EXPECT_EQ(lua_tonumber("1e2"), 100.0);
  EXPECT_EQ(lua_tonumber("1.5"), 1.5);
  EXPECT_EQ(lua_tonumber(""), std::nullopt);
  EXPECT_EQ(lua_tonumber("5 apples"), std::nullopt);
  EXPECT_EQ(lua_tonumber("nan"), std::nullopt);
  EXPECT_EQ(lua_number_text(60), "60");
  EXPECT_EQ(lua_number_text(57.43), "57.43");
  EXPECT_EQ(lua_number_text(0.1), "0.1");
  EXPECT_EQ(lua_number_text(1e15), "1e+15");
  // The fast form of the reset header agrees with lua_number_text on hundredths.
  for (int64_t centis : {0, 5, 10, 99, 100, 5993, 5990, 6000, 123456789}) {
    EXPECT_EQ(hundredths_text(centis), lua_number_text(static_cast<double>(centis) / 100.0))
        << centis;
  }
}

}  // namespace
}  // namespace apisix::plugins::limit_count
