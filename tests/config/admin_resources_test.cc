// Every Admin API resource kind through the real binary (compat §3.3-§3.12): CRUD with the
// v3 envelopes, the error paths a client can provoke (each a 4xx with APISIX's error_msg,
// never a 500), private keys that never come back, and resources that survive a restart.

#include <csignal>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include "tests/harness/admin_client.h"
#include "tests/harness/gateway_process.h"
#include "tests/harness/test_certs.h"

namespace apisix::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

json::value parsed(const HttpResponse& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  return ec ? json::value() : v;
}

std::string error_msg(const HttpResponse& r) {
  json::value v = parsed(r);
  const json::value* m = v.is_object() ? v.get_object().if_contains("error_msg") : nullptr;
  return m && m->is_string() ? std::string(m->get_string()) : "(no error_msg in " + r.body + ")";
}

std::string json_string(std::string_view s) {
  return json::serialize(json::value(json::string(s)));
}

// One resource of each kind: where it is written, the body, and a PATCH that applies to it
// (empty: the kind takes no PATCH).
struct Resource {
  std::string path;
  std::string body;
  std::string patch;
};

std::vector<Resource> one_of_each(const TestCert& cert) {
  return {
      {"/apisix/admin/upstreams/u1", R"({"nodes":{"127.0.0.1:1980":1}})", R"({"desc":"p"})"},
      {"/apisix/admin/services/s1", R"({"upstream_id":"u1"})", R"({"desc":"p"})"},
      {"/apisix/admin/routes/r1", R"({"uri":"/r1","service_id":"s1"})", R"({"desc":"p"})"},
      {"/apisix/admin/consumer_groups/g1", R"({"plugins":{}})", R"({"desc":"p"})"},
      {"/apisix/admin/consumers/jack", R"({"username":"jack","group_id":"g1"})", ""},
      {"/apisix/admin/consumers/jack/credentials/c1", R"({"desc":"cred"})", ""},
      {"/apisix/admin/ssls/ssl1",
       R"({"cert":)" + json_string(cert.cert_pem) + R"(,"key":)" + json_string(cert.key_pem) +
           R"(,"snis":["localhost"]})",
       R"({"snis":["localhost","a.test"]})"},
      {"/apisix/admin/global_rules/gr1", R"({"plugins":{}})", R"({"plugins":{}})"},
      {"/apisix/admin/plugin_configs/pc1", R"({"plugins":{},"name":"pc"})", R"({"desc":"p"})"},
      {"/apisix/admin/plugin_metadata/echo", R"({"skey":"s","ikey":1})", ""},
      {"/apisix/admin/protos/p1", R"({"content":"syntax = \"proto3\"; message M {}"})", ""},
      {"/apisix/admin/secrets/vault/v1",
       R"({"uri":"http://127.0.0.1:8200","prefix":"kv/apisix","token":"t"})", R"({"token":"t2"})"},
  };
}

class AdminResources : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = make_cert(CertRequest{"localhost", {"localhost"}, {}, false, true, false});
    options_.config_yaml = embedded_admin_config(1);
    ASSERT_TRUE(gateway_.start(options_));
    admin_ = gateway_.admin_port();
  }
  HttpResponse call(std::string_view method, std::string_view path, std::string_view body = {}) {
    return admin_call(admin_, method, path, body);
  }
  GatewayProcess gateway_;
  GatewayOptions options_;
  TestCert cert_;
  uint16_t admin_ = 0;
};

