// RouteTable at 1,000 and 50,000 routes (core.md §5): the cost of one match, of a full
// build, of one route change and of a batch of 400 changes.
//
// The routes are a mix shaped like a large multi-tenant gateway: exact paths (some
// restricted to methods, some sharing a path with different priorities), prefixes, `*` in
// the middle, host-bound routes (exact and wildcard hosts), parameter routes (in
// radixtree_uri_with_parameter mode), `vars` and `remote_addrs` conditions. The requests
// hit every kind, and one in ten matches nothing.
//
// Besides Google Benchmark's usual flags, `route_table_bench --callgrind MODE ROUTES
// MATCHES` only builds the table and runs MATCHES matches with callgrind collection on,
// for instruction counts under `valgrind --tool=callgrind --collect-atstart=no`.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/json/parse.hpp>
#include <valgrind/callgrind.h>

#include "router/expr.h"
#include "router/ip_match.h"
#include "router/route_table.h"
#include "router/vars.h"

// Counts heap allocations, to show that matching makes none.
namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

// Not inlined, so the compiler does not pair this malloc with the free below and warn.
__attribute__((noinline)) void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace apisix::router {
namespace {

// `arg_env` from the request; every other variable is nil.
class BenchVars final : public VarSource {
 public:
  std::string_view env;
  VarValue get(const VarRef& ref) const override {
    if (ref.kind == VarKind::Arg && ref.name == "env" && !env.empty()) {
      return VarValue::string(env);
    }
    return VarValue::nil();
  }
};

struct Sample {
  std::string path;
  std::string host;
  std::string method = "GET";
  std::string remote_addr = "192.0.2.10";
  std::string env;
};

struct Workload {
  Mode mode;
  std::vector<RouteSpec> specs;
  std::vector<Sample> samples;
};

std::shared_ptr<const Expr> beta_rule() {
  static const auto rule = [] {
    auto compiled = Expr::compile(boost::json::parse(R"([["arg_env","==","beta"]])"));
    return std::make_shared<const Expr>(std::move(compiled.value()));
  }();
  return rule;
}

std::shared_ptr<const IpMatcher> office_cidrs() {
  static const auto cidrs = [] {
    auto compiled = IpMatcher::compile({"10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"});
    return std::make_shared<const IpMatcher>(std::move(compiled.value()));
  }();
  return cidrs;
}

// Route i of the mix, and a request that it should serve.
RouteSpec make_route(Mode mode, uint32_t i, uint32_t payload, Sample* sample) {
  RouteSpec s;
  s.id = std::to_string(i);
  s.payload = payload;
  const std::string n = std::to_string(i);
  Sample r;
  switch (i % 20) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:  // exact
      s.uris = {"/svc" + std::to_string(i % 97) + "/v" + std::to_string(i % 3) + "/items/" + n};
      r.path = s.uris[0];
      break;
    case 6:  // exact, methods
      s.uris = {"/orders/" + n};
      s.method_mask = method_bit("GET") | method_bit("POST");
      r.path = s.uris[0];
      r.method = "POST";
      break;
    case 7:  // exact, two routes on one path, by priority
      s.uris = {"/shared/" + std::to_string(i / 40)};
      s.priority = static_cast<int>(i % 3);
      r.path = s.uris[0];
      break;
    case 8:
    case 9:
    case 10:  // prefix
      s.uris = {"/static/" + n + "/*"};
      r.path = "/static/" + n + "/css/site.css";
      break;
    case 11:  // `*` in the middle
      s.uris = {"/files/" + n + "/*/meta"};
      r.path = "/files/" + n + "/a/b/meta";
      break;
    case 12:
    case 13:  // exact host
      s.uris = {"/api/" + n + "/*"};
      s.hosts = {"tenant" + std::to_string(i % 1000) + ".example.com"};
      r.path = "/api/" + n + "/list";
      r.host = s.hosts[0];
      break;
    case 14:  // wildcard host
      s.uris = {"/web/" + n + "/*"};
      s.hosts = {"*.zone" + std::to_string(i % 100) + ".example.net"};
      r.path = "/web/" + n + "/index.html";
      r.host = "www.zone" + std::to_string(i % 100) + ".example.net";
      break;
    case 15:
    case 16:  // parameters (a glob elsewhere)
      if (mode == Mode::UriWithParameter) {
        s.uris = {"/users/" + n + "/:id/orders/:order"};
        r.path = "/users/" + n + "/42/orders/7";
      } else {
        s.uris = {"/users/" + n + "/*/orders"};
        r.path = "/users/" + n + "/42/orders";
      }
      break;
    case 17:  // vars
      s.uris = {"/beta/" + n};
      s.vars = beta_rule();
      r.path = s.uris[0];
      r.env = "beta";
      break;
    case 18:  // remote_addrs
      s.uris = {"/internal/" + n + "/*"};
      s.remote_addrs = office_cidrs();
      r.path = "/internal/" + n + "/health";
      r.remote_addr = "10.1.2.3";
      break;
    default:  // several uris
      s.uris = {"/legacy/" + n, "/compat/" + n + "/*"};
      r.path = "/compat/" + n + "/x";
      break;
  }
  if (sample != nullptr) {
    *sample = std::move(r);
  }
  return s;
}

Workload make_workload(Mode mode, uint32_t routes) {
  Workload w;
  w.mode = mode;
  std::mt19937 rng(42);
  std::vector<Sample> served(routes);
  for (uint32_t i = 0; i < routes; ++i) {
    w.specs.push_back(make_route(mode, i, i, &served[i]));
  }
  // Fallbacks that vars/remote_addrs failures and misses end in.
  RouteSpec beta_fallback;
  beta_fallback.id = "beta-fallback";
  beta_fallback.payload = routes;
  beta_fallback.uris = {"/beta/*"};
  w.specs.push_back(beta_fallback);
  constexpr size_t kSamples = 4096;
  std::uniform_int_distribution<uint32_t> pick(0, routes - 1);
  for (size_t k = 0; k < kSamples; ++k) {
    if (k % 10 == 9) {
      Sample miss;
      miss.path = "/nothing/" + std::to_string(pick(rng)) + "/here";
      w.samples.push_back(miss);
      continue;
    }
    Sample s = served[pick(rng)];
    if (k % 7 == 3) {
      s.env.clear();  // vars fail: the next bucket
      s.remote_addr = "203.0.113.9";
    }
    w.samples.push_back(std::move(s));
  }
  return w;
}

const Workload& workload(Mode mode, uint32_t routes) {
  static std::vector<std::unique_ptr<Workload>> cache;
  for (const auto& w : cache) {
    if (w->mode == mode && w->specs.size() == routes + 1) {
      return *w;
    }
  }
  cache.push_back(std::make_unique<Workload>(make_workload(mode, routes)));
  return *cache.back();
}

struct Prepared {
  std::vector<MatchRequest> requests;
  std::vector<BenchVars> vars;
  std::vector<UriParams> params;
};

Prepared prepare(const Workload& w) {
  Prepared p;
  p.vars.resize(w.samples.size());
  p.params.resize(w.samples.size());
  for (size_t i = 0; i < w.samples.size(); ++i) {
    const Sample& s = w.samples[i];
    p.vars[i].env = s.env;
    MatchRequest r{s.path, s.host, s.method};
    r.vars = &p.vars[i];
    r.remote_addr = s.remote_addr;
    r.raw_host = s.host;
    r.params = &p.params[i];
    p.requests.push_back(r);
  }
  return p;
}

Mode mode_arg(int64_t m) { return m == 0 ? Mode::HostUri : Mode::UriWithParameter; }
const char* mode_name(Mode m) {
  return m == Mode::HostUri ? "radixtree_host_uri" : "radixtree_uri_with_parameter";
}

// Mean time per match over the request mix; with --benchmark_repetitions the median of the
// repetitions is the figure to quote.
void match_mix(benchmark::State& state) {
  const Mode mode = mode_arg(state.range(0));
  const Workload& w = workload(mode, static_cast<uint32_t>(state.range(1)));
  const RouteTable table(mode, w.specs);
  Prepared p = prepare(w);
  size_t i = 0;
  size_t hits = 0;
  const uint64_t allocations_before = g_allocations.load();
  for (auto _ : state) {
    const int64_t payload = table.match(p.requests[i]);
    benchmark::DoNotOptimize(payload);
    hits += payload != RouteTable::kNoMatch ? 1 : 0;
    i = (i + 1) % p.requests.size();
  }
  const uint64_t allocations = g_allocations.load() - allocations_before;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["hit_ratio"] =
      static_cast<double>(hits) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
  state.counters["allocs_per_match"] =
      static_cast<double>(allocations) /
      static_cast<double>(std::max<int64_t>(1, state.iterations()));
  state.SetLabel(mode_name(mode));
}

// Times every match on its own and reports the median and 99th percentile, in ns. Each
// timing includes one steady_clock read pair, reported as clock_ns.
void match_latency(benchmark::State& state) {
  const Mode mode = mode_arg(state.range(0));
  const Workload& w = workload(mode, static_cast<uint32_t>(state.range(1)));
  const RouteTable table(mode, w.specs);
  Prepared p = prepare(w);
  std::vector<double> ns;
  std::vector<double> clock_ns;
  ns.reserve(1 << 22);
  clock_ns.reserve(1 << 16);
  size_t i = 0;
  for (auto _ : state) {
    for (int k = 0; k < 256; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      const int64_t payload = table.match(p.requests[i]);
      const auto t1 = std::chrono::steady_clock::now();
      benchmark::DoNotOptimize(payload);
      if (ns.size() < ns.capacity()) {
        ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
      }
      i = (i + 1) % p.requests.size();
    }
    const auto c0 = std::chrono::steady_clock::now();
    const auto c1 = std::chrono::steady_clock::now();
    if (clock_ns.size() < clock_ns.capacity()) {
      clock_ns.push_back(std::chrono::duration<double, std::nano>(c1 - c0).count());
    }
  }
  auto percentile = [](std::vector<double>& v, double q) {
    if (v.empty()) {
      return 0.0;
    }
    const size_t at =
        std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(at), v.end());
    return v[at];
  };
  state.counters["p50_ns"] = percentile(ns, 0.5);
  state.counters["p99_ns"] = percentile(ns, 0.99);
  state.counters["clock_ns"] = percentile(clock_ns, 0.5);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 256);
  state.SetLabel(mode_name(mode));
}

