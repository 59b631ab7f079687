#include "http/chunked.h"

#include <algorithm>

#include "http/hex.h"
#include "http/parser.h"

namespace apisix::http {
namespace {

// 16 hex digits hold any 64-bit size; more can only be padding or an overflow attempt.
constexpr int kMaxChunkSizeDigits = 16;

bool is_ows(char c) { return c == ' ' || c == '\t'; }

// qdtext and the second byte of a quoted-pair (RFC 9110 §5.6.4), minus the '"' and '\' that
// the caller handles.
bool is_qdtext(char c) {
  const auto u = static_cast<unsigned char>(c);
  return c == '\t' || c == ' ' || (u >= 0x21 && u != 0x7f);
}

enum class LineOutcome { Ok, NeedMore, Bad };

struct SizeLine {
  LineOutcome outcome;
  size_t length;  // Ok: bytes of the line including CRLF
  uint64_t size;  // Ok: the chunk size
  std::string_view reason;
};

// chunk-size [ chunk-ext ] CRLF, where
//   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )  (RFC 9112 §7.1.1)
// Reads only the bytes present, so a bad byte fails at once rather than when the line ends.
SizeLine scan_size_line(std::string_view in) {
  auto bad = [](std::string_view reason) { return SizeLine{LineOutcome::Bad, 0, 0, reason}; };
  const SizeLine need_more{LineOutcome::NeedMore, 0, 0, {}};
  const size_t n = in.size();
  size_t i = 0;
  uint64_t size = 0;
  for (; i < n; ++i) {
    const int v = hex_value(in[i]);
    if (v < 0) {
      break;
    }
    if (i == kMaxChunkSizeDigits) {
      return bad("chunk size too long");
    }
    size = (size << 4) | static_cast<uint64_t>(v);
  }
  if (i == n) {
    return need_more;
  }
  if (i == 0) {
    return bad("invalid chunk size");
  }
  auto skip_ows = [&] {
    const size_t start = i;
    while (i < n && is_ows(in[i])) {
      ++i;
    }
    return i != start;
  };
  auto skip_token = [&] {
    const size_t start = i;
    while (i < n && is_tchar(in[i])) {
      ++i;
    }
    return i != start;
  };
  while (true) {
    const bool had_ows = skip_ows();
    if (i == n) {
      return need_more;
    }
    if (in[i] == '\r') {
      if (had_ows) {
        return bad("whitespace at end of chunk size line");
      }
      if (i + 1 == n) {
        return need_more;
      }
      if (in[i + 1] != '\n') {
        return bad("bare CR in chunk size line");
      }
      return SizeLine{LineOutcome::Ok, i + 2, size, {}};
    }
    if (in[i] != ';') {
      return bad(in[i] == '\n' ? "bare LF in chunk size line" : "invalid chunk size line");
    }
    ++i;
    skip_ows();
    if (!skip_token()) {
      return i == n ? need_more : bad("invalid chunk extension name");
    }
    const bool ows_after_name = skip_ows();
    if (i == n) {
      return need_more;
    }
    if (in[i] != '=') {
      // BWS is only allowed before ';' or '=', not before the line end.
      if (ows_after_name && in[i] == '\r') {
        return bad("whitespace at end of chunk size line");
      }
      continue;
    }
    ++i;
    skip_ows();
    if (i == n) {
      return need_more;
    }
    if (in[i] == '"') {
      for (++i;; ++i) {
        if (i == n) {
          return need_more;
        }
        if (in[i] == '"') {
          ++i;
          break;
        }
        if (in[i] == '\\') {
          ++i;
          if (i == n) {
            return need_more;
          }
        }
        if (!is_qdtext(in[i])) {
          return bad("invalid chunk extension value");
        }
      }
    } else if (!skip_token()) {
      return i == n ? need_more : bad("invalid chunk extension value");
    }
  }
}

}  // namespace

ChunkedDecoder::Step ChunkedDecoder::fail(std::string_view reason) {
  state_ = State::Failed;
  return Step{Step::Error, 0, {}, {}, reason};
}

ChunkedDecoder::Step ChunkedDecoder::next(std::string_view input) {
  size_t pos = 0;
  while (true) {
    const size_t avail = input.size() - pos;
    switch (state_) {
      case State::Size: {
        const SizeLine line = scan_size_line(input.substr(pos, std::min(avail, max_line_bytes_)));
        if (line.outcome == LineOutcome::Bad) {
          return fail(line.reason);
        }
        if (line.outcome == LineOutcome::NeedMore) {
          if (avail >= max_line_bytes_) {
            return fail("chunk size line too long");
          }
          return Step{Step::NeedMore, pos, {}, {}};
        }
        pos += line.length;
        if (line.size == 0) {
          state_ = State::Trailer;
        } else {
          remaining_ = line.size;
          state_ = State::Data;
        }
        break;
      }
      case State::Data: {
        if (avail == 0) {
          return Step{Step::NeedMore, pos, {}, {}};
        }
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, avail));
        remaining_ -= take;
        body_bytes_ += take;
        if (remaining_ == 0) {
          state_ = State::DataCr;
        }
        return Step{Step::Data, pos + take, input.substr(pos, take), {}};
      }
      case State::DataCr:
        if (avail == 0) {
          return Step{Step::NeedMore, pos, {}, {}};
        }
        if (input[pos] != '\r') {
          return fail("chunk data not followed by CRLF");
        }
        ++pos;
        state_ = State::DataLf;
        break;
      case State::DataLf:
        if (avail == 0) {
          return Step{Step::NeedMore, pos, {}, {}};
        }
        if (input[pos] != '\n') {
          return fail("chunk data not followed by CRLF");
        }
        ++pos;
        state_ = State::Size;
        break;
      case State::Trailer: {
        // trailer-section = *( field-line CRLF ) CRLF (RFC 9112 §7.1.2)
        const std::string_view window = input.substr(pos, std::min(avail, max_trailer_bytes_));
        size_t off = 0;
        while (true) {
          const FieldLineResult r = parse_field_line(window.substr(off), true);
          if (r.status == FieldLineStatus::Field) {
            off += r.consumed;
            continue;
          }
          if (r.status == FieldLineStatus::Error) {
            return fail(r.error_reason);
          }
          if (r.status == FieldLineStatus::Incomplete) {
            if (avail >= max_trailer_bytes_) {
              return fail("trailer section too large");
            }
            return Step{Step::NeedMore, pos, {}, {}};
          }
          break;
        }
        state_ = State::Done;
        return Step{Step::Done, pos + off + 2, {}, window.substr(0, off)};
      }
      case State::Done:
        return Step{Step::Done, 0, {}, {}};
      case State::Failed:
        return Step{Step::Error, 0, {}, {}, "chunked body already failed"};
    }
  }
}

size_t write_chunk_size_line(char* out, uint64_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  char digits[16];
  size_t n = 0;
  do {
    digits[n++] = kHex[size & 0xf];
    size >>= 4;
  } while (size != 0);
  for (size_t i = 0; i < n; ++i) {
    out[i] = digits[n - 1 - i];
  }
  out[n] = '\r';
  out[n + 1] = '\n';
  return n + 2;
}

}  // namespace apisix::http
