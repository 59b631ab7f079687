#pragma once
// RouteTable: finds the route for a request by APISIX's precedence (core.md §5.2-§5.6):
// host buckets (exact host, then wildcard suffixes longest first, then host-less routes) in
// radixtree_host_uri mode; inside each, the exact-path bucket, then prefix buckets longest
// first; inside a bucket, higher priority, then longer pattern, then registration order; per
// candidate the conditions of §5.5 (methods, remote_addrs, hosts, vars, pattern).
//
// Built by the control thread as part of a snapshot, either whole (the constructor) or from
// the previous table plus a batch of changes (apply()); the result is immutable and shared
// by all workers. A table is a persistent structure: copies and the tables apply() returns
// share every part that did not change, so an update costs time in proportion to what it
// changes, and tables still in use by requests are never touched.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "router/radix_tree.h"

namespace apisix::router {

class Expr;
class IpMatcher;
class VarSource;

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
  std::string id;  // the route's id, for apply(); empty: the route cannot be replaced later
  uint32_t payload = 0;
  std::vector<std::string> uris;
  std::vector<std::string> hosts;  // the route's own, else its service's (lower-cased here)
  uint32_t method_mask = 0;
  int priority = 0;
  std::shared_ptr<const Expr> vars;               // null: no `vars` condition
  std::shared_ptr<const IpMatcher> remote_addrs;  // null: any client address
  bool matchable = true;  // false: never matches (disabled, or needs a feature not built yet)
};

// Parameters captured by the pattern of the matched route (core.md §5.3), for
// `$uri_param_<name>`: `:name` segments in radixtree_uri_with_parameter mode, and `*name`
// segments (a bare `*` is named ":ext") in every mode. Names point into the RouteTable and
// live as long as it; values point into MatchRequest::path. Holds up to kCapacity
// parameters without allocating; further ones are dropped.
class UriParams {
 public:
  struct Param {
    std::string_view name;
    std::string_view value;
  };
  static constexpr size_t kCapacity = 16;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const Param& operator[](size_t i) const { return items_[i]; }
  const Param* begin() const { return items_.data(); }
  const Param* end() const { return items_.data() + size_; }
  // The value captured under `name`; when a name repeats, the last one (as APISIX's table
  // of captures keeps the last).
  std::optional<std::string_view> get(std::string_view name) const;

  void clear() { size_ = 0; }
  void push_back(std::string_view name, std::string_view value) {
    if (size_ < kCapacity) {
      items_[size_++] = Param{name, value};
    }
  }

 private:
  std::array<Param, kCapacity> items_{};
  size_t size_ = 0;
};

// One request as the router sees it. The views belong to the request and must outlive the
// match() call (and, for `params`, the use of the captured values).
struct MatchRequest {
  std::string_view path;  // normalised $uri (§5.1)
  std::string_view host;  // $host: lower-cased, without port
  std::string_view method;
  const VarSource* vars = nullptr;  // for `vars` conditions; null: routes with vars never match
  std::string_view remote_addr{};   // $remote_addr, for `remote_addrs` conditions
  std::string_view raw_host{};      // Host header with port, for host entries with ':' (§5.4)
  UriParams* params = nullptr;      // if set: cleared, then filled from the matched route
};

class RouteTable {
 public:
  static constexpr int64_t kNoMatch = -1;

  RouteTable() = default;
  // Builds the table for `specs`; their order is the registration order (§5.6). A repeated
  // non-empty id replaces the earlier spec, keeping its place in that order.
  RouteTable(Mode mode, const std::vector<RouteSpec>& specs);

  // A new table: this one with the routes `removed_ids` removed (unknown ids are ignored),
  // then `upserts` added or, where their id is already present, replaced. A replaced route
  // keeps its registration order; new routes (and removed ones added back) come after all
  // routes registered before. Shares every unchanged part with this table, which stays
  // valid and unchanged. Costs time in proportion to the changed routes.
  std::shared_ptr<const RouteTable> apply(const std::vector<RouteSpec>& upserts,
                                          const std::vector<std::string>& removed_ids) const;

  // The payload of the matching route, or kNoMatch. Does not allocate.
  int64_t match(const MatchRequest& request) const;

  // Routes that can match (matchable ones).
  size_t size() const { return route_count_; }
  Mode mode() const { return mode_; }
  // Whether a route with this id is in the table (matchable or not).
  bool contains(std::string_view id) const { return routes_.find(id) != nullptr; }

 private:
  struct Route;
  struct Bucket;
  struct Probe;
  using RoutePtr = std::shared_ptr<const Route>;
  using BucketPtr = std::shared_ptr<const Bucket>;

  // The URI algorithm's index for one host bucket (or for all routes in the uri modes).
  struct UriIndex {
    HashTrie<BucketPtr> exact;      // by exact path
    RadixTree<BucketPtr> prefixes;  // by the literal prefix before the first '*' (or ':')
    bool empty() const { return exact.empty() && prefixes.empty(); }
  };

  void upsert(const RouteSpec& spec, uint64_t edit);
  void remove(std::string_view id, uint64_t edit);
  // Adds (or, with insert = false, removes) the bucket entries of `route`.
  void place(const RoutePtr& route, uint64_t edit, bool insert);
  static void place_in(UriIndex& index, const RoutePtr& route, size_t uri, uint64_t edit,
                       bool insert);
  static int64_t match_index(const UriIndex& index, const Probe& probe);
  static int64_t match_bucket(const Bucket& bucket, const Probe& probe);

  Mode mode_ = Mode::HostUri;
  size_t route_count_ = 0;
  uint64_t next_order_ = 0;
  HashTrie<RoutePtr> routes_;           // by id
  HashTrie<UriIndex> exact_hosts_;      // radixtree_host_uri only
  RadixTree<UriIndex> wildcard_hosts_;  // by suffix after '*', stored reversed
  UriIndex hostless_;                   // every route in the uri modes
};

// True when `host` matches the route host entry `pattern` (`*suffix` wildcards, §5.4).
bool host_matches(std::string_view pattern, std::string_view host);
// The same for a wildcard entry given as its suffix (the text after '*').
bool host_suffix_matches(std::string_view suffix, std::string_view host);

}  // namespace apisix::router
