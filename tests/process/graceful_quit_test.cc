// Graceful shutdown (SIGQUIT / `quit`): stop accepting at once, finish the requests in
// flight, close idle keep-alive connections, exit 0.

#include <atomic>
#include <cerrno>
#include <memory>
#include <vector>

#include <gtest/gtest.h>
#include <signal.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

bool connection_refused(uint16_t port) {
  RawClient probe(port);
  return !probe.connected() && probe.connect_errno() == ECONNREFUSED;
}

TEST(GracefulQuit, InFlightRequestsCompleteAndNewConnectionsAreRefused) {
  UpstreamServer upstream;
  std::atomic<int> answered{0};
  upstream.set_handler([&](const RecordedRequest& r, ResponseWriter& w) {
    if (w.delay(500ms)) {
      ++answered;
      w.respond(200, {}, "done " + r.target);
    }
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, {}, 10, 0)));
  const uint16_t port = gateway.http_port();

  constexpr int kInFlight = 8;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kInFlight; ++i) {
    clients.push_back(std::make_unique<RawClient>(port));
    ASSERT_TRUE(clients.back()->send(make_request("GET", "/inflight/" + std::to_string(i))));
  }
  ASSERT_TRUE(upstream.wait_for_requests(kInFlight, 5s)) << "requests did not reach the upstream";
  ASSERT_TRUE(gateway.signal(SIGQUIT));

  EXPECT_TRUE(wait_until([&] { return connection_refused(port); }, 2s))
      << "new connections still accepted after SIGQUIT";
  EXPECT_EQ(answered.load(), 0) << "the listener closed only after in-flight requests ended";

  for (int i = 0; i < kInFlight; ++i) {
    HttpResponse resp = clients[i]->read_response();
    ASSERT_TRUE(resp.ok()) << "in-flight request " << i << ": " << resp.describe();
    EXPECT_EQ(resp.status, 200);
    EXPECT_EQ(resp.body, "done /inflight/" + std::to_string(i));
    EXPECT_TRUE(clients[i]->wait_closed(3s)) << "connection " << i << " kept open while quitting";
  }
  auto code = gateway.wait_exit(5s);
  ASSERT_TRUE(code.has_value()) << "gateway did not exit after its requests finished";
  EXPECT_EQ(*code, 0);
}

TEST(GracefulQuit, IdleKeepAliveConnectionsAreClosed) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));

  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<RawClient>(gateway.http_port()));
    HttpResponse resp = idle.back()->get("/");
    ASSERT_TRUE(resp.ok()) << resp.describe();
  }
  ASSERT_TRUE(gateway.signal(SIGQUIT));
  for (auto& c : idle) {
    EXPECT_TRUE(c->wait_closed(3s)) << "idle keep-alive connection not closed on quit";
  }
  auto code = gateway.wait_exit(5s);
  ASSERT_TRUE(code.has_value()) << "gateway did not exit with only idle connections open";
  EXPECT_EQ(*code, 0);
}

TEST(GracefulQuit, QuitCommandStopsTheGateway) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));
  ASSERT_TRUE(http_get(gateway.http_port(), "/").ok());

  CommandResult r = gateway.cli({"quit", "-p", gateway.prefix().string()});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  auto code = gateway.wait_exit(5s);
  ASSERT_TRUE(code.has_value()) << "gateway did not exit after `quit`";
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace apisix::test
