// Fuzzes ChunkedDecoder. The input is a chunked body, so corpus files are plain bodies. It is
// decoded twice: all at once, and the way a connection would see it, in pieces whose sizes
// come from a hash of the input. Both must agree on the payload, the trailers, how the body
// ended and how many bytes it used; every view must lie inside the bytes passed in.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "http/chunked.h"

namespace {

using apisix::fuzz::inside;
using apisix::fuzz::require;

using apisix::http::ChunkedDecoder;
using Step = ChunkedDecoder::Step;

struct Outcome {
  Step::Kind end = Step::NeedMore;
  std::string body;
  std::string trailers;
  size_t consumed = 0;
};

// xorshift64: the piece sizes only need to vary, not to be good random numbers.
struct Pieces {
  uint64_t state;
  size_t max_piece;
  size_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return 1 + static_cast<size_t>(state % max_piece);
  }
};

Outcome decode(std::string_view in, Pieces pieces, size_t max_trailer, size_t max_line) {
  ChunkedDecoder decoder(max_trailer, max_line);
  Outcome out;
  std::string pending;
  size_t fed = 0;
  // Each step either consumes bytes, returns data, or asks for more; bound the loop anyway so
  // a decoder that spins is reported instead of hanging the fuzzer.
  for (size_t steps = 0; steps < 4 * in.size() + 16; ++steps) {
    const Step s = decoder.next(pending);
    require(s.consumed <= pending.size(), "consumed within input");
    require(inside(pending, s.data) && inside(pending, s.trailers), "views inside input");
    switch (s.kind) {
      case Step::Data:
        require(!s.data.empty() && s.consumed >= s.data.size(), "data step carries data");
        require(s.data.data() + s.data.size() == pending.data() + s.consumed,
                "data ends where consumption ends");
        out.body.append(s.data);
        break;
      case Step::Done:
        require(s.data.empty(), "done carries no data");
        out.trailers.assign(s.trailers);
        break;
      case Step::Error:
        require(s.consumed == 0 && !s.error_reason.empty(), "error consumes nothing");
        break;
      case Step::NeedMore:
        require(s.data.empty() && s.trailers.empty(), "need-more carries nothing");
        break;
    }
    pending.erase(0, s.consumed);
    out.consumed += s.consumed;
    if (s.kind == Step::Done || s.kind == Step::Error) {
      out.end = s.kind;
      require(decoder.next("0\r\n\r\n").kind == s.kind, "final state is sticky");
      require(decoder.is_done() == (s.kind == Step::Done), "is_done matches");
      break;
    }
    if (s.kind == Step::NeedMore) {
      if (fed == in.size()) {
        out.end = Step::NeedMore;
        break;
      }
      const size_t n = std::min(pieces.next(), in.size() - fed);
      pending.append(in.substr(fed, n));
      fed += n;
    }
    require(steps + 1 < 4 * in.size() + 16, "decoder makes progress");
  }
  require(decoder.body_bytes() == out.body.size(), "body_bytes counts the payload");
  require(out.consumed <= in.size(), "consumed within the stream");
  return out;
}

void compare(const Outcome& a, const Outcome& b) {
  require(a.end == b.end, "same ending whatever the split");
  require(a.body == b.body, "same payload whatever the split");
  require(a.trailers == b.trailers, "same trailers whatever the split");
  // On Error the count is not comparable: an Error step reports 0 even when the same call
  // ate framing before failing.
  require(a.end == Step::Error || a.consumed == b.consumed, "same bytes used whatever the split");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  uint64_t hash = 14695981039346656037ULL;  // FNV-1a
  for (size_t i = 0; i < size; ++i) {
    hash = (hash ^ data[i]) * 1099511628211ULL;
  }
  hash |= 1;  // xorshift needs a non-zero state
  const Outcome reference = decode(in, Pieces{hash, size == 0 ? 1 : size}, 8192, 4096);
  compare(reference, decode(in, Pieces{hash, 1 + hash % 64}, 8192, 4096));
  // Tight limits, taken from the hash, push the limit checks to their edges.
  const size_t max_trailer = 1 + (hash >> 8) % 64;
  const size_t max_line = 1 + (hash >> 16) % 32;
  compare(decode(in, Pieces{hash, size == 0 ? 1 : size}, max_trailer, max_line),
          decode(in, Pieces{hash >> 3 | 1, 1 + (hash >> 24) % 8}, max_trailer, max_line));
  return 0;
}
