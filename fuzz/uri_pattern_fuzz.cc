// Fuzzes route path patterns (core.md §5.3) and the route table around them (§5.6). The
// input is lines: a line starting with '@' is a request path (the rest of the line), any
// other line a route's uri pattern. Tables are built in radixtree_uri_with_parameter mode
// (and, for globs without parameters, radixtree_uri), at once and through apply(), and every
// path is matched. Checks that nothing crashes, that captures are views into the request
// path, that the matched route's literal prefix starts the path, and that all ways of
// building the table, and matching with or without captures, give the same route.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "router/route_table.h"

namespace {

using apisix::fuzz::require;

using apisix::router::MatchRequest;
using apisix::router::Mode;
using apisix::router::RouteSpec;
using apisix::router::RouteTable;
using apisix::router::UriParams;

constexpr size_t kMaxPatterns = 16;
constexpr size_t kMaxPaths = 16;

// The literal bucket key of a pattern: the text before the first ':' (parameter mode) or
// '*'; the whole pattern when it has neither.
std::string_view literal_prefix(std::string_view pattern, Mode mode) {
  size_t special = mode == Mode::UriWithParameter ? pattern.find(':') : std::string_view::npos;
  if (special == std::string_view::npos) {
    special = pattern.find('*');
  }
  return pattern.substr(0, special);
}

void check_mode(Mode mode, const std::vector<RouteSpec>& specs,
                const std::vector<std::string_view>& paths) {
  const RouteTable full(mode, specs);
  // The same routes in two batches, then route 0 replaced by itself (keeping its order).
  const auto half = static_cast<ptrdiff_t>(specs.size() / 2);
  auto incremental = std::make_shared<const RouteTable>(mode, std::vector<RouteSpec>{});
  incremental = incremental->apply(std::vector<RouteSpec>(specs.begin(), specs.begin() + half), {});
  incremental = incremental->apply(std::vector<RouteSpec>(specs.begin() + half, specs.end()), {});
  if (!specs.empty()) {
    incremental = incremental->apply({specs.front()}, {});
  }
  require(full.size() == specs.size() && incremental->size() == specs.size(), "all routes count");

  for (std::string_view path : paths) {
    UriParams params;
    MatchRequest request{path, "", "GET"};
    request.params = &params;
    const int64_t hit = full.match(request);
    for (const UriParams::Param& p : params) {
      require(p.value.data() >= path.data() &&
                  p.value.data() + p.value.size() <= path.data() + path.size(),
              "captures are views into the path");
    }
    require(params.size() <= UriParams::kCapacity, "captures fit");
    if (hit == RouteTable::kNoMatch) {
      require(params.empty(), "no match leaves no captures");
    } else {
      require(hit >= 0 && static_cast<size_t>(hit) < specs.size(), "payload of a route");
      const std::string_view pattern = specs[static_cast<size_t>(hit)].uris.front();
      const std::string_view prefix = literal_prefix(pattern, mode);
      require(path.starts_with(prefix), "the matched route's literal prefix starts the path");
      if (prefix.size() == pattern.size()) {
        require(path == pattern, "an exact route matches only its path");
      }
    }

    const std::vector<UriParams::Param> first(params.begin(), params.end());
    require(full.match(request) == hit, "matching is deterministic");
    require(params.size() == first.size(), "captures are deterministic");
    require(full.match({path, "", "GET"}) == hit, "captures do not change the match");
    require(incremental->match(request) == hit, "apply() builds the same table");
    require(params.size() == first.size(), "apply() gives the same captures");
    for (size_t i = 0; i < first.size(); ++i) {
      require(params[i].name == first[i].name && params[i].value == first[i].value,
              "apply() gives the same captures");
    }
  }
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's entry point
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<RouteSpec> specs;
  std::vector<std::string_view> paths;
  size_t pos = 0;
  while (pos < input.size()) {
    size_t nl = input.find('\n', pos);
    if (nl == std::string_view::npos) {
      nl = input.size();
    }
    const std::string_view line = input.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.front() == '@') {
      if (paths.size() < kMaxPaths) {
        paths.push_back(line.substr(1));
      }
    } else if (specs.size() < kMaxPatterns) {
      RouteSpec spec;
      spec.id = std::to_string(specs.size());
      spec.payload = static_cast<uint32_t>(specs.size());
      spec.uris = {std::string(line)};
      spec.priority = static_cast<int>(line.size() % 3) - 1;
      specs.push_back(std::move(spec));
    }
  }
  check_mode(Mode::UriWithParameter, specs, paths);
  check_mode(Mode::Uri, specs, paths);
  return 0;
}
