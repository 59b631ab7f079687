#include "admin/admin_server.h"

#include <memory>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "schema/core_schemas.h"

namespace apisix::admin {
namespace {
namespace json = boost::json;

// A plugin catalogue for the tests (test data standing in for the gateway's plugins, with
// APISIX's names, priorities and the schema parts the tests need).
std::vector<PluginInfo> test_plugins() {
  auto plugin = [](std::string name, int priority, std::string type, std::string_view schema,
                   std::string_view consumer_schema = "", std::string_view metadata_schema = "",
                   bool stream = false) {
    PluginInfo p;
    p.name = std::move(name);
    p.priority = priority;
    p.type = std::move(type);
    p.stream = stream;
    p.schema = json::parse(schema);
    if (!consumer_schema.empty()) p.consumer_schema = json::parse(consumer_schema);
    if (!metadata_schema.empty()) p.metadata_schema = json::parse(metadata_schema);
    return p;
  };
  return {
      plugin("key-auth", 2500, "auth",
             R"({"type":"object","properties":{"header":{"type":"string"}}})",
             R"({"type":"object","properties":{"key":{"type":"string"}},"required":["key"]})"),
      plugin("basic-auth", 2520, "auth", R"({"type":"object"})",
             R"({"type":"object","properties":{"username":{"type":"string"},
                 "password":{"type":"string"}},"required":["username","password"]})"),
      plugin("limit-count", 1002, "",
             R"({"type":"object","properties":{"count":{"type":"integer","exclusiveMinimum":0},
                 "time_window":{"type":"integer","exclusiveMinimum":0}},
                 "required":["count","time_window"]})"),
      plugin("traffic-split", 966, "", R"({"type":"object"})"),
      plugin("grpc-transcode", 506, "", R"({"type":"object"})"),
      plugin("example-plugin", 0, "", R"({"type":"object"})", "",
             R"({"type":"object","properties":{"skey":{"type":"string"},"ikey":{"type":"number"}},
                 "required":["ikey","skey"]})"),
      plugin("ip-restriction", 3000, "", R"({"type":"object"})", "", "", true),
      plugin("mqtt-proxy", 1000, "",
             R"({"type":"object","properties":{"protocol_name":{"type":"string"}},
                 "required":["protocol_name"]})",
             "", "", true),
  };
}

