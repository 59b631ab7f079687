#pragma once
// Consistent hashing for the `chash` balancer (core.md §7.5), and the per-request hash key
// (`hash_on` + `key`, core.md §4.4).
//
// ChashRing is a ketama-style ring of virtual points built once per snapshot from the nodes of
// one priority group; immutable, shared by all workers, no per-worker state. A node gets points
// in proportion to its weight, so adding or removing one node moves only about its share of
// keys. The ring depends only on the node addresses and weights (not on their order), so every
// process builds the same ring for the same nodes; the point layout follows APISIX's
// (lua-resty-balancer's) description, so a key lands on the node APISIX would pick.
//
// ChashKey is the parsed `hash_on`/`key` of an upstream (built with the snapshot); hash() runs
// per request over a caller-supplied variable lookup and allocates nothing.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "upstream/roundrobin.h"

namespace apisix::upstream {

// CRC-32 (IEEE 802.3, reflected, as zlib and nginx compute it), fed in pieces.
class Crc32 {
 public:
  void update(std::string_view bytes);
  uint32_t value() const { return ~state_; }

 private:
  uint32_t state_ = 0xffffffffu;
};

inline uint32_t crc32(std::string_view bytes) {
  Crc32 crc;
  crc.update(bytes);
  return crc.value();
}

class ChashRing {
 public:
  // Points per weight unit, as lua-resty-balancer (core.md §7.5).
  static constexpr uint32_t kPointsPerWeight = 160;
  // Upper bound on the ring size. Weights whose GCD-reduced sum would need more points are
  // scaled down (each non-zero node keeps at least one point); APISIX has no such bound and
  // would allocate the whole ring.
  static constexpr size_t kMaxPoints = size_t{1} << 20;

  ChashRing() = default;
  // `nodes` are node indices of the upstream; `addresses` their "host:port" (the ring
  // identity, IPv6 hosts bracketed) and `weights` their weights; all three the same length.
  // Weights are divided by their GCD; weight-0 nodes get no point, unless every weight is 0,
  // in which case all nodes count as weight 1 (APISIX would fail such a pick with 502).
  ChashRing(std::span<const uint32_t> nodes, std::span<const std::string_view> addresses,
            std::span<const int> weights);

  // Hash of a request key, to pass to pick().
  static uint32_t hash_key(std::string_view key) { return crc32(key); }

  // The node of the first ring point at or after `key_hash` (wrapping) whose node is not
  // excluded, walking on along the ring past excluded (tried or unhealthy) nodes; -1 when every
  // node on the ring is excluded. A retry with the tried node excluded therefore lands on the
  // next distinct node along the ring, as APISIX's walk from its last position does.
  template <typename Excluded>
  int64_t pick_excluding(uint32_t key_hash, Excluded&& is_excluded) const;
  int64_t pick(uint32_t key_hash, const TriedSet& tried) const {
    return pick_excluding(key_hash, [&tried](uint32_t node) { return tried.contains(node); });
  }

  size_t point_count() const { return points_.size(); }
  const std::vector<uint32_t>& nodes() const { return nodes_; }

 private:
  struct Point {
    uint32_t hash;
    uint32_t node;  // upstream node index
  };
  size_t first_at_or_after(uint32_t key_hash) const;

  std::vector<Point> points_;    // sorted by hash
  std::vector<uint32_t> nodes_;  // the group's nodes that have points
};

template <typename Excluded>
int64_t ChashRing::pick_excluding(uint32_t key_hash, Excluded&& is_excluded) const {
  size_t n = points_.size();
  if (n == 0) {
    return -1;
  }
  size_t at = first_at_or_after(key_hash);
  uint32_t node = points_[at].node;
  if (!is_excluded(node)) {
    return node;
  }
  // Walking a ring whose nodes are all excluded would visit every point; check first.
  bool any_left = false;
  for (uint32_t candidate : nodes_) {
    if (!is_excluded(candidate)) {
      any_left = true;
      break;
    }
  }
  if (!any_left) {
    return -1;
  }
  for (size_t step = 1; step < n; ++step) {
    node = points_[(at + step) % n].node;
    if (!is_excluded(node)) {
      return node;
    }
  }
  return -1;
}

// Where the chash key of a request comes from (core.md §4.4 `hash_on`).
enum class HashOn { Vars, Header, Cookie, Consumer, VarsCombinations };

// The parsed `hash_on` and `key` of a chash upstream. Immutable once parsed.
class ChashKey {
 public:
  // Defaults to hash_on "vars", key "remote_addr".
  ChashKey();

