// Balancer (core.md §7.5) at 4 and 100 nodes: the cost of one pick for each type, with the
// per-request hooks it needs (least_conn: pick + release; ewma: pick, and report on its own),
// a pick with a health checker's bitset and one tried node (a retry), and the chash key
// computation over a request-variable lookup.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>

#include "upstream/balancer.h"
#include "upstream/chash.h"

namespace {

using apisix::upstream::Balancer;
using apisix::upstream::BalancerNode;
using apisix::upstream::BalancerOptions;
using apisix::upstream::BalancerType;
using apisix::upstream::ChashKey;
using apisix::upstream::ChashRing;
using apisix::upstream::EwmaClock;
using apisix::upstream::HealthMask;
using apisix::upstream::PickInput;
using apisix::upstream::TriedSet;

struct Upstream {
  std::vector<std::string> addresses;
  Balancer balancer;
};

Upstream make_upstream(BalancerType type, int nodes) {
  Upstream up;
  std::vector<BalancerNode> list;
  for (int i = 0; i < nodes; ++i) {
    up.addresses.push_back("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) +
                           ":8080");
  }
  for (int i = 0; i < nodes; ++i) {
    list.push_back({up.addresses[i], 1 + i % 3, 0});
  }
  BalancerOptions options;
  options.type = type;
  options.seed = 1;
  up.balancer = Balancer(list, std::move(options));
  return up;
}

std::vector<uint32_t> key_hashes() {
  std::vector<uint32_t> out;
  for (int i = 0; i < 1024; ++i) {
    out.push_back(
        ChashRing::hash_key("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256)));
  }
  return out;
}

// One request's pick: arg 0 = type, arg 1 = node count.
void BM_Pick(benchmark::State& state) {
  auto type = static_cast<BalancerType>(state.range(0));
  Upstream up = make_upstream(type, static_cast<int>(state.range(1)));
  const Balancer& b = up.balancer;
  std::vector<uint32_t> hashes = key_hashes();
  EwmaClock::time_point now = EwmaClock::now();
  if (type == BalancerType::Ewma) {
    for (uint32_t n = 0; n < b.node_count(); ++n) {
      b.report(n, std::chrono::microseconds(500 + 37 * n), now);
    }
  }
  TriedSet tried;
  PickInput input;
  input.now = now;
  size_t i = 0;
  for (auto _ : state) {
    input.key_hash = hashes[i++ & 1023];
    int64_t node = b.pick(0, tried, input);
    benchmark::DoNotOptimize(node);
    if (type == BalancerType::LeastConn) {
      (void)b.release(static_cast<uint32_t>(node));
    }
  }
  state.SetLabel(std::string(apisix::upstream::balancer_type_name(type)) +
                 (type == BalancerType::LeastConn ? " pick+release" : " pick"));
}

// A retry under a health checker: one node unhealthy, one already tried.
void BM_PickRetryWithHealth(benchmark::State& state) {
  auto type = static_cast<BalancerType>(state.range(0));
  Upstream up = make_upstream(type, static_cast<int>(state.range(1)));
  const Balancer& b = up.balancer;
  std::vector<uint32_t> hashes = key_hashes();
  std::vector<uint64_t> health((b.node_count() + 63) / 64, ~uint64_t{0});
  health[0] &= ~uint64_t{1};  // node 0 unhealthy
  TriedSet tried;
  tried.add(1);
  PickInput input;
  input.health = HealthMask(health);
  input.now = EwmaClock::now();
  size_t i = 0;
  for (auto _ : state) {
    input.key_hash = hashes[i++ & 1023];
    int64_t node = b.pick(0, tried, input);
    benchmark::DoNotOptimize(node);
    if (type == BalancerType::LeastConn) {
      (void)b.release(static_cast<uint32_t>(node));
    }
  }
  state.SetLabel(std::string(apisix::upstream::balancer_type_name(type)));
}

void BM_EwmaReport(benchmark::State& state) {
  Upstream up = make_upstream(BalancerType::Ewma, static_cast<int>(state.range(0)));
  const Balancer& b = up.balancer;
  EwmaClock::time_point now = EwmaClock::now();
  uint32_t node = 0;
  for (auto _ : state) {
    now += std::chrono::microseconds(10);
    b.report(node, std::chrono::microseconds(800), now);
    node = node + 1 == b.node_count() ? 0 : node + 1;
  }
}

// The chash key of one request: hash_on vars (remote_addr) and a vars_combinations template.
void BM_ChashKeyHash(benchmark::State& state) {
  apisix::Result<ChashKey> key =
      state.range(0) == 0 ? ChashKey::parse("vars", "remote_addr")
                          : ChashKey::parse("vars_combinations", "$remote_addr-$http_x_user");
  auto lookup = [](std::string_view name) -> std::optional<std::string_view> {
    if (name == "remote_addr") {
      return "192.168.10.23";
    }
    if (name == "http_x_user") {
      return "user-123456";
    }
    return std::nullopt;
  };
  for (auto _ : state) {
    benchmark::DoNotOptimize(key->hash(lookup));
  }
  state.SetLabel(state.range(0) == 0 ? "vars remote_addr" : "vars_combinations 2 vars");
}

void types_and_sizes(benchmark::internal::Benchmark* b) {
  for (int type = 0; type < 4; ++type) {
    for (int nodes : {4, 100}) {
      b->Args({type, nodes});
    }
  }
}

BENCHMARK(BM_Pick)->Apply(types_and_sizes);
BENCHMARK(BM_PickRetryWithHealth)->Apply(types_and_sizes);
BENCHMARK(BM_EwmaReport)->Arg(4)->Arg(100);
BENCHMARK(BM_ChashKeyHash)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
