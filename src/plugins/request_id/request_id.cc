#include "plugins/request_id/request_id.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <random>

#include <boost/json/object.hpp>
#include <sys/random.h>

#include "plugins/conf_value.h"
#include "plugins/request.h"

namespace apisix::plugins {

namespace {

namespace json = boost::json;

// This thread's generator for the non-cryptographic ids (APISIX uses math.random per worker).
std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return rng;
}

// Cryptographically strong bytes (resty.random.bytes); falls back to the thread's generator
// if the kernel refuses, which getrandom() does not do once the pool is initialised.
void strong_random(unsigned char* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t got = getrandom(out + done, n - done, 0);
    if (got <= 0) {
      break;
    }
    done += static_cast<size_t>(got);
  }
  for (; done < n; ++done) {
    out[done] = static_cast<unsigned char>(thread_rng()());
  }
}

constexpr std::string_view kNanoidAlphabet =
    "-_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr size_t kNanoidSize = 21;
constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr int64_t kKsuidEpoch = 1400000000;  // KSUID timestamps count seconds from here

// Per-thread state of the UUIDv7 generator (APISIX keeps it per worker): the millisecond of
// the last id, a counter within it, and 56 random bits drawn when the millisecond changes.
struct V7State {
  uint64_t last_ms = 0;
  uint32_t seq = 0;
  std::array<unsigned, 7> rand{};
};

void v7_reset(V7State& s, uint64_t ms) {
  s.last_ms = ms;
  s.seq = 0;
  std::uniform_int_distribution<unsigned> byte(0, 255);
  for (unsigned& r : s.rand) {
    r = byte(thread_rng());
  }
}

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

