#include "gateway/snapshot.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "config/resource_parse.h"
#include "config/standalone.h"

namespace apisix::gateway {
namespace {

config::Route route(std::string_view json) {
  auto parsed = config::parse_route(boost::json::parse(json));
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().context);
  return parsed.value();
}
config::Service service(std::string_view json) {
  auto parsed = config::parse_service(boost::json::parse(json));
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().context);
  return parsed.value();
}
config::Upstream upstream(std::string_view json) {
  auto parsed = config::parse_upstream(boost::json::parse(json));
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().context);
  return parsed.value();
}

// The matched route of `snap` for a GET of `path` on `host`: null when nothing matches.
const CompiledRoute* match(const Snapshot& snap, std::string_view path,
                           std::string_view host = "") {
  router::MatchRequest request{path, host, "GET"};
  int64_t payload = snap.router->match(request);
  return payload == router::RouteTable::kNoMatch ? nullptr : snap.routes.get(payload);
}

class SnapshotBuilderTest : public ::testing::Test {
 protected:
  SnapshotBuilderTest() : builder_(std::make_shared<RuntimeSettings>(), 2) {}

  std::shared_ptr<const Snapshot> apply(ResourceChanges changes) {
    return builder_.apply(changes, ++version_);
  }

  SnapshotBuilder builder_;
  uint64_t version_ = 0;
};

// A changed route is the only one compiled and placed; every other route's compiled object
// is shared with the previous snapshot (DESIGN "updates are incremental", STYLE §3).
TEST_F(SnapshotBuilderTest, OneRouteChangeTouchesOnlyThatRoute) {
  ResourceChanges initial;
  for (int i = 0; i < 300; ++i) {
    initial.routes.push_back(route(R"({"id":")" + std::to_string(i) + R"(","uri":"/r/)" +
                                   std::to_string(i) +
                                   R"(","upstream":{"nodes":{"127.0.0.1:1980":1}}})"));
  }
  auto first = apply(initial);
  EXPECT_EQ(builder_.last_stats().routes_compiled, 300u);
  ASSERT_NE(match(*first, "/r/7"), nullptr);

  ResourceChanges one;
  one.routes.push_back(
      route(R"({"id":"7","uri":"/moved","upstream":{"nodes":{"127.0.0.1:1981":1}}})"));
  auto second = apply(one);
  EXPECT_EQ(builder_.last_stats().routes_compiled, 1u);
  EXPECT_EQ(builder_.last_stats().router_upserts, 1u);
  EXPECT_EQ(match(*second, "/r/7"), nullptr);
  ASSERT_NE(match(*second, "/moved"), nullptr);
  EXPECT_EQ(match(*second, "/moved")->id, "7");
  // Unchanged routes: the very same objects.
  EXPECT_EQ(match(*first, "/r/8"), match(*second, "/r/8"));
  EXPECT_EQ(match(*first, "/r/200"), match(*second, "/r/200"));
  // The old snapshot is untouched: requests pinned to it still see the old route.
  ASSERT_NE(match(*first, "/r/7"), nullptr);
  EXPECT_EQ(match(*first, "/moved"), nullptr);
}

