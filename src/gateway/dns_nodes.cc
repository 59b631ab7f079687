#include "gateway/dns_nodes.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <utility>

#include <arpa/inet.h>

#include "core/log.h"

namespace apisix::gateway {
namespace {

namespace json = boost::json;

constexpr std::string_view kDnsDiscoveryPrefix = "dns:";

const json::value* member(const json::value* v, std::string_view key) {
  if (v == nullptr || !v->is_object()) {
    return nullptr;
  }
  const json::value* m = v->get_object().if_contains(key);
  return (m != nullptr && !m->is_null()) ? m : nullptr;
}

Result<std::optional<std::vector<std::string>>> string_list(const json::value* v,
                                                            const std::string& where) {
  if (v == nullptr) {
    return std::optional<std::vector<std::string>>{};
  }
  if (!v->is_array()) {
    return Error::config("invalid config: " + where + ": expected a list of strings");
  }
  std::vector<std::string> out;
  for (const json::value& item : v->get_array()) {
    if (!item.is_string()) {
      return Error::config("invalid config: " + where + ": expected a list of strings");
    }
    out.emplace_back(item.get_string());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

// A resolved address as a node: IPv6 bracketed as core.md §7.2 normalises hosts.
upstream::DiscoveredNode address_node(const upstream::DnsAddress& address) {
  upstream::DiscoveredNode node;
  node.host = address.is_ipv6 ? "[" + address.ip + "]" : address.ip;
  return node;
}

std::string lower(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

// The hosts file as APISIX's DNS client uses it (core.md §7.3): IPv4 addresses of a name are
// preferred; its IPv6 ones count only when it has none and IPv6 is enabled.
std::unordered_map<std::string, std::vector<upstream::DiscoveredNode>> read_hosts(
    const std::string& path, bool enable_ipv6) {
  std::unordered_map<std::string, std::vector<upstream::DiscoveredNode>> v4;
  std::unordered_map<std::string, std::vector<upstream::DiscoveredNode>> v6;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string ip;
    if (!(words >> ip)) {
      continue;
    }
    in6_addr scratch{};
    bool is_v4 = ::inet_pton(AF_INET, ip.c_str(), &scratch) == 1;
    bool is_v6 = !is_v4 && ::inet_pton(AF_INET6, ip.c_str(), &scratch) == 1;
    if (!is_v4 && !is_v6) {
      continue;
    }
    upstream::DiscoveredNode node;
    node.host = is_v6 ? "[" + ip + "]" : ip;
    std::string name;
    while (words >> name) {
      auto& list = (is_v4 ? v4 : v6)[lower(name)];
      if (std::find(list.begin(), list.end(), node) == list.end()) {
        list.push_back(node);
      }
    }
  }
  if (enable_ipv6) {
    for (auto& [name, nodes] : v6) {
      v4.try_emplace(name, std::move(nodes));
    }
  }
  return v4;
}

}  // namespace

Result<DnsNodeOptions> dns_node_options(const json::value& raw, bool enable_ipv6) {
  DnsNodeOptions options;
  const json::value* apisix = member(&raw, "apisix");
  auto resolvers = string_list(member(apisix, "dns_resolver"), "apisix.dns_resolver");
  if (!resolvers) {
    return resolvers.error();
  }
  if (*resolvers) {
    options.resolver.servers = std::move(**resolvers);
    options.resolvers_configured = !options.resolver.servers.empty();
  }
  if (const json::value* valid = member(apisix, "dns_resolver_valid")) {
    if (!valid->is_number() || valid->to_number<double>() < 0) {
      return Error::config("invalid config: apisix.dns_resolver_valid: expected seconds");
    }
    options.cache.valid = std::chrono::seconds(static_cast<int64_t>(valid->to_number<double>()));
  }
  if (const json::value* search = member(apisix, "enable_resolv_search_opt")) {
    if (!search->is_bool()) {
      return Error::config("invalid config: apisix.enable_resolv_search_opt: expected boolean");
    }
    options.resolver.use_search = search->get_bool();
  }
  options.resolver.enable_ipv6 = enable_ipv6;

  if (const json::value* dns = member(member(&raw, "discovery"), "dns")) {
    auto servers = string_list(member(dns, "servers"), "discovery.dns.servers");
    if (!servers) {
      return servers.error();
    }
    auto order = string_list(member(dns, "order"), "discovery.dns.order");
    if (!order) {
      return order.error();
    }
    std::optional<std::string> resolv_conf;
    if (const json::value* rc = member(dns, "resolv_conf")) {
      if (!rc->is_string()) {
        return Error::config("invalid config: discovery.dns.resolv_conf: expected a path");
      }
      resolv_conf = std::string(rc->get_string());
    }
    auto config = upstream::make_dns_discovery_config(*servers, resolv_conf, *order);
    if (!config) {
      Error e = config.error();
      e.context = "invalid config: discovery.dns: " + e.context;
      return e;
    }
    options.discovery = std::move(config.value());
  }
  return options;
}

DnsNodeSource::DnsNodeSource(core::Loop& loop, ChangeCallback on_change)
    : loop_(loop), on_change_(std::move(on_change)) {}

DnsNodeSource::~DnsNodeSource() {
  // Caches first (they stop calling back), then what they resolve with.
  services_.reset();
  domains_.reset();
  discovery_.reset();
  resolver_.reset();
}

Result<std::unique_ptr<DnsNodeSource>> DnsNodeSource::create(core::Loop& loop,
                                                             DnsNodeOptions options,
                                                             ChangeCallback on_change) {
  std::unique_ptr<DnsNodeSource> source(new DnsNodeSource(loop, std::move(on_change)));
  source->hosts_ = read_hosts(options.hosts_file, options.resolver.enable_ipv6);
  auto resolver = upstream::DnsResolver::create(loop, options.resolver);
  if (resolver) {
    source->resolver_ = std::move(resolver.value());
    upstream::DnsResolver* r = source->resolver_.get();
    source->domains_ = std::make_unique<upstream::DnsCache>(
        loop, [r](std::string host) { return r->resolve_address(std::move(host)); }, options.cache);
  } else if (options.resolvers_configured) {
    Error e = resolver.error();
    e.context = "invalid config: apisix.dns_resolver: " + e.context;
    return e;
  } else {
    // APISIX refuses to start without a nameserver; we start, since most configurations
    // have no domain node, and say why domain nodes will not resolve.
    core::log_error("dns: no resolver for domain nodes (", resolver.error().context,
                    "); set apisix.dns_resolver");
  }
  if (options.discovery) {
    upstream::DnsResolverOptions base = options.resolver;
    base.servers.clear();
    auto discovery = upstream::DnsDiscovery::create(loop, *options.discovery,
                                                    options.resolver.enable_ipv6, base);
    if (!discovery) {
      Error e = discovery.error();
      e.context = "invalid config: discovery.dns: " + e.context;
      return e;
    }
    source->discovery_ = std::move(discovery.value());
    upstream::DnsDiscovery* d = source->discovery_.get();
    source->services_ = std::make_unique<upstream::DnsCache>(
        loop, [d](std::string host) { return d->lookup(std::move(host)); }, options.cache);
  }
  return source;
}

const std::vector<upstream::DiscoveredNode>* DnsNodeSource::nodes(const std::string& name) {
  auto it = names_.find(name);
  Name* entry = nullptr;
  if (it != names_.end()) {
    entry = &it->second;
  } else if (name.find(':') == std::string::npos) {
    entry = &add_domain(name);  // a host name (IP literals never get here)
  } else {
    entry = &add_service(name);
  }
  return entry->known ? &entry->nodes : nullptr;
}

DnsNodeSource::Name& DnsNodeSource::add_domain(const std::string& name) {
  Name& entry = names_[name];
  if (auto hosts = hosts_.find(lower(name)); hosts != hosts_.end()) {
    entry.nodes = hosts->second;  // static, like APISIX's hosts table
    entry.known = true;
    return entry;
  }
  if (!domains_) {
    return entry;
  }
  if (const upstream::DnsAnswer* answer = domains_->find(name)) {
    for (const upstream::DnsAddress& address : answer->addresses) {
      entry.nodes.push_back(address_node(address));
    }
    entry.known = !entry.nodes.empty();
  }
  entry.watch_id =
      domains_->watch(name, [this](const std::string& host, const upstream::DnsAnswer& answer) {
        on_domain(host, answer);
      });
  return entry;
}

DnsNodeSource::Name& DnsNodeSource::add_service(const std::string& name) {
  Name& entry = names_[name];
  std::string_view type_and_service = name;
  if (type_and_service.substr(0, kDnsDiscoveryPrefix.size()) != kDnsDiscoveryPrefix) {
    // core.md §7.1 step 8: a discovery type that is not enabled means 503.
    core::log_error("discovery type of ", name.substr(0, name.find(':')),
                    " is not supported; only dns is built in");
    return entry;
  }
  if (!services_) {
    core::log_error("discovery: dns is not enabled in config.yaml (discovery.dns); service ",
                    name.substr(kDnsDiscoveryPrefix.size()), " has no nodes");
    return entry;
  }
  auto parsed = upstream::parse_service_name(name.substr(kDnsDiscoveryPrefix.size()));
  if (!parsed) {
    core::log_error("discovery: ", parsed.error().context);
    return entry;
  }
  entry.service_host = parsed->host;
  entry.service_port = parsed->port;
  if (const upstream::DnsAnswer* answer = services_->find(entry.service_host)) {
    entry.nodes = upstream::nodes_from_answer(*answer, entry.service_port);
    entry.known = !entry.nodes.empty();
  }
  auto& users = services_by_host_[entry.service_host];
  users.insert(name);
  if (!host_watches_.contains(entry.service_host)) {
    host_watches_[entry.service_host] = services_->watch(
        entry.service_host, [this](const std::string& host, const upstream::DnsAnswer& answer) {
          on_service_host(host, answer);
        });
  }
  return entry;
}

void DnsNodeSource::on_domain(const std::string& host, const upstream::DnsAnswer& answer) {
  auto it = names_.find(host);
  if (it == names_.end()) {
    return;
  }
  it->second.nodes.clear();
  for (const upstream::DnsAddress& address : answer.addresses) {
    it->second.nodes.push_back(address_node(address));
  }
  it->second.known = !it->second.nodes.empty();
  core::log(core::LogLevel::Info, "dns: ", host, " resolved to ", answer.addresses.size(),
            " address(es)");
  on_change_({host});
}

void DnsNodeSource::on_service_host(const std::string& host, const upstream::DnsAnswer& answer) {
  auto users = services_by_host_.find(host);
  if (users == services_by_host_.end()) {
    return;
  }
  std::vector<std::string> changed;
  for (const std::string& name : users->second) {
    auto it = names_.find(name);
    if (it == names_.end()) {
      continue;
    }
    it->second.nodes = upstream::nodes_from_answer(answer, it->second.service_port);
    it->second.known = !it->second.nodes.empty();
    changed.push_back(name);
  }
  core::log(core::LogLevel::Info, "discovery: dns: ", host, " has ", answer.addresses.size(),
            " address(es)");
  if (!changed.empty()) {
    on_change_(changed);
  }
}

void DnsNodeSource::forget(const std::string& name) {
  auto it = names_.find(name);
  if (it == names_.end()) {
    return;
  }
  if (it->second.watch_id != 0 && domains_) {
    domains_->unwatch(it->second.watch_id);
  }
  if (!it->second.service_host.empty()) {
    auto users = services_by_host_.find(it->second.service_host);
    if (users != services_by_host_.end()) {
      users->second.erase(name);
      if (users->second.empty()) {
        services_by_host_.erase(users);
        auto watch = host_watches_.find(it->second.service_host);
        if (watch != host_watches_.end()) {
          services_->unwatch(watch->second);
          host_watches_.erase(watch);
        }
      }
    }
  }
  names_.erase(it);
}

}  // namespace apisix::gateway
