#pragma once
// RouteTable: finds the route for a request by APISIX's precedence (core.md §5.3-§5.6):
// host buckets (exact host, then wildcard suffixes longest first, then host-less routes) in
// radixtree_host_uri mode; inside each, the exact-path bucket, then prefix buckets longest
// first; inside a bucket, higher priority, then longer pattern, then registration order.
// Built by the control thread as part of a snapshot; immutable and shared by all workers.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace apisix::router {

// Lets unordered_map<std::string, T> be searched with a string_view without a copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename T>
using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

enum class Mode { HostUri, Uri, UriWithParameter };
bool parse_mode(std::string_view name, Mode& out);

// Bit per method of core.md §4.1; 0 = any method.
uint32_t method_bit(std::string_view method);

// What the router needs to know of one route. `payload` is returned on a match.
struct RouteSpec {
  uint32_t payload = 0;
  std::vector<std::string> uris;
  std::vector<std::string> hosts;  // lower-cased; the route's own, else its service's
  uint32_t method_mask = 0;
  int priority = 0;
  bool matchable = true;  // false: never matches (disabled, or needs a feature not built yet)
};

struct MatchRequest {
  std::string_view path;  // normalised $uri
  std::string_view host;  // $host: lower-cased, without port
  std::string_view method;
};

class RouteTable {
 public:
  static constexpr int64_t kNoMatch = -1;

  RouteTable() = default;
  RouteTable(Mode mode, const std::vector<RouteSpec>& specs);

  // The payload of the matching route, or kNoMatch.
  int64_t match(const MatchRequest& request) const;
  size_t size() const { return route_count_; }

 private:
  struct Entry {
    uint32_t payload;
    uint32_t method_mask;
    int priority;
    uint32_t order;
    std::string pattern;             // full uri pattern
    bool needs_glob;                 // '*' before the end: full-path check needed
    std::vector<std::string> hosts;  // checked per entry in Uri modes
  };
  struct UriIndex {
    StringMap<std::vector<Entry>> exact;
    std::vector<std::pair<std::string, std::vector<Entry>>> prefixes;  // longest first
    void add(const std::string& pattern, Entry entry);
    void finish();
    int64_t match(const MatchRequest& request, bool check_hosts) const;
  };

  Mode mode_ = Mode::HostUri;
  size_t route_count_ = 0;
  StringMap<UriIndex> exact_hosts_;
  std::vector<std::pair<std::string, UriIndex>> wildcard_hosts_;  // suffix, longest first
  UriIndex hostless_;
};

// True when `host` matches the route host entry `pattern` (`*suffix` wildcards, §5.4).
bool host_matches(std::string_view pattern, std::string_view host);
// The same for a wildcard entry given as its suffix (the text after '*').
bool host_suffix_matches(std::string_view suffix, std::string_view host);

}  // namespace apisix::router