// §3.3, §3.4: PUT, GET, list, PATCH, DELETE for every kind, in dependency order.
TEST_F(AdminResources, EveryKindHasCrud) {
  std::vector<Resource> all = one_of_each(cert_);
  for (const Resource& r : all) {
    HttpResponse put = call("PUT", r.path, r.body);
    ASSERT_EQ(put.status, 201) << r.path << ": " << put.describe();
    EXPECT_EQ(put.header("X-API-VERSION"), "v3");
    std::string key = "/apisix" + r.path.substr(std::string("/apisix/admin").size());
    EXPECT_EQ(parsed(put).at("key"), json::value(key)) << put.body;
    HttpResponse again = call("PUT", r.path, r.body);
    EXPECT_EQ(again.status, 200) << r.path << ": " << again.describe();
    HttpResponse get = call("GET", r.path);
    ASSERT_EQ(get.status, 200) << r.path << ": " << get.describe();
    EXPECT_EQ(parsed(get).at("key"), json::value(key));
    EXPECT_GT(parsed(get).at("modifiedIndex").as_int64(), 0);
    if (!r.patch.empty()) {
      HttpResponse patch = call("PATCH", r.path, r.patch);
      EXPECT_EQ(patch.status, 200) << r.path << ": " << patch.describe();
    }
  }
  // Lists: each holds its one item (credentials are not listed with consumers).
  for (std::string_view list :
       {"/apisix/admin/upstreams", "/apisix/admin/services", "/apisix/admin/routes",
        "/apisix/admin/consumer_groups", "/apisix/admin/consumers",
        "/apisix/admin/consumers/jack/credentials", "/apisix/admin/ssls",
        "/apisix/admin/global_rules", "/apisix/admin/plugin_configs",
        "/apisix/admin/plugin_metadata", "/apisix/admin/protos", "/apisix/admin/secrets"}) {
    HttpResponse r = call("GET", list);
    ASSERT_EQ(r.status, 200) << list;
    EXPECT_EQ(parsed(r).at("total"), 1) << list << ": " << r.body;
  }
  // Plugin metadata carries its name as id and no timestamps; secrets "<manager>/<id>".
  json::value meta = parsed(call("GET", "/apisix/admin/plugin_metadata/echo"));
  EXPECT_EQ(meta.at("value"), json::parse(R"({"skey":"s","ikey":1,"id":"echo"})"));
  EXPECT_EQ(parsed(call("GET", "/apisix/admin/secrets/vault/v1")).at("value").at("id"), "vault/v1");
  EXPECT_EQ(parsed(call("GET", "/apisix/admin/secrets/vault/v1")).at("value").at("token"), "t2");

  // References refuse deletion (§3.3) until the holders are gone.
  EXPECT_EQ(error_msg(call("DELETE", "/apisix/admin/consumer_groups/g1")),
            "can not delete this consumer group, consumer [jack] is still using it now");
  EXPECT_EQ(error_msg(call("DELETE", "/apisix/admin/services/s1")),
            "can not delete this service directly, route [r1] is still using it now");
  // Deleting in reverse order empties everything; a consumer takes its credentials along.
  EXPECT_EQ(call("DELETE", "/apisix/admin/consumers/jack").status, 200);
  EXPECT_EQ(call("GET", "/apisix/admin/consumers/jack/credentials/c1").status, 404);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (it->path.find("/consumers/") != std::string::npos) continue;
    HttpResponse del = call("DELETE", it->path);
    EXPECT_EQ(del.status, 200) << it->path << ": " << del.describe();
    EXPECT_EQ(parsed(del).at("deleted"), "1");
    EXPECT_EQ(call("GET", it->path).status, 404) << it->path;
  }
}

// §3.3: POST where a kind takes it, with a generated id (§2.4).
TEST_F(AdminResources, PostGeneratesIdsWhereAllowed) {
  HttpResponse r = call("POST", "/apisix/admin/protos", R"({"content":"syntax = \"proto3\";"})");
  ASSERT_EQ(r.status, 201) << r.describe();
  std::string id(parsed(r).at("value").at("id").as_string());
  EXPECT_EQ(id.size(), 20u);
  EXPECT_EQ(call("GET", "/apisix/admin/protos/" + id).status, 200);
  r = call("POST", "/apisix/admin/ssls",
           R"({"cert":)" + json_string(cert_.cert_pem) + R"(,"key":)" + json_string(cert_.key_pem) +
               R"(,"sni":"localhost"})");
  ASSERT_EQ(r.status, 201) << r.describe();
}

// §2.2, §3.3: the private key is stored encrypted and never returned by GET.
TEST_F(AdminResources, SslPrivateKeyNeverReturned) {
  HttpResponse put = call("PUT", "/apisix/admin/ssls/1",
                          R"({"cert":)" + json_string(cert_.cert_pem) + R"(,"key":)" +
                              json_string(cert_.key_pem) + R"(,"sni":"localhost"})");
  ASSERT_EQ(put.status, 201) << put.describe();
  json::value stored_key = parsed(put).at("value").at("key");
  EXPECT_NE(stored_key, json::value(cert_.key_pem));
  EXPECT_EQ(put.body.find("PRIVATE KEY"), std::string::npos);
  HttpResponse get = call("GET", "/apisix/admin/ssls/1");
  EXPECT_FALSE(parsed(get).at("value").as_object().contains("key")) << get.body;
  HttpResponse list = call("GET", "/apisix/admin/ssls");
  EXPECT_FALSE(parsed(list).at("list").at(0).at("value").as_object().contains("key"));
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/ssls/2",
                           R"({"cert":)" + json_string(cert_.cert_pem) + R"(,"key":)" +
                               json_string("-----BEGIN PRIVATE KEY-----\n" + std::string(80, 'A') +
                                           "\n-----END PRIVATE KEY-----\n") +
                               R"(,"sni":"localhost"})")),
            "failed to parse key: PEM_read_bio_PrivateKey() failed");
}

