#include "router/route_table.h"

#include <algorithm>
#include <cstring>

#include "router/expr.h"
#include "router/ip_match.h"
#include "router/vars.h"

namespace apisix::router {
namespace {

constexpr size_t kNpos = std::string_view::npos;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equal_ci(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

// A path pattern with parameter or glob segments (core.md §5.3), matched the way APISIX's
// regex for it matches: `:name` is `[^/]+`, `*name` is `(.|\n)*` (greedy), everything else
// literal, and the whole path must match. Made once per route uri; owned by the route.
class UriPattern {
 public:
  // Null when `uri` has no parameter or glob segment: then nothing is checked beyond the
  // bucket (exact path or literal prefix), as in APISIX, where such a pattern has no
  // capture names and its regex is skipped (so `/a/b*c` works as the prefix `/a/b`).
  // `prefix_size` is the length of the literal prefix the bucket already checked.
  static std::unique_ptr<const UriPattern> compile(std::string_view uri, bool with_parameters,
                                                   size_t prefix_size);
  UriPattern(const UriPattern&) = delete;  // tokens point into source_
  UriPattern& operator=(const UriPattern&) = delete;

  bool match(std::string_view path, UriParams* params) const;
  // True when the bucket's prefix check is all there is: the pattern is that prefix and a
  // trailing glob (`/a/*`). Only the capture then needs computing.
  bool is_prefix_and_glob() const { return is_prefix_and_glob_; }

 private:
  enum class Kind : unsigned char { Literal, Param, Glob };
  struct Token {
    Kind kind;
    std::string_view text;  // literal bytes, or the capture name; points into source_
  };
  static constexpr size_t kCachedGlobs = 16;

  explicit UriPattern(std::string_view uri) : source_(uri) {}
  // Matches the glob-free tokens [first, last) at `pos`; the end position, or kNpos.
  size_t match_run(size_t first, size_t last, std::string_view path, size_t pos,
                   UriParams* params) const;
  // End token of the run that follows glob `j`.
  size_t run_end(size_t j) const { return j + 1 < globs_.size() ? globs_[j + 1] : tokens_.size(); }
  size_t glob_ends(std::string_view path, size_t start, size_t stop, size_t* out) const;

  const std::string source_;
  std::vector<Token> tokens_;
  std::vector<size_t> globs_;  // indices of the Glob tokens
  // For the run after each glob: the fewest path bytes it can match, and whether it is all
  // literal (then it matches exactly that many).
  std::vector<size_t> run_min_size_;
  std::vector<bool> run_is_literal_;
  bool is_prefix_and_glob_ = false;
};

std::unique_ptr<const UriPattern> UriPattern::compile(std::string_view uri, bool with_parameters,
                                                      size_t prefix_size) {
  std::unique_ptr<UriPattern> p(new UriPattern(uri));
  const std::string_view s = p->source_;
  // Segments between '/' are converted only as a whole, as APISIX builds its regex.
  size_t literal_start = 0;
  for (size_t i = 0;;) {
    size_t slash = s.find('/', i);
    if (slash == kNpos) {
      slash = s.size();
    }
    const std::string_view segment = s.substr(i, slash - i);
    const bool is_param = with_parameters && !segment.empty() && segment.front() == ':';
    const bool is_glob = !segment.empty() && segment.front() == '*';
    if (is_param || is_glob) {
      if (i > literal_start) {
        p->tokens_.push_back({Kind::Literal, s.substr(literal_start, i - literal_start)});
      }
      if (is_glob) {
        p->globs_.push_back(p->tokens_.size());
        // A bare `*` is captured as ":ext" (§5.3).
        const std::string_view name = segment.size() > 1 ? segment.substr(1) : ":ext";
        p->tokens_.push_back({Kind::Glob, name});
      } else {
        p->tokens_.push_back({Kind::Param, segment.substr(1)});
      }
      literal_start = slash;
    }
    if (slash == s.size()) {
      break;
    }
    i = slash + 1;
  }
  if (p->tokens_.empty()) {
    return nullptr;
  }
  if (literal_start < s.size()) {
    p->tokens_.push_back({Kind::Literal, s.substr(literal_start)});
  }
  for (size_t j = 0; j < p->globs_.size(); ++j) {
    size_t min_size = 0;
    bool is_literal = true;
    for (size_t i = p->globs_[j] + 1; i < p->run_end(j); ++i) {
      const bool is_param = p->tokens_[i].kind == Kind::Param;
      min_size += is_param ? 1 : p->tokens_[i].text.size();
      is_literal = is_literal && !is_param;
    }
    p->run_min_size_.push_back(min_size);
    p->run_is_literal_.push_back(is_literal);
  }
  const auto& t = p->tokens_;
  p->is_prefix_and_glob_ =
      t.back().kind == Kind::Glob &&
      ((t.size() == 1 && prefix_size == 0) ||
       (t.size() == 2 && t[0].kind == Kind::Literal && t[0].text.size() == prefix_size));
  return p;
}

size_t UriPattern::match_run(size_t first, size_t last, std::string_view path, size_t pos,
                             UriParams* params) const {
  for (size_t t = first; t < last; ++t) {
    const Token& token = tokens_[t];
    if (token.kind == Kind::Literal) {
      if (path.size() - pos < token.text.size() ||
          std::memcmp(path.data() + pos, token.text.data(), token.text.size()) != 0) {
        return kNpos;
      }
      pos += token.text.size();
      continue;
    }
    // A parameter is a whole segment, so what follows it is '/' or the end: `[^/]+` takes
    // everything up to the next '/', and no shorter take could match.
    size_t stop = path.find('/', pos);
    if (stop == kNpos) {
      stop = path.size();
    }
    if (stop == pos) {
      return kNpos;
    }
    if (params != nullptr) {
      params->push_back(token.text, path.substr(pos, stop - pos));
    }
    pos = stop;
  }
  return pos;
}

// For globs `stop`.. (0-based), computed from the last one back: the largest position where
// glob j can end such that the rest of the pattern matches the rest of the path, given that
// every glob starts at or after `start`. This is where the regex engine's greedy
// backtracking leaves each glob (for a whole-path match). Fills out[j] for j < kCachedGlobs
// when `out` is set; returns the end for glob `stop`, or kNpos when there is no match.
size_t UriPattern::glob_ends(std::string_view path, size_t start, size_t stop, size_t* out) const {
  const size_t n = path.size();
  size_t limit = n;
  for (size_t j = globs_.size(); j-- > stop;) {
    const bool is_last = j + 1 == globs_.size();
    size_t found = kNpos;
    if (limit >= run_min_size_[j]) {
      // The run must fit before `limit`; a literal last run can only sit at the very end.
      const size_t highest = limit - run_min_size_[j];
      const size_t lowest = is_last && run_is_literal_[j] ? highest : start;
      for (size_t e = highest + 1; e-- > lowest && e >= start;) {
        const size_t f = match_run(globs_[j] + 1, run_end(j), path, e, nullptr);
        if (f != kNpos && (is_last ? f == n : f <= limit)) {
          found = e;
          break;
        }
      }
    }
    if (found == kNpos) {
      return kNpos;
    }
    if (out != nullptr && j < kCachedGlobs) {
      out[j] = found;
    }
    limit = found;
  }
  return limit;
}

bool UriPattern::match(std::string_view path, UriParams* params) const {
  const size_t n = path.size();
  const size_t k = globs_.size();
  if (k == 0) {
    return match_run(0, tokens_.size(), path, 0, params) == n;
  }
  const size_t start = match_run(0, globs_[0], path, 0, params);
  if (start == kNpos) {
    return false;
  }
  size_t ends[kCachedGlobs];
  const bool cached = k <= kCachedGlobs;
  if (cached && glob_ends(path, start, 0, ends) == kNpos) {
    return false;
  }
  size_t pos = start;
  for (size_t j = 0; j < k; ++j) {
    const size_t end = cached ? ends[j] : glob_ends(path, start, j, nullptr);
    if (end == kNpos || pos > end) {
      return false;
    }
    if (params != nullptr) {
      params->push_back(tokens_[globs_[j]].text, path.substr(pos, end - pos));
    }
    pos = match_run(globs_[j] + 1, run_end(j), path, end, params);
    if (pos == kNpos) {
      return false;
    }
  }
  return pos == n;
}

// A route host entry as a condition (uri modes, §5.4).
struct HostCondition {
  std::string text;  // without the leading '*' of a wildcard
  bool is_wildcard = false;
  bool is_raw = false;  // contains ':': compared with the Host header including the port
};

bool host_condition_passes(const HostCondition& h, const MatchRequest& request) {
  if (!h.is_raw) {
    return h.is_wildcard ? host_suffix_matches(h.text, request.host) : h.text == request.host;
  }
  // The Host header is not lower-cased by anyone; host names compare case-insensitively.
  const std::string_view raw = request.raw_host;
  if (!h.is_wildcard) {
    return equal_ci(h.text, raw);
  }
  return raw.size() >= h.text.size() && equal_ci(raw.substr(raw.size() - h.text.size()), h.text) &&
         (h.text.empty() || h.text.front() != '.' || raw.size() > h.text.size());
}

}  // namespace

// One route as registered; shared by its bucket entries and by the tables that hold it.
struct RouteTable::Route {
  struct Uri {
    std::string text;
    bool is_exact = false;
    size_t key_size = 0;  // bytes of `text` that are the bucket key (all, or the prefix)
    std::unique_ptr<const UriPattern> pattern;
  };

