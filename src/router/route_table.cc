#include "router/route_table.h"

#include <algorithm>

namespace apisix::router {
namespace {

// Matches `path` against a pattern whose segments starting with '*' match any characters,
// including '/' (core.md §5.3).
bool glob_match(std::string_view pattern, std::string_view path) {
  size_t p = 0;
  size_t s = 0;
  size_t star_p = std::string_view::npos;
  size_t star_s = 0;
  while (s < path.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      // A '*' segment runs to the next '/' in the pattern; it matches any run of characters.
      star_p = p;
      while (p < pattern.size() && pattern[p] != '/') {
        ++p;
      }
      star_s = s;
      continue;
    }
    if (p < pattern.size() && pattern[p] == path[s]) {
      ++p;
      ++s;
      continue;
    }
    if (star_p != std::string_view::npos) {
      p = star_p;
      while (p < pattern.size() && pattern[p] != '/') {
        ++p;
      }
      s = ++star_s;
      continue;
    }
    return false;
  }
  while (p < pattern.size() && pattern[p] == '*') {
    while (p < pattern.size() && pattern[p] != '/') {
      ++p;
    }
  }
  return p == pattern.size();
}

}  // namespace

bool parse_mode(std::string_view name, Mode& out) {
  if (name == "radixtree_host_uri") {
    out = Mode::HostUri;
  } else if (name == "radixtree_uri") {
    out = Mode::Uri;
  } else if (name == "radixtree_uri_with_parameter") {
    out = Mode::UriWithParameter;
  } else {
    return false;
  }
  return true;
}

uint32_t method_bit(std::string_view method) {
  static constexpr std::string_view kMethods[] = {"GET",  "POST",    "PUT",     "DELETE", "PATCH",
                                                  "HEAD", "OPTIONS", "CONNECT", "TRACE",  "PURGE"};
  for (uint32_t i = 0; i < std::size(kMethods); ++i) {
    if (kMethods[i] == method) {
      return 1u << i;
    }
  }
  return 1u << 31;  // any other method: never in a restricted route's mask
}

bool host_suffix_matches(std::string_view suffix, std::string_view host) {
  return host.size() >= suffix.size() && host.substr(host.size() - suffix.size()) == suffix &&
         (suffix.empty() || suffix.front() != '.' || host.size() > suffix.size());
}

bool host_matches(std::string_view pattern, std::string_view host) {
  if (!pattern.empty() && pattern.front() == '*') {
    return host_suffix_matches(pattern.substr(1), host);
  }
  return pattern == host;
}

void RouteTable::UriIndex::add(const std::string& pattern, Entry entry) {
  size_t star = pattern.find('*');
  if (star == std::string::npos) {
    exact[pattern].push_back(std::move(entry));
    return;
  }
  entry.needs_glob = star + 1 != pattern.size();
  std::string prefix = pattern.substr(0, star);
  auto it = std::find_if(prefixes.begin(), prefixes.end(),
                         [&](const auto& bucket) { return bucket.first == prefix; });
  if (it == prefixes.end()) {
    prefixes.emplace_back(prefix, std::vector<Entry>{});
    it = prefixes.end() - 1;
  }
  it->second.push_back(std::move(entry));
}

void RouteTable::UriIndex::finish() {
  auto order = [](const Entry& a, const Entry& b) {
    if (a.priority != b.priority) {
      return a.priority > b.priority;
    }
    if (a.pattern.size() != b.pattern.size()) {
      return a.pattern.size() > b.pattern.size();
    }
    return a.order < b.order;
  };
  for (auto& [path, entries] : exact) {
    std::stable_sort(entries.begin(), entries.end(), order);
  }
  for (auto& [prefix, entries] : prefixes) {
    std::stable_sort(entries.begin(), entries.end(), order);
  }
  std::stable_sort(prefixes.begin(), prefixes.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

int64_t RouteTable::UriIndex::match(const MatchRequest& request, bool check_hosts) const {
  uint32_t method = method_bit(request.method);
  auto passes = [&](const Entry& e) {
    if (e.method_mask != 0 && (e.method_mask & method) == 0) {
      return false;
    }
    if (check_hosts && !e.hosts.empty()) {
      bool any = std::any_of(e.hosts.begin(), e.hosts.end(),
                             [&](const std::string& h) { return host_matches(h, request.host); });
      if (!any) {
        return false;
      }
    }
    return !e.needs_glob || glob_match(e.pattern, request.path);
  };
  if (!exact.empty()) {
    auto it = exact.find(request.path);
    if (it != exact.end()) {
      for (const Entry& e : it->second) {
        if (passes(e)) {
          return e.payload;
        }
      }
    }
  }
  for (const auto& [prefix, entries] : prefixes) {
    if (request.path.substr(0, prefix.size()) != prefix) {
      continue;
    }
    for (const Entry& e : entries) {
      if (passes(e)) {
        return e.payload;
      }
    }
  }
  return kNoMatch;
}

RouteTable::RouteTable(Mode mode, const std::vector<RouteSpec>& specs) : mode_(mode) {
  uint32_t order = 0;
  for (const RouteSpec& spec : specs) {
    if (!spec.matchable) {
      continue;
    }
    ++route_count_;
    for (const std::string& uri : spec.uris) {
      Entry entry{spec.payload, spec.method_mask, spec.priority, order++, uri, false, {}};
      if (mode_ != Mode::HostUri || spec.hosts.empty()) {
        entry.hosts = spec.hosts;
        hostless_.add(uri, std::move(entry));
        continue;
      }
      for (const std::string& host : spec.hosts) {
        if (!host.empty() && host.front() == '*') {
          std::string suffix = host.substr(1);
          auto it = std::find_if(wildcard_hosts_.begin(), wildcard_hosts_.end(),
                                 [&](const auto& b) { return b.first == suffix; });
          if (it == wildcard_hosts_.end()) {
            wildcard_hosts_.emplace_back(suffix, UriIndex{});
            it = wildcard_hosts_.end() - 1;
          }
          it->second.add(uri, entry);
        } else {
          exact_hosts_[host].add(uri, entry);
        }
      }
    }
  }
  for (auto& [host, index] : exact_hosts_) {
    index.finish();
  }
  for (auto& [suffix, index] : wildcard_hosts_) {
    index.finish();
  }
  std::stable_sort(wildcard_hosts_.begin(), wildcard_hosts_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  hostless_.finish();
}

int64_t RouteTable::match(const MatchRequest& request) const {
  if (mode_ == Mode::HostUri) {
    if (!exact_hosts_.empty()) {
      auto it = exact_hosts_.find(request.host);
      if (it != exact_hosts_.end()) {
        int64_t hit = it->second.match(request, false);
        if (hit != kNoMatch) {
          return hit;
        }
      }
    }
    for (const auto& [suffix, index] : wildcard_hosts_) {
      if (host_suffix_matches(suffix, request.host)) {
        int64_t hit = index.match(request, false);
        if (hit != kNoMatch) {
          return hit;
        }
      }
    }
    return hostless_.match(request, false);
  }
  return hostless_.match(request, true);
}

}  // namespace apisix::router
