#include "gateway/snapshot.h"

#include <algorithm>
#include <map>
#include <unordered_set>

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

void RouteSlots::set(size_t slot, std::shared_ptr<const CompiledRoute> route) {
  size_t c = slot >> kChunkBits;
  if (c >= chunks_.size()) {
    chunks_.resize(c + 1);
  }
  std::shared_ptr<Chunk>& chunk = chunks_[c];
  if (!chunk) {
    chunk = std::make_shared<Chunk>();
  } else if (chunk.use_count() > 1) {
    // A published snapshot shares this chunk: copy it (reading a stale count only costs an
    // unneeded copy, as nobody but the builder can add owners).
    chunk = std::make_shared<Chunk>(*chunk);
  }
  chunk->items[slot & (kChunkSize - 1)] = std::move(route);
}

SnapshotBuilder::SnapshotBuilder(std::shared_ptr<const RuntimeSettings> settings,
                                 uint32_t worker_count)
    : settings_(std::move(settings)),
      worker_count_(worker_count),
      router_(std::make_shared<const router::RouteTable>(settings_->router_mode,
                                                         std::vector<router::RouteSpec>{})) {}

namespace {

template <typename T>
void diff_kind(const std::vector<T>& wanted, const std::unordered_map<std::string, T>& have,
               std::vector<T>& puts, std::vector<std::string>& removed) {
  std::unordered_set<std::string_view> seen;
  for (const T& item : wanted) {
    seen.insert(item.id);
    auto it = have.find(item.id);
    if (it == have.end() || it->second.raw != item.raw) {
      puts.push_back(item);
    }
  }
  for (const auto& [id, item] : have) {
    if (!seen.contains(id)) {
      removed.push_back(id);
    }
  }
}

}  // namespace

ResourceChanges SnapshotBuilder::diff(const config::StandaloneConfig& resources) const {
  ResourceChanges changes;
  diff_kind(resources.upstreams, upstreams_, changes.upstreams, changes.removed_upstreams);
  std::unordered_map<std::string, config::Service> services;
  for (const auto& [id, entry] : services_) {
    services.emplace(id, entry.service);
  }
  diff_kind(resources.services, services, changes.services, changes.removed_services);
  std::unordered_set<std::string_view> seen;
  for (const config::Route& route : resources.routes) {
    seen.insert(route.id);
    auto it = routes_.find(route.id);
    if (it == routes_.end() || it->second.route.raw != route.raw) {
      changes.routes.push_back(route);
    }
  }
  for (const auto& [id, entry] : routes_) {
    if (!seen.contains(id)) {
      changes.removed_routes.push_back(id);
    }
  }
  return changes;
}

std::shared_ptr<const Snapshot> SnapshotBuilder::build(const config::StandaloneConfig& resources,
                                                       uint64_t version) {
  return apply(diff(resources), version);
}

void SnapshotBuilder::link(const config::Route& route, bool add) {
  auto update = [&](auto& index, const std::string& key) {
    if (key.empty()) {
      return;
    }
    if (add) {
      index[key].insert(route.id);
    } else if (auto it = index.find(key); it != index.end()) {
      it->second.erase(route.id);
      if (it->second.empty()) {
        index.erase(it);
      }
    }
  };
  update(routes_by_service_, route.service_id);
  update(routes_by_upstream_, route.upstream_id);
}

