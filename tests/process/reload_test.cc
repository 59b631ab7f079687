// Reload (SIGHUP / `reload`) re-reads config.yaml and apisix.yaml while serving: no request
// under load fails, no connection is dropped, and the new configuration takes effect.

#include <gtest/gtest.h>
#include <signal.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/load_loop.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

LoadOptions load_on(uint16_t port, std::string_view target) {
  LoadOptions load;
  load.port = port;
  load.threads = 4;
  load.request = make_request("GET", target);
  return load;
}

// Waits until the load loop has completed `more` responses beyond what it had.
bool progresses(const LoadLoop& loop, uint64_t more) {
  uint64_t mark = loop.completed();
  return wait_until([&] { return loop.completed() >= mark + more; }, 5s);
}

std::string two_routes(const UpstreamServer& a, const UpstreamServer& b) {
  return "routes:\n"
         "  - id: load\n"
         "    uri: /load\n"
         "    upstream:\n"
         "      nodes:\n"
         "        \"" +
         a.address() +
         "\": 1\n"
         "  - id: new\n"
         "    uri: /new\n"
         "    upstream:\n"
         "      nodes:\n"
         "        \"" +
         b.address() +
         "\": 1\n"
         "#END\n";
}

TEST(Reload, SighupUnderLoadDropsNothing) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));
  const pid_t pid = gateway.pid();

  LoadLoop loop(load_on(gateway.http_port(), "/load"));
  loop.start();
  ASSERT_TRUE(progresses(loop, 100));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(gateway.signal(SIGHUP));
    EXPECT_TRUE(progresses(loop, 200)) << "traffic stalled after reload " << i;
  }
  LoadResult result = loop.stop();
  EXPECT_EQ(result.failures, 0u) << result.describe();
  EXPECT_EQ(result.count(200), result.requests) << result.describe();
  EXPECT_EQ(result.connections, 4u) << "connections were dropped: " << result.describe();
  EXPECT_TRUE(gateway.is_running());
  EXPECT_EQ(gateway.pid(), pid);
}

TEST(Reload, SighupAppliesNewRoutesUnderLoad) {
  UpstreamOptions b_options;
  b_options.name = "b";
  UpstreamServer a;
  UpstreamServer b(b_options);
  GatewayProcess gateway;
  GatewayOptions options;
  options.routes_yaml =
      "routes:\n  - id: load\n    uri: /load\n    upstream:\n      nodes:\n"
      "        \"" +
      a.address() + "\": 1\n#END\n";
  ASSERT_TRUE(gateway.start(options));
  EXPECT_EQ(http_get(gateway.http_port(), "/new").status, 404);

  LoadLoop loop(load_on(gateway.http_port(), "/load"));
  loop.start();
  ASSERT_TRUE(progresses(loop, 100));
  gateway.update_routes(two_routes(a, b));
  ASSERT_TRUE(gateway.signal(SIGHUP));
  EXPECT_TRUE(wait_until([&] { return http_get(gateway.http_port(), "/new").status == 200; }, 3s))
      << "route added before SIGHUP not served";
  EXPECT_TRUE(progresses(loop, 200));
  LoadResult result = loop.stop();
  EXPECT_EQ(result.failures, 0u) << result.describe();
  EXPECT_EQ(result.count(200), result.requests) << result.describe();
  EXPECT_EQ(http_get(gateway.http_port(), "/new").header("X-Upstream-Name"), "b");
}

TEST(Reload, SighupAppliesChangedConfigYaml) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));
  const std::string big_post =
      make_request("POST", "/upload", {{"Host", "example.com"}}, std::string(4096, 'x'));
  ASSERT_EQ(fetch(gateway.http_port(), big_post).status, 200);

  LoadLoop loop(load_on(gateway.http_port(), "/load"));
  loop.start();
  ASSERT_TRUE(progresses(loop, 100));
  GatewayConfig smaller;
  smaller.client_max_body_size = "1k";
  gateway.update_config(smaller.to_yaml());
  ASSERT_TRUE(gateway.signal(SIGHUP));
  EXPECT_TRUE(wait_until([&] { return fetch(gateway.http_port(), big_post).status == 413; }, 3s))
      << "client_max_body_size from the reloaded config.yaml not applied";
  EXPECT_TRUE(progresses(loop, 200));
  LoadResult result = loop.stop();
  EXPECT_EQ(result.failures, 0u) << result.describe();
  EXPECT_EQ(result.count(200), result.requests) << result.describe();
}

TEST(Reload, ReloadCommandKeepsServing) {
  UpstreamServer upstream;
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()})));
  RawClient client(gateway.http_port());
  ASSERT_EQ(client.get("/before").status, 200);

  CommandResult r = gateway.cli({"reload", "-p", gateway.prefix().string()});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  for (int i = 0; i < 20; ++i) {
    HttpResponse resp = client.get("/after");
    ASSERT_TRUE(resp.ok()) << "keep-alive connection broken by reload: " << resp.describe();
    EXPECT_EQ(resp.status, 200);
  }
  EXPECT_TRUE(gateway.is_running());
}

}  // namespace
}  // namespace apisix::test
