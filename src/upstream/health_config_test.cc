#include "upstream/health_config.h"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace apisix::upstream {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

HealthConfig parse_ok(std::string_view text) {
  auto r = parse_health_config(boost::json::parse(text));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().context);
  return r.ok() ? *r : HealthConfig{};
}

TEST(HealthConfig, FillsApisixDefaults) {
  HealthConfig c = parse_ok(R"({"active":{"healthy":{},"unhealthy":{}}})");
  EXPECT_EQ(c.active.type, CheckType::Http);
  EXPECT_EQ(c.active.timeout, seconds(1));
  EXPECT_EQ(c.active.concurrency, 10U);
  EXPECT_EQ(c.active.http_method, "GET");
  EXPECT_EQ(c.active.http_path, "/");
  EXPECT_TRUE(c.active.https_verify_certificate);
  EXPECT_TRUE(c.active.host.empty());
  EXPECT_EQ(c.active.port, 0);
  EXPECT_EQ(c.active.healthy.interval, seconds(1));
  EXPECT_EQ(c.active.healthy.successes, 2U);
  EXPECT_TRUE(c.active.healthy.http_statuses.contains(200));
  EXPECT_TRUE(c.active.healthy.http_statuses.contains(302));
  EXPECT_FALSE(c.active.healthy.http_statuses.contains(201));
  EXPECT_EQ(c.active.unhealthy.interval, seconds(1));
  EXPECT_EQ(c.active.unhealthy.http_failures, 5U);
  EXPECT_EQ(c.active.unhealthy.tcp_failures, 2U);
  EXPECT_EQ(c.active.unhealthy.timeouts, 3U);
  for (int s : {429, 404, 500, 501, 502, 503, 504, 505}) {
    EXPECT_TRUE(c.active.unhealthy.http_statuses.contains(s)) << s;
  }
  EXPECT_FALSE(c.passive_configured);
  // Passive thresholds still exist: failed tries are reported with the library's defaults.
  EXPECT_EQ(c.passive.healthy.successes, 5U);
  EXPECT_EQ(c.passive.unhealthy.tcp_failures, 2U);
  EXPECT_EQ(c.passive.unhealthy.timeouts, 7U);
  EXPECT_EQ(c.passive.unhealthy.http_failures, 5U);
  for (int s : {200, 201, 226, 300, 308}) {
    EXPECT_TRUE(c.passive.healthy.http_statuses.contains(s)) << s;
  }
  for (int s : {429, 500, 503}) {
    EXPECT_TRUE(c.passive.unhealthy.http_statuses.contains(s)) << s;
  }
  EXPECT_FALSE(c.passive.unhealthy.http_statuses.contains(502));
}

// core.md §4.4.2 caveat: defaults are filled only inside objects that exist.
TEST(HealthConfig, AbsentHealthyOrUnhealthyObjectMeansNeverProbe) {
  HealthConfig c = parse_ok(R"({"active":{"http_path":"/ping"}})");
  EXPECT_EQ(c.active.healthy.interval, milliseconds(0));
  EXPECT_EQ(c.active.unhealthy.interval, milliseconds(0));
  EXPECT_FALSE(c.probes_anything());
  c = parse_ok(R"({"active":{"unhealthy":{"interval":3}}})");
  EXPECT_EQ(c.active.healthy.interval, milliseconds(0));
  EXPECT_EQ(c.active.unhealthy.interval, seconds(3));
  EXPECT_TRUE(c.probes_anything());
}

TEST(HealthConfig, ReadsEveryField) {
  HealthConfig c = parse_ok(R"({
    "active":{"type":"https","timeout":1.5,"concurrency":3,"http_path":"/status",
              "host":"example.com","port":8443,"https_verify_certificate":false,
              "http_method":"POST","http_req_body":"ping",
              "req_headers":["User-Agent: probe","X-A: 1"],
              "healthy":{"interval":2,"http_statuses":[200,204],"successes":4},
              "unhealthy":{"interval":5,"http_statuses":[500],"http_failures":6,
                           "tcp_failures":7,"timeouts":8}},
    "passive":{"type":"tcp","healthy":{"http_statuses":[201],"successes":0},
               "unhealthy":{"http_statuses":[502],"http_failures":0,"tcp_failures":1,
                            "timeouts":0}}})");
  EXPECT_EQ(c.active.type, CheckType::Https);
  EXPECT_EQ(c.active.timeout, milliseconds(1500));
  EXPECT_EQ(c.active.concurrency, 3U);
  EXPECT_EQ(c.active.http_path, "/status");
  EXPECT_EQ(c.active.host, "example.com");
  EXPECT_EQ(c.active.port, 8443);
  EXPECT_FALSE(c.active.https_verify_certificate);
  EXPECT_EQ(c.active.http_method, "POST");
  EXPECT_EQ(c.active.http_req_body, "ping");
  ASSERT_EQ(c.active.req_headers.size(), 2U);
  EXPECT_EQ(c.active.req_headers[1], "X-A: 1");
  EXPECT_EQ(c.active.healthy.interval, seconds(2));
  EXPECT_TRUE(c.active.healthy.http_statuses.contains(204));
  EXPECT_FALSE(c.active.healthy.http_statuses.contains(302));
  EXPECT_EQ(c.active.healthy.successes, 4U);
  EXPECT_EQ(c.active.unhealthy.interval, seconds(5));
  EXPECT_EQ(c.active.unhealthy.http_failures, 6U);
  EXPECT_EQ(c.active.unhealthy.tcp_failures, 7U);
  EXPECT_EQ(c.active.unhealthy.timeouts, 8U);
  EXPECT_TRUE(c.passive_configured);
  EXPECT_EQ(c.passive.type, CheckType::Tcp);
  EXPECT_EQ(c.passive.healthy.successes, 0U);
  EXPECT_TRUE(c.passive.healthy.http_statuses.contains(201));
  EXPECT_FALSE(c.passive.healthy.http_statuses.contains(200));
  EXPECT_EQ(c.passive.unhealthy.tcp_failures, 1U);
  EXPECT_EQ(c.passive.unhealthy.http_failures, 0U);
}