// core.md §5.9: a route without hosts takes its service's; a service change re-places its
// routes in the route table.
TEST_F(SnapshotBuilderTest, ServiceChangesFollowIntoItsRoutes) {
  ResourceChanges initial;
  initial.services.push_back(
      service(R"({"id":"s1","hosts":["a.com"],"upstream":{"nodes":{"127.0.0.1:1980":1}}})"));
  initial.routes.push_back(route(R"({"id":"r1","uri":"/x","service_id":"s1"})"));
  initial.routes.push_back(
      route(R"({"id":"r2","uri":"/y","upstream":{"nodes":{"127.0.0.1:1980":1}}})"));
  auto first = apply(initial);
  ASSERT_NE(match(*first, "/x", "a.com"), nullptr);
  EXPECT_EQ(match(*first, "/x", "b.com"), nullptr);
  EXPECT_EQ(match(*first, "/x", "a.com")->upstream->key, "/apisix/services/s1");

  ResourceChanges change;
  change.services.push_back(
      service(R"({"id":"s1","hosts":["b.com"],"upstream":{"nodes":{"127.0.0.1:1981":1}}})"));
  auto second = apply(change);
  EXPECT_EQ(builder_.last_stats().routes_compiled, 1u);
  EXPECT_EQ(builder_.last_stats().router_upserts, 1u);
  EXPECT_EQ(match(*second, "/x", "a.com"), nullptr);
  ASSERT_NE(match(*second, "/x", "b.com"), nullptr);
  EXPECT_EQ(match(*second, "/x", "b.com")->upstream->nodes.at(0).port, 1981);
  EXPECT_EQ(match(*first, "/y"), match(*second, "/y"));

  // Removing the service: the route stays but answers 404 (service not found).
  ResourceChanges removal;
  removal.removed_services.push_back("s1");
  auto third = apply(removal);
  ASSERT_NE(match(*third, "/x"), nullptr);
  EXPECT_EQ(match(*third, "/x")->error_status, 404);
}

// An upstream change recompiles the routes that use it without touching the route table;
// routes on other upstreams keep their compiled upstream (and with it balancer state).
TEST_F(SnapshotBuilderTest, UpstreamChangeRepointsRoutesOnly) {
  ResourceChanges initial;
  initial.upstreams.push_back(upstream(R"({"id":"u1","nodes":{"127.0.0.1:1980":1}})"));
  initial.upstreams.push_back(upstream(R"({"id":"u2","nodes":{"127.0.0.1:1990":1}})"));
  initial.services.push_back(service(R"({"id":"s1","upstream_id":"u1"})"));
  initial.routes.push_back(route(R"({"id":"r1","uri":"/a","upstream_id":"u1"})"));
  initial.routes.push_back(route(R"({"id":"r2","uri":"/b","service_id":"s1"})"));
  initial.routes.push_back(route(R"({"id":"r3","uri":"/c","upstream_id":"u2"})"));
  auto first = apply(initial);
  const CompiledUpstream* u2_before = match(*first, "/c")->upstream.get();

  ResourceChanges change;
  change.upstreams.push_back(upstream(R"({"id":"u1","nodes":{"127.0.0.1:1985":1}})"));
  auto second = apply(change);
  EXPECT_EQ(builder_.last_stats().routes_compiled, 2u);  // r1 directly, r2 via s1
  EXPECT_EQ(builder_.last_stats().router_upserts, 0u);
  EXPECT_EQ(match(*second, "/a")->upstream->nodes.at(0).port, 1985);
  EXPECT_EQ(match(*second, "/b")->upstream->nodes.at(0).port, 1985);
  EXPECT_EQ(match(*second, "/c")->upstream.get(), u2_before);
  EXPECT_EQ(match(*first, "/a")->upstream->nodes.at(0).port, 1980);

  // The same upstream again (identical JSON): nothing is compiled.
  auto third = apply(change);
  EXPECT_EQ(builder_.last_stats().routes_compiled, 0u);
  EXPECT_EQ(builder_.last_stats().upstreams_compiled, 0u);
  EXPECT_EQ(match(*third, "/a"), match(*second, "/a"));

  // Deleting it: its routes answer 502 (core.md §7.11), the others are untouched.
  ResourceChanges removal;
  removal.removed_upstreams.push_back("u1");
  auto fourth = apply(removal);
  EXPECT_EQ(match(*fourth, "/a")->error_status, 502);
  EXPECT_EQ(match(*fourth, "/b")->error_status, 502);
  EXPECT_EQ(match(*fourth, "/c"), match(*third, "/c"));

  // A route referring to an upstream that appears later is fixed when it does.
  ResourceChanges back;
  back.upstreams.push_back(upstream(R"({"id":"u1","nodes":{"127.0.0.1:1986":1}})"));
  auto fifth = apply(back);
  EXPECT_EQ(match(*fifth, "/a")->error_status, 0);
  EXPECT_EQ(match(*fifth, "/a")->upstream->nodes.at(0).port, 1986);
}

