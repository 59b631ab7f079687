// The etcd provider through the real binary and a real etcd (compat §2.3, §2.6): the first
// load, the watch (writes by other nodes and by this node's Admin API), two gateways sharing
// one etcd, and the faults of issue "Control plane": etcd down for 30 s under proxy load, and
// a watch that resumes from a compacted revision.

#include <csignal>

#include <gtest/gtest.h>

#include "tests/harness/admin_client.h"
#include "tests/harness/etcd_server.h"
#include "tests/harness/gateway_process.h"
#include "tests/harness/load_loop.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"
#include "tests/harness/wait.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

std::string route_json(const std::string& id, const std::string& uri, const UpstreamServer& to) {
  return R"({"id":")" + id + R"(","uri":")" + uri +
         R"(","upstream":{"type":"roundrobin","nodes":{")" + to.address() + R"(":1}}})";
}

class EtcdProvider : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(etcd_.ok()) << etcd_.error(); }

  // A gateway on this etcd: `traditional` with the Admin API, or a `data_plane` without.
  ::testing::AssertionResult start(GatewayProcess& gateway, bool admin = true) {
    GatewayOptions options;
    options.config_yaml = etcd_admin_config(etcd_.client_url(), admin);
    return gateway.start(options);
  }

  EtcdServer etcd_;
};

TEST_F(EtcdProvider, LoadsWhatEtcdHoldsAndFollowsOtherWriters) {
  UpstreamServer a(named_upstream("a"));
  UpstreamServer b(named_upstream("b"));
  // Written the way another APISIX node would: straight into etcd, with the placeholder
  // directory key APISIX's CLI creates (not JSON, skipped).
  ASSERT_GT(etcd_.put("/apisix/routes/", "init_dir"), 0);
  ASSERT_GT(etcd_.put("/apisix/routes/1", route_json("1", "/one", a)), 0);
  ASSERT_GT(etcd_.put("/apisix/upstreams/ub", R"({"nodes":{")" + b.address() + R"(":1}})"), 0);

  GatewayProcess gateway;
  ASSERT_TRUE(start(gateway));
  uint16_t port = gateway.http_port();
  EXPECT_EQ(served_by(port, "/one"), "a");  // loaded before the workers started

  ASSERT_GT(etcd_.put("/apisix/routes/2", R"({"id":"2","uri":"/two","upstream_id":"ub"})"), 0);
  EXPECT_TRUE(wait_until([&] { return served_by(port, "/two") == "b"; }, 5s))
      << served_by(port, "/two");
  ASSERT_GT(etcd_.put("/apisix/routes/1", route_json("1", "/one", b)), 0);
  EXPECT_TRUE(wait_until([&] { return served_by(port, "/one") == "b"; }, 5s));
  ASSERT_GT(etcd_.remove("/apisix/routes/2"), 0);
  EXPECT_TRUE(wait_until([&] { return http_get(port, "/two").status == 404; }, 5s));

  // The Admin API reads what the watch brought in.
  HttpResponse got = admin_call(gateway.admin_port(), "GET", "/apisix/admin/routes/1");
  EXPECT_EQ(got.status, 200);
  EXPECT_NE(got.body.find(b.address()), std::string::npos) << got.body;
  // A value that is not a JSON object keeps the previous one (§2.6 step 4).
  ASSERT_GT(etcd_.put("/apisix/routes/1", "not json"), 0);
  ASSERT_GT(etcd_.put("/apisix/routes/3", route_json("3", "/three", a)), 0);
  EXPECT_TRUE(wait_until([&] { return served_by(port, "/three") == "a"; }, 5s));
  EXPECT_EQ(served_by(port, "/one"), "b");
}

