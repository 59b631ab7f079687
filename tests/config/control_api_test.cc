// The Control API's configuration endpoints through the real binary (compat §8.1): what the
// data plane holds, by kind and by id, for the embedded provider (records from the store) and
// the standalone file; plugin reload and gc.

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/harness/admin_client.h"
#include "tests/harness/gateway_process.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/raw_client.h"

namespace apisix::test {
namespace {

namespace json = boost::json;

std::string with_control(std::string yaml) {
  const std::string off = "  enable_control: false\n";
  size_t at = yaml.find(off);
  if (at != std::string::npos) {
    yaml.replace(at, off.size(),
                 "  enable_control: true\n  control:\n    ip: 127.0.0.1\n    port: 0\n");
  }
  return yaml;
}

HttpResponse control(GatewayProcess& gw, std::string_view method, std::string_view path) {
  return fetch(gw.control_port(), make_request(method, path, {{"Host", "127.0.0.1"}}, ""));
}

TEST(ControlApiConfig, RecordsFromTheEmbeddedStore) {
  GatewayProcess gw;
  GatewayOptions options;
  options.config_yaml = with_control(embedded_admin_config());
  ASSERT_TRUE(gw.start(options));
  ASSERT_NE(gw.control_port(), 0);
  uint16_t admin = gw.admin_port();
  ASSERT_EQ(admin_call(admin, "PUT", "/apisix/admin/upstreams/u1",
                       R"({"nodes":{"127.0.0.1:1980":1,"Backend.Example:80":2}})")
                .status,
            201);
  ASSERT_EQ(admin_call(admin, "PUT", "/apisix/admin/routes/r1",
                       R"({"uri":"/a","hosts":["Foo.COM"],"upstream_id":"u1"})")
                .status,
            201);
  ASSERT_EQ(admin_call(admin, "PUT", "/apisix/admin/services/s1", R"({"upstream_id":"u1"})").status,
            201);

  HttpResponse routes = control(gw, "GET", "/v1/routes");
  ASSERT_EQ(routes.status, 200) << routes.describe();
  EXPECT_EQ(routes.header("Content-Type"), "application/json");
  json::value list = json::parse(routes.body);
  ASSERT_TRUE(list.is_array()) << routes.body;
  ASSERT_EQ(list.as_array().size(), 1u);
  const json::object& r1 = list.as_array()[0].as_object();
  EXPECT_EQ(r1.at("key").as_string(), "/apisix/routes/r1");
  EXPECT_EQ(r1.at("value").at("hosts").as_array()[0].as_string(), "foo.com");  // lower-cased
  EXPECT_GT(r1.at("createdIndex").as_int64(), 0);
  EXPECT_EQ(r1.at("modifiedIndex"), r1.at("orig_modifiedIndex"));

  HttpResponse one = control(gw, "GET", "/v1/upstream/u1");
  ASSERT_EQ(one.status, 200) << one.describe();
  json::value u1 = json::parse(one.body);
  EXPECT_TRUE(u1.at("has_domain").as_bool()) << one.body;
  const json::array& nodes = u1.at("value").at("nodes").as_array();  // map form → array
  ASSERT_EQ(nodes.size(), 2u) << one.body;
  bool saw_ip = false;
  for (const json::value& n : nodes) {
    if (n.at("host").as_string() == "127.0.0.1") {
      saw_ip = true;
      EXPECT_EQ(n.at("port").as_int64(), 1980);
      EXPECT_EQ(n.at("weight").as_int64(), 1);
    }
  }
  EXPECT_TRUE(saw_ip) << one.body;
  EXPECT_EQ(json::parse(control(gw, "GET", "/v1/services").body).as_array().size(), 1u);
  EXPECT_EQ(control(gw, "GET", "/v1/service/s1").status, 200);

  auto error_of = [&](std::string_view path) {
    HttpResponse r = control(gw, "GET", path);
    return std::to_string(r.status) + " " + r.body;
  };
  EXPECT_EQ(error_of("/v1/route/none"), "404 {\"error_msg\":\"route[none] not found\"}\n");
  EXPECT_EQ(error_of("/v1/service/none"), "404 {\"error_msg\":\"service[none] not found\"}\n");
  EXPECT_EQ(error_of("/v1/upstream/none"), "404 {\"error_msg\":\"upstream[none] not found\"}\n");
  EXPECT_EQ(error_of("/v1/plugin_metadata/none"),
            "404 {\"error_msg\":\"plugin metadata[none] not found\"}\n");
  EXPECT_EQ(error_of("/v1/plugin_metadatas"), "200 []\n");

  // Deleted through the Admin API: gone here too.
  ASSERT_EQ(admin_call(admin, "DELETE", "/apisix/admin/routes/r1").status, 200);
  EXPECT_EQ(control(gw, "GET", "/v1/route/r1").status, 404);

  HttpResponse reload = control(gw, "PUT", "/v1/plugins/reload");
  EXPECT_EQ(reload.status, 200);
  EXPECT_EQ(reload.body, "done");
  EXPECT_EQ(control(gw, "POST", "/v1/gc").status, 200);
  HttpResponse schema = control(gw, "GET", "/v1/schema");
  ASSERT_EQ(schema.status, 200);
  json::value s = json::parse(schema.body);
  EXPECT_TRUE(s.at("main").is_object());
  EXPECT_TRUE(s.at("plugins").is_object());
  EXPECT_EQ(control(gw, "DELETE", "/v1/routes").status, 404);
}

TEST(ControlApiConfig, RecordsFromTheStandaloneFile) {
  GatewayProcess gw;
  GatewayOptions options;
  GatewayConfig config;
  options.config_yaml = with_control(config.to_yaml());
  options.routes_yaml =
      "routes:\n  - id: r1\n    uri: /a\n    upstream:\n      nodes:\n        \"127.0.0.1:1980\": "
      "1\n"
      "upstreams:\n  - id: u1\n    nodes:\n      - host: 127.0.0.1\n        port: 1981\n"
      "        weight: 1\n#END\n";
  ASSERT_TRUE(gw.start(options));
  HttpResponse routes = control(gw, "GET", "/v1/routes");
  ASSERT_EQ(routes.status, 200) << routes.describe();
  json::value list = json::parse(routes.body);
  ASSERT_EQ(list.as_array().size(), 1u) << routes.body;
  EXPECT_EQ(list.as_array()[0].at("key").as_string(), "/routes/r1");
  EXPECT_TRUE(list.as_array()[0].at("value").at("upstream").at("nodes").is_array());
  EXPECT_FALSE(list.as_array()[0].at("has_domain").as_bool());
  EXPECT_EQ(control(gw, "GET", "/v1/upstream/u1").status, 200);
  EXPECT_EQ(control(gw, "GET", "/v1/upstream/r1").status, 404);
}

}  // namespace
}  // namespace apisix::test