  // Validates as APISIX's check_upstream_conf does: `hash_on` empty means "vars"; `key` is
  // required ("missing key") unless hash_on is "consumer", and must match the pattern of its
  // hash_on (core.md §4.4 table). A vars_combinations key is parsed into its `$var` pieces.
  static Result<ChashKey> parse(std::string_view hash_on, std::optional<std::string_view> key);

  HashOn hash_on() const { return hash_on_; }

  // The key hash for one request. `lookup(name)` returns the value of the request variable
  // `name` ("remote_addr", "arg_a", "http_x_user", "cookie_sid", "consumer_name", ...) or
  // std::nullopt when it is absent; it is called with names as APISIX's ctx.var sees them
  // (header names lower-cased with '-' as '_'). When the key is absent (variable, header or
  // cookie missing, no consumer, or no variable of a vars_combinations template resolved) the
  // value of remote_addr is used instead, as APISIX's chash.lua does; an empty value is still a
  // valid key.
  template <typename Lookup>
  uint32_t hash(Lookup&& lookup) const {
    Crc32 crc;
    each_piece(lookup, [&crc](std::string_view piece) { crc.update(piece); });
    return crc.value();
  }

  // The key itself (for logs and tests); hash() is crc32(key(lookup)).
  template <typename Lookup>
  std::string key(Lookup&& lookup) const {
    std::string out;
    each_piece(lookup, [&out](std::string_view piece) { out.append(piece); });
    return out;
  }

 private:
  // One piece of a vars_combinations template: literal text, or a variable with an optional
  // `${name ?? default}` default.
  struct Piece {
    bool is_var = false;
    std::string text;  // literal text, or the variable name
    std::optional<std::string> fallback;
  };

  template <typename Lookup, typename Sink>
  void each_piece(Lookup& lookup, Sink&& sink) const;

  HashOn hash_on_ = HashOn::Vars;
  std::string var_;            // the variable to read (all but vars_combinations)
  std::vector<Piece> pieces_;  // vars_combinations
};

template <typename Lookup, typename Sink>
void ChashKey::each_piece(Lookup& lookup, Sink&& sink) const {
  if (hash_on_ != HashOn::VarsCombinations) {
    std::optional<std::string_view> value = lookup(std::string_view(var_));
    if (value) {
      sink(*value);
      return;
    }
  } else {
    // APISIX resolves the template first and only then knows whether any variable resolved;
    // with none resolved the whole result is replaced by remote_addr. Count first, then emit.
    size_t resolved = 0;
    for (const Piece& piece : pieces_) {
      if (piece.is_var && (piece.fallback || lookup(std::string_view(piece.text)))) {
        ++resolved;
      }
    }
    if (resolved > 0) {
      for (const Piece& piece : pieces_) {
        if (!piece.is_var) {
          sink(std::string_view(piece.text));
          continue;
        }
        std::optional<std::string_view> value = lookup(std::string_view(piece.text));
        if (value) {
          sink(*value);
        } else if (piece.fallback) {
          sink(std::string_view(*piece.fallback));
        }
      }
      return;
    }
  }
  std::optional<std::string_view> remote = lookup(std::string_view("remote_addr"));
  sink(remote ? *remote : std::string_view());
}

}  // namespace apisix::upstream