  std::string id;
  uint64_t order = 0;
  uint32_t payload = 0;
  uint32_t method_mask = 0;
  int priority = 0;
  bool matchable = true;
  std::vector<Uri> uris;
  std::vector<std::string> hosts;  // lower-cased
  // Conditions beyond the method (§5.5); has_conditions is false when all are absent.
  std::shared_ptr<const IpMatcher> remote_addrs;
  std::vector<HostCondition> host_conditions;  // uri modes only
  std::shared_ptr<const Expr> vars;            // null also for `[]`
  bool has_conditions = false;
};

// One bucket entry: a route under one of its uris. Bucket entries are kept in match order.
struct RouteTable::Bucket {
  struct Entry {
    uint64_t order;
    int priority;
    uint32_t pattern_size;
    uint32_t payload;
    uint32_t method_mask;
    bool has_conditions;
    const UriPattern* pattern;  // owned by `route`; null: nothing to check
    RoutePtr route;
  };

  uint64_t edit = 0;
  std::vector<Entry> entries;

  // §5.6: priority, higher first; then the longer pattern; then registration order.
  static bool before(const Entry& a, const Entry& b) {
    if (a.priority != b.priority) {
      return a.priority > b.priority;
    }
    if (a.pattern_size != b.pattern_size) {
      return a.pattern_size > b.pattern_size;
    }
    return a.order < b.order;
  }
};

struct RouteTable::Probe {
  const MatchRequest& request;
  uint32_t method;
};

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

std::optional<std::string_view> UriParams::get(std::string_view name) const {
  for (size_t i = size_; i-- > 0;) {
    if (items_[i].name == name) {
      return items_[i].value;
    }
  }
  return std::nullopt;
}

RouteTable::RouteTable(Mode mode, const std::vector<RouteSpec>& specs) : mode_(mode) {
  const uint64_t edit = new_edit_id();
  for (const RouteSpec& spec : specs) {
    upsert(spec, edit);
  }
}

std::shared_ptr<const RouteTable> RouteTable::apply(
    const std::vector<RouteSpec>& upserts, const std::vector<std::string>& removed_ids) const {
  auto table = std::make_shared<RouteTable>(*this);
  const uint64_t edit = new_edit_id();
  for (const std::string& id : removed_ids) {
    table->remove(id, edit);
  }
  for (const RouteSpec& spec : upserts) {
    table->upsert(spec, edit);
  }
  return table;
}

void RouteTable::upsert(const RouteSpec& spec, uint64_t edit) {
  auto route = std::make_shared<Route>();
  if (const RoutePtr* existing = spec.id.empty() ? nullptr : routes_.find(spec.id)) {
    const RoutePtr old = *existing;
    route->order = old->order;
    place(old, edit, false);
    if (old->matchable) {
      --route_count_;
    }
  } else {
    route->order = next_order_++;
  }
  route->id = spec.id;
  route->payload = spec.payload;
  route->method_mask = spec.method_mask;
  route->priority = spec.priority;
  route->matchable = spec.matchable;
  for (const std::string& host : spec.hosts) {
    std::string lowered = host;
    std::transform(lowered.begin(), lowered.end(), lowered.begin(), lower);
    route->hosts.push_back(std::move(lowered));
  }
  for (const std::string& text : spec.uris) {
    Route::Uri uri;
    uri.text = text;
    // §5.3: in parameter mode the key is the text before the first ':' (even when a '*'
    // comes earlier, as in APISIX); otherwise before the first '*'; neither: exact.
    size_t special = kNpos;
    if (mode_ == Mode::UriWithParameter) {
      special = text.find(':');
    }
    if (special == kNpos) {
      special = text.find('*');
    }
    uri.is_exact = special == kNpos;
    uri.key_size = uri.is_exact ? text.size() : special;
    if (!uri.is_exact) {
      uri.pattern = UriPattern::compile(text, mode_ == Mode::UriWithParameter, uri.key_size);
    }
    route->uris.push_back(std::move(uri));
  }
  route->remote_addrs = spec.remote_addrs;
  if (spec.vars != nullptr && !spec.vars->is_always_true()) {
    route->vars = spec.vars;
  }
  if (mode_ != Mode::HostUri) {
    for (const std::string& host : route->hosts) {
      HostCondition h;
      h.is_wildcard = !host.empty() && host.front() == '*';
      h.text = h.is_wildcard ? host.substr(1) : host;
      h.is_raw = host.find(':') != std::string::npos;
      route->host_conditions.push_back(std::move(h));
    }
  }
  route->has_conditions =
      route->remote_addrs != nullptr || !route->host_conditions.empty() || route->vars != nullptr;

  const RoutePtr shared = std::move(route);
  place(shared, edit, true);
  if (shared->matchable) {
    ++route_count_;
  }
  if (!spec.id.empty()) {
    routes_.modify(spec.id, edit, [&](RoutePtr& value, bool& present) {
      value = shared;
      present = true;
    });
  }
}

void RouteTable::remove(std::string_view id, uint64_t edit) {
  const RoutePtr* existing = routes_.find(id);
  if (existing == nullptr) {
    return;
  }
  const RoutePtr old = *existing;
  place(old, edit, false);
  if (old->matchable) {
    --route_count_;
  }
  routes_.modify(id, edit, [](RoutePtr&, bool& present) { present = false; });
}

void RouteTable::place(const RoutePtr& route, uint64_t edit, bool insert) {
  if (!route->matchable) {
    return;
  }
  for (size_t u = 0; u < route->uris.size(); ++u) {
    if (mode_ != Mode::HostUri || route->hosts.empty()) {
      place_in(hostless_, route, u, edit, insert);
      continue;
    }
    auto in_index = [&](UriIndex& index, bool& present) {
      place_in(index, route, u, edit, insert);
      present = !index.empty();
    };
    for (const std::string& host : route->hosts) {
      if (host.find(':') != std::string::npos) {
        continue;  // §5.4: compared with $host, which has no port, so it never matches
      }
      if (!host.empty() && host.front() == '*') {
        const std::string reversed(host.rbegin(), host.rend() - 1);
        wildcard_hosts_.modify(reversed, edit, in_index);
      } else {
        exact_hosts_.modify(host, edit, in_index);
      }
    }
  }
}

void RouteTable::place_in(UriIndex& index, const RoutePtr& route, size_t u, uint64_t edit,
                          bool insert) {
  const Route::Uri& uri = route->uris[u];
  auto in_bucket = [&](BucketPtr& bucket, bool& present) {
    if (!insert) {
      // Removes every entry of the route (its uris may share this bucket).
      const auto ours = [&](const Bucket::Entry& e) { return e.order == route->order; };
      if (bucket == nullptr || std::none_of(bucket->entries.begin(), bucket->entries.end(), ours)) {
        return;
      }
    }
    if (bucket == nullptr) {
      auto fresh = std::make_shared<Bucket>();
      fresh->edit = edit;
      bucket = std::move(fresh);
    } else if (bucket->edit != edit) {
      auto copy = std::make_shared<Bucket>(*bucket);
      copy->edit = edit;
      bucket = std::move(copy);
    }
    auto& entries = const_cast<Bucket&>(*bucket).entries;
    if (insert) {
      Bucket::Entry entry{route->order,
                          route->priority,
                          static_cast<uint32_t>(uri.text.size()),
                          route->payload,
                          route->method_mask,
                          route->has_conditions,
                          uri.pattern.get(),
                          route};
      entries.insert(std::upper_bound(entries.begin(), entries.end(), entry, Bucket::before),
                     std::move(entry));
    } else {
      std::erase_if(entries, [&](const Bucket::Entry& e) { return e.order == route->order; });
    }
    present = !entries.empty();
  };
  const std::string_view key = std::string_view(uri.text).substr(0, uri.key_size);
  if (uri.is_exact) {
    index.exact.modify(key, edit, in_bucket);
  } else {
    index.prefixes.modify(key, edit, in_bucket);
  }
}

int64_t RouteTable::match_bucket(const Bucket& bucket, const Probe& probe) {
  const MatchRequest& request = probe.request;
  for (const Bucket::Entry& e : bucket.entries) {
    // §5.5 order: methods, remote_addrs, hosts, vars, then the pattern.
    if (e.method_mask != 0 && (e.method_mask & probe.method) == 0) {
      continue;
    }
    if (e.has_conditions) {
      const Route& route = *e.route;
      if (route.remote_addrs != nullptr && !route.remote_addrs->contains(request.remote_addr)) {
        continue;
      }
      if (!route.host_conditions.empty() &&
          std::none_of(route.host_conditions.begin(), route.host_conditions.end(),
                       [&](const HostCondition& h) { return host_condition_passes(h, request); })) {
        continue;
      }
      if (route.vars != nullptr && (request.vars == nullptr || !route.vars->eval(*request.vars))) {
        continue;
      }
    }
    if (e.pattern != nullptr && (request.params != nullptr || !e.pattern->is_prefix_and_glob())) {
      if (!e.pattern->match(request.path, request.params)) {
        if (request.params != nullptr) {
          request.params->clear();
        }
        continue;
      }
    }
    return e.payload;
  }
  return kNoMatch;
}

int64_t RouteTable::match_index(const UriIndex& index, const Probe& probe) {
  const std::string_view path = probe.request.path;
  if (!index.exact.empty()) {
    if (const BucketPtr* bucket = index.exact.find(path)) {
      const int64_t hit = match_bucket(**bucket, probe);
      if (hit != kNoMatch) {
        return hit;
      }
    }
  }
  int64_t hit = kNoMatch;
  if (!index.prefixes.empty()) {
    index.prefixes.walk_prefixes(ForwardKey{path}, [&](const BucketPtr& bucket, size_t) {
      hit = match_bucket(*bucket, probe);
      return hit != kNoMatch;
    });
  }
  return hit;
}

int64_t RouteTable::match(const MatchRequest& request) const {
  const Probe probe{request, method_bit(request.method)};
  if (request.params != nullptr) {
    request.params->clear();
  }
  if (mode_ == Mode::HostUri) {
    // §5.6: exact host, then wildcard suffixes longest first, then the host-less routes.
    const std::string_view host = request.host;
    if (!exact_hosts_.empty()) {
      if (const UriIndex* index = exact_hosts_.find(host)) {
        const int64_t hit = match_index(*index, probe);
        if (hit != kNoMatch) {
          return hit;
        }
      }
    }
    if (!wildcard_hosts_.empty()) {
      int64_t hit = kNoMatch;
      wildcard_hosts_.walk_prefixes(ReversedKey{host}, [&](const UriIndex& index, size_t length) {
        // `*.a.com` needs something before `.a.com` (§5.4).
        if (length == host.size() && length != 0 && host.front() == '.') {
          return false;
        }
        hit = match_index(index, probe);
        return hit != kNoMatch;
      });
      if (hit != kNoMatch) {
        return hit;
      }
    }
  }
  return match_index(hostless_, probe);
}

}  // namespace apisix::router
