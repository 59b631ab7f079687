// ip-restriction (plugins.md §5.5): schema, compile errors, and the access decision.
#include "plugins/ip_restriction/ip_restriction.h"

#include <gtest/gtest.h>

#include "plugins/testing.h"

namespace apisix::plugins {
namespace {

using testing::get;
using testing::schema_error;
using testing::TestRequest;

std::shared_ptr<const Plugin> make(std::string_view conf) {
  auto made = testing::compile<IpRestriction>(conf);
  EXPECT_TRUE(made) << made.error().context;
  return made ? *made : nullptr;
}

TEST(IpRestrictionPlugin, SchemaNeedsExactlyOneList) {
  EXPECT_EQ(schema_error("ip-restriction", R"({"whitelist":["192.168.0.1/24"]})"), std::nullopt);
  EXPECT_EQ(schema_error("ip-restriction", R"({"blacklist":["::1","fe80::/32","10.0.0.1"]})"),
            std::nullopt);
  EXPECT_EQ(schema_error("ip-restriction", R"({"whitelist":["1.1.1.1"],"blacklist":["2.2.2.2"]})"),
            "value should match only one schema, but matches both schemas 1 and 2");
  EXPECT_NE(schema_error("ip-restriction", R"({})"), std::nullopt);
  EXPECT_NE(schema_error("ip-restriction", R"({"whitelist":[]})"), std::nullopt);
  EXPECT_NE(schema_error("ip-restriction", R"({"whitelist":["1.1.1.1"],"response_code":401})"),
            std::nullopt);
  EXPECT_NE(schema_error("ip-restriction", R"({"whitelist":["1.1.1.1"],"message":""})"),
            std::nullopt);
  EXPECT_NE(schema_error("ip-restriction", R"({"whitelist":["not-an-ip"]})"), std::nullopt);
}

TEST(IpRestrictionPlugin, DefaultsAreFilled) {
  boost::json::value conf = testing::json(R"({"blacklist":["1.2.3.4"]})");
  Registry registry;
  ASSERT_EQ(registry.schema_of("ip-restriction")->validate(conf), std::nullopt);
  EXPECT_EQ(conf.at("message"), "Your IP address is not allowed");
  EXPECT_EQ(conf.at("response_code"), 403);
}

TEST(IpRestrictionPlugin, CompileRejectsEntriesTheSchemaLetsThrough) {
  // The IPv6/CIDR pattern admits text that is no address; check_schema catches it.
  auto made = testing::compile<IpRestriction>(R"({"whitelist":["::1::2/64"]})");
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().context, "invalid ip address: ::1::2/64");
}

TEST(IpRestrictionPlugin, WhitelistLetsOnlyListedAddressesThrough) {
  auto plugin = make(R"({"whitelist":["192.168.0.1/24","::1"],"message":"Access denied"})");
  TestRequest inside(get("/anything"), {}, "192.168.0.77");
  EXPECT_EQ(testing::access(*plugin, *inside), std::nullopt);
  TestRequest v6(get("/anything"), {}, "::1");
  EXPECT_EQ(testing::access(*plugin, *v6), std::nullopt);
  TestRequest outside(get("/anything"), {}, "192.168.1.1");
  PhaseResult refused = testing::access(*plugin, *outside);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  EXPECT_EQ(refused->body, "{\"message\":\"Access denied\"}\n");
}

TEST(IpRestrictionPlugin, BlacklistRefusesListedAddressesWithTheConfiguredCode) {
  auto plugin = make(R"({"blacklist":["127.0.0.0/8"],"response_code":404})");
  TestRequest local(get("/x"));
  PhaseResult refused = testing::access(*plugin, *local);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 404);
  EXPECT_EQ(refused->body, "{\"message\":\"Your IP address is not allowed\"}\n");
  TestRequest other(get("/x"), {}, "10.1.1.1");
  EXPECT_EQ(testing::access(*plugin, *other), std::nullopt);
}

}  // namespace
}  // namespace apisix::plugins
