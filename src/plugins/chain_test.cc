// Merge precedence and order of plugin chains (plugins.md §1.1, §1.3, §2).
#include "plugins/chain.h"

#include <map>
#include <optional>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace apisix::plugins {
namespace {

namespace json = boost::json;

// Priorities of the plugins these tests use (APISIX's defaults, plugins.md index).
std::optional<int> priority_of(std::string_view name) {
  static const std::map<std::string, int, std::less<>> kPriorities = {
      {"key-auth", 2500},       {"limit-count", 1002}, {"proxy-rewrite", 1008},
      {"prometheus", 500},      {"echo", 412},         {"response-rewrite", 899},
      {"ip-restriction", 3000}, {"cors", 4000},        {"request-id", 12015}};
  auto it = kPriorities.find(name);
  return it == kPriorities.end() ? std::nullopt : std::optional<int>(it->second);
}

// "name@origin" for each entry, in chain order.
std::vector<std::string> describe(const std::vector<ChainEntry>& chain) {
  static const char* kOrigins[] = {"service",        "plugin_config", "route",
                                   "consumer_group", "consumer",      "global"};
  std::vector<std::string> out;
  for (const ChainEntry& e : chain) {
    out.push_back(e.name + "@" + kOrigins[static_cast<int>(e.origin)]);
  }
  return out;
}

struct Layers {
  json::value service, plugin_config, route, group, consumer;
};

PluginSet merge(const Layers& l) {
  PluginSet set;
  auto add = [&](const json::value& v, Origin origin) {
    if (v.is_object()) set.add(v.get_object(), origin, "id", priority_of);
  };
  add(l.service, Origin::Service);
  add(l.plugin_config, Origin::PluginConfig);
  add(l.route, Origin::Route);
  add(l.group, Origin::ConsumerGroup);
  add(l.consumer, Origin::Consumer);
  return set;
}

// §1.3: the route's instance replaces the service's whole (no deep merge of the two confs).
TEST(PluginChain, RouteReplacesServiceInstanceWhole) {
  Layers l;
  l.service = json::parse(R"({"limit-count":{"count":1,"time_window":60,"key":"x"},"echo":{}})");
  l.route = json::parse(R"({"limit-count":{"count":5,"time_window":10}})");
  auto chain = merge(l).finish();
  EXPECT_EQ(describe(chain), (std::vector<std::string>{"limit-count@route", "echo@service"}));
  EXPECT_FALSE(chain[0].conf->get_object().contains("key"));
  EXPECT_EQ(chain[0].conf->at("count").as_int64(), 5);
}

// §1.3: consumer > consumer group > route > plugin config > service.
TEST(PluginChain, PrecedenceConsumerGroupRoutePluginConfigService) {
  Layers l;
  l.service = json::parse(R"({"limit-count":{"s":1},"proxy-rewrite":{"s":1},"echo":{"s":1},
                              "cors":{"s":1},"prometheus":{"s":1}})");
  l.plugin_config = json::parse(R"({"limit-count":{"pc":1},"proxy-rewrite":{"pc":1},
                                    "echo":{"pc":1},"cors":{"pc":1}})");
  l.route = json::parse(R"({"limit-count":{"r":1},"proxy-rewrite":{"r":1},"echo":{"r":1}})");
  l.group = json::parse(R"({"limit-count":{"g":1},"proxy-rewrite":{"g":1}})");
  l.consumer = json::parse(R"({"limit-count":{"c":1}})");
  auto chain = merge(l).finish();
  std::map<std::string, Origin> origin;
  for (const ChainEntry& e : chain) origin[e.name] = e.origin;
  EXPECT_EQ(origin["limit-count"], Origin::Consumer);
  EXPECT_EQ(origin["proxy-rewrite"], Origin::ConsumerGroup);
  EXPECT_EQ(origin["echo"], Origin::Route);
  EXPECT_EQ(origin["cors"], Origin::PluginConfig);
  EXPECT_EQ(origin["prometheus"], Origin::Service);
}

