// ip-restriction through the real binary (plugins.md §5.5): the whitelist example of APISIX's
// docs/en/latest/plugins/ip-restriction.md, a blacklist with its own code, and the Admin API's
// address check, with routes written over the Admin API. The test client connects from
// 127.0.0.1. (The doc's second example needs the real-ip plugin, which this build lacks.)

#include <string>

#include <gtest/gtest.h>

#include "tests/plugins/plugin_fixture.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

class IpRestrictionPlugin : public PluginTest {
 protected:
  HttpResponse put_route(const std::string& plugins) {
    return admin_call(admin_, "PUT", "/apisix/admin/routes/ip-restriction-route", route(plugins));
  }

  // Waits until GET /anything is answered with `status` (the route is applied).
  HttpResponse answered(int status) {
    return wait_for_response([&] { return http_get(port_, "/anything"); },
                             [&](const HttpResponse& r) { return r.status == status; });
  }
};

// "Restrict Access by Whitelisting": 127.0.0.1 is not in 192.168.0.1/24.
TEST_F(IpRestrictionPlugin, WhitelistRefusesOtherAddresses) {
  HttpResponse put =
      put_route(R"({"ip-restriction":{"whitelist":["192.168.0.1/24"],"message":"Access denied"}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  HttpResponse r = answered(403);
  EXPECT_EQ(r.body, "{\"message\":\"Access denied\"}\n");
  EXPECT_EQ(upstream_.request_count(), 0u);

  put = put_route(R"({"ip-restriction":{"whitelist":["192.168.0.1/24","127.0.0.1"]}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  HttpResponse ok = answered(200);
  EXPECT_EQ(ok.body, "hello world");
}

TEST_F(IpRestrictionPlugin, BlacklistRefusesWithTheConfiguredCode) {
  HttpResponse put =
      put_route(R"({"ip-restriction":{"blacklist":["127.0.0.0/24"],"response_code":404}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  HttpResponse r = answered(404);
  EXPECT_EQ(r.body, "{\"message\":\"Your IP address is not allowed\"}\n");

  put = put_route(R"({"ip-restriction":{"blacklist":["10.0.0.0/8"]}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  answered(200);
}

TEST_F(IpRestrictionPlugin, AdminApiRejectsBadAddresses) {
  HttpResponse r = put_route(R"({"ip-restriction":{"whitelist":["::1::2/64"]}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("failed to check the configuration of plugin ip-restriction err: "
                        "invalid ip address: ::1::2/64"),
            std::string::npos)
      << r.body;
  HttpResponse both =
      put_route(R"({"ip-restriction":{"whitelist":["1.1.1.1"],"blacklist":["2.2.2.2"]}})");
  EXPECT_EQ(both.status, 400) << both.body;
}

}  // namespace
}  // namespace apisix::test
