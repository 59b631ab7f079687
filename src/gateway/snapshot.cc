#include "gateway/snapshot.h"

#include <algorithm>
#include <map>

#include <netdb.h>

#include "config/standalone.h"
#include "core/log.h"
#include "router/expr.h"
#include "router/ip_match.h"

namespace apisix::gateway {
namespace {

Millis seconds_to_ms(double seconds) {
  return Millis(static_cast<int64_t>(seconds * 1000.0 + 0.5));
}

Timeouts to_timeouts(const config::Timeout& t) {
  return Timeouts{seconds_to_ms(t.connect), seconds_to_ms(t.send), seconds_to_ms(t.read)};
}

uint16_t default_port(const std::string& scheme) {
  return (scheme == "https" || scheme == "grpcs") ? 443 : 80;
}

// Resolves a node host to an endpoint. Domain names are resolved here, on the control thread,
// once per snapshot (background re-resolution with TTLs arrives with the DNS work, #4).
bool resolve(const std::string& host, uint16_t port, core::Endpoint& out) {
  if (core::Endpoint::parse(host, port, out)) {
    return true;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &result) != 0 || result == nullptr) {
    return false;
  }
  std::memcpy(&out.addr, result->ai_addr, result->ai_addrlen);
  out.len = result->ai_addrlen;
  if (out.addr.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&out.addr)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&out.addr)->sin6_port = htons(port);
  }
  ::freeaddrinfo(result);
  return true;
}

std::shared_ptr<const CompiledUpstream> compile_upstream(const config::Upstream& up,
                                                         const std::string& key,
                                                         const RuntimeSettings& settings,
                                                         uint32_t worker_count) {
  auto out = std::make_shared<CompiledUpstream>();
  out->key = key;
  for (const config::Node& node : up.nodes) {
    UpstreamNode n;
    n.host = node.host;
    n.port = node.port != 0 ? node.port : default_port(up.scheme);
    n.weight = node.weight;
    n.priority = node.priority;
    if (!resolve(n.host, n.port, n.endpoint)) {
      core::log_error("failed to resolve upstream node ", n.host, " of ", key);
      continue;
    }
    n.host_header = n.host;
    if (n.port != default_port(up.scheme)) {
      n.host_header += ":" + std::to_string(n.port);
    }
    n.pool_key = up.scheme + "#" + n.host + "#" + std::to_string(n.port);
    out->nodes.push_back(std::move(n));
  }
  // Priority groups, highest first (core.md §7.5).
  std::map<int, std::vector<uint32_t>, std::greater<>> by_priority;
  for (uint32_t i = 0; i < out->nodes.size(); ++i) {
    by_priority[out->nodes[i].priority].push_back(i);
  }
  for (auto& [priority, indices] : by_priority) {
    std::vector<int> weights;
    for (uint32_t i : indices) {
      weights.push_back(out->nodes[i].weight);
    }
    out->groups.emplace_back(indices, std::move(weights));
  }
  out->retries =
      up.retries >= 0 ? up.retries : std::max<int>(0, static_cast<int>(out->nodes.size()) - 1);
  out->retry_timeout = seconds_to_ms(up.retry_timeout);
  if (up.timeout) {
    out->timeout = to_timeouts(*up.timeout);
  }
  switch (up.pass_host) {
    case config::Upstream::PassHost::Pass:
      out->pass_host = PassHost::Pass;
      break;
    case config::Upstream::PassHost::Node:
      out->pass_host = PassHost::Node;
      break;
    case config::Upstream::PassHost::Rewrite:
      out->pass_host = PassHost::Rewrite;
      break;
  }
  out->upstream_host = up.upstream_host;
  out->pool = settings.default_pool;
  if (up.keepalive_pool) {
    out->pool.size = up.keepalive_pool->size;
    out->pool.idle_timeout = seconds_to_ms(up.keepalive_pool->idle_timeout);
    out->pool.requests = up.keepalive_pool->requests;
  }
  if (up.type != "roundrobin") {
    core::log_warn("upstream ", key, ": balancer type \"", up.type,
                   "\" is not built yet; using roundrobin");
  }
  out->per_worker.resize(worker_count);
  for (auto& state : out->per_worker) {
    state.groups.resize(out->groups.size());
  }
  return out;
}

}  // namespace