TEST_F(SnapshotBuilderTest, RemovedRoutesStopMatchingAndFreeTheirSlot) {
  ResourceChanges initial;
  initial.routes.push_back(
      route(R"({"id":"r1","uri":"/a","upstream":{"nodes":{"127.0.0.1:1980":1}}})"));
  initial.routes.push_back(
      route(R"({"id":"r2","uri":"/b","upstream":{"nodes":{"127.0.0.1:1980":1}}})"));
  auto first = apply(initial);
  ResourceChanges change;
  change.removed_routes.push_back("r1");
  change.routes.push_back(
      route(R"({"id":"r3","uri":"/c","upstream":{"nodes":{"127.0.0.1:1980":1}}})"));
  auto second = apply(change);
  EXPECT_EQ(match(*second, "/a"), nullptr);
  ASSERT_NE(match(*second, "/c"), nullptr);
  EXPECT_EQ(match(*second, "/c")->id, "r3");
  EXPECT_EQ(match(*first, "/a")->id, "r1");  // the old snapshot still has it
  EXPECT_EQ(builder_.route_count(), 2u);
}

// The issue: a route with filter_func never matches until the Lua runtime exists.
TEST_F(SnapshotBuilderTest, FilterFuncRoutesDoNotMatch) {
  ResourceChanges initial;
  initial.routes.push_back(
      route(R"({"id":"r1","uri":"/a","filter_func":"function(vars) return true end",)"
            R"("upstream":{"nodes":{"127.0.0.1:1980":1}}})"));
  auto snap = apply(initial);
  EXPECT_EQ(match(*snap, "/a"), nullptr);
}

// The standalone file is diffed: an unchanged file compiles nothing.
TEST_F(SnapshotBuilderTest, StandaloneDiffCompilesOnlyChanges) {
  config::StandaloneConfig file;
  file.routes.push_back(
      route(R"({"id":"r1","uri":"/a","upstream":{"nodes":{"127.0.0.1:1980":1}}})"));
  file.routes.push_back(
      route(R"({"id":"r2","uri":"/b","upstream":{"nodes":{"127.0.0.1:1980":1}}})"));
  builder_.build(file, 1);
  EXPECT_EQ(builder_.last_stats().routes_compiled, 2u);
  builder_.build(file, 2);
  EXPECT_EQ(builder_.last_stats().routes_compiled, 0u);
  file.routes.pop_back();
  auto snap = builder_.build(file, 3);
  EXPECT_EQ(builder_.last_stats().router_removals, 1u);
  EXPECT_EQ(match(*snap, "/b"), nullptr);
  ASSERT_NE(match(*snap, "/a"), nullptr);
}