void full_build(benchmark::State& state) {
  const Mode mode = mode_arg(state.range(0));
  const Workload& w = workload(mode, static_cast<uint32_t>(state.range(1)));
  for (auto _ : state) {
    auto table = std::make_unique<RouteTable>(mode, w.specs);
    benchmark::DoNotOptimize(table->size());
    state.PauseTiming();
    table.reset();  // freeing is the old snapshot's release, not the build
    state.ResumeTiming();
  }
  state.SetLabel(mode_name(mode));
}

// The changes of one batch: replaced routes (a new uri each time), new routes and removals,
// spread over the whole table.
struct Batch {
  std::vector<RouteSpec> upserts;
  std::vector<std::string> removed;
};

std::vector<Batch> make_batches(Mode mode, uint32_t routes, size_t changes, size_t count) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> pick(0, routes - 1);
  std::vector<Batch> batches(count);
  uint32_t fresh = routes + 1;
  for (size_t b = 0; b < count; ++b) {
    for (size_t c = 0; c < changes; ++c) {
      const uint32_t i = pick(rng);
      switch (changes == 1 ? 0 : c % 4) {
        case 0:
        case 1: {  // replace: same id, another uri of the same kind
          RouteSpec s = make_route(mode, i + 20 * routes, i, nullptr);
          s.id = std::to_string(i);
          batches[b].upserts.push_back(std::move(s));
          break;
        }
        case 2:
          batches[b].upserts.push_back(make_route(mode, fresh, fresh, nullptr));
          ++fresh;
          break;
        default:
          batches[b].removed.push_back(std::to_string(i));
          break;
      }
    }
  }
  return batches;
}

