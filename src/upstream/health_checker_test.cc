#include "upstream/health_checker.h"

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/task.h"

namespace apisix::upstream {
namespace {

using namespace std::chrono_literals;
using core::Loop;
using core::Task;

// A tiny blocking HTTP server on 127.0.0.1 in its own thread, answering each connection as
// `mode` says at that moment.
class TestServer {
 public:
  enum class Mode { Status, Silent, Close, Garbage };

  TestServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TestServer() {
    stop_ = true;
    thread_.join();
    for (int c : held_) {
      ::close(c);
    }
    ::close(fd_);
  }

  uint16_t port() const { return port_; }
  void set_status(int status) {
    status_ = status;
    mode_ = Mode::Status;
  }
  void set_mode(Mode mode) { mode_ = mode; }
  int connections() const { return connections_; }
  std::string last_request() const {
    std::lock_guard lock(mu_);
    return last_request_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) {
        continue;
      }
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        continue;
      }
      ++connections_;
      Mode mode = mode_;
      if (mode == Mode::Close) {
        ::close(c);
        continue;
      }
      if (mode == Mode::Silent) {
        held_.push_back(c);  // never answered; closed when the server ends
        continue;
      }
      std::string request = read_head(c);
      {
        std::lock_guard lock(mu_);
        last_request_ = request;
      }
      std::string reply = mode == Mode::Garbage ? std::string("hello there\r\n\r\n")
                                                : "HTTP/1.1 " + std::to_string(status_.load()) +
                                                      " X\r\nContent-Length: 0\r\n\r\n";
      (void)!::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  std::string read_head(int c) {
    std::string data;
    char buf[1024];
    while (data.find("\r\n\r\n") == std::string::npos) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) {
        break;
      }
      ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) {
        break;
      }
      data.append(buf, static_cast<size_t>(n));
    }
    return data;
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<Mode> mode_{Mode::Status};
  std::atomic<int> status_{200};
  std::atomic<int> connections_{0};
  std::vector<int> held_;  // server thread only, then the destructor
  mutable std::mutex mu_;
  std::string last_request_;
};

// A port on which nothing listens: connections are refused.
uint16_t refused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Fast intervals so a test takes tens of milliseconds.
std::shared_ptr<HealthConfig> fast_config(CheckType type) {
  auto c = std::make_shared<HealthConfig>();
  c->active.type = type;
  c->active.timeout = 150ms;
  c->active.http_path = "/status";
  c->active.req_headers = {"User-Agent: apisix-probe", "X-Check: 1"};
  c->active.healthy.interval = 10ms;
  c->active.healthy.http_statuses = {200, 302};
  c->active.healthy.successes = 2;
  c->active.unhealthy.interval = 10ms;
  c->active.unhealthy.http_statuses = {429, 404, 500, 501, 502, 503, 504, 505};
  c->active.unhealthy.http_failures = 3;
  c->active.unhealthy.tcp_failures = 2;
  c->active.unhealthy.timeouts = 2;
  return c;
}

// Polls `done` on the loop until it holds or `limit` passes.
Task<bool> wait_for(Loop& loop, std::function<bool()> done, std::chrono::milliseconds limit) {
  auto deadline = core::Clock::now() + limit;
  while (!done()) {
    if (core::Clock::now() >= deadline) {
      co_return false;
    }
    co_await loop.sleep_for(2ms);
  }
  co_return true;
}

Task<void> drive(Loop& loop, HealthChecker& checker, const std::function<Task<void>()>& body) {
  co_await body();
  checker.stop_all();
  bool idle = co_await wait_for(
      loop, [&checker] { return checker.idle(); }, 5s);
  EXPECT_TRUE(idle);
  loop.stop();
}

// Runs `body` as a coroutine on a fresh loop with a checker, then stops and drains it.
void run_checker(HealthChecker::Options options,
                 const std::function<Task<void>(Loop&, HealthChecker&)>& body) {
  Loop loop;
  HealthChecker checker(loop, options);
  std::function<Task<void>()> bound = [&] { return body(loop, checker); };
  core::spawn(drive(loop, checker, bound));
  loop.run();
  EXPECT_TRUE(checker.idle());
}

HealthChecker::Options eager() {
  HealthChecker::Options o;
  o.probe_unused = true;
  return o;
}

TEST(ProbeStatusLine, ParsesLikeTheCheckerLibrary) {
  EXPECT_EQ(parse_probe_status_line("HTTP/1.1 200 OK"), 200);
  EXPECT_EQ(parse_probe_status_line("http/1.0 503"), 503);
  EXPECT_EQ(parse_probe_status_line("HTTP/2.0\t404 Not Found"), 404);
  EXPECT_EQ(parse_probe_status_line("HTTP/1.1 20000"), 9999);
  EXPECT_EQ(parse_probe_status_line("HTTP/1 200"), 0);
  EXPECT_EQ(parse_probe_status_line("HTTP/1.1200"), 0);
  EXPECT_EQ(parse_probe_status_line("hello"), 0);
  EXPECT_EQ(parse_probe_status_line(""), 0);
}

