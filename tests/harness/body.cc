#include "tests/harness/body.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace apisix::test {

namespace {

uint64_t pattern_word(uint64_t index) {
  uint64_t x = index + 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

void BodyDigest::mix(uint64_t word) {
  hash_ = (hash_ ^ word) * 0x100000001b3ULL;
  hash_ ^= hash_ >> 32;
}

void BodyDigest::update(std::string_view data) {
  bytes_ += data.size();
  const char* p = data.data();
  size_t n = data.size();
  while (n > 0 && pending_len_ != 0) {
    pending_ |= static_cast<uint64_t>(static_cast<unsigned char>(*p)) << (8 * pending_len_);
    ++p;
    --n;
    if (++pending_len_ == 8) {
      mix(pending_);
      pending_ = 0;
      pending_len_ = 0;
    }
  }
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    mix(word);
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    pending_ |= static_cast<uint64_t>(static_cast<unsigned char>(*p)) << (8 * pending_len_);
    ++pending_len_;
    ++p;
    --n;
  }
}

uint64_t BodyDigest::value() const {
  BodyDigest copy = *this;
  if (copy.pending_len_ != 0) {
    copy.mix(copy.pending_ ^ (static_cast<uint64_t>(copy.pending_len_) << 60));
  }
  copy.mix(bytes_);
  return copy.hash_;
}

void fill_pattern(uint64_t offset, char* out, size_t size) {
  size_t done = 0;
  while (done < size) {
    uint64_t pos = offset + done;
    uint64_t word = pattern_word(pos / 8);
    size_t in_word = pos % 8;
    if (in_word == 0 && size - done >= 8) {
      std::memcpy(out + done, &word, 8);
      done += 8;
      continue;
    }
    out[done] = static_cast<char>((word >> (8 * in_word)) & 0xff);
    ++done;
  }
}

std::string pattern_string(uint64_t size) {
  std::string out(size, '\0');
  fill_pattern(0, out.data(), out.size());
  return out;
}

uint64_t pattern_digest(uint64_t size) {
  BodyDigest digest;
  std::vector<char> block(1 << 16);
  for (uint64_t offset = 0; offset < size;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), size - offset));
    fill_pattern(offset, block.data(), n);
    digest.update(std::string_view(block.data(), n));
    offset += n;
  }
  return digest.value();
}

void BodySink::feed(std::string_view data) {
  digest.update(data);
  if (stored.size() < store_limit) {
    stored.append(data.substr(
        0, static_cast<size_t>(std::min<uint64_t>(data.size(), store_limit - stored.size()))));
  }
}

uint64_t parse_size(std::string_view text, uint64_t fallback) {
  if (text.empty()) {
    return fallback;
  }
  uint64_t value = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    value = value * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  if (i == 0) {
    return fallback;
  }
  std::string_view suffix = text.substr(i);
  if (suffix.empty()) {
    return value;
  }
  if (suffix.size() != 1) {
    return fallback;
  }
  switch (suffix[0]) {
    case 'k':
    case 'K':
      return value << 10;
    case 'm':
    case 'M':
      return value << 20;
    case 'g':
    case 'G':
      return value << 30;
    default:
      return fallback;
  }
}

uint64_t env_size(const char* name, uint64_t fallback) {
  const char* env = std::getenv(name);
  return env == nullptr ? fallback : parse_size(env, fallback);
}

}  // namespace apisix::test