std::shared_ptr<const Snapshot> SnapshotBuilder::apply(const ResourceChanges& changes,
                                                       uint64_t version) {
  stats_ = BuildStats{};
  // Routes whose compiled form must be redone; `true` when their match conditions may have
  // changed too (route or service change), so the route table needs the route again.
  // Kept in the order first touched, so new routes enter the table in the provider's order.
  std::unordered_map<std::string, bool> dirty;
  std::vector<std::string> dirty_order;
  auto touch = [&](const std::string& id, bool place) {
    auto [it, inserted] = dirty.emplace(id, place);
    if (inserted) {
      dirty_order.push_back(id);
    } else if (place) {
      it->second = true;
    }
  };
  auto touch_routes_of_service = [&](const std::string& service_id, bool place) {
    if (auto it = routes_by_service_.find(service_id); it != routes_by_service_.end()) {
      for (const std::string& route_id : it->second) {
        touch(route_id, place);
      }
    }
  };

  // Upstreams first: services and routes below pick up the new compiled objects.
  auto upstream_changed = [&](const std::string& id) {
    if (auto it = routes_by_upstream_.find(id); it != routes_by_upstream_.end()) {
      for (const std::string& route_id : it->second) {
        touch(route_id, false);
      }
    }
    if (auto it = services_by_upstream_.find(id); it != services_by_upstream_.end()) {
      for (const std::string& service_id : it->second) {
        touch_routes_of_service(service_id, false);
      }
    }
  };
  for (const std::string& id : changes.removed_upstreams) {
    if (upstreams_.erase(id) != 0) {
      compiled_upstreams_.erase(id);
      upstream_changed(id);
    }
  }
  for (const config::Upstream& up : changes.upstreams) {
    auto it = upstreams_.find(up.id);
    if (it != upstreams_.end() && it->second.raw == up.raw) {
      continue;
    }
    upstreams_[up.id] = up;
    compiled_upstreams_[up.id] =
        compile_upstream(up, "/apisix/upstreams/" + up.id, *settings_, worker_count_);
    ++stats_.upstreams_compiled;
    upstream_changed(up.id);
  }

  auto unlink_service = [&](const config::Service& service) {
    if (auto it = services_by_upstream_.find(service.upstream_id);
        it != services_by_upstream_.end()) {
      it->second.erase(service.id);
      if (it->second.empty()) {
        services_by_upstream_.erase(it);
      }
    }
  };
  for (const std::string& id : changes.removed_services) {
    auto it = services_.find(id);
    if (it != services_.end()) {
      unlink_service(it->second.service);
      services_.erase(it);
      touch_routes_of_service(id, true);
    }
  }
  for (const config::Service& service : changes.services) {
    auto it = services_.find(service.id);
    if (it != services_.end()) {
      if (it->second.service.raw == service.raw) {
        continue;
      }
      unlink_service(it->second.service);
    }
    ServiceEntry entry{service, nullptr};
    if (service.upstream) {
      entry.inline_upstream = compile_upstream(*service.upstream, "/apisix/services/" + service.id,
                                               *settings_, worker_count_);
      ++stats_.upstreams_compiled;
    }
    if (!service.upstream_id.empty()) {
      services_by_upstream_[service.upstream_id].insert(service.id);
    }
    services_[service.id] = std::move(entry);
    touch_routes_of_service(service.id, true);
  }

  std::vector<std::string> removed;
  for (const std::string& id : changes.removed_routes) {
    auto it = routes_.find(id);
    if (it == routes_.end()) {
      continue;
    }
    link(it->second.route, false);
    slots_.set(it->second.slot, nullptr);
    free_slots_.push_back(it->second.slot);
    routes_.erase(it);
    dirty.erase(id);
    removed.push_back(id);
  }
  for (const config::Route& route : changes.routes) {
    auto it = routes_.find(route.id);
    if (it != routes_.end()) {
      if (it->second.route.raw == route.raw) {
        continue;
      }
      link(it->second.route, false);
      it->second.route = route;
    } else {
      uint32_t slot;
      if (!free_slots_.empty()) {
        slot = free_slots_.back();
        free_slots_.pop_back();
      } else {
        slot = next_slot_++;
      }
      it = routes_.emplace(route.id, RouteEntry{route, slot, next_order_++}).first;
    }
    link(route, true);
    touch(route.id, true);
  }

  std::vector<router::RouteSpec> specs;
  for (const std::string& id : dirty_order) {
    auto it = routes_.find(id);
    auto flag = dirty.find(id);
    if (it != routes_.end() && flag != dirty.end()) {
      compile_route(it->second, flag->second, specs);
    }
  }
  stats_.router_upserts = specs.size();
  stats_.router_removals = removed.size();
  if (!specs.empty() || !removed.empty()) {
    router_ = router_->apply(specs, removed);
  }
  return publish(version);
}