int64_t CompiledUpstream::pick(uint32_t worker, const upstream::TriedSet& tried) const {
  WorkerBalancerState& state = per_worker[worker];
  for (size_t g = 0; g < groups.size(); ++g) {
    int64_t node = groups[g].pick(state.groups[g], tried);
    if (node >= 0) {
      return node;
    }
  }
  return -1;
}

std::shared_ptr<const Snapshot> build_snapshot(const config::StandaloneConfig& resources,
                                               std::shared_ptr<const RuntimeSettings> settings,
                                               uint32_t worker_count, uint64_t version) {
  auto snap = std::make_shared<Snapshot>();
  snap->version = version;
  snap->settings = settings;

  std::map<std::string, std::shared_ptr<const CompiledUpstream>> upstreams;
  for (const config::Upstream& up : resources.upstreams) {
    upstreams[up.id] = compile_upstream(up, "/apisix/upstreams/" + up.id, *settings, worker_count);
  }
  std::map<std::string, const config::Service*> services;
  for (const config::Service& service : resources.services) {
    services[service.id] = &service;
  }

  std::vector<router::RouteSpec> specs;
  for (const config::Route& route : resources.routes) {
    CompiledRoute compiled;
    compiled.id = route.id;
    if (route.timeout) {
      compiled.timeout = to_timeouts(*route.timeout);
    }
    router::RouteSpec spec;
    spec.payload = static_cast<uint32_t>(snap->routes.size());
    spec.uris = route.uris;
    spec.hosts = route.hosts;
    spec.priority = route.priority;
    for (const std::string& method : route.methods) {
      spec.method_mask |= router::method_bit(method);
    }
    spec.id = route.id;
    spec.matchable = route.status != 0;
    if (!route.vars.empty()) {
      auto expr = router::Expr::compile(boost::json::value(route.vars));
      if (expr) {
        spec.vars = std::make_shared<const router::Expr>(std::move(expr.value()));
      } else {
        core::log_error("route ", route.id, ": invalid vars: ", expr.error().context);
        spec.matchable = false;
      }
    }
    if (!route.remote_addrs.empty()) {
      auto matcher = router::IpMatcher::compile(route.remote_addrs);
      if (matcher) {
        spec.remote_addrs = std::make_shared<const router::IpMatcher>(std::move(matcher.value()));
      } else {
        core::log_error("route ", route.id, ": invalid remote_addrs: ", matcher.error().context);
        spec.matchable = false;
      }
    }
    if (!route.filter_func.empty()) {
      core::log_warn("route ", route.id, ": filter_func needs the Lua runtime; route skipped");
      spec.matchable = false;
    }

    // Effective upstream: route upstream_id, else route inline upstream, else the service's
    // (core.md §5.9, §7.1).
    const config::Service* service = nullptr;
    if (!route.service_id.empty()) {
      auto it = services.find(route.service_id);
      if (it == services.end()) {
        compiled.error_status = 404;
        compiled.error_log = "service " + route.service_id + " not found";
      } else {
        service = it->second;
        if (spec.hosts.empty()) {
          spec.hosts = service->hosts;
        }
      }
    }
    std::string upstream_id = route.upstream_id;
    const config::Upstream* inline_upstream = route.upstream ? &*route.upstream : nullptr;
    std::string inline_key = "/apisix/routes/" + route.id;
    if (upstream_id.empty() && inline_upstream == nullptr && service != nullptr) {
      upstream_id = service->upstream_id;
      if (service->upstream) {
        inline_upstream = &*service->upstream;
        inline_key = "/apisix/services/" + service->id;
      }
    }
    if (compiled.error_status == 0) {
      if (!upstream_id.empty()) {
        auto it = upstreams.find(upstream_id);
        if (it == upstreams.end()) {
          compiled.error_status = 502;
          compiled.error_log = "upstream " + upstream_id + " not found";
        } else {
          compiled.upstream = it->second;
        }
      } else if (inline_upstream != nullptr) {
        compiled.upstream = compile_upstream(*inline_upstream, inline_key, *settings, worker_count);
      } else {
        compiled.error_status = 503;
        compiled.error_log = "missing upstream configuration in Route or Service";
      }
    }
    if (compiled.error_status == 0 && compiled.upstream->nodes.empty()) {
      compiled.error_status = 503;  // core.md §7.11: empty node list
      compiled.error_log = "no valid upstream node in " + compiled.upstream->key;
    }
    snap->routes.push_back(std::move(compiled));
    specs.push_back(std::move(spec));
  }
  snap->router = router::RouteTable(settings->router_mode, specs);
  return snap;
}

}  // namespace apisix::gateway
