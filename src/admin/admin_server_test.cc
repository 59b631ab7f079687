#include "admin/admin_server.h"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace apisix::admin {
namespace {
namespace json = boost::json;

// Admin API behaviour through AdminServer::handle (core.md §3), without sockets.
class AdminTest : public ::testing::Test {
 protected:
  AdminTest()
      : server_(loop_, options(), [this](const std::vector<Change>& c) {
          changes_.insert(changes_.end(), c.begin(), c.end());
        }) {}

  static AdminOptions options() {
    AdminOptions o;
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

}  // namespace
}  // namespace apisix::admin