std::shared_ptr<const Snapshot> SnapshotBuilder::rebuild(
    std::shared_ptr<const RuntimeSettings> settings, uint64_t version) {
  settings_ = std::move(settings);
  stats_ = BuildStats{};
  stats_.full = true;
  for (auto& [id, up] : upstreams_) {
    compiled_upstreams_[id] =
        compile_upstream(up, "/apisix/upstreams/" + id, *settings_, worker_count_);
    ++stats_.upstreams_compiled;
  }
  for (auto& [id, entry] : services_) {
    if (entry.service.upstream) {
      entry.inline_upstream = compile_upstream(*entry.service.upstream, "/apisix/services/" + id,
                                               *settings_, worker_count_);
      ++stats_.upstreams_compiled;
    }
  }
  // Registration order survives a rebuild.
  std::vector<const RouteEntry*> ordered;
  ordered.reserve(routes_.size());
  for (const auto& [id, entry] : routes_) {
    ordered.push_back(&entry);
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const RouteEntry* a, const RouteEntry* b) { return a->order < b->order; });
  std::vector<router::RouteSpec> specs;
  specs.reserve(ordered.size());
  for (const RouteEntry* entry : ordered) {
    compile_route(*entry, true, specs);
  }
  stats_.router_upserts = specs.size();
  router_ = std::make_shared<const router::RouteTable>(settings_->router_mode, specs);
  return publish(version);
}

std::shared_ptr<const Snapshot> SnapshotBuilder::publish(uint64_t version) {
  auto snap = std::make_shared<Snapshot>();
  snap->version = version;
  snap->settings = settings_;
  snap->router = router_;
  snap->routes = slots_;
  return snap;
}

void SnapshotBuilder::compile_route(const RouteEntry& entry, bool place,
                                    std::vector<router::RouteSpec>& specs) {
  const config::Route& route = entry.route;
  auto compiled = std::make_shared<CompiledRoute>();
  compiled->id = route.id;
  if (route.timeout) {
    compiled->timeout = to_timeouts(*route.timeout);
  }
  ++stats_.routes_compiled;

  // Effective upstream: route upstream_id, else route inline upstream, else the service's
  // (core.md §5.9, §7.1).
  const ServiceEntry* service = nullptr;
  if (!route.service_id.empty()) {
    auto it = services_.find(route.service_id);
    if (it == services_.end()) {
      compiled->error_status = 404;
      compiled->error_log = "service " + route.service_id + " not found";
    } else {
      service = &it->second;
    }
  }
  std::string upstream_id = route.upstream_id;
  std::shared_ptr<const CompiledUpstream> inline_upstream;
  if (upstream_id.empty() && route.upstream) {
    inline_upstream =
        compile_upstream(*route.upstream, "/apisix/routes/" + route.id, *settings_, worker_count_);
    ++stats_.upstreams_compiled;
  }
  if (upstream_id.empty() && !inline_upstream && service != nullptr) {
    upstream_id = service->service.upstream_id;
    inline_upstream = service->inline_upstream;
  }
  if (compiled->error_status == 0) {
    if (!upstream_id.empty()) {
      auto it = compiled_upstreams_.find(upstream_id);
      if (it == compiled_upstreams_.end()) {
        compiled->error_status = 502;
        compiled->error_log = "upstream " + upstream_id + " not found";
      } else {
        compiled->upstream = it->second;
      }
    } else if (inline_upstream) {
      compiled->upstream = std::move(inline_upstream);
    } else {
      compiled->error_status = 503;
      compiled->error_log = "missing upstream configuration in Route or Service";
    }
  }
  if (compiled->error_status == 0 && compiled->upstream->nodes.empty()) {
    compiled->error_status = 503;  // core.md §7.11: empty node list
    compiled->error_log = "no valid upstream node in " + compiled->upstream->key;
  }
  slots_.set(entry.slot, std::move(compiled));

  if (!place) {
    return;
  }
  router::RouteSpec spec;
  spec.id = route.id;
  spec.payload = entry.slot;
  spec.uris = route.uris;
  spec.hosts = route.hosts;
  if (spec.hosts.empty() && service != nullptr) {
    spec.hosts = service->service.hosts;
  }
  spec.priority = route.priority;
  for (const std::string& method : route.methods) {
    spec.method_mask |= router::method_bit(method);
  }
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
    // Stored, not run: a route with filter_func never matches until the Lua runtime exists
    // (issue text of the router); said once per process, not once per build.
    if (!warned_filter_func_) {
      warned_filter_func_ = true;
      core::log_warn("route ", route.id,
                     ": filter_func needs the Lua runtime, which this build does not have; "
                     "routes with filter_func never match");
    }
    spec.matchable = false;
  }
  specs.push_back(std::move(spec));
}

}  // namespace apisix::gateway
