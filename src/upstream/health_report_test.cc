#include "upstream/health_report.h"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace apisix::upstream {
namespace {

std::shared_ptr<const HealthConfig> config() {
  HealthConfig c;
  c.active.healthy.http_statuses = {200, 302};
  c.active.healthy.successes = 1;
  c.active.unhealthy.http_failures = 1;
  c.active.unhealthy.tcp_failures = 2;
  c.active.unhealthy.timeouts = 3;
  c.passive.unhealthy.tcp_failures = 2;
  c.passive.healthy.successes = 5;
  return std::make_shared<HealthConfig>(c);
}

// The shape of APISIX's t/control/healthcheck.t (TEST 1 / TEST 2).
TEST(HealthReport, ItemMatchesApisixShape) {
  std::vector<HealthNode> nodes = {{"127.0.0.1", 1980, ""}, {"127.0.0.1", 1988, ""}};
  auto health = std::make_shared<UpstreamHealth>("routes/1", config(), nodes);
  health->touch();
  health->report_tcp_failure(1, CheckSource::Active);
  health->report_tcp_failure(1, CheckSource::Active);
  HealthReportItem item{"/routes/1", CheckType::Http, health};
  EXPECT_EQ(boost::json::serialize(health_report_item(item)),
            R"({"name":"/routes/1","type":"http","nodes":[)"
            R"({"ip":"127.0.0.1","port":1980,"hostname":"127.0.0.1","status":"healthy",)"
            R"("counter":{"success":0,"http_failure":0,"tcp_failure":0,"timeout_failure":0}},)"
            R"({"ip":"127.0.0.1","port":1988,"hostname":"127.0.0.1","status":"unhealthy",)"
            R"("counter":{"success":0,"http_failure":0,"tcp_failure":2,"timeout_failure":0}}]})");
}

TEST(HealthReport, MostlyStatesAndHostHeader) {
  std::vector<HealthNode> nodes = {{"10.0.0.1", 80, "api.example"}};
  auto health = std::make_shared<UpstreamHealth>("upstreams/1", config(), nodes);
  health->touch();
  health->report_tcp_failure(0);
  auto json = health_report_item({"/apisix/upstreams/1", CheckType::Https, health});
  const auto& node = json.at("nodes").as_array().at(0).as_object();
  EXPECT_EQ(node.at("status").as_string(), "mostly_healthy");
  EXPECT_EQ(node.at("hostheader").as_string(), "api.example");
  EXPECT_EQ(node.at("hostname").as_string(), "10.0.0.1");
  EXPECT_EQ(json.at("type").as_string(), "https");
  health->report_tcp_failure(0);
  health->report_success(0);
  json = health_report_item({"/apisix/upstreams/1", CheckType::Https, health});
  EXPECT_EQ(json.at("nodes").as_array().at(0).at("status").as_string(), "mostly_unhealthy");
}

TEST(HealthReport, NoCheckerYetGivesEmptyNodesObject) {
  std::vector<HealthNode> nodes = {{"127.0.0.1", 1980, ""}};
  auto unused = std::make_shared<UpstreamHealth>("upstreams/1", config(), nodes);
  EXPECT_EQ(boost::json::serialize(health_report_item({"/upstreams/1", CheckType::Tcp, unused})),
            R"({"name":"/upstreams/1","type":"tcp","nodes":{}})");
  EXPECT_EQ(boost::json::serialize(health_report_item({"/upstreams/2", CheckType::Http, nullptr})),
            R"({"name":"/upstreams/2","type":"http","nodes":{}})");
}

TEST(HealthReport, ListIsArrayOrEmptyObject) {
  EXPECT_EQ(boost::json::serialize(health_report_list({})), "{}");
  std::vector<HealthReportItem> items = {{"/routes/1", CheckType::Http, nullptr},
                                         {"/upstreams/1", CheckType::Tcp, nullptr}};
  auto list = health_report_list(items);
  ASSERT_TRUE(list.is_array());
  EXPECT_EQ(list.as_array().size(), 2U);
  EXPECT_EQ(list.as_array()[1].at("name").as_string(), "/upstreams/1");
}

TEST(HealthReport, HtmlHasOneRowPerNode) {
  std::vector<HealthNode> nodes = {{"127.0.0.1", 1980, ""}, {"127.0.0.2", 1988, ""}};
  auto health = std::make_shared<UpstreamHealth>("upstreams/1", config(), nodes);
  health->touch();
  health->report_tcp_failure(1);
  health->report_tcp_failure(1);
  std::vector<HealthReportItem> items = {{"/upstreams/1", CheckType::Http, health}};
  std::string html = health_report_html(items);
  EXPECT_NE(html.find("<title>APISIX upstream check status</title>"), std::string::npos);
  EXPECT_NE(html.find("<td>127.0.0.1:1980</td>\n    <td>healthy</td>"), std::string::npos);
  EXPECT_NE(html.find("<tr bgcolor=\"#FF0000\">\n    <td>2</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>127.0.0.2:1988</td>\n    <td>unhealthy</td>"), std::string::npos);
}

}  // namespace
}  // namespace apisix::upstream