TEST_F(EtcdProvider, AdminWritesLandInEtcdAndReachEveryNode) {
  UpstreamServer a(named_upstream("a"));
  GatewayProcess control;
  ASSERT_TRUE(start(control));
  GatewayProcess data_plane;
  ASSERT_TRUE(start(data_plane, false));
  EXPECT_EQ(data_plane.admin_port(), 0);

  HttpResponse put =
      admin_call(control.admin_port(), "PUT", "/apisix/admin/routes/r1",
                 R"({"uri":"/shared","upstream":{"nodes":{")" + a.address() + R"(":1}}})");
  ASSERT_EQ(put.status, 201) << put.describe();
  // Stored with APISIX's key layout and value format (§2.1, §2.2).
  auto stored = etcd_.get("/apisix/routes/r1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_NE(stored->find(R"("id":"r1")"), std::string::npos) << *stored;
  EXPECT_NE(stored->find(R"("create_time":)"), std::string::npos) << *stored;

  EXPECT_EQ(served_by(control.http_port(), "/shared"), "a");  // applied when acknowledged
  EXPECT_TRUE(wait_until([&] { return served_by(data_plane.http_port(), "/shared") == "a"; }, 5s));

  // POST ids come from etcd's revision, 20 digits (§2.4).
  HttpResponse post =
      admin_call(control.admin_port(), "POST", "/apisix/admin/routes",
                 R"({"uri":"/posted","upstream":{"nodes":{")" + a.address() + R"(":1}}})");
  ASSERT_EQ(post.status, 201) << post.describe();
  EXPECT_TRUE(wait_until([&] { return served_by(data_plane.http_port(), "/posted") == "a"; }, 5s));

  ASSERT_EQ(admin_call(control.admin_port(), "DELETE", "/apisix/admin/routes/r1").status, 200);
  EXPECT_FALSE(etcd_.get("/apisix/routes/r1").has_value());
  EXPECT_EQ(http_get(control.http_port(), "/shared").status, 404);
  EXPECT_TRUE(
      wait_until([&] { return http_get(data_plane.http_port(), "/shared").status == 404; }, 5s));
}

TEST_F(EtcdProvider, RefusesToStartWithoutEtcd) {
  EtcdServer gone;
  ASSERT_TRUE(gone.ok()) << gone.error();
  std::string url = gone.client_url();
  gone.stop();
  GatewayProcess gateway;
  GatewayOptions options;
  options.config_yaml = etcd_admin_config(url, true);
  EXPECT_FALSE(gateway.start(options));
  EXPECT_NE(gateway.error_log().find("cannot load the configuration from etcd"), std::string::npos)
      << gateway.describe_logs();
}

// Issue "Control plane": etcd stopped for 30 s under proxy load → zero failed proxied
// requests, and changes made after etcd returns are applied.
TEST_F(EtcdProvider, EtcdDownThirtySecondsUnderLoadFailsNoRequest) {
  UpstreamServer a(named_upstream("a"));
  UpstreamServer b(named_upstream("b"));
  ASSERT_GT(etcd_.put("/apisix/routes/1", route_json("1", "/load", a)), 0);
  GatewayProcess gateway;
  ASSERT_TRUE(start(gateway));
  uint16_t port = gateway.http_port();
  ASSERT_EQ(served_by(port, "/load"), "a");

  LoadOptions load_options;
  load_options.port = port;
  load_options.threads = 4;
  load_options.request = "GET /load HTTP/1.1\r\nHost: t\r\n\r\n";
  LoadLoop load(load_options);
  load.start();
  ASSERT_TRUE(wait_until([&] { return load.completed() > 100; }, 10s));

  etcd_.stop();
  // The gateway notices (its watch breaks) and keeps serving the last snapshot.
  EXPECT_TRUE(wait_until(
      [&] {
        return gateway.error_log().find("serving the last configuration") != std::string::npos;
      },
      10s))
      << gateway.describe_logs();
  // Admin writes cannot be acknowledged while etcd is away: an error, not a lie.
  HttpResponse refused = admin_call(gateway.admin_port(), "PUT", "/apisix/admin/routes/9",
                                    route_json("9", "/nine", a));
  EXPECT_GE(refused.status, 500) << refused.describe();
  EXPECT_LT(refused.status, 600);

  // 30 s of outage, measured while the load runs (the wait is the outage, not a sync).
  uint64_t before = load.completed();
  Deadline back_at = Clock::now() + 30s;
  wait_until([&] { return Clock::now() >= back_at || !gateway.is_running(); }, 40s, 200ms);
  ASSERT_TRUE(gateway.is_running()) << gateway.describe_logs();
  EXPECT_GT(load.completed(), before + 100);  // still serving throughout

  ASSERT_TRUE(etcd_.restart()) << etcd_.error();
  // A change made after etcd returns is applied.
  ASSERT_GT(etcd_.put("/apisix/routes/1", route_json("1", "/load", b)), 0);
  EXPECT_TRUE(wait_until([&] { return served_by(port, "/load") == "b"; }, 30s))
      << gateway.describe_logs();
  EXPECT_NE(gateway.error_log().find("reachable again"), std::string::npos);
  LoadResult result = load.stop();
  EXPECT_EQ(result.failures, 0u) << result.describe();
  EXPECT_EQ(result.requests, result.count(200)) << result.describe();
  EXPECT_GT(result.requests, 1000u);
}

// Issue "Control plane": a watch that resumes from a compacted revision → a full re-list,
// with nothing missed (puts, replacements and deletes made during the gap).
TEST_F(EtcdProvider, CompactedWatchResyncsWithNothingMissed) {
  UpstreamServer a(named_upstream("a"));
  UpstreamServer b(named_upstream("b"));
  ASSERT_GT(etcd_.put("/apisix/routes/keep", route_json("keep", "/keep", a)), 0);
  ASSERT_GT(etcd_.put("/apisix/routes/change", route_json("change", "/change", a)), 0);
  ASSERT_GT(etcd_.put("/apisix/routes/drop", route_json("drop", "/drop", a)), 0);
  GatewayProcess gateway;
  ASSERT_TRUE(start(gateway));
  uint16_t port = gateway.http_port();
  ASSERT_EQ(served_by(port, "/drop"), "a");

  // Freeze the gateway and restart etcd under it (its watch is now broken, but it cannot
  // notice yet), change etcd behind its back and compact the history away: the watch must
  // resume from a revision etcd no longer keeps. (Writes made while only the gateway is
  // frozen would still reach it: the kernel buffers them on the open watch stream.)
  ASSERT_TRUE(gateway.signal(SIGSTOP));
  etcd_.stop();
  ASSERT_TRUE(etcd_.restart()) << etcd_.error();
  ASSERT_GT(etcd_.put("/apisix/routes/change", route_json("change", "/change", b)), 0);
  ASSERT_GT(etcd_.remove("/apisix/routes/drop"), 0);
  ASSERT_GT(etcd_.put("/apisix/routes/new", route_json("new", "/new", b)), 0);
  for (int i = 0; i < 5; ++i) {  // churn: created and deleted inside the gap
    ASSERT_GT(etcd_.put("/apisix/routes/tmp" + std::to_string(i), route_json("t", "/tmp", a)), 0);
    ASSERT_GT(etcd_.remove("/apisix/routes/tmp" + std::to_string(i)), 0);
  }
  int64_t head = etcd_.revision();
  ASSERT_GT(head, 0);
  ASSERT_TRUE(etcd_.compact(head));
  ASSERT_TRUE(gateway.signal(SIGCONT));

  EXPECT_TRUE(wait_until([&] { return served_by(port, "/new") == "b"; }, 20s))
      << gateway.describe_logs();
  EXPECT_EQ(served_by(port, "/change"), "b");
  EXPECT_EQ(http_get(port, "/drop").status, 404);
  EXPECT_EQ(http_get(port, "/tmp").status, 404);
  EXPECT_EQ(served_by(port, "/keep"), "a");
  EXPECT_NE(gateway.error_log().find("was compacted"), std::string::npos)
      << gateway.describe_logs();
  // And the watch goes on after the re-list.
  ASSERT_GT(etcd_.put("/apisix/routes/after", route_json("after", "/after", a)), 0);
  EXPECT_TRUE(wait_until([&] { return served_by(port, "/after") == "a"; }, 10s));
}

}  // namespace
}  // namespace apisix::test
