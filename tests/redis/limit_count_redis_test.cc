// limit-count's `redis` policy (src/plugins/limit_count/redis_counter.h) against a real
// redis-server: two clients sharing one counter (as two gateway processes would), the reset
// time, window expiry, cost, key isolation and Redis being down (plugins.md §5.2).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/loop.h"
#include "core/task.h"
#include "plugins/limit_count/redis_counter.h"
#include "redis/client.h"
#include "tests/harness/loop_runner.h"
#include "tests/harness/redis_server.h"
#include "tests/harness/wait.h"

namespace apisix::plugins::limit_count {
namespace {

using namespace std::chrono_literals;
using core::Loop;
using core::Task;

std::unique_ptr<redis::RedisClient> make_client(Loop& loop, uint16_t port) {
  redis::RedisOptions options;
  options.host = "127.0.0.1";
  options.port = port;
  options.timeout = test::scaled(5s);
  auto made = redis::RedisClient::create(loop, std::move(options));
  EXPECT_TRUE(made) << made.error().context;
  return made ? std::move(*made) : nullptr;
}

std::vector<std::string> cmd(std::string a, std::string b) {
  std::vector<std::string> out;
  out.push_back(std::move(a));
  out.push_back(std::move(b));
  return out;
}

std::string describe(const Result<CountResult>& r) {
  if (!r) {
    return "error: " + r.error().context;
  }
  return std::string(r->rejected ? "rejected" : "admitted") +
         " remaining=" + std::to_string(r->remaining) +
         " reset_ms=" + std::to_string(r->reset.count());
}

class LimitCountRedisTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()) << server_.error(); }
  test::RedisServer server_;
};

TEST_F(LimitCountRedisTest, TwoClientsShareOneCounter) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto client_a = make_client(loop, server_.port());
    auto client_b = make_client(loop, server_.port());
    APISIX_CO_ASSERT(client_a && client_b);
    RedisCounter gateway_a(*client_a);
    RedisCounter gateway_b(*client_b);

    auto first = co_await gateway_a.incoming("route:1:10.0.0.1", 3, 60s);
    APISIX_CO_ASSERT(first);
    EXPECT_FALSE(first->rejected);
    EXPECT_EQ(first->remaining, 2);
    // A fresh window reports exactly time_window, as APISIX's script does.
    EXPECT_EQ(first->reset, 60000ms);
    EXPECT_EQ(first->reset_seconds(), 60.0);

    auto second = co_await gateway_b.incoming("route:1:10.0.0.1", 3, 60s);
    APISIX_CO_ASSERT(second);
    EXPECT_FALSE(second->rejected) << describe(second);
    EXPECT_EQ(second->remaining, 1);
    EXPECT_LE(second->reset, 60000ms);
    EXPECT_GT(second->reset, 55000ms);

    auto third = co_await gateway_a.incoming("route:1:10.0.0.1", 3, 60s);
    APISIX_CO_ASSERT(third);
    EXPECT_FALSE(third->rejected) << describe(third);
    EXPECT_EQ(third->remaining, 0);

    auto fourth = co_await gateway_b.incoming("route:1:10.0.0.1", 3, 60s);
    APISIX_CO_ASSERT(fourth);
    EXPECT_TRUE(fourth->rejected) << describe(fourth);
    EXPECT_EQ(fourth->remaining, 0);
    EXPECT_LE(fourth->reset, 60000ms);
    EXPECT_GT(fourth->reset, 55000ms);

    // Each gateway used its own connection; the counter lives in Redis under APISIX's key,
    // rejected requests included.
    EXPECT_EQ(client_a->connects_for_test(), 1u);
    EXPECT_EQ(client_b->connects_for_test(), 1u);
    EXPECT_EQ(RedisCounter::redis_key("route:1:10.0.0.1"),
              "plugin-limit-count:v1:route:1:10.0.0.1");
    auto stored = co_await client_a->command(cmd("GET", "plugin-limit-count:v1:route:1:10.0.0.1"));
    EXPECT_TRUE(stored && *stored == redis::Reply::bulk("4"));
  });
}