// A self-signed EC certificate and its key, as PEM.
struct Pem {
  std::string cert;
  std::string key;
};
Pem make_pem(const std::string& common_name) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  X509_sign(cert.get(), key.get(), EVP_sha256());
  auto text = [](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    write(bio.get());
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(len));
  };
  Pem pem;
  pem.cert = text([&](BIO* b) { PEM_write_bio_X509(b, cert.get()); });
  pem.key = text([&](BIO* b) {
    PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  return pem;
}

std::string json_text(std::string_view s) { return json::serialize(json::value(json::string(s))); }

// Admin API behaviour through AdminServer::handle (core.md §3), without sockets.
class AdminTest : public ::testing::Test {
 protected:
  AdminTest() : AdminTest(options()) {}
  explicit AdminTest(AdminOptions o)
      : server_(loop_, std::move(o), [this](const std::vector<Change>& c) {
          changes_.insert(changes_.end(), c.begin(), c.end());
        }) {}

  static AdminOptions options() {
    AdminOptions o;
    o.plugins = test_plugins();
    o.keys = std::vector<AdminKey>{{"adminkey", Role::Admin}, {"viewerkey", Role::Viewer}};
    auto allow = router::IpMatcher::compile({"127.0.0.0/24"});
    o.allow = std::make_shared<const router::IpMatcher>(std::move(allow.value()));
    return o;
  }

  AdminServer::Response call(std::string_view method, std::string_view target,
                             std::string_view body = "", std::string_view key = "adminkey",
                             std::string_view ip = "127.0.0.1") {
    std::string_view path = target;
    std::string_view query;
    if (size_t q = target.find('?'); q != std::string_view::npos) {
      path = target.substr(0, q);
      query = target.substr(q + 1);
    }
    AdminServer::Request r{method, path, query, body, key, "", ip};
    return server_.handle(r);
  }
  static json::value body(const AdminServer::Response& r) { return json::parse(r.body); }
  static std::string error_msg(const AdminServer::Response& r) {
    return std::string(json::parse(r.body).at("error_msg").as_string());
  }

  core::Loop loop_;
  std::vector<Change> changes_;
  AdminServer server_;
};

constexpr std::string_view kRoute = R"({"uri":"/hello","upstream":{"nodes":{"127.0.0.1:1980":1}}})";

// §3.1 token sources, roles and allow_admin.
TEST_F(AdminTest, AuthenticatesAndAuthorises) {
  auto r = call("GET", "/apisix/admin/routes", "", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(body(r).at("description"), "missing apikey");
  EXPECT_EQ(body(r).at("error_msg"), "failed to check token");
  r = call("GET", "/apisix/admin/routes", "", "nope");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(body(r).at("description"), "wrong apikey");
  EXPECT_EQ(call("GET", "/apisix/admin/routes?api_key=adminkey", "", "").status, 200);
  EXPECT_EQ(call("GET", "/apisix/admin/routes", "", "viewerkey").status, 200);
  r = call("PUT", "/apisix/admin/routes/1", kRoute, "viewerkey");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(body(r).at("description"), "invalid method for role viewer");
  EXPECT_EQ(call("GET", "/apisix/admin/routes", "", "adminkey", "10.0.0.1").status, 403);
  EXPECT_EQ(call("HEAD", "/apisix/admin", "", "").status, 200);
  EXPECT_EQ(call("GET", "/other", "").status, 404);
  EXPECT_EQ(call("GET", "/apisix/admin/nothing").status, 404);
  EXPECT_EQ(error_msg(call("GET", "/apisix/admin/nothing")), "Unsupported resource type: nothing");
}

// §3.4 envelopes, §3.5 ids, §3.6 PUT.
TEST_F(AdminTest, PutGetListDelete) {
  auto r = call("PUT", "/apisix/admin/routes/1", kRoute);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(body(r).at("key"), "/apisix/routes/1");
  EXPECT_EQ(body(r).at("value").at("id"), "1");
  EXPECT_TRUE(body(r).at("value").as_object().contains("create_time"));
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].type, "routes");
  EXPECT_EQ(changes_[0].id, "1");
  ASSERT_TRUE(changes_[0].value.has_value());

  r = call("PUT", "/apisix/admin/routes/1", kRoute);
  EXPECT_EQ(r.status, 200);
  r = call("GET", "/apisix/admin/routes/1");
  ASSERT_EQ(r.status, 200);
  auto one = body(r);
  EXPECT_EQ(one.at("key"), "/apisix/routes/1");
  EXPECT_LT(one.at("createdIndex").as_int64(), one.at("modifiedIndex").as_int64());
  EXPECT_EQ(one.at("value").at("uri"), "/hello");

  ASSERT_EQ(call("PUT", "/apisix/admin/routes",
                 R"({"id":"2","uri":"/b","upstream":{"nodes":{"127.0.0.1:1980":1}}})")
                .status,
            201);
  auto list = body(call("GET", "/apisix/admin/routes"));
  EXPECT_EQ(list.at("total"), 2);
  EXPECT_EQ(list.at("list").as_array().size(), 2u);

  r = call("DELETE", "/apisix/admin/routes/1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body(r).at("deleted"), "1");
  EXPECT_FALSE(changes_.back().value.has_value());
  r = call("GET", "/apisix/admin/routes/1");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(body(r).at("message"), "Key not found");
  EXPECT_EQ(call("DELETE", "/apisix/admin/routes/1").status, 404);
  EXPECT_EQ(body(call("GET", "/apisix/admin/routes/")).at("total"), 1);
}

TEST_F(AdminTest, RefusesBadInputWith400) {
  struct Case {
    std::string_view method, target, body, message;
  };
  const Case cases[] = {
      {"PUT", "/apisix/admin/routes", kRoute, "missing route id"},
      {"PUT", "/apisix/admin/routes/1", R"({"id":"2","uri":"/a"})", "wrong route id"},
      {"POST", "/apisix/admin/routes/1", kRoute, "wrong route id, do not need it"},
      {"PUT", "/apisix/admin/routes/1", "", "missing configurations"},
      {"PUT", "/apisix/admin/routes/1",
       R"({"uri":"/a","create_time":1,"upstream":{"nodes":{"127.0.0.1:1":1}}})",
       "the property is forbidden:  create_time"},
      {"PUT", "/apisix/admin/routes/1", R"({"uri":"/a","host":"a","hosts":["b"]})",
       "only one of host or hosts is allowed"},
      {"PUT", "/apisix/admin/routes/1", R"({"uri":"/a","upstream_id":"9"})",
       "failed to fetch upstream info by upstream id [9], response code: 404"},
      {"PUT", "/apisix/admin/routes/1", R"({"uri":"/a","service_id":"9"})",
       "failed to fetch service info by service id [9], response code: 404"},
      {"PUT", "/apisix/admin/routes/1",
       R"({"uri":"/a","vars":[["arg_x","nope","1"]],"upstream":{"nodes":{"127.0.0.1:1":1}}})",
       "failed to validate the 'vars' expression: invalid operator 'nope' at [0]"},
      {"PUT", "/apisix/admin/routes/1?ttl=abc", kRoute, "invalid argument ttl: should be a number"},
      {"PATCH", "/apisix/admin/routes", kRoute, "missing route id"},
      {"DELETE", "/apisix/admin/routes", "", "missing route id"},
      {"PUT", "/apisix/admin/upstreams/1", R"({"nodes":{"127.0.0.1:1":1},"pass_host":"rewrite"})",
       ""},
      {"PUT", "/apisix/admin/routes/1", R"({"uri":"/a","plugins":{"nope":{}}})",
       "unknown plugin [nope]"},
  };
  for (const Case& c : cases) {
    auto r = call(c.method, c.target, c.body);
    EXPECT_EQ(r.status, 400) << c.method << " " << c.target << " " << r.body;
    if (!c.message.empty()) {
      EXPECT_EQ(error_msg(r), c.message) << c.target << " " << c.body;
    }
  }
  auto r = call("PUT", "/apisix/admin/routes/1", "{bad json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(r).at("req_body"), "{bad json");
  EXPECT_NE(error_msg(r).find("invalid request body: "), std::string::npos);
  // Bytes that are not UTF-8 are echoed as U+FFFD: the answer stays valid JSON.
  r = call("PUT", "/apisix/admin/routes/1", "{\"uri\":\"/\xB9\"}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(r).at("req_body"), "{\"uri\":\"/\xEF\xBF\xBD\"}");
  r = call("PUT", "/apisix/admin/routes/1",
           R"({"uri":"/a","upstream":{"nodes":{"127.0.0.1:70000":1}}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(error_msg(r).find("invalid configuration"), std::string::npos) << r.body;
  EXPECT_TRUE(changes_.empty());
}

TEST_F(AdminTest, PostGeneratesIds) {
  auto r = call("POST", "/apisix/admin/routes", kRoute);
  ASSERT_EQ(r.status, 201) << r.body;
  std::string id(body(r).at("value").at("id").as_string());
  EXPECT_EQ(id.size(), 20u);
  EXPECT_EQ(body(r).at("key").as_string(), "/apisix/routes/" + id);
  auto r2 = call("POST", "/apisix/admin/routes", kRoute);
  EXPECT_LT(id, std::string(body(r2).at("value").at("id").as_string()));
}

// §3.8: merge (null deletes, arrays replace), sub-path PATCH.
TEST_F(AdminTest, PatchMergesAndSubPaths) {
  ASSERT_EQ(
      call(
          "PUT", "/apisix/admin/routes/1",
          R"({"uri":"/a","name":"n","methods":["GET","POST"],"upstream":{"nodes":{"127.0.0.1:1":1,"127.0.0.1:2":1}}})")
          .status,
      201);
  auto r = call("PATCH", "/apisix/admin/routes/1",
                R"({"name":null,"methods":["PUT"],"upstream":{"nodes":{"127.0.0.1:1":null}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto v = body(r).at("value").as_object();
  EXPECT_FALSE(v.contains("name"));
  EXPECT_EQ(v.at("methods"), json::parse(R"(["PUT"])"));
  EXPECT_EQ(v.at("upstream").at("nodes"), json::parse(R"({"127.0.0.1:2":1})"));
  r = call("PATCH", "/apisix/admin/routes/1/upstream/nodes", R"({"127.0.0.1:3":5})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r).at("value").at("upstream").at("nodes"), json::parse(R"({"127.0.0.1:3":5})"));
  r = call("PATCH", "/apisix/admin/routes/1/uri/x", R"("/b")");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_msg(r), "invalid sub-path: /uri/x");
  EXPECT_EQ(call("PATCH", "/apisix/admin/routes/9", R"({"uri":"/c"})").status, 404);
  // An invalid merged object is refused and nothing changes.
  r = call("PATCH", "/apisix/admin/routes/1", R"({"uri":5})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(call("GET", "/apisix/admin/routes/1")).at("value").at("uri"), "/a");
}

// §3.3, §3.9: references block deletion unless force=true.
TEST_F(AdminTest, DeleteRefusedWhileReferenced) {
  ASSERT_EQ(call("PUT", "/apisix/admin/upstreams/u1", R"({"nodes":{"127.0.0.1:1":1}})").status,
            201);
  ASSERT_EQ(call("PUT", "/apisix/admin/services/s1", R"({"upstream_id":"u1"})").status, 201);
  ASSERT_EQ(call("PUT", "/apisix/admin/routes/r1", R"({"uri":"/a","service_id":"s1"})").status,
            201);
  auto r = call("DELETE", "/apisix/admin/upstreams/u1");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_msg(r), "can not delete this upstream, service [s1] is still using it now");
  r = call("DELETE", "/apisix/admin/services/s1");
  EXPECT_EQ(error_msg(r), "can not delete this service directly, route [r1] is still using it now");
  EXPECT_EQ(call("DELETE", "/apisix/admin/services/s1?force=true").status, 200);
  EXPECT_EQ(call("DELETE", "/apisix/admin/upstreams/u1").status, 200);
}

// §3.11 filters and pagination.
TEST_F(AdminTest, ListFiltersAndPages) {
  for (int i = 0; i < 25; ++i) {
    std::string body = R"({"uri":"/p)" + std::to_string(i) + R"(","name":"route)" +
                       std::to_string(i) + R"(",)" +
                       (i % 2 == 0 ? R"("labels":{"even":"1"},)" : "") +
                       R"("upstream":{"nodes":{"127.0.0.1:1":1}}})";
    ASSERT_EQ(call("PUT", "/apisix/admin/routes/" + std::to_string(i), body).status, 201);
  }
  EXPECT_EQ(body(call("GET", "/apisix/admin/routes?name=1")).at("total"), 12);  // 1,10-19,21
  EXPECT_EQ(body(call("GET", "/apisix/admin/routes?label=even")).at("total"), 13);
  EXPECT_EQ(body(call("GET", "/apisix/admin/routes?uri=%2Fp2")).at("total"), 6);  // 2, 20-24
  auto page = body(call("GET", "/apisix/admin/routes?page=3&page_size=10"));
  EXPECT_EQ(page.at("total"), 25);
  ASSERT_EQ(page.at("list").as_array().size(), 5u);
  EXPECT_EQ(page.at("list").as_array()[0].at("value").at("id"), "20");
  auto r = call("GET", "/apisix/admin/routes?page=1&page_size=5");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "page_size must be between 10 and 500");
}

// §3.4.7: a key written with ttl disappears when it expires, as a delete.
TEST_F(AdminTest, TtlExpires) {
  ASSERT_EQ(call("PUT", "/apisix/admin/routes/1?ttl=5", kRoute).status, 201);
  ASSERT_EQ(call("PUT", "/apisix/admin/routes/2", kRoute).status, 201);
  changes_.clear();
  server_.expire(0);
  EXPECT_TRUE(changes_.empty());
  server_.expire(INT64_MAX / 2);
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].id, "1");
  EXPECT_FALSE(changes_[0].value.has_value());
  EXPECT_EQ(call("GET", "/apisix/admin/routes/1").status, 404);
  EXPECT_EQ(call("GET", "/apisix/admin/routes/2").status, 200);
}

// §3.3: methods a resource type does not take answer 405 with APISIX's words.
TEST_F(AdminTest, RefusesUnsupportedMethodsWith405) {
  struct Case {
    std::string_view method, target, kind;
  };
  const Case cases[] = {
      {"POST", "/apisix/admin/consumers", "consumer"},
      {"PATCH", "/apisix/admin/consumers/jack", "consumer"},
      {"POST", "/apisix/admin/consumers/jack/credentials", "credential"},
      {"PATCH", "/apisix/admin/consumers/jack/credentials/c1", "credential"},
      {"POST", "/apisix/admin/consumer_groups", "consumer group"},
      {"POST", "/apisix/admin/global_rules", "global rule"},
      {"POST", "/apisix/admin/plugin_configs", "plugin config"},
      {"POST", "/apisix/admin/plugin_metadata", "plugin_metadata"},
      {"PATCH", "/apisix/admin/plugin_metadata/example-plugin", "plugin_metadata"},
      {"PATCH", "/apisix/admin/protos/1", "proto"},
      {"POST", "/apisix/admin/secrets/vault", "secret"},
  };
  for (const Case& c : cases) {
    auto r = call(c.method, c.target, R"({"a":1})");
    EXPECT_EQ(r.status, 405) << c.method << " " << c.target << " " << r.body;
    EXPECT_EQ(error_msg(r),
              "not supported `" + std::string(c.method) + "` method for " + std::string(c.kind));
  }
  // Known endpoints without the method at all, and unknown types.
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/schema/route", "{}")), "not found");
  EXPECT_EQ(call("POST", "/apisix/admin/plugins/key-auth", "{}").status, 404);
  EXPECT_EQ(error_msg(call("GET", "/apisix/admin/credentials")),
            "Unsupported resource type: credentials");
  EXPECT_TRUE(changes_.empty());
}

// §3.3, §3.5, §3.9, §3.10: consumers, their credentials, and the cascade on DELETE.
TEST_F(AdminTest, ConsumersAndCredentials) {
  auto r = call("PUT", "/apisix/admin/consumers", R"({"username":"jack","desc":"d"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(body(r).at("key"), "/apisix/consumers/jack");
  EXPECT_FALSE(body(r).at("value").as_object().contains("id"));
  EXPECT_TRUE(body(r).at("value").as_object().contains("create_time"));
  EXPECT_EQ(call("PUT", "/apisix/admin/consumers/jack", R"({"username":"jack"})").status, 200);
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/consumers/rose", R"({"username":"jack"})")),
            "wrong username");
  EXPECT_EQ(call("PUT", "/apisix/admin/consumers/rose", R"({"desc":"x"})").status, 400);
  EXPECT_EQ(
      error_msg(
          call("PUT", "/apisix/admin/consumers", R"({"username":"a","plugins":{"key-auth":{}}})")),
      R"(invalid plugins configuration: failed to check the configuration of plugin key-auth err: property "key" is required)");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/consumers",
                           R"({"username":"a","plugins":{"nope":{}}})")),
            "invalid plugins configuration: unknown plugin [nope]");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/consumers", R"({"username":"a","group_id":"g"})")),
            "failed to fetch consumer group info by consumer group id [g], response code: 404");

  // Credentials: the consumer must exist; auth plugins only.
  r = call("PUT", "/apisix/admin/consumers/nobody/credentials/c1",
           R"({"plugins":{"key-auth":{"key":"k1"}}})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_msg(r), "consumer not found");
  changes_.clear();
  r = call("PUT", "/apisix/admin/consumers/jack/credentials/c1",
           R"({"plugins":{"key-auth":{"key":"k1"}}})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(body(r).at("key"), "/apisix/consumers/jack/credentials/c1");
  EXPECT_EQ(body(r).at("value").at("id"), "c1");
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].type, "consumers");
  EXPECT_EQ(changes_[0].id, "jack/credentials/c1");
  EXPECT_EQ(call("PUT", "/apisix/admin/consumers/jack/credentials",
                 R"({"id":"c2","plugins":{"basic-auth":{"username":"u","password":"p"}}})")
                .status,
            201);
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/consumers/jack/credentials/c3",
                           R"({"plugins":{"limit-count":{"count":1,"time_window":1}}})")),
            "only supports auth type plugins in consumer credential");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/consumers/jack/credentials/c3",
                           R"({"id":"c4","plugins":{}})")),
            "wrong credential id");

  // Duplicate auth keys between consumers and credentials (§3.10).
  ASSERT_EQ(call("PUT", "/apisix/admin/consumers", R"({"username":"rose"})").status, 201);
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/consumers",
                           R"({"username":"rose","plugins":{"key-auth":{"key":"k1"}}})")),
            "duplicate key of plugin key-auth found with credential: c1 of consumer: jack");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/consumers/rose/credentials/x",
                           R"({"plugins":{"key-auth":{"key":"k1"}}})")),
            "duplicate key of plugin key-auth found with credential: c1 of consumer: jack");
  // A credential does not clash with itself, nor a consumer with its own credential.
  EXPECT_EQ(call("PUT", "/apisix/admin/consumers/jack/credentials/c1",
                 R"({"plugins":{"key-auth":{"key":"k1"}}})")
                .status,
            200);
  EXPECT_EQ(call("PUT", "/apisix/admin/consumers",
                 R"({"username":"jack","plugins":{"key-auth":{"key":"k1"}}})")
                .status,
            200);
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/consumers/rose/credentials/x",
                           R"({"plugins":{"key-auth":{"key":"k1"}}})")),
            "duplicate key of plugin key-auth found with consumer: jack");
  // Secret references are not compared.
  EXPECT_EQ(call("PUT", "/apisix/admin/consumers/rose/credentials/x",
                 R"({"plugins":{"key-auth":{"key":"$env://K"}}})")
                .status,
            201);

  // Lists: consumers without credentials; a consumer's credentials.
  auto list = body(call("GET", "/apisix/admin/consumers"));
  EXPECT_EQ(list.at("total"), 2);
  list = body(call("GET", "/apisix/admin/consumers/jack/credentials"));
  EXPECT_EQ(list.at("total"), 2);
  EXPECT_EQ(list.at("list").as_array()[0].at("key"), "/apisix/consumers/jack/credentials/c1");
  EXPECT_EQ(body(call("GET", "/apisix/admin/consumers/jack/credentials/c2")).at("value").at("id"),
            "c2");

  // DELETE takes the credentials along.
  changes_.clear();
  r = call("DELETE", "/apisix/admin/consumers/jack");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r).at("key"), "/apisix/consumers/jack");
  ASSERT_EQ(changes_.size(), 3u);
  EXPECT_EQ(changes_[0].id, "jack/credentials/c1");
  EXPECT_EQ(changes_[1].id, "jack/credentials/c2");
  EXPECT_EQ(changes_[2].id, "jack");
  for (const Change& c : changes_) {
    EXPECT_EQ(c.type, "consumers");
    EXPECT_FALSE(c.value.has_value());
  }
  EXPECT_EQ(call("GET", "/apisix/admin/consumers/jack/credentials/c1").status, 404);
  EXPECT_EQ(body(call("GET", "/apisix/admin/consumers/jack/credentials")).at("total"), 0);
  EXPECT_EQ(call("DELETE", "/apisix/admin/consumers/rose/credentials/x").status, 200);
  EXPECT_EQ(call("DELETE", "/apisix/admin/consumers/rose/credentials/x").status, 404);
}