TEST(HealthConfig, EqualConfigsCompareEqual) {
  EXPECT_EQ(parse_ok(R"({"active":{"healthy":{"successes":2}}})"),
            parse_ok(R"({"active":{"healthy":{}}})"));
  EXPECT_NE(parse_ok(R"({"active":{"healthy":{"successes":3}}})"),
            parse_ok(R"({"active":{"healthy":{}}})"));
}

struct RejectCase {
  const char* name;
  const char* json;
  const char* message_part;  // the message must name this field
};

class HealthConfigReject : public testing::TestWithParam<RejectCase> {};

TEST_P(HealthConfigReject, NamesTheField) {
  const RejectCase& c = GetParam();
  auto r = parse_health_config(boost::json::parse(c.json));
  ASSERT_FALSE(r.ok()) << c.json;
  EXPECT_EQ(r.error().source, ErrorSource::Config);
  EXPECT_NE(r.error().context.find(c.message_part), std::string::npos) << r.error().context;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HealthConfigReject,
    testing::Values(
        RejectCase{"not_object", R"([1])", "checks"},
        RejectCase{"empty", R"({})", "\"active\" is required"},
        RejectCase{"passive_only", R"({"passive":{"type":"http"}})", "\"active\" is required"},
        RejectCase{"active_not_object", R"({"active":1})", "checks.active"},
        RejectCase{"bad_type", R"({"active":{"type":"udp"}})", "checks.active.type"},
        RejectCase{"negative_timeout", R"({"active":{"timeout":-1}})", "checks.active.timeout"},
        RejectCase{"string_timeout", R"({"active":{"timeout":"1"}})", "checks.active.timeout"},
        RejectCase{"fraction_concurrency", R"({"active":{"concurrency":1.5}})",
                   "checks.active.concurrency"},
        RejectCase{"port_zero", R"({"active":{"port":0}})", "checks.active.port"},
        RejectCase{"port_too_big", R"({"active":{"port":70000}})", "checks.active.port"},
        RejectCase{"bad_host", R"({"active":{"host":"a b"}})", "checks.active.host"},
        RejectCase{"bad_method", R"({"active":{"http_method":"FETCH"}})",
                   "checks.active.http_method"},
        RejectCase{"path_not_string", R"({"active":{"http_path":1}})", "checks.active.http_path"},
        RejectCase{"verify_not_bool", R"({"active":{"https_verify_certificate":"yes"}})",
                   "checks.active.https_verify_certificate"},
        RejectCase{"empty_req_headers", R"({"active":{"req_headers":[]}})",
                   "checks.active.req_headers"},
        RejectCase{"req_header_not_string", R"({"active":{"req_headers":[1]}})",
                   "checks.active.req_headers"},
        RejectCase{"healthy_not_object", R"({"active":{"healthy":[]}})", "checks.active.healthy"},
        RejectCase{"interval_zero", R"({"active":{"healthy":{"interval":0}}})",
                   "checks.active.healthy.interval"},
        RejectCase{"active_successes_zero", R"({"active":{"healthy":{"successes":0}}})",
                   "checks.active.healthy.successes"},
        RejectCase{"active_successes_255", R"({"active":{"healthy":{"successes":255}}})",
                   "checks.active.healthy.successes"},
        RejectCase{"status_too_low", R"({"active":{"healthy":{"http_statuses":[199]}}})",
                   "checks.active.healthy.http_statuses"},
        RejectCase{"status_too_high", R"({"active":{"unhealthy":{"http_statuses":[600]}}})",
                   "checks.active.unhealthy.http_statuses"},
        RejectCase{"status_duplicate", R"({"active":{"unhealthy":{"http_statuses":[500,500]}}})",
                   "checks.active.unhealthy.http_statuses"},
        RejectCase{"status_empty", R"({"active":{"healthy":{"http_statuses":[]}}})",
                   "checks.active.healthy.http_statuses"},
        RejectCase{"active_tcp_failures_zero", R"({"active":{"unhealthy":{"tcp_failures":0}}})",
                   "checks.active.unhealthy.tcp_failures"},
        RejectCase{"active_timeouts_zero", R"({"active":{"unhealthy":{"timeouts":0}}})",
                   "checks.active.unhealthy.timeouts"},
        RejectCase{"active_http_failures_255", R"({"active":{"unhealthy":{"http_failures":255}}})",
                   "checks.active.unhealthy.http_failures"},
        RejectCase{"passive_not_object", R"({"active":{},"passive":true})", "checks.passive"},
        RejectCase{"passive_bad_type", R"({"active":{},"passive":{"type":"grpc"}})",
                   "checks.passive.type"},
        RejectCase{"passive_negative", R"({"active":{},"passive":{"unhealthy":{"timeouts":-1}}})",
                   "checks.passive.unhealthy.timeouts"},
        RejectCase{"passive_255", R"({"active":{},"passive":{"healthy":{"successes":255}}})",
                   "checks.passive.healthy.successes"}),
    [](const testing::TestParamInfo<RejectCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace apisix::upstream