TEST_F(LimitCountRedisTest, ConcurrentRequestsFromBothClientsAdmitExactlyCount) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto client_a = make_client(loop, server_.port());
    auto client_b = make_client(loop, server_.port());
    APISIX_CO_ASSERT(client_a && client_b);
    RedisCounter gateway_a(*client_a);
    RedisCounter gateway_b(*client_b);
    int finished = 0;
    int admitted = 0;
    int rejected = 0;
    int failed = 0;
    auto one = [&](RedisCounter& counter) -> Task<void> {
      auto r = co_await counter.incoming("burst", 10, 60s);
      if (!r) {
        ++failed;
      } else if (r->rejected) {
        ++rejected;
      } else {
        ++admitted;
      }
      ++finished;
    };
    for (int i = 0; i < 20; ++i) {
      core::spawn(one(gateway_a));
      core::spawn(one(gateway_b));
    }
    auto limit = core::Clock::now() + test::scaled(10s);
    while (finished < 40 && core::Clock::now() < limit) {
      co_await loop.sleep_for(1ms);
    }
    APISIX_CO_ASSERT(finished == 40);
    EXPECT_EQ(failed, 0);
    EXPECT_EQ(admitted, 10);
    EXPECT_EQ(rejected, 30);
  });
}

TEST_F(LimitCountRedisTest, ResetDecreasesWithinTheWindow) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto client = make_client(loop, server_.port());
    APISIX_CO_ASSERT(client);
    RedisCounter counter(*client);
    auto first = co_await counter.incoming("clock", 5, 60s);
    APISIX_CO_ASSERT(first);
    EXPECT_EQ(first->reset, 60000ms);
    // Polls with cost 0 (consumes nothing) until Redis reports less time left.
    Result<CountResult> later = first;
    auto limit = core::Clock::now() + test::scaled(10s);
    while (later && later->reset >= first->reset && core::Clock::now() < limit) {
      co_await loop.sleep_for(5ms);
      later = co_await counter.incoming("clock", 5, 60s, 0);
    }
    APISIX_CO_ASSERT(later);
    EXPECT_LT(later->reset, first->reset) << describe(later);
    EXPECT_GT(later->reset, 50000ms) << describe(later);
    EXPECT_FALSE(later->rejected);
    EXPECT_EQ(later->remaining, 4);
  });
}

TEST_F(LimitCountRedisTest, AWindowEndsAndANewOneStarts) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto client = make_client(loop, server_.port());
    APISIX_CO_ASSERT(client);
    RedisCounter counter(*client);
    auto started = core::Clock::now();
    auto first = co_await counter.incoming("short", 1, 1s);
    APISIX_CO_ASSERT(first);
    EXPECT_FALSE(first->rejected);
    EXPECT_EQ(first->reset, 1000ms);
    auto second = co_await counter.incoming("short", 1, 1s);
    APISIX_CO_ASSERT(second);
    EXPECT_TRUE(second->rejected) << describe(second);
    EXPECT_LE(second->reset, 1000ms);

    // Knocks until admitted again (each rejected knock still counts, as in APISIX).
    Result<CountResult> again = second;
    auto limit = core::Clock::now() + test::scaled(10s);
    while (again && again->rejected && core::Clock::now() < limit) {
      co_await loop.sleep_for(20ms);
      again = co_await counter.incoming("short", 1, 1s);
    }
    APISIX_CO_ASSERT(again);
    EXPECT_FALSE(again->rejected) << describe(again);
    EXPECT_EQ(again->remaining, 0);
    EXPECT_EQ(again->reset, 1000ms);
    EXPECT_GE(core::Clock::now() - started, 900ms);
  });
}