// §3.3: consumer groups are referenced by consumers.
TEST_F(AdminTest, ConsumerGroupsAndReferences) {
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/consumer_groups/g", R"({"plugins":{"x":1}})")),
            "invalid plugin conf 1 for plugin [x]");
  ASSERT_EQ(call("PUT", "/apisix/admin/consumer_groups/g",
                 R"({"plugins":{"limit-count":{"count":1,"time_window":60}}})")
                .status,
            201);
  ASSERT_EQ(call("PUT", "/apisix/admin/consumers", R"({"username":"jack","group_id":"g"})").status,
            201);
  auto r = call("PATCH", "/apisix/admin/consumer_groups/g", R"({"desc":"patched"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r).at("value").at("desc"), "patched");
  r = call("DELETE", "/apisix/admin/consumer_groups/g");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_msg(r),
            "can not delete this consumer group, consumer [jack] is still using it now");
  EXPECT_EQ(call("DELETE", "/apisix/admin/consumer_groups/g?force=true").status, 200);
}

// §2.2, §3.3, §3.10: SSL objects: PEM checks, private keys encrypted at rest, never returned.
TEST_F(AdminTest, SslKeysAreEncryptedAndNeverReturned) {
  Pem a = make_pem("a.test");
  Pem b = make_pem("b.test");
  std::string ssl = R"({"cert":)" + json_text(a.cert) + R"(,"key":)" + json_text(a.key) +
                    R"(,"snis":["a.test"]})";
  auto r = call("PUT", "/apisix/admin/ssls/1", ssl);
  ASSERT_EQ(r.status, 201) << r.body;
  const StoredItem* stored = server_.resources().get("/apisix/ssls/1");
  ASSERT_NE(stored, nullptr);
  std::string sealed(stored->value.at("key").as_string());
  EXPECT_NE(sealed, a.key);
  EXPECT_EQ(sealed.find("---"), std::string::npos);
  EXPECT_EQ(decrypt_private_key(sealed, options().keyring), a.key);
  // Any keyring entry decrypts; without a usable one the value is taken as is.
  EXPECT_EQ(decrypt_private_key(sealed, {"0123456789abcdef", options().keyring[0]}), a.key);
  EXPECT_EQ(decrypt_private_key(sealed, {"0123456789abcdef"}), std::nullopt);
  EXPECT_EQ(decrypt_private_key(a.key, {}), a.key);

  r = call("GET", "/apisix/admin/ssls/1");
  ASSERT_EQ(r.status, 200);
  EXPECT_FALSE(body(r).at("value").as_object().contains("key"));
  EXPECT_EQ(body(r).at("value").at("cert"), json::value(a.cert));
  auto list = body(call("GET", "/apisix/admin/ssls"));
  EXPECT_FALSE(list.at("list").as_array()[0].at("value").as_object().contains("key"));

  // PATCH re-validates the stored (encrypted) key; a new key is encrypted too.
  r = call("PATCH", "/apisix/admin/ssls/1", R"({"snis":["a.test","c.test"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = call("PATCH", "/apisix/admin/ssls/1",
           R"({"cert":)" + json_text(b.cert) + R"(,"key":)" + json_text(b.key) + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(decrypt_private_key(
                std::string(server_.resources().get("/apisix/ssls/1")->value.at("key").as_string()),
                options().keyring),
            b.key);
  r = call("PATCH", "/apisix/admin/ssls/1/key", json_text(a.key));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(body(r).at("value").at("key"), json::value(a.key));

  // POST, then the PEM checks.
  r = call("POST", "/apisix/admin/ssls", ssl);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_NE(body(r).at("value").at("key"), json::value(a.key));
  std::string bad_cert =
      "-----BEGIN CERTIFICATE-----\n" + std::string(200, 'A') + "\n-----END CERTIFICATE-----\n";
  std::string bad_key =
      "-----BEGIN PRIVATE KEY-----\n" + std::string(100, 'A') + "\n-----END PRIVATE KEY-----\n";
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/ssls/2",
                           R"({"cert":)" + json_text(bad_cert) + R"(,"key":)" + json_text(a.key) +
                               R"(,"sni":"a.test"})")),
            "failed to parse cert: PEM_read_bio_X509_AUX() failed");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/ssls/2",
                           R"({"cert":)" + json_text(a.cert) + R"(,"key":)" + json_text(bad_key) +
                               R"(,"sni":"a.test"})")),
            "failed to parse key: PEM_read_bio_PrivateKey() failed");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/ssls/2",
                           R"({"cert":)" + json_text(a.cert) + R"(,"key":)" + json_text(a.key) +
                               R"(,"sni":"a.test","certs":[)" + json_text(b.cert) + "]}")),
            "mismatched number of certs and keys");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/ssls/2",
                           R"({"cert":)" + json_text(a.cert) + R"(,"key":)" + json_text(a.key) +
                               R"(,"sni":"a.test","certs":[)" + json_text(b.cert) +
                               R"(],"keys":[)" + json_text(bad_key) + "]}")),
            "failed to handle cert-key pair[1]: failed to parse key: PEM_read_bio_PrivateKey() "
            "failed");
  r = call("PUT", "/apisix/admin/ssls/2",
           R"({"cert":)" + json_text(a.cert) + R"(,"key":)" + json_text(a.key) +
               R"(,"sni":"a.test","certs":[)" + json_text(b.cert) + R"(],"keys":[)" +
               json_text(b.key) + "]}");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_NE(body(r).at("value").at("keys").as_array()[0], json::value(b.key));
  EXPECT_FALSE(body(call("GET", "/apisix/admin/ssls/2")).at("value").as_object().contains("keys"));
}