// Precedence depends on the layer, not on the order layers are added.
TEST(PluginChain, LayerOrderOfAddingDoesNotMatter) {
  json::value route = json::parse(R"({"echo":{"r":1}})");
  json::value consumer = json::parse(R"({"echo":{"c":1}})");
  PluginSet set;
  set.add(consumer.get_object(), Origin::Consumer, "jack", priority_of);
  set.add(route.get_object(), Origin::Route, "1", priority_of);
  auto chain = set.finish();
  ASSERT_EQ(chain.size(), 1u);
  EXPECT_EQ(chain[0].origin, Origin::Consumer);
  EXPECT_EQ(chain[0].owner_id, "jack");
}

// §1.3/§2: `_meta.disable` removes the instance after merging, so a disabled consumer
// instance hides the route's, and a disabled route instance hides the service's.
TEST(PluginChain, DisabledInstanceHidesTheOnesItOverrides) {
  Layers l;
  l.service = json::parse(R"({"echo":{},"cors":{}})");
  l.route = json::parse(R"({"echo":{"_meta":{"disable":true}},"limit-count":{}})");
  l.consumer = json::parse(R"({"limit-count":{"_meta":{"disable":true}}})");
  auto chain = merge(l).finish();
  EXPECT_EQ(describe(chain), (std::vector<std::string>{"cors@service"}));
  // `disable: false` is an ordinary instance.
  l.consumer = json::parse(R"({"limit-count":{"_meta":{"disable":false}}})");
  EXPECT_EQ(describe(merge(l).finish()),
            (std::vector<std::string>{"cors@service", "limit-count@consumer"}));
}

// §1.1: descending priority, ties broken by name; `_meta.priority` overrides the default for
// that instance only.
TEST(PluginChain, OrderByEffectivePriorityThenName) {
  Layers l;
  l.route = json::parse(R"({"prometheus":{},"request-id":{},"key-auth":{},"limit-count":{},
                            "echo":{"_meta":{"priority":5000}},"cors":{"_meta":{"priority":1002}}})");
  auto chain = merge(l).finish();
  EXPECT_EQ(describe(chain),
            (std::vector<std::string>{"request-id@route", "echo@route", "key-auth@route",
                                      "cors@route", "limit-count@route", "prometheus@route"}));
  EXPECT_EQ(chain[1].priority, 5000);
  EXPECT_EQ(effective_priority(json::parse(R"({"_meta":{"priority":-7}})"), 3), -7);
  EXPECT_EQ(effective_priority(json::parse(R"({"_meta":{"priority":1e300}})"), 3),
            std::numeric_limits<int>::max());
  EXPECT_EQ(effective_priority(json::parse(R"({"_meta":{}})"), 3), 3);
}

// §1.1: a plugin this build does not know is skipped (the data plane warns) and reported.
TEST(PluginChain, UnknownPluginsAreSkippedAndReported) {
  Layers l;
  l.route = json::parse(R"({"echo":{},"no-such-plugin":{}})");
  PluginSet set = merge(l);
  EXPECT_EQ(describe(set.finish()), (std::vector<std::string>{"echo@route"}));
  EXPECT_EQ(set.unknown(), (std::vector<std::string>{"no-such-plugin"}));
}

// §1.3: global rules form one chain; a plugin in two global rules runs in neither.
TEST(PluginChain, GlobalRulesDropPluginsNamedTwice) {
  json::value r1 = json::parse(R"({"prometheus":{},"limit-count":{"count":1}})");
  json::value r2 = json::parse(R"({"limit-count":{"count":2},"cors":{}})");
  json::value r3 = json::parse(R"({"echo":{"_meta":{"disable":true}}})");
  std::vector<GlobalRule> rules = {
      {"1", &r1.get_object()}, {"2", &r2.get_object()}, {"3", &r3.get_object()}};
  std::vector<std::string> conflicts;
  auto chain = global_chain(rules, priority_of, conflicts);
  EXPECT_EQ(describe(chain), (std::vector<std::string>{"cors@global", "prometheus@global"}));
  EXPECT_EQ(chain[1].owner_id, "1");
  EXPECT_EQ(conflicts, (std::vector<std::string>{"limit-count"}));
}

}  // namespace
}  // namespace apisix::plugins
