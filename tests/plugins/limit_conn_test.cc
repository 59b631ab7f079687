// limit-conn through the real binary (plugins.md §5.4): the examples of APISIX's doc page
// (docs/en/latest/plugins/limit-conn.md) with an upstream that holds requests until the test
// releases them — five concurrent requests against conn 2 + burst 1 (three pass, two get 429),
// the same per remote address and consumer — the log phase giving the slots back, and the
// Redis policy shared by two gateway processes through one real redis-server.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/harness/redis_server.h"
#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

// An upstream that holds each request until release() (requests whose target mentions
// "probe" are answered at once), counting the ones it holds.
class HoldingUpstream {
 public:
  HoldingUpstream() {
    server_.set_handler([this](const RecordedRequest& r, ResponseWriter& w) {
      if (r.target.find("probe") == std::string::npos) {
        std::unique_lock lock(mutex_);
        ++held_;
        released_cv_.wait_for(lock, 30s, [&] { return released_; });
      }
      w.respond(200, {}, "hello world");
    });
  }
  ~HoldingUpstream() { release(); }

  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    released_cv_.notify_all();
  }
  int held() {
    std::lock_guard lock(mutex_);
    return held_;
  }
  std::string address() const { return server_.address(); }

 private:
  std::mutex mutex_;
  std::condition_variable released_cv_;
  bool released_ = false;
  int held_ = 0;
  UpstreamServer server_;  // last: stopped (its threads joined) before the members above go
};

// Requests sent at once, each on its own connection and thread; statuses as they finish.
class Concurrent {
 public:
  void send(uint16_t port, const std::string& target, const Headers& headers = {}) {
    threads_.emplace_back([this, port, target, headers] {
      int status = get(port, target, headers).status;
      std::lock_guard lock(mutex_);
      finished_with_[status]++;
    });
  }
  int finished_with(int status) {
    std::lock_guard lock(mutex_);
    return finished_with_[status];
  }
  void join() {
    for (auto& t : threads_) {
      t.join();
    }
    threads_.clear();
  }
  ~Concurrent() { join(); }

 private:
  std::mutex mutex_;
  std::map<int, int> finished_with_;
  std::vector<std::thread> threads_;
};

// Doc: "Apply Rate Limiting by Remote Address": conn 2, burst 1, default_conn_delay 0.1, five
// concurrent requests: three reach the upstream (the third 0.1 s late), two get 429.
TEST(LimitConnPlugin, FiveConcurrentRequestsThreePassTwoRejected) {
  HoldingUpstream upstream;
  Gateway gw;
  ASSERT_TRUE(gw.start());
  ASSERT_TRUE(gw.put("/apisix/admin/routes/limit-conn-route",
                     route("/get", R"({"limit-conn":{"conn":2,"burst":1,"default_conn_delay":0.1,
                           "key_type":"var","key":"remote_addr","policy":"local",
                           "rejected_code":429}})",
                           upstream.address())));
  ASSERT_TRUE(routed(gw.port, "/get?probe=1"));

  Concurrent requests;
  for (int i = 0; i < 5; ++i) {
    requests.send(gw.port, "/get");
  }
  ASSERT_TRUE(
      wait_until([&] { return upstream.held() == 3 && requests.finished_with(429) == 2; }, 10s))
      << "held " << upstream.held() << ", rejected " << requests.finished_with(429);
  EXPECT_EQ(requests.finished_with(200), 0) << "the admitted ones are still at the upstream";
  upstream.release();
  requests.join();
  EXPECT_EQ(requests.finished_with(200), 3);
  EXPECT_EQ(requests.finished_with(429), 2);
  EXPECT_EQ(upstream.held(), 3);

  // The log phase gave the slots back: two at once fit again.
  Concurrent again;
  again.send(gw.port, "/get");
  again.send(gw.port, "/get");
  again.join();
  EXPECT_EQ(again.finished_with(200), 2);
}