TEST(AdminSslKeyring, EmptyKeyringStoresKeysAsSent) {
  core::Loop loop;
  AdminOptions o;
  o.keyring.clear();
  AdminServer server(loop, o, [](const std::vector<Change>&) {});
  Pem a = make_pem("a.test");
  const std::string ssl =
      R"({"cert":)" + json_text(a.cert) + R"(,"key":)" + json_text(a.key) + R"(,"sni":"a.test"})";
  AdminServer::Request r{"PUT", "/apisix/admin/ssls/1", "", ssl, "", "", "127.0.0.1"};
  ASSERT_EQ(server.handle(r).status, 201);
  EXPECT_EQ(server.resources().get("/apisix/ssls/1")->value.at("key"), json::value(a.key));
  // A 32-byte entry selects AES-256.
  std::string entry(32, 'k');
  std::string sealed = encrypt_private_key(a.key, {entry});
  EXPECT_NE(sealed, a.key);
  EXPECT_EQ(decrypt_private_key(sealed, {entry}), a.key);
}

// §3.10: a plugin may serve in one global rule only.
TEST_F(AdminTest, GlobalRulesRefuseAPluginUsedByAnotherRule) {
  const std::string rule = R"({"plugins":{"limit-count":{"count":1,"time_window":60}}})";
  ASSERT_EQ(call("PUT", "/apisix/admin/global_rules/1", rule).status, 201);
  EXPECT_EQ(call("PUT", "/apisix/admin/global_rules/1", rule).status, 200);  // itself: fine
  auto r = call("PUT", "/apisix/admin/global_rules/2", rule);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_msg(r), "plugin 'limit-count' already exists in global rule with id '1'");
  r = call("PATCH", "/apisix/admin/global_rules/1/plugins/limit-count/count", "5");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r).at("value").at("plugins").at("limit-count").at("count"), 5);
  EXPECT_EQ(call("DELETE", "/apisix/admin/global_rules/1").status, 200);
}