std::string RequestId::uuid_v4() {
  std::mt19937_64& rng = thread_rng();
  uint64_t hi = rng();
  uint64_t lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

std::string RequestId::nanoid() {
  unsigned char bytes[kNanoidSize];
  strong_random(bytes, kNanoidSize);
  std::string id(kNanoidSize, '\0');
  for (size_t i = 0; i < kNanoidSize; ++i) {
    id[i] = kNanoidAlphabet[bytes[i] & 63];  // 64 characters: no modulo bias
  }
  return id;
}

std::string RequestId::range_id(size_t length, std::string_view char_set) {
  std::string id(length, '\0');
  if (char_set.empty()) {
    return id;
  }
  std::uniform_int_distribution<size_t> pick(0, char_set.size() - 1);
  for (char& c : id) {
    c = char_set[pick(thread_rng())];
  }
  return id;
}

std::string RequestId::ksuid_text(const unsigned char (&raw)[20]) {
  // Base62 of the 160-bit big-endian number, by repeated division, left-padded to 27.
  std::array<unsigned, 20> digits{};
  for (size_t i = 0; i < 20; ++i) {
    digits[i] = raw[i];
  }
  std::string out(27, '0');
  size_t pos = out.size();
  size_t start = 0;
  while (start < digits.size() && pos > 0) {
    unsigned remainder = 0;
    for (size_t i = start; i < digits.size(); ++i) {
      unsigned value = remainder * 256 + digits[i];
      digits[i] = value / 62;
      remainder = value % 62;
    }
    out[--pos] = kBase62[remainder];
    while (start < digits.size() && digits[start] == 0) {
      ++start;
    }
  }
  return out;
}

std::string RequestId::ksuid() {
  unsigned char raw[20];
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  auto ts = static_cast<uint32_t>(seconds - kKsuidEpoch);
  raw[0] = static_cast<unsigned char>(ts >> 24);
  raw[1] = static_cast<unsigned char>(ts >> 16);
  raw[2] = static_cast<unsigned char>(ts >> 8);
  raw[3] = static_cast<unsigned char>(ts);
  strong_random(raw + 4, 16);
  return ksuid_text(raw);
}

std::string RequestId::uuid_v7() {
  // APISIX's core.utils.generate_uuid_v7: 48-bit Unix milliseconds, version 7, an 18-bit
  // counter (12 bits in rand_a, 6 after the variant) that keeps ids of one millisecond in
  // order, then 56 random bits.
  thread_local V7State state;
  uint64_t ms = now_ms();
  if (ms > state.last_ms) {
    v7_reset(state, ms);
  } else {
    ms = state.last_ms;
    if (++state.seq > 0x3ffff) {
      uint64_t next = now_ms();
      while (next <= state.last_ms) {
        next = now_ms();
      }
      ms = next;
      v7_reset(state, ms);
    }
  }
  const auto ts_hi = static_cast<unsigned>(ms / 0x100000000ULL);
  const auto ts_lo = static_cast<unsigned>(ms % 0x100000000ULL);
  const unsigned seq_hi = state.seq >> 6;
  const unsigned seq_lo = state.seq & 0x3f;
  const auto& r = state.rand;
  char buf[96];  // 36 characters; room for what -Wformat-truncation imagines
  std::snprintf(buf, sizeof buf, "%02x%02x%04x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                ts_hi >> 8, ts_hi & 0xff, ts_lo >> 16, ts_lo & 0xffff, 0x7000 | seq_hi,
                0x80 | seq_lo, r[0], r[1], r[2], r[3], r[4], r[5], r[6]);
  return buf;
}

std::string RequestId::generate() const {
  switch (algorithm_) {
    case Algorithm::Nanoid:
      return nanoid();
    case Algorithm::RangeId:
      return range_id(range_length_, range_char_set_);
    case Algorithm::Ksuid:
      return ksuid();
    case Algorithm::Uuidv7:
      return uuid_v7();
    case Algorithm::Uuid:
      break;
  }
  return uuid_v4();
}

Result<std::shared_ptr<const Plugin>> RequestId::compile(const json::value& conf,
                                                         CompileContext& /*ctx*/) {
  auto plugin = std::make_shared<RequestId>();
  const json::object& obj = conf.get_object();
  if (const json::value* v = obj.if_contains("header_name"); v != nullptr && v->is_string()) {
    plugin->header_name_ = std::string(v->get_string());
  }
  if (const json::value* v = obj.if_contains("include_in_response"); v != nullptr && v->is_bool()) {
    plugin->include_in_response_ = v->get_bool();
  }
  if (const json::value* v = obj.if_contains("algorithm"); v != nullptr && v->is_string()) {
    std::string_view a = v->get_string();
    if (a == "nanoid") {
      plugin->algorithm_ = Algorithm::Nanoid;
    } else if (a == "range_id") {
      plugin->algorithm_ = Algorithm::RangeId;
    } else if (a == "ksuid") {
      plugin->algorithm_ = Algorithm::Ksuid;
    } else if (a == "uuidv7") {
      plugin->algorithm_ = Algorithm::Uuidv7;
    }
  }
  plugin->range_char_set_ = "abcdefghijklmnopqrstuvwxyzABCDEFGHIGKLMNOPQRSTUVWXYZ0123456789";
  if (const json::value* v = obj.if_contains("range_id"); v != nullptr && v->is_object()) {
    const json::object& range = v->get_object();
    if (const json::value* len = range.if_contains("length"); len && len->is_number()) {
      plugin->range_length_ = static_cast<size_t>(int_of(*len, 0));
    }
    if (const json::value* set = range.if_contains("char_set"); set && set->is_string()) {
      plugin->range_char_set_ = std::string(set->get_string());
    }
  }
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

namespace {

// The id this instance settled on in rewrite, for header_filter.
struct RequestIdState {
  std::string id;
};

}  // namespace

core::Task<PhaseResult> RequestId::rewrite(Request& request) const {
  std::string id;
  std::optional<std::string_view> sent = request.header(header_name_);
  if (!sent || sent->empty()) {
    id = generate();
    request.set_header(header_name_, id);
  } else {
    id = std::string(*sent);
  }
  // TODO(plugins): APISIX also overwrites $apisix_request_id (the id in its logs) when that
  // variable exists; Request has no writable variables yet.
  if (include_in_response_) {
    request.state<RequestIdState>(*this).id = std::move(id);
  }
  co_return std::nullopt;
}

void RequestId::header_filter(Request& request, Response& response) const {
  if (!include_in_response_) {
    return;
  }
  const RequestIdState* state = request.find_state<RequestIdState>(*this);
  if (state == nullptr) {
    return;  // rewrite did not run (an earlier plugin ended the request)
  }
  std::optional<std::string_view> present = response.header(header_name_);
  if (!present || present->empty()) {
    response.set_header(header_name_, state->id);
  }
}

}  // namespace apisix::plugins
