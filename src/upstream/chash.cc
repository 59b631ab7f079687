#include "upstream/chash.h"

#include <algorithm>
#include <array>
#include <numeric>

namespace apisix::upstream {
namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) {
      c = (c & 1u) ? (c >> 1) ^ 0xedb88320u : c >> 1;
    }
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// core.md §4.4: the variables hash_on "vars" accepts.
constexpr std::string_view kVarsPattern =
    "^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|"
    "hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$";
constexpr std::string_view kHeaderPattern = "^[a-zA-Z0-9-_]+$";

bool matches_vars_pattern(std::string_view key) {
  static constexpr std::string_view kNames[] = {
      "uri",         "server_name",  "server_addr", "request_uri", "remote_port",
      "remote_addr", "query_string", "host",        "hostname",    "mqtt_client_id"};
  if (std::find(std::begin(kNames), std::end(kNames), key) != std::end(kNames)) {
    return true;
  }
  if (key.size() <= 4 || key.substr(0, 4) != "arg_") {
    return false;
  }
  // The schema's class is [0-9a-zA-z_-]; "A-z" also admits [ \ ] ^ _ and backtick.
  return std::all_of(key.begin() + 4, key.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'z') || c == '-';
  });
}

bool matches_header_pattern(std::string_view key) {
  return !key.empty() &&
         std::all_of(key.begin(), key.end(), [](char c) { return is_word_char(c) || c == '-'; });
}

Error pattern_error(std::string_view pattern, std::string_view key) {
  return Error::config("invalid configuration: failed to match pattern \"" + std::string(pattern) +
                       "\" with \"" + std::string(key) + "\"");
}

}  // namespace

void Crc32::update(std::string_view bytes) {
  uint32_t c = state_;
  for (char ch : bytes) {
    c = kCrcTable[(c ^ static_cast<uint8_t>(ch)) & 0xffu] ^ (c >> 8);
  }
  state_ = c;
}

ChashRing::ChashRing(std::span<const uint32_t> nodes, std::span<const std::string_view> addresses,
                     std::span<const int> weights) {
  size_t n = std::min({nodes.size(), addresses.size(), weights.size()});
  // Work in address order so that the ring does not depend on the order of the node list.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return addresses[a] < addresses[b]; });

  int gcd = 0;
  for (size_t i = 0; i < n; ++i) {
    gcd = std::gcd(gcd, std::max(weights[i], 0));
  }
  std::vector<uint64_t> units(n);
  uint64_t total_units = 0;
  for (size_t i = 0; i < n; ++i) {
    units[i] = gcd == 0 ? 1 : static_cast<uint64_t>(std::max(weights[i], 0) / gcd);
    total_units += units[i];
  }
  uint64_t total_points = total_units * kPointsPerWeight;
  auto points_of = [&](size_t i) -> uint64_t {
    uint64_t points = units[i] * kPointsPerWeight;
    if (points == 0 || total_points <= kMaxPoints) {
      return points;
    }
    return std::max<uint64_t>(1, points * kMaxPoints / total_points);
  };

  struct Pending {
    uint32_t hash;
    uint32_t rank;  // position in address order, breaks ties between equal hashes
    uint32_t node;
  };
  std::vector<Pending> pending;
  pending.reserve(std::min<uint64_t>(total_points, kMaxPoints + n));
  std::string identity;
  for (size_t rank = 0; rank < n; ++rank) {
    size_t i = order[rank];
    uint64_t count = points_of(i);
    if (count == 0) {
      continue;
    }
    nodes_.push_back(nodes[i]);
    // Node identity is "host:port" with every ':' replaced by a NUL byte; point k hashes the
    // identity followed by point k-1's hash as 4 little-endian bytes (0 for the first point).
    identity.assign(addresses[i]);
    std::replace(identity.begin(), identity.end(), ':', '\0');
    Crc32 base;
    base.update(identity);
    uint32_t prev = 0;
    for (uint64_t k = 0; k < count; ++k) {
      char le[4] = {static_cast<char>(prev & 0xffu), static_cast<char>((prev >> 8) & 0xffu),
                    static_cast<char>((prev >> 16) & 0xffu),
                    static_cast<char>((prev >> 24) & 0xffu)};
      Crc32 crc = base;
      crc.update(std::string_view(le, 4));
      prev = crc.value();
      pending.push_back({prev, static_cast<uint32_t>(rank), nodes[i]});
    }
  }
  std::sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.rank < b.rank;
  });
  points_.reserve(pending.size());
  for (const Pending& p : pending) {
    points_.push_back({p.hash, p.node});
  }
}