// §3.3, §3.10: plugin configs are looked up by routes and protect themselves from deletion.
TEST_F(AdminTest, PluginConfigsAreReferencedByRoutes) {
  auto r = call("PUT", "/apisix/admin/routes/1",
                R"({"uri":"/a","plugin_config_id":"pc","upstream":{"nodes":{"127.0.0.1:1":1}}})");
  EXPECT_EQ(error_msg(r),
            "failed to fetch plugin config info by plugin config id [pc], response code: 404");
  ASSERT_EQ(call("PUT", "/apisix/admin/plugin_configs/pc",
                 R"({"plugins":{"limit-count":{"count":1,"time_window":60}}})")
                .status,
            201);
  r = call("PUT", "/apisix/admin/routes/1",
           R"({"uri":"/a","plugin_config_id":"pc","upstream":{"nodes":{"127.0.0.1:1":1}}})");
  ASSERT_EQ(r.status, 201) << r.body;
  r = call("DELETE", "/apisix/admin/plugin_configs/pc");
  EXPECT_EQ(error_msg(r), "can not delete this plugin config, route [1] is still using it now");
  EXPECT_EQ(call("DELETE", "/apisix/admin/routes/1").status, 200);
  EXPECT_EQ(call("DELETE", "/apisix/admin/plugin_configs/pc").status, 200);
}

