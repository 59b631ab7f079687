#include "upstream/health_state.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace apisix::upstream {
namespace {

using Outcome = UpstreamHealth::Outcome;

std::shared_ptr<const HealthConfig> default_config() {
  HealthConfig c;
  c.active.healthy.http_statuses = {200, 302};
  c.active.healthy.successes = 2;
  c.active.unhealthy.http_statuses = {429, 404, 500, 501, 502, 503, 504, 505};
  c.active.unhealthy.http_failures = 5;
  c.active.unhealthy.tcp_failures = 2;
  c.active.unhealthy.timeouts = 3;
  c.active.healthy.interval = std::chrono::seconds(1);
  c.active.unhealthy.interval = std::chrono::seconds(1);
  c.passive.healthy.http_statuses = {200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
                                     300, 301, 302, 303, 304, 305, 306, 307, 308};
  c.passive.healthy.successes = 5;
  c.passive.unhealthy.http_statuses = {429, 500, 503};
  c.passive.unhealthy.http_failures = 5;
  c.passive.unhealthy.tcp_failures = 2;
  c.passive.unhealthy.timeouts = 7;
  return std::make_shared<HealthConfig>(c);
}

std::vector<HealthNode> two_nodes() { return {{"127.0.0.1", 1980, ""}, {"127.0.0.2", 1988, ""}}; }

HealthCounters counters(uint32_t s, uint32_t h, uint32_t t, uint32_t to) {
  return HealthCounters{s, h, t, to};
}

TEST(UpstreamHealth, StartsHealthyWithZeroCounters) {
  auto nodes = two_nodes();
  UpstreamHealth h("upstreams/1", default_config(), nodes);
  ASSERT_EQ(h.target_count(), 2U);
  EXPECT_TRUE(h.is_healthy(0));
  EXPECT_TRUE(h.is_healthy(1));
  EXPECT_EQ(h.healthy().count(), 2U);
  EXPECT_EQ(h.target_status(1).health, NodeHealth::Healthy);
  EXPECT_EQ(h.target_status(1).counters, counters(0, 0, 0, 0));
  EXPECT_EQ(h.target(1).hostname, "127.0.0.2");
  EXPECT_EQ(h.target(1).port, 1988);
}

// Each failure kind against its passive threshold (defaults: tcp 2, timeouts 7, http 5).
struct FailureCase {
  const char* name;
  Outcome outcome;
  uint32_t threshold;
  HealthCounters at_threshold;
};

class PassiveFailure : public testing::TestWithParam<FailureCase> {};

TEST_P(PassiveFailure, MostlyHealthyThenUnhealthyAtThreshold) {
  const FailureCase& c = GetParam();
  auto nodes = two_nodes();
  UpstreamHealth h("upstreams/1", default_config(), nodes);
  uint64_t v0 = h.version();
  for (uint32_t i = 1; i < c.threshold; ++i) {
    h.report_target(1, c.outcome, CheckSource::Passive);
    EXPECT_EQ(h.target_status(1).health, NodeHealth::MostlyHealthy) << i;
    EXPECT_TRUE(h.is_healthy(1));  // mostly_healthy stays available
  }
  EXPECT_EQ(h.version(), v0);
  h.report_target(1, c.outcome, CheckSource::Passive);
  EXPECT_EQ(h.target_status(1).health, NodeHealth::Unhealthy);
  EXPECT_EQ(h.target_status(1).counters, c.at_threshold);
  EXPECT_FALSE(h.is_healthy(1));
  EXPECT_TRUE(h.is_healthy(0));
  EXPECT_GT(h.version(), v0);
  // Fully unhealthy: further failures are not counted.
  h.report_target(1, c.outcome, CheckSource::Passive);
  EXPECT_EQ(h.target_status(1).counters, c.at_threshold);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, PassiveFailure,
    testing::Values(FailureCase{"tcp", Outcome::TcpFailure, 2, counters(0, 0, 2, 0)},
                    FailureCase{"timeout", Outcome::Timeout, 7, counters(0, 0, 0, 7)},
                    FailureCase{"http", Outcome::HttpFailure, 5, counters(0, 5, 0, 0)}),
    [](const testing::TestParamInfo<FailureCase>& info) { return std::string(info.param.name); });

TEST(UpstreamHealth, ByNodeReportersClassifyStatuses) {
  auto nodes = two_nodes();
  UpstreamHealth h("upstreams/1", default_config(), nodes);
  h.report_http_status(0, 404);  // in neither passive list: ignored
  EXPECT_EQ(h.target_status(0).health, NodeHealth::Healthy);
  EXPECT_EQ(h.target_status(0).counters, counters(0, 0, 0, 0));
  h.report_http_status(0, 500);
  EXPECT_EQ(h.target_status(0).counters, counters(0, 1, 0, 0));
  h.report_http_status(0, 0);  // unparsable counts as an HTTP failure
  EXPECT_EQ(h.target_status(0).counters, counters(0, 2, 0, 0));
  h.report_tcp_failure(0);
  h.report_timeout(0);
  EXPECT_EQ(h.target_status(0).counters, counters(0, 2, 1, 1));
  EXPECT_EQ(h.target_status(0).health, NodeHealth::MostlyHealthy);
  h.report_http_status(0, 201);  // passive healthy list: a success
  EXPECT_EQ(h.target_status(0).counters, counters(1, 0, 0, 0));
  h.report_success(0);
  EXPECT_EQ(h.target_status(0).counters, counters(2, 0, 0, 0));
  // The library leaves a mostly_healthy target there until `successes` is reached.
  EXPECT_EQ(h.target_status(0).health, NodeHealth::MostlyHealthy);
  for (int i = 0; i < 3; ++i) {
    h.report_success(0);
  }
  EXPECT_EQ(h.target_status(0).health, NodeHealth::Healthy);
  EXPECT_EQ(h.target_status(0).counters, counters(5, 0, 0, 0));
}

TEST(UpstreamHealth, SuccessResetsFailuresAndFailureResetsSuccesses) {
  auto nodes = two_nodes();
  UpstreamHealth h("upstreams/1", default_config(), nodes);
  h.report_tcp_failure(0);
  EXPECT_EQ(h.target_status(0).counters, counters(0, 0, 1, 0));
  h.report_success(0);
  EXPECT_EQ(h.target_status(0).counters, counters(1, 0, 0, 0));
  // Only one more TCP failure since the success: still below the threshold of 2.
  h.report_tcp_failure(0);
  EXPECT_EQ(h.target_status(0).counters, counters(0, 0, 1, 0));
  EXPECT_EQ(h.target_status(0).health, NodeHealth::MostlyHealthy);
  // Failures of different kinds accumulate side by side.
  h.report_timeout(0);
  EXPECT_EQ(h.target_status(0).counters, counters(0, 0, 1, 1));
  h.report_tcp_failure(0);
  EXPECT_EQ(h.target_status(0).health, NodeHealth::Unhealthy);
  EXPECT_EQ(h.target_status(0).counters, counters(0, 0, 2, 1));

  // Unhealthy: a success clears the failures and makes it mostly_unhealthy.
  h.report_success(0);
  EXPECT_EQ(h.target_status(0).health, NodeHealth::MostlyUnhealthy);
  EXPECT_EQ(h.target_status(0).counters, counters(1, 0, 0, 0));
  EXPECT_FALSE(h.is_healthy(0));
  // A failure clears that success again.
  h.report_tcp_failure(0);
  EXPECT_EQ(h.target_status(0).counters, counters(0, 0, 1, 0));
  EXPECT_EQ(h.target_status(0).health, NodeHealth::MostlyUnhealthy);
}

TEST(UpstreamHealth, RecoversAfterSuccessesAndBumpsVersion) {
  auto nodes = two_nodes();
  UpstreamHealth h("upstreams/1", default_config(), nodes);
  h.report_tcp_failure(1);
  h.report_tcp_failure(1);
  ASSERT_FALSE(h.is_healthy(1));
  uint64_t v = h.version();
  for (int i = 0; i < 4; ++i) {
    h.report_success(1);
    EXPECT_FALSE(h.is_healthy(1)) << i;
  }
  h.report_success(1);
  EXPECT_TRUE(h.is_healthy(1));
  EXPECT_EQ(h.target_status(1).health, NodeHealth::Healthy);
  EXPECT_EQ(h.version(), v + 1);
  // Fully healthy: successes are not counted any more.
  h.report_success(1);
  EXPECT_EQ(h.target_status(1).counters, counters(5, 0, 0, 0));
}

TEST(UpstreamHealth, ZeroPassiveThresholdDisablesThatCounter) {
  auto config = std::make_shared<HealthConfig>(*default_config());
  config->passive.unhealthy.tcp_failures = 0;
  config->passive.healthy.successes = 0;
  auto nodes = two_nodes();
  UpstreamHealth h("upstreams/1", config, nodes);
  for (int i = 0; i < 10; ++i) {
    h.report_tcp_failure(0);
  }
  EXPECT_EQ(h.target_status(0).health, NodeHealth::Healthy);
  EXPECT_EQ(h.target_status(0).counters, counters(0, 0, 0, 0));
  h.report_timeout(0);
  h.report_success(0);  // successes disabled: the timeout stays counted
  EXPECT_EQ(h.target_status(0).counters, counters(0, 0, 0, 1));
}

TEST(UpstreamHealth, ActiveAndPassiveUseTheirOwnRules) {
  auto config = std::make_shared<HealthConfig>(*default_config());
  config->passive.unhealthy.tcp_failures = 5;
  config->active.unhealthy.tcp_failures = 1;
  auto nodes = two_nodes();
  UpstreamHealth h("upstreams/1", config, nodes);
  // 404 is an active failure but neither list has it passively.
  h.report_target_http_status(0, 404, CheckSource::Passive);
  EXPECT_EQ(h.target_status(0).counters, counters(0, 0, 0, 0));
  h.report_target_http_status(0, 404, CheckSource::Active);
  EXPECT_EQ(h.target_status(0).counters, counters(0, 1, 0, 0));
  // Passive failures push the node down (with the passive threshold) ...
  h.report_tcp_failure(1);
  EXPECT_EQ(h.target_status(1).health, NodeHealth::MostlyHealthy);
  h.report_tcp_failure(1, CheckSource::Active);  // the active threshold is 1
  EXPECT_EQ(h.target_status(1).health, NodeHealth::Unhealthy);
  // ... and active probes bring it back with the active `successes` (2).
  h.report_success(1, CheckSource::Active);
  EXPECT_EQ(h.target_status(1).health, NodeHealth::MostlyUnhealthy);
  h.report_success(1, CheckSource::Active);
  EXPECT_EQ(h.target_status(1).health, NodeHealth::Healthy);
  EXPECT_TRUE(h.is_healthy(1));
}

TEST(UpstreamHealth, ActivePortAndHostShapeTargetsAndMergeDuplicates) {
  auto config = std::make_shared<HealthConfig>(*default_config());
  config->active.port = 1988;
  config->active.host = "check.example";
  std::vector<HealthNode> nodes = {
      {"127.0.0.1", 1980, ""}, {"127.0.0.1", 1988, ""}, {"10.0.0.1", 80, "api.example"}};
  UpstreamHealth h("services/1", config, nodes, "");
  ASSERT_EQ(h.target_count(), 2U);
  EXPECT_EQ(h.target_of(0), h.target_of(1));
  EXPECT_EQ(h.target(0).port, 1988);
  EXPECT_EQ(h.target(0).hostname, "check.example");
  EXPECT_EQ(h.target(1).host_header, "api.example");
  EXPECT_EQ(h.target(1).probe_host(), "api.example");
  EXPECT_EQ(h.target(0).probe_host(), "check.example");
  h.report_tcp_failure(0);
  h.report_tcp_failure(1);
  EXPECT_FALSE(h.is_healthy(0));
  EXPECT_FALSE(h.is_healthy(1));  // the same target
  EXPECT_TRUE(h.is_healthy(2));
  EXPECT_TRUE(h.any_healthy());

  UpstreamHealth rewritten("routes/1", default_config(), nodes, "up.example");
  EXPECT_EQ(rewritten.target(2).host_header, "up.example");
  EXPECT_EQ(rewritten.target(0).hostname, "127.0.0.1");
}

TEST(UpstreamHealth, ManyNodesSpanSeveralBitsetWords) {
  std::vector<HealthNode> nodes;
  for (int i = 0; i < 130; ++i) {
    nodes.push_back({"10.0.0.1", static_cast<uint16_t>(1000 + i), ""});
  }
  UpstreamHealth h("upstreams/big", default_config(), nodes);
  EXPECT_EQ(h.healthy().count(), 130U);
  h.report_tcp_failure(129);
  h.report_tcp_failure(129);
  h.report_tcp_failure(64);
  h.report_tcp_failure(64);
  EXPECT_EQ(h.healthy().count(), 128U);
  EXPECT_FALSE(h.healthy().test(129));
  EXPECT_FALSE(h.healthy().test(64));
  EXPECT_TRUE(h.healthy().test(63));
}

// Workers report at once: every report is counted exactly once.
TEST(UpstreamHealth, ConcurrentReportsFromThreadsAreAllCounted) {
  auto config = std::make_shared<HealthConfig>(*default_config());
  config->passive.unhealthy.timeouts = 254;
  auto nodes = two_nodes();
  UpstreamHealth h("upstreams/1", config, nodes);
  constexpr int kThreads = 4;
  constexpr int kEach = 60;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h] {
      for (int i = 0; i < kEach; ++i) {
        h.report_timeout(0);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(h.target_status(0).counters.timeout_failure, 240U);
  EXPECT_EQ(h.target_status(0).health, NodeHealth::MostlyHealthy);
  EXPECT_TRUE(h.is_healthy(0));
}

// Reporters flip one node both ways at once; when they stop, the bitset agrees with the state.
TEST(UpstreamHealth, ConcurrentFlipsLeaveBitsetConsistent) {
  auto config = std::make_shared<HealthConfig>(*default_config());
  config->passive.healthy.successes = 1;
  config->passive.unhealthy.tcp_failures = 1;
  auto nodes = two_nodes();
  UpstreamHealth h("upstreams/1", config, nodes);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 2000; ++i) {
        if ((i + t) % 2 == 0) {
          h.report_success(1);
        } else {
          h.report_tcp_failure(1);
        }
        (void)h.is_healthy(1);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(h.is_healthy(1), is_available(h.target_status(1).health));
  EXPECT_TRUE(h.is_healthy(0));
}

struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  HealthRegistry::ClockFn fn() {
    return [this] { return now; };
  }
};

TEST(HealthRegistry, UnchangedInputsKeepTheSameState) {
  FakeClock clock;
  HealthRegistry registry(clock.fn());
  auto nodes = two_nodes();
  registry.begin_build();
  auto a = registry.get_or_create("upstreams/1", default_config(), nodes);
  registry.end_build();
  a->report_tcp_failure(1);
  a->report_tcp_failure(1);
  // Another build where the resource changed elsewhere (equal checks, equal nodes).
  registry.begin_build();
  auto b = registry.get_or_create("upstreams/1", default_config(), nodes);
  EXPECT_EQ(registry.end_build(), 0U);
  EXPECT_EQ(a, b);
  EXPECT_FALSE(b->is_healthy(1));
  EXPECT_EQ(registry.find("upstreams/1"), b);
  EXPECT_EQ(registry.size(), 1U);
}

TEST(HealthRegistry, NodeChangeKeepsSurvivingTargetsAndChecksChangeResets) {
  HealthRegistry registry;
  auto nodes = two_nodes();
  auto a = registry.get_or_create("routes/1", default_config(), nodes);
  a->touch();
  a->report_tcp_failure(1);
  a->report_tcp_failure(1);
  std::vector<HealthNode> more = {nodes[1], {"127.0.0.3", 1990, ""}};
  auto b = registry.get_or_create("routes/1", default_config(), more);
  EXPECT_NE(a, b);
  EXPECT_FALSE(b->is_healthy(0));  // 127.0.0.2:1988 kept its state
  EXPECT_TRUE(b->is_healthy(1));
  EXPECT_EQ(b->target_status(0).counters.tcp_failure, 2U);
  EXPECT_TRUE(b->is_used());

  auto changed = std::make_shared<HealthConfig>(*default_config());
  changed->active.http_path = "/other";
  auto c = registry.get_or_create("routes/1", changed, more);
  EXPECT_NE(b, c);
  EXPECT_TRUE(c->is_healthy(0));
  EXPECT_TRUE(c->is_used());
}

TEST(HealthRegistry, DroppedEntriesComeBackWithinGraceOnly) {
  FakeClock clock;
  HealthRegistry registry(clock.fn(), std::chrono::seconds(10));
  auto nodes = two_nodes();
  registry.begin_build();
  auto a = registry.get_or_create("upstreams/1", default_config(), nodes);
  auto other = registry.get_or_create("upstreams/2", default_config(), nodes);
  registry.end_build();
  a->report_tcp_failure(0);
  a->report_tcp_failure(0);

  registry.begin_build();
  (void)registry.get_or_create("upstreams/2", default_config(), nodes);
  EXPECT_EQ(registry.end_build(), 1U);
  EXPECT_EQ(registry.find("upstreams/1"), nullptr);
  EXPECT_EQ(registry.list().size(), 1U);

  clock.now += std::chrono::seconds(5);
  registry.begin_build();
  auto back = registry.get_or_create("upstreams/1", default_config(), nodes);
  (void)registry.get_or_create("upstreams/2", default_config(), nodes);
  registry.end_build();
  EXPECT_EQ(back, a);
  EXPECT_FALSE(back->is_healthy(0));

  registry.release("upstreams/1");
  EXPECT_EQ(registry.find("upstreams/1"), nullptr);
  clock.now += std::chrono::seconds(11);
  registry.begin_build();
  (void)registry.get_or_create("upstreams/2", default_config(), nodes);
  registry.end_build();  // purges the retired entry
  auto fresh = registry.get_or_create("upstreams/1", default_config(), nodes);
  EXPECT_NE(fresh, a);
  EXPECT_TRUE(fresh->is_healthy(0));
  EXPECT_EQ(registry.find("upstreams/2"), other);
}

}  // namespace
}  // namespace apisix::upstream
