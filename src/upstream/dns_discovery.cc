#include "upstream/dns_discovery.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <set>
#include <tuple>
#include <utility>

namespace apisix::upstream {
namespace {

std::optional<DnsLookupStep> step_from_name(std::string_view name) {
  if (name == "last") {
    return DnsLookupStep::Last;
  }
  if (name == "SRV") {
    return DnsLookupStep::SRV;
  }
  if (name == "A") {
    return DnsLookupStep::A;
  }
  if (name == "AAAA") {
    return DnsLookupStep::AAAA;
  }
  if (name == "CNAME") {
    return DnsLookupStep::CNAME;
  }
  return std::nullopt;
}

RecordType type_of(DnsLookupStep step) {
  switch (step) {
    case DnsLookupStep::SRV:
      return RecordType::SRV;
    case DnsLookupStep::AAAA:
      return RecordType::AAAA;
    case DnsLookupStep::CNAME:
      return RecordType::CNAME;
    case DnsLookupStep::A:
    case DnsLookupStep::Last:
      break;
  }
  return RecordType::A;
}

std::optional<uint16_t> parse_port_number(std::string_view text) {
  if (text.empty() || text.size() > 5) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

}  // namespace

Result<DnsDiscoveryConfig> make_dns_discovery_config(
    const std::optional<std::vector<std::string>>& servers,
    const std::optional<std::string>& resolv_conf,
    const std::optional<std::vector<std::string>>& order) {
  DnsDiscoveryConfig config;
  // schema.lua: oneOf {required servers}, {required resolv_conf}.
  if (servers.has_value() == resolv_conf.has_value()) {
    return Error::config(
        "invalid discovery.dns: exactly one of \"servers\" and \"resolv_conf\" is required");
  }
  if (servers) {
    if (servers->empty()) {
      return Error::config("invalid discovery.dns: \"servers\" expects at least 1 item");
    }
    for (const std::string& s : *servers) {
      auto server = parse_dns_server(s);
      if (!server) {
        return Error::config("invalid discovery.dns: " + server.error().context);
      }
    }
    config.servers = *servers;
  } else {
    config.resolv_conf = *resolv_conf;
  }
  if (order) {
    if (order->empty() || order->size() > 5) {
      return Error::config("invalid discovery.dns: \"order\" expects 1 to 5 items");
    }
    std::set<std::string> seen;
    config.order.clear();
    for (const std::string& name : *order) {
      auto step = step_from_name(name);
      if (!step) {
        return Error::config("invalid discovery.dns: \"order\" item \"" + name +
                             "\" is not one of last, SRV, A, AAAA, CNAME");
      }
      if (!seen.insert(name).second) {
        return Error::config("invalid discovery.dns: \"order\" items must be unique");
      }
      config.order.push_back(*step);
    }
  }
  return config;
}

Result<ServiceName> parse_service_name(std::string_view service_name) {
  auto bad = [&](std::string_view why) {
    return Error::config("invalid service_name \"" + std::string(service_name) +
                         "\": " + std::string(why));
  };
  if (service_name.empty()) {
    return bad("empty");
  }
  ServiceName out;
  std::string_view port_text;
  bool has_port = false;
  if (service_name.front() == '[') {
    size_t close = service_name.find(']');
    if (close == std::string_view::npos) {
      return bad("missing ']'");
    }
    out.host = std::string(service_name.substr(1, close - 1));
    std::string_view rest = service_name.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return bad("unexpected text after ']'");
      }
      port_text = rest.substr(1);
      has_port = true;
    }
  } else if (std::count(service_name.begin(), service_name.end(), ':') >= 2) {
    out.host = std::string(service_name);  // a bare IPv6 literal has no port (parse_addr)
  } else {
    size_t colon = service_name.rfind(':');
    out.host = std::string(service_name.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = service_name.substr(colon + 1);
      has_port = true;
    }
  }
  if (out.host.empty()) {
    return bad("empty host");
  }
  if (has_port) {
    out.port = parse_port_number(port_text);
    if (!out.port) {
      return bad("port must be a number from 1 to 65535");
    }
  }
  return out;
}