// Model check: after every random batch of changes, the incrementally built snapshot matches
// exactly like a snapshot built from scratch from the same resources.
TEST_F(SnapshotBuilderTest, IncrementalEqualsFromScratch) {
  std::mt19937 rng(20261122);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  std::map<std::string, config::Route> routes;
  std::vector<std::string> order;  // registration order: first added, re-added at the end
  std::map<std::string, config::Service> services;
  std::map<std::string, config::Upstream> upstreams;
  const std::vector<std::string> hosts = {"a.com", "b.com", "*.c.com"};
  const std::vector<std::string> paths = {"/p0", "/p1", "/p2", "/p3", "/p*", "/p1/*", "/*"};

  for (int step = 0; step < 150; ++step) {
    ResourceChanges changes;
    // A batch names each resource once (removals are applied before upserts).
    std::set<std::string> touched;
    int ops = 1 + pick(6);
    for (int op = 0; op < ops; ++op) {
      int kind = pick(10);
      if (kind < 6) {
        std::string id = "r" + std::to_string(pick(25));
        if (!touched.insert(id).second) {
          continue;
        }
        if (pick(5) == 0) {
          changes.removed_routes.push_back(id);
          if (routes.erase(id) != 0) {
            order.erase(std::find(order.begin(), order.end(), id));
          }
          continue;
        }
        boost::json::object r;
        r["id"] = id;
        r["uri"] = paths[pick(static_cast<int>(paths.size()))];
        r["priority"] = pick(3);
        if (pick(3) == 0) {
          r["host"] = hosts[pick(static_cast<int>(hosts.size()))];
        }
        if (pick(2) == 0) {
          r["service_id"] = "s" + std::to_string(pick(4));
        } else if (pick(2) == 0) {
          r["upstream_id"] = "u" + std::to_string(pick(4));
        } else {
          r["upstream"] = boost::json::parse(R"({"nodes":{"127.0.0.1:2000":1}})");
        }
        config::Route parsed = route(boost::json::serialize(r));
        changes.routes.push_back(parsed);
        if (!routes.contains(id)) {
          order.push_back(id);
        }
        routes[id] = parsed;
      } else if (kind < 8) {
        std::string id = "s" + std::to_string(pick(4));
        if (!touched.insert(id).second) {
          continue;
        }
        if (pick(4) == 0) {
          changes.removed_services.push_back(id);
          services.erase(id);
          continue;
        }
        boost::json::object s;
        s["id"] = id;
        if (pick(2) == 0) {
          s["hosts"] = boost::json::array{boost::json::string(hosts[pick(3)])};
        }
        if (pick(2) == 0) {
          s["upstream_id"] = "u" + std::to_string(pick(4));
        } else {
          s["upstream"] = boost::json::parse(R"({"nodes":{"127.0.0.1:)" +
                                             std::to_string(3000 + pick(9)) + R"(":1}})");
        }
        config::Service parsed = service(boost::json::serialize(s));
        changes.services.push_back(parsed);
        services[id] = parsed;
      } else {
        std::string id = "u" + std::to_string(pick(4));
        if (!touched.insert(id).second) {
          continue;
        }
        if (pick(4) == 0) {
          changes.removed_upstreams.push_back(id);
          upstreams.erase(id);
          continue;
        }
        config::Upstream parsed = upstream(R"({"id":")" + id + R"(","nodes":{"127.0.0.1:)" +
                                           std::to_string(4000 + pick(9)) + R"(":1}})");
        changes.upstreams.push_back(parsed);
        upstreams[id] = parsed;
      }
    }
    auto incremental = builder_.apply(changes, ++version_);

    config::StandaloneConfig all;
    for (const std::string& id : order) all.routes.push_back(routes.at(id));
    for (auto& [id, s] : services) all.services.push_back(s);
    for (auto& [id, u] : upstreams) all.upstreams.push_back(u);
    SnapshotBuilder fresh_builder(std::make_shared<RuntimeSettings>(), 2);
    auto fresh = fresh_builder.build(all, 1);
    ASSERT_EQ(builder_.route_count(), routes.size());

    for (const char* host : {"a.com", "b.com", "x.c.com", "other.org", ""}) {
      for (const char* path : {"/p0", "/p1", "/p2", "/p3", "/p4", "/p1/z", "/q"}) {
        const CompiledRoute* a = match(*incremental, path, host);
        const CompiledRoute* b = match(*fresh, path, host);
        ASSERT_EQ(a == nullptr, b == nullptr) << "step " << step << " " << host << path;
        if (a == nullptr) {
          continue;
        }
        ASSERT_EQ(a->id, b->id) << "step " << step << " " << host << path;
        EXPECT_EQ(a->error_status, b->error_status) << "step " << step << " " << a->id;
        if (a->upstream && b->upstream) {
          EXPECT_EQ(a->upstream->key, b->upstream->key);
          EXPECT_EQ(a->upstream->nodes.at(0).port, b->upstream->nodes.at(0).port);
        } else {
          EXPECT_EQ(a->upstream == nullptr, b->upstream == nullptr);
        }
      }
    }
  }
}