TEST_F(LimitCountRedisTest, CostIsCountedAndRejectedRequestsStillConsume) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto client = make_client(loop, server_.port());
    APISIX_CO_ASSERT(client);
    RedisCounter counter(*client);
    auto a = co_await counter.incoming("tokens", 10, 60s, 4);
    APISIX_CO_ASSERT(a);
    EXPECT_FALSE(a->rejected);
    EXPECT_EQ(a->remaining, 6);
    auto b = co_await counter.incoming("tokens", 10, 60s, 4);
    APISIX_CO_ASSERT(b);
    EXPECT_FALSE(b->rejected);
    EXPECT_EQ(b->remaining, 2);
    auto c = co_await counter.incoming("tokens", 10, 60s, 4);
    APISIX_CO_ASSERT(c);
    EXPECT_TRUE(c->rejected) << describe(c);
    EXPECT_EQ(c->remaining, 0);
    // 12 consumed: even a cost that would have fitted before is rejected now.
    auto d = co_await counter.incoming("tokens", 10, 60s, 2);
    APISIX_CO_ASSERT(d);
    EXPECT_TRUE(d->rejected) << describe(d);
    // Cost 0 consumes nothing; remaining would be -4, so it is reported rejected.
    auto e = co_await counter.incoming("tokens", 10, 60s, 0);
    APISIX_CO_ASSERT(e);
    EXPECT_TRUE(e->rejected);
    auto stored = co_await client->command(cmd("GET", RedisCounter::redis_key("tokens")));
    EXPECT_TRUE(stored && *stored == redis::Reply::bulk("14"));
    // A negative cost fails in the script, as in APISIX.
    auto negative = co_await counter.incoming("tokens", 10, 60s, -1);
    EXPECT_FALSE(negative) << describe(negative);
    // A cost larger than count on a fresh key: rejected at once.
    auto big = co_await counter.incoming("big", 3, 60s, 5);
    APISIX_CO_ASSERT(big);
    EXPECT_TRUE(big->rejected);
    EXPECT_EQ(big->reset, 60000ms);
  });
}

TEST_F(LimitCountRedisTest, KeysAreIsolated) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto client = make_client(loop, server_.port());
    APISIX_CO_ASSERT(client);
    RedisCounter counter(*client);
    for (int i = 0; i < 2; ++i) {
      auto r = co_await counter.incoming("client-a", 2, 60s);
      EXPECT_TRUE(r && !r->rejected) << describe(r);
    }
    auto a = co_await counter.incoming("client-a", 2, 60s);
    EXPECT_TRUE(a && a->rejected) << describe(a);
    auto b = co_await counter.incoming("client-b", 2, 60s);
    APISIX_CO_ASSERT(b);
    EXPECT_FALSE(b->rejected);
    EXPECT_EQ(b->remaining, 1);
    EXPECT_EQ(b->reset, 60000ms);
    // A longer key with the first as prefix is another counter too.
    auto ab = co_await counter.incoming("client-a:x", 2, 60s);
    EXPECT_TRUE(ab && !ab->rejected && ab->remaining == 1) << describe(ab);
  });
}

TEST_F(LimitCountRedisTest, RedisDownIsAnError) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    auto client = make_client(loop, server_.port());
    APISIX_CO_ASSERT(client);
    RedisCounter counter(*client);
    auto before = co_await counter.incoming("k", 3, 60s);
    EXPECT_TRUE(before && !before->rejected) << describe(before);
    server_.stop();
    auto down = co_await counter.incoming("k", 3, 60s);
    APISIX_CO_ASSERT(!down);
    EXPECT_TRUE(down.error().kind == ErrorKind::Refused || down.error().kind == ErrorKind::Io)
        << down.error().context;
    // Back up (empty: nothing persisted): counting resumes from a fresh window.
    APISIX_CO_ASSERT(server_.restart());
    Result<CountResult> after = down;
    auto limit = core::Clock::now() + test::scaled(10s);
    while (!after && core::Clock::now() < limit) {
      after = co_await counter.incoming("k", 3, 60s);
      if (!after) {
        co_await loop.sleep_for(20ms);
      }
    }
    APISIX_CO_ASSERT(after);
    EXPECT_FALSE(after->rejected);
    EXPECT_EQ(after->remaining, 2);
  });
}

TEST(LimitCountRedisRefused, NoServerIsAnError) {
  test::run_on_loop([&](Loop& loop) -> Task<void> {
    uint16_t port = 0;
    {
      test::RedisServer server;
      port = server.port();
    }
    auto client = make_client(loop, port);
    APISIX_CO_ASSERT(client);
    RedisCounter counter(*client);
    auto r = co_await counter.incoming("k", 3, 60s);
    EXPECT_FALSE(r) << describe(r);
  });
}

}  // namespace
}  // namespace apisix::plugins::limit_count
