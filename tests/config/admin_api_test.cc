// The Admin API through the real binary (compat §3): with the embedded provider, routes,
// services and upstreams written over HTTP take effect at the proxy within milliseconds, in
// every worker, and removing them takes the behaviour away again.

#include <atomic>
#include <csignal>
#include <thread>

#include <gtest/gtest.h>

#include "tests/harness/admin_client.h"
#include "tests/harness/gateway_process.h"
#include "tests/harness/load_loop.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

class AdminApi : public ::testing::Test {
 protected:
  void SetUp() override {
    GatewayOptions options;
    options.config_yaml = embedded_admin_config();
    ASSERT_TRUE(gateway_.start(options));
    admin_ = gateway_.admin_port();
    port_ = gateway_.http_port();
    ASSERT_NE(admin_, 0);
  }
  GatewayProcess gateway_;
  uint16_t admin_ = 0;
  uint16_t port_ = 0;
};

TEST_F(AdminApi, RouteWrittenOverHttpIsServedAndRemoved) {
  UpstreamServer a(named_upstream("a"));
  EXPECT_EQ(http_get(port_, "/hello").status, 404);  // starts empty

  HttpResponse put = admin_call(
      admin_, "PUT", "/apisix/admin/routes/1",
      R"({"uri":"/hello","upstream":{"type":"roundrobin","nodes":{")" + a.address() + R"(":1}}})");
  ASSERT_EQ(put.status, 201) << put.describe();
  EXPECT_EQ(put.reason, "Created");
  EXPECT_EQ(put.header("X-API-VERSION"), "v3");
  EXPECT_EQ(put.header("Content-Type"), "application/json");
  // Both workers serve it (several connections land on both SO_REUSEPORT listeners).
  ASSERT_TRUE(wait_until([&] { return served_by(port_, "/hello") == "a"; }, 2s));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(served_by(port_, "/hello"), "a");
  }

  HttpResponse get = admin_call(admin_, "GET", "/apisix/admin/routes/1");
  EXPECT_EQ(get.status, 200);
  EXPECT_NE(get.body.find(R"("key":"/apisix/routes/1")"), std::string::npos) << get.body;

  HttpResponse del = admin_call(admin_, "DELETE", "/apisix/admin/routes/1");
  EXPECT_EQ(del.status, 200) << del.describe();
  EXPECT_TRUE(wait_until([&] { return http_get(port_, "/hello").status == 404; }, 2s));
}

TEST_F(AdminApi, SharedUpstreamChangeRepointsEveryRoute) {
  UpstreamServer a(named_upstream("a"));
  UpstreamServer b(named_upstream("b"));
  ASSERT_EQ(admin_call(admin_, "PUT", "/apisix/admin/upstreams/u1",
                       R"({"nodes":{")" + a.address() + R"(":1}})")
                .status,
            201);
  ASSERT_EQ(
      admin_call(admin_, "PUT", "/apisix/admin/services/s1", R"({"upstream_id":"u1"})").status,
      201);
  ASSERT_EQ(
      admin_call(admin_, "PUT", "/apisix/admin/routes/r1", R"({"uri":"/one","upstream_id":"u1"})")
          .status,
      201);
  ASSERT_EQ(
      admin_call(admin_, "PUT", "/apisix/admin/routes/r2", R"({"uri":"/two","service_id":"s1"})")
          .status,
      201);
  ASSERT_TRUE(wait_until([&] { return served_by(port_, "/two") == "a"; }, 2s));
  EXPECT_EQ(served_by(port_, "/one"), "a");

  // Deleting an upstream in use is refused (compat §3.3).
  HttpResponse refused = admin_call(admin_, "DELETE", "/apisix/admin/upstreams/u1");
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("is still using it now"), std::string::npos) << refused.body;

  ASSERT_EQ(admin_call(admin_, "PATCH", "/apisix/admin/upstreams/u1/nodes",
                       R"({")" + b.address() + R"(":1})")
                .status,
            200);
  ASSERT_TRUE(wait_until([&] { return served_by(port_, "/one") == "b"; }, 2s));
  EXPECT_EQ(served_by(port_, "/two"), "b");
}

TEST_F(AdminApi, RefusesBadRequestsWithoutHarm) {
  EXPECT_EQ(admin_call(admin_, "GET", "/apisix/admin/routes", "", "").status, 401);
  EXPECT_EQ(admin_call(admin_, "GET", "/apisix/admin/routes", "", "wrong").status, 401);
  HttpResponse bad = admin_call(admin_, "PUT", "/apisix/admin/routes/1", "{not json");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("invalid request body"), std::string::npos);
  bad = admin_call(admin_, "PUT", "/apisix/admin/routes/1", R"({"uri":"/x","methods":["FETCH"]})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("error_msg"), std::string::npos);
  std::string huge(1572865, ' ');
  bad = admin_call(admin_, "PUT", "/apisix/admin/routes/1", huge);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("is greater than the maximum size 1572864 allowed"), std::string::npos);
  // Still healthy.
  EXPECT_EQ(admin_call(admin_, "GET", "/apisix/admin/routes").status, 200);
  EXPECT_EQ(http_get(port_, "/x").status, 404);
}