// §3.10 plugin validation through the catalogue, with `_meta` (§4.16).
TEST_F(AdminTest, ValidatesPluginsAgainstTheirSchemas) {
  auto put = [&](std::string_view plugins) {
    return call("PUT", "/apisix/admin/plugin_configs/1",
                R"({"plugins":)" + std::string(plugins) + "}");
  };
  EXPECT_EQ(error_msg(put(R"({"limit-count":{"count":0,"time_window":60}})")),
            "failed to check the configuration of plugin limit-count err: property \"count\" "
            "validation failed: expected 0 to be greater than 0");
  EXPECT_EQ(error_msg(put(R"({"limit-count":"x"})")),
            "invalid plugin conf \"x\" for plugin [limit-count]");
  EXPECT_EQ(error_msg(put(R"({"mqtt-proxy":{"protocol_name":"m"}})")),
            "unknown plugin [mqtt-proxy]");  // a stream plugin only
  // A disabled plugin's schema failure is tolerated.
  EXPECT_EQ(put(R"({"limit-count":{"_meta":{"disable":true}}})").status, 201);
  EXPECT_EQ(error_msg(put(R"({"limit-count":{"count":1,"time_window":1,"_meta":{"nope":1}}})")),
            "failed to check the configuration of plugin limit-count err: property \"_meta\" "
            "validation failed: additional properties forbidden, found nope");
  EXPECT_NE(
      error_msg(
          put(R"({"limit-count":{"count":1,"time_window":1,"_meta":{"filter":[["a","~~~","b"]]}}})"))
          .find("failed to validate the 'vars' expression: "),
      std::string::npos);
  EXPECT_EQ(
      put(R"({"limit-count":{"count":1,"time_window":1,"_meta":{"filter":[["arg_a","==","b"]],"priority":3}}})")
          .status,
      200);
}

// §3.3: plugin metadata is keyed by plugin name, checked by the plugin's metadata schema.
TEST_F(AdminTest, PluginMetadata) {
  auto r = call("PUT", "/apisix/admin/plugin_metadata/example-plugin", R"({"skey":"s","ikey":1})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(body(r).at("key"), "/apisix/plugin_metadata/example-plugin");
  EXPECT_EQ(body(r).at("value"), json::parse(R"({"skey":"s","ikey":1,"id":"example-plugin"})"));
  EXPECT_EQ(call("PUT", "/apisix/admin/plugin_metadata/example-plugin", R"({"skey":"t","ikey":2})")
                .status,
            200);
  EXPECT_EQ(
      error_msg(call("PUT", "/apisix/admin/plugin_metadata/example-plugin", R"({"skey":"s"})")),
      R"(invalid configuration: property "ikey" is required)");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/plugin_metadata/nope", "{}")),
            "invalid plugin name");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/plugin_metadata", "{}")), "missing plugin name");
  // Plugins without a metadata schema take any object.
  EXPECT_EQ(call("PUT", "/apisix/admin/plugin_metadata/key-auth", R"({"anything":[1]})").status,
            201);
  EXPECT_EQ(body(call("GET", "/apisix/admin/plugin_metadata")).at("total"), 2);
  EXPECT_EQ(call("DELETE", "/apisix/admin/plugin_metadata/key-auth").status, 200);
}

// §3.2: stream routes need apisix.proxy_mode with stream.
TEST_F(AdminTest, StreamRoutesNeedStreamMode) {
  for (std::string_view method : {"GET", "PUT", "DELETE"}) {
    auto r = call(method, "/apisix/admin/stream_routes/1", R"({"server_port":9100})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(error_msg(r), "stream mode is disabled, can not add stream routes");
  }
}

class AdminStreamTest : public AdminTest {
 protected:
  static AdminOptions stream_options() {
    AdminOptions o = options();
    o.stream_proxy = true;
    o.xrpc_protocols = {"redis"};
    return o;
  }
  AdminStreamTest() : AdminTest(stream_options()) {}
};

// §3.3, §3.10: stream routes and their references.
TEST_F(AdminStreamTest, StreamRoutes) {
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/stream_routes/1", R"({"upstream_id":"u"})")),
            "failed to fetch upstream info by upstream id [u], response code: 404");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/stream_routes/1", R"({"service_id":"s"})")),
            "failed to fetch service info by service id [s], response code: 404");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/stream_routes/1",
                           R"({"plugins":{"limit-count":{"count":1,"time_window":1}}})")),
            "unknown plugin [limit-count]");
  EXPECT_EQ(
      error_msg(call("PUT", "/apisix/admin/stream_routes/1", R"({"plugins":{"mqtt-proxy":{}}})")),
      "failed to check the configuration of stream plugin [mqtt-proxy]: property "
      "\"protocol_name\" is required");
  ASSERT_EQ(call("PUT", "/apisix/admin/services/s", "{}").status, 201);
  auto r = call("PUT", "/apisix/admin/stream_routes/1",
                R"({"service_id":"s","server_port":9100,"protocol":{"name":"redis"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  r = call("POST", "/apisix/admin/stream_routes", R"({"server_port":9101})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(error_msg(call("PATCH", "/apisix/admin/stream_routes/1", "{}")),
            "not supported `PATCH` method for stream route");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/stream_routes/2",
                           R"({"protocol":{"name":"redis","superior_id":"2"}})")),
            "stream route can not set itself as superior_id");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/stream_routes/2",
                           R"({"protocol":{"name":"redis","superior_id":"9"}})")),
            "failed to fetch stream routes[9], response code: 404");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/stream_routes/2",
                           R"({"protocol":{"name":"dubbo","superior_id":"1"}})")),
            "protocol mismatch: subordinate protocol [dubbo] does not match superior protocol "
            "[redis]");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/stream_routes/2", R"({"protocol":{"name":"x"}})")),
            "unknown protocol [x]");
  EXPECT_NE(
      error_msg(call("PUT", "/apisix/admin/stream_routes/2", R"({"remote_addr":"1.2.3.4/99"})"))
          .find("invalid configuration: property \"remote_addr\""),
      std::string::npos);
  ASSERT_EQ(call("PUT", "/apisix/admin/stream_routes/2",
                 R"({"protocol":{"name":"redis","superior_id":"1"}})")
                .status,
            201);
  EXPECT_EQ(error_msg(call("DELETE", "/apisix/admin/stream_routes/1")),
            "can not delete this stream route directly, stream route [2] is still using it as "
            "superior_id");
  EXPECT_EQ(error_msg(call("DELETE", "/apisix/admin/services/s")),
            "can not delete this service directly, stream_route [1] is still using it now");
  EXPECT_EQ(call("DELETE", "/apisix/admin/stream_routes/2").status, 200);
  EXPECT_EQ(call("DELETE", "/apisix/admin/stream_routes/1").status, 200);
}