void run_apply(benchmark::State& state, size_t changes) {
  const Mode mode = mode_arg(state.range(0));
  const auto routes = static_cast<uint32_t>(state.range(1));
  const Workload& w = workload(mode, routes);
  const auto base = std::make_shared<const RouteTable>(mode, w.specs);
  const std::vector<Batch> batches = make_batches(mode, routes, changes, 64);
  size_t b = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    std::shared_ptr<const RouteTable> next = base->apply(batches[b].upserts, batches[b].removed);
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(next->size());
    next.reset();  // not timed: releasing an old version happens later, on the workers
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    b = (b + 1) % batches.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * changes));
  state.SetLabel(mode_name(mode));
}

void apply_one_change(benchmark::State& state) { run_apply(state, 1); }
void apply_400_changes(benchmark::State& state) { run_apply(state, 400); }

// Arguments: {mode (0 host_uri, 1 uri_with_parameter), routes}.
BENCHMARK(match_mix)->ArgsProduct({{0, 1}, {1000, 50000}});
BENCHMARK(match_latency)->ArgsProduct({{0, 1}, {1000, 50000}});
BENCHMARK(full_build)->ArgsProduct({{0, 1}, {50000}})->Unit(benchmark::kMillisecond);
BENCHMARK(apply_one_change)
    ->ArgsProduct({{0, 1}, {50000}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(apply_400_changes)
    ->ArgsProduct({{0, 1}, {50000}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

int run_for_callgrind(const char* mode_text, const char* routes_text, const char* matches_text) {
  Mode mode;
  if (!parse_mode(mode_text, mode)) {
    std::fprintf(stderr, "unknown mode %s\n", mode_text);
    return 2;
  }
  const auto routes = static_cast<uint32_t>(std::strtoul(routes_text, nullptr, 10));
  const size_t matches = std::strtoul(matches_text, nullptr, 10);
  const Workload& w = workload(mode, routes);
  const RouteTable table(mode, w.specs);
  Prepared p = prepare(w);
  size_t hits = 0;
  CALLGRIND_TOGGLE_COLLECT;
  for (size_t i = 0; i < matches; ++i) {
    hits += table.match(p.requests[i % p.requests.size()]) != RouteTable::kNoMatch ? 1 : 0;
  }
  CALLGRIND_TOGGLE_COLLECT;
  std::printf("%zu matches, %zu hits\n", matches, hits);
  return 0;
}

}  // namespace
}  // namespace apisix::router

int main(int argc, char** argv) {
  if (argc == 5 && std::string_view(argv[1]) == "--callgrind") {
    return apisix::router::run_for_callgrind(argv[2], argv[3], argv[4]);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