// One keep-alive connection, each body sent after its head in a separate write and growing
// from request to request: the server's input buffer grows while a head is being served.
TEST_F(AdminApi, KeepAliveRequestsWithLateGrowingBodies) {
  RawClient client(admin_);
  ASSERT_TRUE(client.connected());
  for (int i = 0; i < 12; ++i) {
    std::string uris;  // 2^i uris: ~30 B .. ~90 KiB
    for (int j = 0; j < (1 << i); ++j) {
      uris +=
          (j == 0 ? "\"/grow/" : ",\"/grow/") + std::to_string(i) + "/" + std::to_string(j) + "\"";
    }
    std::string body = R"({"uris":[)" + uris + R"(],"upstream":{"nodes":{"127.0.0.1:1980":1}}})";
    std::string head = "PUT /apisix/admin/routes/g" + std::to_string(i) +
                       " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: " + std::string(kTestAdminKey) +
                       "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    ASSERT_TRUE(client.send(head));
    ASSERT_TRUE(client.send(body));
    HttpResponse r = client.read_response();
    ASSERT_EQ(r.status, 201) << "request " << i << ": " << r.describe();
    EXPECT_NE(r.body.find(R"("key":"/apisix/routes/g)" + std::to_string(i) + R"(")"),
              std::string::npos);
  }
}

// Route updates under proxy load: every proxied request succeeds while 200 updates arrive.
TEST_F(AdminApi, UpdatesUnderLoadFailNothing) {
  UpstreamServer a(named_upstream("a"));
  ASSERT_EQ(admin_call(admin_, "PUT", "/apisix/admin/routes/load",
                       R"({"uri":"/load","upstream":{"nodes":{")" + a.address() + R"(":1}}})")
                .status,
            201);
  ASSERT_TRUE(wait_until([&] { return served_by(port_, "/load") == "a"; }, 2s));
  LoadOptions load;
  load.port = port_;
  load.threads = 4;
  load.request = make_request("GET", "/load");
  LoadLoop loop(load);
  loop.start();
  for (int i = 0; i < 200; ++i) {
    std::string body = R"({"uri":"/other/)" + std::to_string(i % 20) +
                       R"(","upstream":{"nodes":{")" + a.address() + R"(":1}}})";
    ASSERT_EQ(
        admin_call(admin_, "PUT", "/apisix/admin/routes/o" + std::to_string(i % 20), body).status /
            100,
        2);
  }
  LoadResult result = loop.stop();
  EXPECT_GT(result.requests, 0u);
  EXPECT_EQ(result.failures, 0u) << result.describe();
  EXPECT_EQ(result.count(200), result.requests) << result.describe();
}

// Issue "Control plane": an acknowledged write survives kill -9. Writes stream in from one
// client; the gateway is killed mid-stream; after a restart on the same prefix every write
// that was answered 2xx is there (Admin API and proxy), and nothing half-written breaks it.
TEST(AdminDurability, AcknowledgedWritesSurviveKillNine) {
  UpstreamServer a(named_upstream("a"));
  GatewayProcess gateway;
  GatewayOptions options;
  options.config_yaml = embedded_admin_config(1);
  ASSERT_TRUE(gateway.start(options));
  const uint16_t admin = gateway.admin_port();

  std::atomic<int> acknowledged{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      std::string body = R"({"uri":"/k/)" + std::to_string(i) + R"(","upstream":{"nodes":{")" +
                         a.address() + R"(":1}}})";
      HttpResponse r = admin_call(admin, "PUT", "/apisix/admin/routes/k" + std::to_string(i), body);
      if (r.status != 201) {
        break;  // the gateway is gone
      }
      acknowledged.store(i + 1);
    }
  });
  ASSERT_TRUE(wait_until([&] { return acknowledged.load() >= 150; }, 30s));
  ASSERT_TRUE(gateway.signal(SIGKILL));
  ASSERT_TRUE(gateway.wait_exit(10s).has_value());
  stop = true;
  writer.join();
  const int acked = acknowledged.load();

  ASSERT_TRUE(gateway.start(options));
  const uint16_t port = gateway.http_port();
  for (int i = 0; i < acked; ++i) {
    HttpResponse r =
        admin_call(gateway.admin_port(), "GET", "/apisix/admin/routes/k" + std::to_string(i));
    ASSERT_EQ(r.status, 200) << "acknowledged route k" << i << " of " << acked << " lost";
  }
  EXPECT_EQ(served_by(port, "/k/0"), "a");
  EXPECT_EQ(served_by(port, "/k/" + std::to_string(acked - 1)), "a");
  // The store keeps working after recovery.
  EXPECT_EQ(admin_call(gateway.admin_port(), "PUT", "/apisix/admin/routes/after",
                       R"({"uri":"/after","upstream":{"nodes":{")" + a.address() + R"(":1}}})")
                .status,
            201);
  EXPECT_TRUE(wait_until([&] { return served_by(port, "/after") == "a"; }, 2s));
}

}  // namespace
}  // namespace apisix::test