// §3.3: protos, and the grpc-transcode references that keep them.
TEST_F(AdminTest, ProtosAndTheirReferences) {
  const std::string proto = R"({"content":"syntax = \"proto3\"; package p; message M {}"})";
  ASSERT_EQ(call("PUT", "/apisix/admin/protos/1", proto).status, 201);
  auto r = call("POST", "/apisix/admin/protos", proto);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(call("PUT", "/apisix/admin/protos/2", "{}").status, 400);
  ASSERT_EQ(
      call("PUT", "/apisix/admin/services/s", R"({"plugins":{"grpc-transcode":{"proto_id":"1"}}})")
          .status,
      201);
  EXPECT_EQ(error_msg(call("DELETE", "/apisix/admin/protos/1")),
            "can not delete this proto, service [s] is still using it now");
  EXPECT_EQ(call("DELETE", "/apisix/admin/protos/1?force=true").status, 200);
}

// §3.3, §3.5: secrets live under /secrets/<manager>/<id>.
TEST_F(AdminTest, Secrets) {
  const std::string vault = R"({"uri":"http://127.0.0.1:8200","prefix":"kv/apisix","token":"t"})";
  auto r = call("PUT", "/apisix/admin/secrets/vault/1", vault);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(body(r).at("key"), "/apisix/secrets/vault/1");
  EXPECT_EQ(body(r).at("value").at("id"), "vault/1");
  ASSERT_FALSE(changes_.empty());
  EXPECT_EQ(changes_.back().type, "secrets");
  EXPECT_EQ(changes_.back().id, "vault/1");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/secrets/nope/1", vault)),
            "invalid secret manager: nope");
  EXPECT_EQ(error_msg(call("PUT", "/apisix/admin/secrets/vault/2", R"({"id":"2"})")),
            "wrong secret id");
  EXPECT_EQ(call("PUT", "/apisix/admin/secrets/vault/2", R"({"uri":"http://a"})").status, 400);
  ASSERT_EQ(
      call("PUT", "/apisix/admin/secrets/aws/x", R"({"access_key_id":"a","secret_access_key":"s"})")
          .status,
      201);
  // /secrets/<manager> lists every secret, not only that manager's.
  EXPECT_EQ(body(call("GET", "/apisix/admin/secrets/vault")).at("total"), 2);
  EXPECT_EQ(body(call("GET", "/apisix/admin/secrets/aws/x")).at("value").at("id"), "aws/x");
  r = call("PATCH", "/apisix/admin/secrets/vault/1", R"({"token":"t2"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r).at("value").at("token"), "t2");
  r = call("PATCH", "/apisix/admin/secrets/vault/1/token", R"("t3")");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r).at("value").at("token"), "t3");
  EXPECT_EQ(error_msg(call("PATCH", "/apisix/admin/secrets/vault", "{}")), "no secret id");
  EXPECT_EQ(error_msg(call("DELETE", "/apisix/admin/secrets/vault")), "missing secret id");
  EXPECT_EQ(call("DELETE", "/apisix/admin/secrets/vault/1").status, 200);
  EXPECT_EQ(call("GET", "/apisix/admin/secrets/vault/1").status, 404);
}

// §3.3: traffic-split rules anywhere keep their upstreams.
TEST_F(AdminTest, TrafficSplitReferencesKeepUpstreams) {
  ASSERT_EQ(call("PUT", "/apisix/admin/upstreams/u1", R"({"nodes":{"127.0.0.1:1":1}})").status,
            201);
  ASSERT_EQ(
      call(
          "PUT", "/apisix/admin/consumers",
          R"({"username":"jack","plugins":{"traffic-split":{"rules":[{"weighted_upstreams":[{"weight":1},{"upstream_id":"u1"}]}]}}})")
          .status,
      201);
  EXPECT_EQ(error_msg(call("DELETE", "/apisix/admin/upstreams/u1")),
            "can not delete this upstream, plugin in consumer [jack] is still using it now");
  ASSERT_EQ(call("PUT", "/apisix/admin/routes/r",
                 R"({"uri":"/a","upstream_id":"u1","plugins":{"traffic-split":{"rules":[]}}})")
                .status,
            201);
  EXPECT_EQ(error_msg(call("DELETE", "/apisix/admin/upstreams/u1")),
            "can not delete this upstream, route [r] is still using it now");
  EXPECT_EQ(call("DELETE", "/apisix/admin/upstreams/u1?force=true").status, 200);
}