TEST(HealthChecker, HttpFailuresMarkUnhealthyAndSuccessesRecover) {
  TestServer server;
  server.set_status(500);
  std::vector<HealthNode> nodes = {{"127.0.0.1", server.port(), "api.example"}};
  auto health =
      std::make_shared<UpstreamHealth>("upstreams/1", fast_config(CheckType::Http), nodes);
  run_checker(eager(), [&](Loop& loop, HealthChecker& checker) -> Task<void> {
    std::vector<std::shared_ptr<UpstreamHealth>> list = {health};
    checker.sync(list);
    EXPECT_EQ(checker.watched(), 1U);
    EXPECT_TRUE(co_await wait_for(
        loop, [&] { return health->target_status(0).health == NodeHealth::Unhealthy; }, 5s));
    EXPECT_EQ(health->target_status(0).counters.http_failure, 3U);
    EXPECT_FALSE(health->is_healthy(0));

    server.set_status(200);
    EXPECT_TRUE(co_await wait_for(
        loop, [&] { return health->is_healthy(0); }, 5s));
    EXPECT_EQ(health->target_status(0).health, NodeHealth::Healthy);
    EXPECT_EQ(health->target_status(0).counters.success, 2U);
    EXPECT_EQ(health->target_status(0).counters.http_failure, 0U);
  });
  std::string request = server.last_request();
  EXPECT_EQ(request.rfind("GET /status HTTP/1.1\r\nConnection: close\r\n", 0), 0U) << request;
  EXPECT_NE(request.find("\r\nUser-Agent: apisix-probe\r\nX-Check: 1\r\n"), std::string::npos);
  EXPECT_NE(request.find("\r\nHost: api.example\r\n"), std::string::npos);
}

TEST(HealthChecker, RefusedConnectionsAreTcpFailures) {
  std::vector<HealthNode> nodes = {{"127.0.0.1", refused_port(), ""}};
  auto health = std::make_shared<UpstreamHealth>("upstreams/1", fast_config(CheckType::Tcp), nodes);
  run_checker(eager(), [&](Loop& loop, HealthChecker& checker) -> Task<void> {
    std::vector<std::shared_ptr<UpstreamHealth>> list = {health};
    checker.sync(list);
    EXPECT_TRUE(co_await wait_for(
        loop, [&] { return !health->is_healthy(0); }, 5s));
    EXPECT_EQ(health->target_status(0).counters.tcp_failure, 2U);
    EXPECT_EQ(health->target_status(0).counters.timeout_failure, 0U);
  });
}

TEST(HealthChecker, TcpProbeSucceedsOnConnect) {
  TestServer server;
  server.set_mode(TestServer::Mode::Close);
  std::vector<HealthNode> nodes = {{"127.0.0.1", server.port(), ""}};
  auto health = std::make_shared<UpstreamHealth>("upstreams/1", fast_config(CheckType::Tcp), nodes);
  // Start unhealthy so that successes are counted.
  health->report_tcp_failure(0, CheckSource::Active);
  health->report_tcp_failure(0, CheckSource::Active);
  ASSERT_FALSE(health->is_healthy(0));
  run_checker(eager(), [&](Loop& loop, HealthChecker& checker) -> Task<void> {
    std::vector<std::shared_ptr<UpstreamHealth>> list = {health};
    checker.sync(list);
    EXPECT_TRUE(co_await wait_for(
        loop, [&] { return health->is_healthy(0); }, 5s));
  });
}

TEST(HealthChecker, SilentNodeTimesOut) {
  TestServer server;
  server.set_mode(TestServer::Mode::Silent);
  auto config = fast_config(CheckType::Http);
  config->active.timeout = 50ms;
  std::vector<HealthNode> nodes = {{"127.0.0.1", server.port(), ""}};
  auto health = std::make_shared<UpstreamHealth>("upstreams/1", config, nodes);
  run_checker(eager(), [&](Loop& loop, HealthChecker& checker) -> Task<void> {
    std::vector<std::shared_ptr<UpstreamHealth>> list = {health};
    checker.sync(list);
    EXPECT_TRUE(co_await wait_for(
        loop, [&] { return !health->is_healthy(0); }, 5s));
    EXPECT_EQ(health->target_status(0).counters.timeout_failure, 2U);
  });
}

TEST(HealthChecker, GarbageStatusLineAndEarlyCloseAreFailures) {
  TestServer garbage;
  garbage.set_mode(TestServer::Mode::Garbage);
  TestServer closing;
  closing.set_mode(TestServer::Mode::Close);
  std::vector<HealthNode> nodes = {{"127.0.0.1", garbage.port(), ""},
                                   {"127.0.0.1", closing.port(), ""}};
  auto health =
      std::make_shared<UpstreamHealth>("upstreams/1", fast_config(CheckType::Http), nodes);
  run_checker(eager(), [&](Loop& loop, HealthChecker& checker) -> Task<void> {
    std::vector<std::shared_ptr<UpstreamHealth>> list = {health};
    checker.sync(list);
    EXPECT_TRUE(co_await wait_for(
        loop, [&] { return !health->is_healthy(0) && !health->is_healthy(1); }, 5s));
    EXPECT_EQ(health->target_status(0).counters.http_failure, 3U);
    EXPECT_EQ(health->target_status(1).counters.tcp_failure, 2U);
  });
}