// Doc: "Apply Rate Limiting by Remote Address and Consumer Name" with key-auth: each consumer
// has its own conn + burst.
TEST(LimitConnPlugin, ConcurrencyPerRemoteAddressAndConsumer) {
  HoldingUpstream upstream;
  Gateway gw;
  ASSERT_TRUE(gw.start());
  ASSERT_TRUE(gw.put("/apisix/admin/consumers", R"({"username":"john"})"));
  ASSERT_TRUE(gw.put("/apisix/admin/consumers/john/credentials/cred-john-key-auth",
                     R"({"plugins":{"key-auth":{"key":"john-key"}}})"));
  ASSERT_TRUE(gw.put("/apisix/admin/consumers", R"({"username":"jane"})"));
  ASSERT_TRUE(gw.put("/apisix/admin/consumers/jane/credentials/cred-jane-key-auth",
                     R"({"plugins":{"key-auth":{"key":"jane-key"}}})"));
  ASSERT_TRUE(gw.put("/apisix/admin/routes/limit-conn-route",
                     route("/get", R"({"key-auth":{},"limit-conn":{"conn":2,"burst":1,
                           "default_conn_delay":0.1,"rejected_code":429,
                           "key_type":"var_combination","key":"$remote_addr $consumer_name"}})",
                           upstream.address())));
  ASSERT_TRUE(routed(gw.port, "/get?probe=1", {{"apikey", "john-key"}}));

  Concurrent requests;
  for (int i = 0; i < 5; ++i) {
    requests.send(gw.port, "/get", {{"apikey", "john-key"}});
    requests.send(gw.port, "/get", {{"apikey", "jane-key"}});
  }
  ASSERT_TRUE(
      wait_until([&] { return upstream.held() == 6 && requests.finished_with(429) == 4; }, 10s))
      << "held " << upstream.held() << ", rejected " << requests.finished_with(429);
  upstream.release();
  requests.join();
  EXPECT_EQ(requests.finished_with(200), 6);
  EXPECT_EQ(requests.finished_with(429), 4);
}

// The Redis policy: two gateways count the requests in flight in one Redis set.
TEST(LimitConnPlugin, RedisPolicySharesTheCountBetweenTwoGateways) {
  RedisServer redis;
  ASSERT_TRUE(redis.ok()) << redis.error();
  HoldingUpstream upstream;
  Gateway first;
  Gateway second;
  ASSERT_TRUE(first.start());
  ASSERT_TRUE(second.start());
  const std::string body = route("/get",
                                 R"({"limit-conn":{"conn":1,"burst":0,"default_conn_delay":0.1,
                                     "key":"http_x_client","policy":"redis",
                                     "redis_host":"127.0.0.1","redis_port":)" +
                                     std::to_string(redis.port()) + "}}",
                                 upstream.address());
  ASSERT_TRUE(first.put("/apisix/admin/routes/limit-conn-route", body));
  ASSERT_TRUE(second.put("/apisix/admin/routes/limit-conn-route", body));
  ASSERT_TRUE(routed(first.port, "/get?probe=1", {{"X-Client", "probe-1"}}));
  ASSERT_TRUE(routed(second.port, "/get?probe=2", {{"X-Client", "probe-2"}}));

  const Headers client = {{"X-Client", "shared"}};
  Concurrent held;
  held.send(first.port, "/get", client);
  ASSERT_TRUE(wait_until([&] { return upstream.held() == 1; }, 5s));
  HttpResponse rejected = get(second.port, "/get", client);
  EXPECT_EQ(rejected.status, 503) << "the first gateway's request is in flight";
  // One set for the shared client: "limit_conn:<resource key>:<conf version>:shared".
  EXPECT_EQ(redis.command({"EVAL", "return #redis.call('KEYS', 'limit_conn:*:shared')", "0"}),
            ":1");
  upstream.release();
  held.join();
  EXPECT_EQ(held.finished_with(200), 1);
  // The first gateway's log phase removes its request from the set (asynchronously).
  EXPECT_TRUE(wait_until([&] { return get(second.port, "/get", client).status == 200; }, 5s));
}

}  // namespace
}  // namespace apisix::test