// §3.11: the `filter` argument, honoured for service_id and upstream_id only.
TEST_F(AdminTest, ListFilterArgument) {
  ASSERT_EQ(call("PUT", "/apisix/admin/services/1", "{}").status, 201);
  ASSERT_EQ(call("PUT", "/apisix/admin/services/2", "{}").status, 201);
  ASSERT_EQ(call("PUT", "/apisix/admin/routes/a", R"({"uri":"/a","service_id":"1"})").status, 201);
  ASSERT_EQ(call("PUT", "/apisix/admin/routes/b", R"({"uri":"/b","service_id":"2"})").status, 201);
  ASSERT_EQ(call("PUT", "/apisix/admin/routes/c", R"({"uri":"/c","service_id":1})").status, 201);
  auto list = body(call("GET", "/apisix/admin/routes?filter=service_id%3D1"));
  EXPECT_EQ(list.at("total"), 1);  // not the numeric 1
  EXPECT_EQ(list.at("list").as_array()[0].at("key"), "/apisix/routes/a");
  EXPECT_EQ(
      body(call("GET", "/apisix/admin/routes?filter=service_id%3D1%26upstream_id%3D9")).at("total"),
      0);
  EXPECT_EQ(body(call("GET", "/apisix/admin/routes?filter=name%3Dx")).at("total"), 3);
  EXPECT_EQ(
      body(call("GET", "/apisix/admin/routes?filter=service_id%3D1%26service_id%3D2")).at("total"),
      1);  // the last value counts
  EXPECT_EQ(body(call("GET", "/apisix/admin/services?filter=id%3D1")).at("total"), 2);
}

// §3.12: plugin list, plugin schemas, reload, core schemas and schema validation.
TEST_F(AdminTest, SpecialEndpoints) {
  auto r = call("GET", "/apisix/admin/plugins/list");
  ASSERT_EQ(r.status, 200);
  EXPECT_FALSE(r.api_version);
  EXPECT_EQ(body(r), json::parse(R"(["basic-auth","key-auth","limit-count","traffic-split",
                                     "grpc-transcode","example-plugin"])"));
  EXPECT_EQ(body(call("GET", "/apisix/admin/plugins/list?subsystem=stream")),
            json::parse(R"(["ip-restriction","mqtt-proxy"])"));
  r = call("GET", "/apisix/admin/plugins/list?subsystem=nope");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "invalid subsystem passed");
  EXPECT_EQ(call("GET", "/apisix/admin/plugins/list", "", "viewerkey").status, 200);

  r = call("GET", "/apisix/admin/plugins/limit-count");
  ASSERT_EQ(r.status, 200);
  auto schema = body(r);
  EXPECT_EQ(schema.at("$comment"), "this is a mark for our injected plugin schema");
  EXPECT_EQ(schema.at("properties").at("_meta").at("additionalProperties"), false);
  EXPECT_EQ(schema.at("properties").at("count").at("type"), "integer");
  EXPECT_EQ(body(call("GET", "/apisix/admin/plugins/key-auth?schema_type=consumer")).at("required"),
            json::parse(R"(["key"])"));
  EXPECT_EQ(error_msg(call("GET", "/apisix/admin/plugins/limit-count?schema_type=consumer")),
            "not found schema");
  r = call("GET", "/apisix/admin/plugins/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_msg(r), "plugin not found in subsystem http");
  EXPECT_EQ(error_msg(call("GET", "/apisix/admin/plugins/limit-count?subsystem=stream")),
            "plugin not found in subsystem stream");
  EXPECT_EQ(error_msg(call("GET", "/apisix/admin/plugins/x?subsystem=udp")),
            "unsupported subsystem: udp");
  EXPECT_EQ(call("GET", "/apisix/admin/schema/plugins/limit-count").body,
            call("GET", "/apisix/admin/plugins/limit-count").body);
  auto all = body(call("GET", "/apisix/admin/plugins?all=true"));
  EXPECT_EQ(all.at("key-auth").at("type"), "auth");
  EXPECT_EQ(all.at("key-auth").at("priority"), 2500);
  EXPECT_TRUE(all.at("example-plugin").as_object().contains("metadata_schema"));
  EXPECT_FALSE(all.as_object().contains("mqtt-proxy"));

  // Reload: PUT only.
  r = call("PUT", "/apisix/admin/plugins/reload");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "done");
  for (std::string_view m : {"GET", "POST", "DELETE", "PATCH"}) {
    r = call(m, "/apisix/admin/plugins/reload");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(error_msg(r), "please use PUT method to reload the plugins, " + std::string(m) +
                                " method is not allowed.");
  }
  r = call("PUT", "/apisix/admin/plugins/reload", "", "viewerkey");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(call("GET", "/apisix/admin/plugins/reload", "", "viewerkey").status, 405);

  // Core schemas.
  r = call("GET", "/apisix/admin/schema/nope");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_msg(r), "not found schema: nope");
  r = call("POST", "/apisix/admin/schema/validate/nope", "{}");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_msg(r), "Unsupported resource type: nope");
  EXPECT_EQ(call("POST", "/apisix/admin/schema/validate/routes", "{}", "viewerkey").status, 401);
  r = call("POST", "/apisix/admin/schema/validate/routes", "{bad");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(r).at("req_body"), "{bad");
  if (schema::core_schema("route") != nullptr) {
    r = call("GET", "/apisix/admin/schema/route");
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(body(r).as_object().contains("properties"));
    r = call("POST", "/apisix/admin/schema/validate/routes",
             R"({"uri":"/a","upstream":{"nodes":{"127.0.0.1:1":1}}})");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "");
    r = call("POST", "/apisix/admin/schema/validate/routes", R"({"uri":7})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(error_msg(r).find("invalid configuration"), std::string::npos) << r.body;
    EXPECT_EQ(call("POST", "/apisix/admin/schema/validate/consumers", R"({"username":"a"})").status,
              200);
  }
}

TEST(AdminReload, CallsTheReloadHook) {
  core::Loop loop;
  AdminOptions o;
  int reloads = 0;
  o.reload_plugins = [&] { ++reloads; };
  AdminServer server(loop, o, [](const std::vector<Change>&) {});
  AdminServer::Request r{"PUT", "/apisix/admin/plugins/reload", "", "", "", "", "127.0.0.1"};
  EXPECT_EQ(server.handle(r).body, "done");
  EXPECT_EQ(reloads, 1);
}

}  // namespace
}  // namespace apisix::admin