// §3.2-§3.10: what clients can get wrong is a 4xx with APISIX's message, never a 500.
TEST_F(AdminResources, ErrorPathsAnswer4xx) {
  struct Case {
    std::string method, path, body;
    int status;
    std::string message;  // empty: only the status and a JSON error_msg
  };
  const std::vector<Case> cases = {
      {"PUT", "/apisix/admin/consumers/jack", "{not json", 400, ""},
      {"PUT", "/apisix/admin/consumers", R"({"username":5})", 400, ""},
      {"PUT", "/apisix/admin/consumers", R"({"username":"a","foo":1})", 400,
       "invalid configuration: additional properties forbidden, found foo"},
      {"PUT", "/apisix/admin/consumers/rose", R"({"username":"jack"})", 400, "wrong username"},
      {"POST", "/apisix/admin/consumers", R"({"username":"a"})", 405,
       "not supported `POST` method for consumer"},
      {"PATCH", "/apisix/admin/consumers/a", R"({"desc":"x"})", 405,
       "not supported `PATCH` method for consumer"},
      {"PUT", "/apisix/admin/consumers/nobody/credentials/c", R"({"plugins":{}})", 404,
       "consumer not found"},
      {"PUT", "/apisix/admin/consumer_groups/g", R"({"plugins":{"nope":{}}})", 400,
       "unknown plugin [nope]"},
      {"PUT", "/apisix/admin/consumer_groups/g", R"({"desc":"no plugins"})", 400, ""},
      {"POST", "/apisix/admin/consumer_groups", R"({"plugins":{}})", 405,
       "not supported `POST` method for consumer group"},
      {"PUT", "/apisix/admin/consumer_groups/a$b", R"({"plugins":{}})", 400, ""},
      {"PUT", "/apisix/admin/global_rules/1", R"({"plugins":{},"name":"x"})", 400,
       "invalid configuration: additional properties forbidden, found name"},
      {"POST", "/apisix/admin/global_rules", R"({"plugins":{}})", 405,
       "not supported `POST` method for global rule"},
      {"PUT", "/apisix/admin/plugin_configs", R"({"plugins":{}})", 400, "missing plugin config id"},
      {"PUT", "/apisix/admin/plugin_configs/1", R"({"id":"2","plugins":{}})", 400,
       "wrong plugin config id"},
      {"PUT", "/apisix/admin/plugin_metadata", R"({"a":1})", 400, "missing plugin name"},
      {"PATCH", "/apisix/admin/plugin_metadata/x", R"({"a":1})", 405,
       "not supported `PATCH` method for plugin_metadata"},
      {"PUT", "/apisix/admin/ssls/1", R"({"cert":"x","key":"y","sni":"a"})", 400, ""},
      {"PUT", "/apisix/admin/ssls/1", R"({"cert":5})", 400, ""},
      {"PATCH", "/apisix/admin/protos/1", R"({"content":"x"})", 405,
       "not supported `PATCH` method for proto"},
      {"PUT", "/apisix/admin/protos/1", R"({"content":""})", 400, ""},
      {"PUT", "/apisix/admin/secrets/nope/1", R"({"a":1})", 400, "invalid secret manager: nope"},
      {"PUT", "/apisix/admin/secrets/vault/1", R"({"uri":"http://a"})", 400, ""},
      {"POST", "/apisix/admin/secrets/vault", R"({"a":1})", 405,
       "not supported `POST` method for secret"},
      {"GET", "/apisix/admin/stream_routes", "", 400,
       "stream mode is disabled, can not add stream routes"},
      {"PUT", "/apisix/admin/stream_routes/1", R"({"server_port":1})", 400,
       "stream mode is disabled, can not add stream routes"},
      {"DELETE", "/apisix/admin/global_rules", "", 400, "missing global rule id"},
      {"DELETE", "/apisix/admin/protos/none", "", 404, ""},
      {"GET", "/apisix/admin/plugins/nope", "", 404, "plugin not found in subsystem http"},
      {"GET", "/apisix/admin/schema/nope", "", 400, "not found schema: nope"},
      {"POST", "/apisix/admin/schema/validate/nope", "{}", 404, "Unsupported resource type: nope"},
      {"GET", "/apisix/admin/nope", "", 404, "Unsupported resource type: nope"},
  };
  for (const Case& c : cases) {
    HttpResponse r = call(c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body << ": "
                                  << r.describe();
    if (c.status == 404 && c.message.empty()) continue;  // {"message":"Key not found"}
    if (c.message.empty()) {
      EXPECT_EQ(error_msg(r).find("(no error_msg"), std::string::npos) << r.body;
    } else {
      EXPECT_EQ(error_msg(r), c.message) << c.method << " " << c.path << " " << c.body;
    }
  }
  HttpResponse huge = call("PUT", "/apisix/admin/consumers/a", std::string(1572865, ' '));
  EXPECT_EQ(huge.status, 400);
  EXPECT_NE(huge.body.find("is greater than the maximum size 1572864 allowed"), std::string::npos);
  // Nothing was written, and the API still answers.
  for (std::string_view list :
       {"/apisix/admin/consumers", "/apisix/admin/consumer_groups", "/apisix/admin/global_rules",
        "/apisix/admin/ssls", "/apisix/admin/protos", "/apisix/admin/secrets"}) {
    EXPECT_EQ(parsed(call("GET", list)).at("total"), 0) << list;
  }
}

// §3.12: the special endpoints answer without any plugin known yet.
TEST_F(AdminResources, SpecialEndpoints) {
  HttpResponse r = call("GET", "/apisix/admin/plugins/list");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  r = call("GET", "/apisix/admin/plugins/list?subsystem=nope");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "invalid subsystem passed");
  r = call("PUT", "/apisix/admin/plugins/reload");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "done");
  r = call("GET", "/apisix/admin/plugins/reload");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(error_msg(r),
            "please use PUT method to reload the plugins, GET method is not allowed.");
  r = call("GET", "/apisix/admin/schema/route");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(parsed(r).is_object()) << r.body;
  r = call("POST", "/apisix/admin/schema/validate/consumers", R"({"username":"a"})");
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.body, "");
  r = call("POST", "/apisix/admin/schema/validate/consumers", R"({"username":7})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_msg(r).find("invalid configuration"), std::string::npos) << r.body;
}