TEST(HealthChecker, UnusedUpstreamIsNotProbedUntilTouched) {
  TestServer server;
  std::vector<HealthNode> nodes = {{"127.0.0.1", server.port(), ""}};
  auto health =
      std::make_shared<UpstreamHealth>("upstreams/1", fast_config(CheckType::Http), nodes);
  run_checker({}, [&](Loop& loop, HealthChecker& checker) -> Task<void> {
    std::vector<std::shared_ptr<UpstreamHealth>> list = {health};
    checker.sync(list);
    // Several intervals pass without a probe.
    EXPECT_FALSE(co_await wait_for(
        loop, [&] { return server.connections() > 0; }, 60ms));
    health->touch();
    EXPECT_TRUE(co_await wait_for(
        loop, [&] { return server.connections() >= 2; }, 5s));
  });
}

TEST(HealthChecker, ZeroIntervalDisablesThatSide) {
  TestServer server;
  server.set_status(500);
  auto config = fast_config(CheckType::Http);
  config->active.unhealthy.interval = 0ms;  // unhealthy targets are never probed
  std::vector<HealthNode> nodes = {{"127.0.0.1", server.port(), ""}};
  auto health = std::make_shared<UpstreamHealth>("upstreams/1", config, nodes);
  run_checker(eager(), [&](Loop& loop, HealthChecker& checker) -> Task<void> {
    std::vector<std::shared_ptr<UpstreamHealth>> list = {health};
    checker.sync(list);
    EXPECT_TRUE(co_await wait_for(
        loop, [&] { return !health->is_healthy(0); }, 5s));
    int seen = server.connections();
    EXPECT_EQ(seen, 3);
    server.set_status(200);
    EXPECT_FALSE(co_await wait_for(
        loop, [&] { return server.connections() > seen; }, 60ms));
    EXPECT_FALSE(health->is_healthy(0));
  });
}

TEST(HealthChecker, SyncStopsRemovedUpstreamsAndSkipsThoseWithoutProbes) {
  TestServer server;
  std::vector<HealthNode> nodes = {{"127.0.0.1", server.port(), ""}};
  auto health =
      std::make_shared<UpstreamHealth>("upstreams/1", fast_config(CheckType::Http), nodes);
  auto no_probes = std::make_shared<HealthConfig>(*fast_config(CheckType::Http));
  no_probes->active.healthy.interval = 0ms;
  no_probes->active.unhealthy.interval = 0ms;
  auto passive_only = std::make_shared<UpstreamHealth>("upstreams/2", no_probes, nodes);
  run_checker(eager(), [&](Loop& loop, HealthChecker& checker) -> Task<void> {
    std::vector<std::shared_ptr<UpstreamHealth>> list = {health, passive_only};
    checker.sync(list);
    EXPECT_EQ(checker.watched(), 1U);
    EXPECT_TRUE(co_await wait_for(
        loop, [&] { return server.connections() >= 2; }, 5s));
    checker.sync({});
    EXPECT_EQ(checker.watched(), 0U);
    EXPECT_TRUE(co_await wait_for(
        loop, [&] { return checker.idle(); }, 5s));
    int seen = server.connections();
    EXPECT_FALSE(co_await wait_for(
        loop, [&] { return server.connections() > seen; }, 50ms));
  });
}

TEST(HealthChecker, ConcurrencyBoundsProbesInFlight) {
  // Three silent nodes, concurrency 1: one round takes three timeouts, so after the first
  // timeout only one connection can have been opened besides the one in flight.
  TestServer a, b, c;
  for (TestServer* s : {&a, &b, &c}) {
    s->set_mode(TestServer::Mode::Silent);
  }
  auto config = fast_config(CheckType::Http);
  config->active.concurrency = 1;
  config->active.timeout = 100ms;
  config->active.healthy.interval = 1000ms;
  std::vector<HealthNode> nodes = {
      {"127.0.0.1", a.port(), ""}, {"127.0.0.1", b.port(), ""}, {"127.0.0.1", c.port(), ""}};
  auto health = std::make_shared<UpstreamHealth>("upstreams/1", config, nodes);
  run_checker(eager(), [&](Loop& loop, HealthChecker& checker) -> Task<void> {
    std::vector<std::shared_ptr<UpstreamHealth>> list = {health};
    checker.sync(list);
    auto total = [&] { return a.connections() + b.connections() + c.connections(); };
    EXPECT_TRUE(co_await wait_for(
        loop, [&] { return total() >= 1; }, 5s));
    EXPECT_EQ(total(), 1);
    EXPECT_TRUE(co_await wait_for(
        loop, [&] { return total() >= 3; }, 5s));
    EXPECT_TRUE(co_await wait_for(
        loop, [&] { return checker.probes_for_test() >= 3; }, 5s));
    for (size_t t = 0; t < 3; ++t) {
      EXPECT_EQ(health->target_status(t).counters.timeout_failure, 1U) << t;
    }
  });
}

}  // namespace
}  // namespace apisix::upstream