std::vector<DiscoveredNode> nodes_from_answer(const DnsAnswer& answer,
                                              std::optional<uint16_t> service_port) {
  std::vector<DiscoveredNode> nodes;
  nodes.reserve(answer.addresses.size());
  auto host_of = [](const DnsAddress& a) { return a.is_ipv6 ? "[" + a.ip + "]" : a.ip; };
  if (answer.type != RecordType::SRV) {
    for (const DnsAddress& a : answer.addresses) {
      nodes.push_back(DiscoveredNode{host_of(a), service_port.value_or(0), 1, 0});
    }
    return nodes;
  }
  // Addresses per SRV record (APISIX's answer_to_count); the cache may have sorted them, so
  // records are told apart by their fields, not by position.
  using RecordKey = std::tuple<std::string, uint16_t, uint16_t, uint16_t>;
  auto key_of = [](const DnsAddress& a) {
    return RecordKey{a.target, a.port, a.priority, a.weight};
  };
  std::map<RecordKey, int64_t> counts;
  for (const DnsAddress& a : answer.addresses) {
    counts[key_of(a)]++;
  }
  int64_t lcm = 1;
  for (const auto& [key, count] : counts) {
    lcm = std::lcm(lcm, count);
  }
  for (const DnsAddress& a : answer.addresses) {
    int64_t weight = a.weight == 0 ? 1 : a.weight;
    weight = weight * lcm / counts[key_of(a)];
    DiscoveredNode node;
    node.host = host_of(a);
    node.port = service_port ? *service_port : a.port;  // SRV port 0 stays 0: scheme default
    node.weight = static_cast<int>(std::min<int64_t>(weight, INT32_MAX));
    node.priority = -static_cast<int>(a.priority);
    nodes.push_back(std::move(node));
  }
  return nodes;
}

Result<std::unique_ptr<DnsDiscovery>> DnsDiscovery::create(core::Loop& loop,
                                                           const DnsDiscoveryConfig& config,
                                                           bool enable_ipv6,
                                                           DnsResolverOptions base) {
  base.servers = config.servers;
  if (!config.resolv_conf.empty()) {
    base.resolv_conf = config.resolv_conf;
  }
  base.enable_ipv6 = enable_ipv6;
  auto resolver = DnsResolver::create(loop, std::move(base));
  if (!resolver) {
    return resolver.error();
  }
  std::vector<DnsLookupStep> order;
  for (DnsLookupStep step : config.order) {
    if (step == DnsLookupStep::AAAA && !enable_ipv6) {
      continue;  // APISIX's DNS client drops AAAA when IPv6 is off
    }
    order.push_back(step);
  }
  return std::unique_ptr<DnsDiscovery>(new DnsDiscovery(std::move(*resolver), std::move(order)));
}

DnsDiscovery::DnsDiscovery(std::unique_ptr<DnsResolver> resolver, std::vector<DnsLookupStep> order)
    : resolver_(std::move(resolver)), order_(std::move(order)) {}

core::Task<Result<DnsAnswer>> DnsDiscovery::lookup(std::string host) {
  std::vector<RecordType> tried;
  std::optional<Error> first_error;
  for (DnsLookupStep step : order_) {
    RecordType type;
    if (step == DnsLookupStep::Last) {
      auto it = last_type_.find(host);
      if (it == last_type_.end()) {
        continue;
      }
      type = it->second;
    } else {
      type = type_of(step);
    }
    if (std::find(tried.begin(), tried.end(), type) != tried.end()) {
      continue;
    }
    tried.push_back(type);
    Result<DnsAnswer> r = co_await resolver_->resolve(host, type);
    if (r.ok()) {
      last_type_[host] = type;
      co_return r;
    }
    if (!first_error) {
      first_error = r.error();
    }
    // A server that does not answer will not answer the next type either.
    if (r.error().kind == ErrorKind::Timeout) {
      break;
    }
  }
  if (!first_error) {
    first_error = Error{ErrorKind::NotFound, ErrorSource::Upstream, false,
                        "dns: " + host + ": no record type left to try"};
  }
  co_return *first_error;
}

core::Task<Result<std::vector<DiscoveredNode>>> DnsDiscovery::nodes(std::string service_name) {
  auto name = parse_service_name(service_name);
  if (!name) {
    co_return name.error();
  }
  Result<DnsAnswer> answer = co_await lookup(name->host);
  if (!answer) {
    Error e = answer.error();
    e.context = "discovery dns: " + service_name + ": " + e.context;
    co_return e;
  }
  co_return nodes_from_answer(*answer, name->port);
}

}  // namespace apisix::upstream