// core.md §7.5, §7.7: least_conn in-flight counts and health state survive a recompile of the
// same upstream; an unknown balancer type with two nodes makes its routes answer 502.
TEST_F(SnapshotBuilderTest, BalancerStateAndHealthOutliveRecompiles) {
  ResourceChanges initial;
  initial.upstreams.push_back(
      upstream(R"({"id":"u1","type":"least_conn","nodes":{"127.0.0.1:1980":1,"127.0.0.1:1981":1},)"
               R"("checks":{"active":{"http_path":"/hc"}}})"));
  initial.upstreams.push_back(
      upstream(R"({"id":"u2","type":"no_such","nodes":{"127.0.0.1:1980":1,"127.0.0.1:1981":1}})"));
  initial.routes.push_back(route(R"({"id":"a","uri":"/a","upstream_id":"u1"})"));
  initial.routes.push_back(route(R"({"id":"b","uri":"/b","upstream_id":"u2"})"));
  auto first = apply(initial);
  const CompiledRoute* a = match(*first, "/a");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(a->upstream->health, nullptr);
  EXPECT_EQ(builder_.health_registry().find("upstreams/u1"), a->upstream->health);
  int64_t node = a->upstream->pick(0, upstream::TriedSet{});
  ASSERT_GE(node, 0);
  EXPECT_EQ(match(*first, "/b")->error_status, 502);

  // A change of the upstream (a timeout) recompiles it: the in-flight pick still counts.
  ResourceChanges change;
  change.upstreams.push_back(upstream(
      R"({"id":"u1","type":"least_conn","nodes":{"127.0.0.1:1980":1,"127.0.0.1:1981":1},)"
      R"("timeout":{"connect":1,"send":1,"read":1},"checks":{"active":{"http_path":"/hc"}}})"));
  auto second = apply(change);
  const CompiledRoute* a2 = match(*second, "/a");
  ASSERT_NE(a2->upstream, a->upstream);
  EXPECT_EQ(a2->upstream->balancer.active_for_test(static_cast<uint32_t>(node)), 1);
  EXPECT_EQ(a2->upstream->health, a->upstream->health);
  EXPECT_TRUE(a->upstream->balancer.release(static_cast<uint32_t>(node)));
  EXPECT_EQ(a2->upstream->balancer.active_for_test(static_cast<uint32_t>(node)), 0);

  ResourceChanges removal;
  removal.removed_routes.push_back("a");
  removal.removed_upstreams.push_back("u1");
  apply(removal);
  EXPECT_EQ(builder_.health_registry().find("upstreams/u1"), nullptr);
}

// A NodeSource the test answers by hand; records what was asked and forgotten.
class FakeNodeSource final : public NodeSource {
 public:
  const std::vector<upstream::DiscoveredNode>* nodes(const std::string& name) override {
    asked.insert(name);
    auto it = answers.find(name);
    return it == answers.end() ? nullptr : &it->second;
  }
  void forget(const std::string& name) override { forgotten.insert(name); }

  std::map<std::string, std::vector<upstream::DiscoveredNode>> answers;
  std::set<std::string> asked;
  std::set<std::string> forgotten;
};