// Issue "Admin API resources": every kind written over HTTP is still there after a restart
// on the same prefix, and a consumer deleted with its credentials stays deleted.
TEST_F(AdminResources, EveryKindSurvivesRestart) {
  std::vector<Resource> all = one_of_each(cert_);
  for (const Resource& r : all) {
    ASSERT_EQ(call("PUT", r.path, r.body).status, 201) << r.path;
  }
  ASSERT_EQ(call("PUT", "/apisix/admin/consumers", R"({"username":"gone"})").status, 201);
  ASSERT_EQ(call("PUT", "/apisix/admin/consumers/gone/credentials/x", R"({"desc":"d"})").status,
            201);
  ASSERT_EQ(call("DELETE", "/apisix/admin/consumers/gone").status, 200);
  std::vector<std::string> before;
  for (const Resource& r : all) {
    before.push_back(json::serialize(parsed(call("GET", r.path)).at("value")));
  }

  ASSERT_TRUE(gateway_.signal(SIGKILL));
  ASSERT_TRUE(gateway_.wait_exit(10s).has_value());
  ASSERT_TRUE(gateway_.start(options_));
  admin_ = gateway_.admin_port();
  for (size_t i = 0; i < all.size(); ++i) {
    HttpResponse r = call("GET", all[i].path);
    ASSERT_EQ(r.status, 200) << all[i].path << " lost: " << r.describe();
    EXPECT_EQ(json::serialize(parsed(r).at("value")), before[i]) << all[i].path;
  }
  EXPECT_EQ(call("GET", "/apisix/admin/consumers/gone").status, 404);
  EXPECT_EQ(call("GET", "/apisix/admin/consumers/gone/credentials/x").status, 404);
  EXPECT_EQ(parsed(call("GET", "/apisix/admin/consumers")).at("total"), 1);
}

}  // namespace
}  // namespace apisix::test
