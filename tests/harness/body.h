#pragma once

// Body helpers for streaming large payloads without holding them: a deterministic byte
// pattern generated on the fly, a running digest to compare what was sent with what arrived,
// and a sink that keeps only the first bytes of a body.

#include <cstdint>
#include <string>
#include <string_view>

namespace apisix::test {

// A running 64-bit digest over a byte stream; independent of how the stream is split.
class BodyDigest {
 public:
  void update(std::string_view data);
  uint64_t bytes() const { return bytes_; }
  uint64_t value() const;

 private:
  void mix(uint64_t word);

  uint64_t hash_ = 0xcbf29ce484222325ULL;
  uint64_t pending_ = 0;
  int pending_len_ = 0;
  uint64_t bytes_ = 0;
};

// Writes bytes [offset, offset + size) of the test pattern into `out`. The pattern does not
// repeat, so a dropped, duplicated or reordered block changes the digest.
void fill_pattern(uint64_t offset, char* out, size_t size);
// The first `size` bytes of the pattern, as a string (for small bodies).
std::string pattern_string(uint64_t size);
// BodyDigest::value() of the first `size` bytes of the pattern.
uint64_t pattern_digest(uint64_t size);

// Receives a body piece by piece: counts and digests all of it, keeps the first
// `store_limit` bytes in `stored`.
struct BodySink {
  static constexpr uint64_t kDefaultStoreLimit = 16ULL << 20;

  explicit BodySink(uint64_t limit = kDefaultStoreLimit) : store_limit(limit) {}
  void feed(std::string_view data);
  uint64_t bytes() const { return digest.bytes(); }

  uint64_t store_limit;
  std::string stored;
  BodyDigest digest;
};

// "1m" style sizes for env overrides: a number with optional k/m/g suffix (powers of 1024).
uint64_t parse_size(std::string_view text, uint64_t fallback);
// parse_size() of environment variable `name`, or `fallback` when unset or invalid.
uint64_t env_size(const char* name, uint64_t fallback);

}  // namespace apisix::test