size_t ChashRing::first_at_or_after(uint32_t key_hash) const {
  auto it = std::lower_bound(points_.begin(), points_.end(), key_hash,
                             [](const Point& p, uint32_t h) { return p.hash < h; });
  return it == points_.end() ? 0 : static_cast<size_t>(it - points_.begin());
}

ChashKey::ChashKey() : var_("remote_addr") {}

Result<ChashKey> ChashKey::parse(std::string_view hash_on, std::optional<std::string_view> key) {
  ChashKey out;
  if (hash_on.empty() || hash_on == "vars") {
    out.hash_on_ = HashOn::Vars;
  } else if (hash_on == "header") {
    out.hash_on_ = HashOn::Header;
  } else if (hash_on == "cookie") {
    out.hash_on_ = HashOn::Cookie;
  } else if (hash_on == "consumer") {
    out.hash_on_ = HashOn::Consumer;
  } else if (hash_on == "vars_combinations") {
    out.hash_on_ = HashOn::VarsCombinations;
  } else {
    return Error::config("type is chash, err: invalid hash_on type " + std::string(hash_on));
  }
  if (out.hash_on_ == HashOn::Consumer) {
    // APISIX reads ctx.consumer_name, also exposed as the variable consumer_name.
    out.var_ = "consumer_name";
    return out;
  }
  if (!key) {
    return Error::config("missing key");
  }
  switch (out.hash_on_) {
    case HashOn::Vars:
      if (!matches_vars_pattern(*key)) {
        return pattern_error(kVarsPattern, *key);
      }
      out.var_ = std::string(*key);
      break;
    case HashOn::Header:
    case HashOn::Cookie:
      if (!matches_header_pattern(*key)) {
        return pattern_error(kHeaderPattern, *key);
      }
      if (out.hash_on_ == HashOn::Cookie) {
        out.var_ = "cookie_" + std::string(*key);  // cookie names are case-sensitive
      } else {
        // ctx.var["http_" .. key] lower-cases the name and turns '-' into '_'.
        out.var_ = "http_";
        for (char c : *key) {
          out.var_ += c == '-' ? '_' : static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
      }
      break;
    case HashOn::VarsCombinations: {
      // APISIX's resolve_var: an unescaped '$' followed by `{ name [?? default] }` or by a run
      // of [A-Za-z0-9_.]; anything else is literal text (a '\' before '$' stays in the text).
      out.var_.clear();
      std::string_view tpl = *key;
      std::string literal;
      auto flush = [&] {
        if (!literal.empty()) {
          out.pieces_.push_back(Piece{false, std::move(literal), std::nullopt});
          literal.clear();
        }
      };
      size_t i = 0;
      while (i < tpl.size()) {
        char c = tpl[i];
        if (c != '$' || (i > 0 && tpl[i - 1] == '\\')) {
          literal += c;
          ++i;
          continue;
        }
        if (i + 1 < tpl.size() && tpl[i + 1] == '{') {
          size_t close = tpl.find('}', i + 2);
          if (close != std::string_view::npos && close > i + 2) {
            std::string_view inner = tpl.substr(i + 2, close - i - 2);
            std::string_view trimmed = trim(inner);
            Piece piece{true, {}, std::nullopt};
            size_t q = trimmed.find("??");
            if (q == std::string_view::npos) {
              piece.text = std::string(trimmed.empty() ? inner : trimmed);
            } else {
              piece.text = std::string(trim(trimmed.substr(0, q)));
              std::string_view rest = trimmed.substr(q + 2);
              size_t next = rest.find("??");
              std::string_view fallback = trim(rest.substr(0, next));
              // Like a Perl-style split, an empty last field is dropped: no default.
              if (!fallback.empty() || next != std::string_view::npos) {
                piece.fallback = std::string(fallback);
              }
            }
            flush();
            out.pieces_.push_back(std::move(piece));
            i = close + 1;
            continue;
          }
        }
        size_t end = i + 1;
        while (end < tpl.size() && (is_word_char(tpl[end]) || tpl[end] == '.')) {
          ++end;
        }
        if (end == i + 1) {
          literal += c;
          ++i;
          continue;
        }
        flush();
        out.pieces_.push_back(Piece{true, std::string(tpl.substr(i + 1, end - i - 1)), {}});
        i = end;
      }
      flush();
      break;
    }
    case HashOn::Consumer:
      break;
  }
  return out;
}

}  // namespace apisix::upstream