// core.md §7.3: an unresolved domain node is absent (503 until an answer); refresh_names()
// recompiles the upstream with the addresses, one node per address with the node's weight
// split between them, the domain kept as the node's host; a changed answer recompiles again.
TEST_F(SnapshotBuilderTest, DomainNodesFollowTheNodeSource) {
  FakeNodeSource source;
  builder_.set_node_source(&source);
  ResourceChanges changes;
  changes.upstreams.push_back(
      upstream(R"({"id":"u1","nodes":{"web.test:8080":2,"127.0.0.9:80":1}})"));
  changes.upstreams.push_back(upstream(R"({"id":"u2","nodes":{"only.test:80":1}})"));
  changes.routes.push_back(route(R"({"id":"r1","uri":"/a","upstream_id":"u1"})"));
  changes.routes.push_back(route(R"({"id":"r2","uri":"/b","upstream_id":"u2"})"));
  auto snap = apply(changes);
  EXPECT_EQ(source.asked, (std::set<std::string>{"web.test", "only.test"}));
  ASSERT_NE(match(*snap, "/a"), nullptr);
  EXPECT_EQ(match(*snap, "/a")->upstream->nodes.size(), 1u);  // the IP node only
  EXPECT_EQ(match(*snap, "/b")->error_status, 503);

  source.answers["web.test"] = {{"10.0.0.1", 0, 1, 0}, {"10.0.0.2", 0, 1, 0}};
  snap = builder_.refresh_names({"web.test"}, ++version_);
  const CompiledUpstream& up = *match(*snap, "/a")->upstream;
  ASSERT_EQ(up.nodes.size(), 3u);
  std::map<std::string, int> weights;
  for (const UpstreamNode& node : up.nodes) {
    weights[node.endpoint.to_string()] = node.weight;
  }
  // Domain weight 2 over two addresses; everything scaled by 2.
  EXPECT_EQ(weights, (std::map<std::string, int>{
                         {"10.0.0.1:8080", 2}, {"10.0.0.2:8080", 2}, {"127.0.0.9:80", 2}}));
  for (const UpstreamNode& node : up.nodes) {
    if (node.endpoint.ip() != "127.0.0.9") {
      EXPECT_EQ(node.host, "web.test");
      EXPECT_EQ(node.host_header, "web.test:8080");
      EXPECT_EQ(node.pool_key, "http#" + node.endpoint.to_string().replace(
                                             node.endpoint.to_string().find(':'), 1, "#"));
    }
  }
  EXPECT_EQ(up.retries, 1);  // two configured nodes, the domain counted once
  EXPECT_EQ(match(*snap, "/b")->error_status, 503);  // untouched: still unresolved

  source.answers["only.test"] = {{"[::1]", 0, 1, 0}};
  snap = builder_.refresh_names({"only.test"}, ++version_);
  ASSERT_EQ(match(*snap, "/b")->error_status, 0);
  EXPECT_EQ(match(*snap, "/b")->upstream->nodes[0].endpoint.to_string(), "[::1]:80");

  // No upstream uses only.test any more: the source is told.
  ResourceChanges removal;
  removal.routes.push_back(
      route(R"({"id":"r2","uri":"/b","upstream":{"nodes":{"127.0.0.1:1":1}}})"));
  removal.removed_upstreams.push_back("u2");
  apply(removal);
  EXPECT_EQ(source.forgotten, (std::set<std::string>{"only.test"}));
  EXPECT_EQ(builder_.name_count_for_test(), 1u);
}

// core.md §7.4: discovery_type dns asks the source for "dns:<service_name>"; SRV-derived nodes
// keep their port, weight and priority; a node without a port gets the scheme default.
TEST_F(SnapshotBuilderTest, DiscoveredNodesComeFromTheNodeSource) {
  FakeNodeSource source;
  builder_.set_node_source(&source);
  source.answers["dns:svc.test"] = {{"10.0.0.1", 8081, 3, -10}, {"10.0.0.2", 0, 1, -20}};
  ResourceChanges changes;
  changes.routes.push_back(route(
      R"({"id":"r1","uri":"/a","upstream":{"service_name":"svc.test","discovery_type":"dns"}})"));
  auto snap = apply(changes);
  const CompiledUpstream& up = *match(*snap, "/a")->upstream;
  ASSERT_EQ(up.nodes.size(), 2u);
  EXPECT_EQ(up.nodes[0].endpoint.to_string(), "10.0.0.1:8081");
  EXPECT_EQ(up.nodes[0].weight, 3);
  EXPECT_EQ(up.nodes[0].priority, -10);
  EXPECT_EQ(up.nodes[1].endpoint.to_string(), "10.0.0.2:80");
  EXPECT_EQ(up.retries, 1);
}

// core.md §4.4: scheme https gets a TLS client context; a client certificate splits pools.
TEST_F(SnapshotBuilderTest, HttpsUpstreamsGetATlsContext) {
  ResourceChanges changes;
  changes.routes.push_back(
      route(R"({"id":"r1","uri":"/a","upstream":{"scheme":"https","nodes":{"127.0.0.1:443":1}}})"));
  auto snap = apply(changes);
  const CompiledUpstream& up = *match(*snap, "/a")->upstream;
  EXPECT_TRUE(up.is_https);
  ASSERT_NE(up.tls, nullptr);
  EXPECT_FALSE(up.tls->verify());
  EXPECT_EQ(up.tls_pool_suffix, "");
  EXPECT_EQ(up.nodes[0].host_header, "127.0.0.1");  // 443 is https' default port
}

}  // namespace
}  // namespace apisix::gateway
