#include "http/chunked.h"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace apisix::http {
namespace {

using namespace std::string_view_literals;
using Step = ChunkedDecoder::Step;

// What a whole decode produced: the payload, the trailers and how it ended.
struct Decoded {
  Step::Kind end = Step::NeedMore;
  std::string body;
  std::string trailers;
  size_t consumed = 0;  // bytes of the input used, including framing
};

// Decodes `in` the way a connection would: it keeps unconsumed bytes, adds what arrives
// (`piece` bytes at a time) and calls next() until it needs more.
Decoded decode(std::string_view in, size_t piece, ChunkedDecoder decoder = ChunkedDecoder()) {
  Decoded out;
  std::string pending;
  size_t fed = 0;
  while (true) {
    const Step s = decoder.next(pending);
    EXPECT_LE(s.consumed, pending.size());
    if (s.kind == Step::Data) {
      EXPECT_FALSE(s.data.empty());
      out.body.append(s.data);
    }
    if (s.kind == Step::Done) {
      out.trailers.assign(s.trailers);
    }
    pending.erase(0, s.consumed);
    out.consumed += s.consumed;
    if (s.kind == Step::Done || s.kind == Step::Error) {
      out.end = s.kind;
      return out;
    }
    if (s.kind == Step::NeedMore) {
      if (fed == in.size()) {
        out.end = Step::NeedMore;
        return out;
      }
      const size_t n = std::min(piece, in.size() - fed);
      pending.append(in.substr(fed, n));
      fed += n;
    }
  }
}

struct ValidCase {
  const char* name;
  std::string_view input;
  std::string_view body;
  std::string_view trailers;
};

std::ostream& operator<<(std::ostream& os, const ValidCase& c) { return os << c.name; }

const ValidCase kValidCases[] = {
    {"empty_body", "0\r\n\r\n"sv, ""sv, ""sv},
    {"one_chunk", "5\r\nhello\r\n0\r\n\r\n"sv, "hello"sv, ""sv},
    {"several_chunks", "3\r\nabc\r\n1\r\nd\r\nA\r\n0123456789\r\n0\r\n\r\n"sv, "abcd0123456789"sv,
     ""sv},
    {"uppercase_and_leading_zeros", "00B\r\nhello world\r\n000\r\n\r\n"sv, "hello world"sv, ""sv},
    {"sixteen_digits", "0000000000000001\r\nx\r\n0\r\n\r\n"sv, "x"sv, ""sv},
    {"extension_token", "4;name=value\r\nwiki\r\n0\r\n\r\n"sv, "wiki"sv, ""sv},
    {"extension_no_value", "4;flag\r\nwiki\r\n0;last\r\n\r\n"sv, "wiki"sv, ""sv},
    {"extension_quoted", "4;q=\"a \\\"b\\\" ;c\"\r\nwiki\r\n0\r\n\r\n"sv, "wiki"sv, ""sv},
    {"extension_bws", "4 ; a = b ;c\t;d=\"\"\r\nwiki\r\n0\r\n\r\n"sv, "wiki"sv, ""sv},
    {"binary_data", "4\r\n\r\n\0\xff\r\n0\r\n\r\n"sv, "\r\n\0\xff"sv, ""sv},
    {"trailers", "1\r\na\r\n0\r\nExpires: never\r\nX-Sum:  abc \r\n\r\n"sv, "a"sv,
     "Expires: never\r\nX-Sum:  abc \r\n"sv},
};

class ChunkedValidTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ChunkedValidTest, DecodesWhole) {
  const ValidCase& c = GetParam();
  const Decoded d = decode(c.input, c.input.size());
  EXPECT_EQ(d.end, Step::Done);
  EXPECT_EQ(d.body, c.body);
  EXPECT_EQ(d.trailers, c.trailers);
  EXPECT_EQ(d.consumed, c.input.size());
}

// Every way of cutting the stream in two, and byte-by-byte, gives the same result.
TEST_P(ChunkedValidTest, DecodesSplitAnywhere) {
  const ValidCase& c = GetParam();
  for (size_t piece = 1; piece <= c.input.size(); ++piece) {
    const Decoded d = decode(c.input, piece);
    EXPECT_EQ(d.end, Step::Done) << piece;
    EXPECT_EQ(d.body, c.body) << piece;
    EXPECT_EQ(d.trailers, c.trailers) << piece;
    EXPECT_EQ(d.consumed, c.input.size()) << piece;
  }
  for (size_t cut = 0; cut <= c.input.size(); ++cut) {
    ChunkedDecoder decoder;
    std::string pending(c.input.substr(0, cut));
    std::string body;
    Step s{Step::NeedMore, 0, {}, {}};
    bool added_rest = false;
    while (true) {
      s = decoder.next(pending);
      if (s.kind == Step::Data) {
        body.append(s.data);
      }
      pending.erase(0, s.consumed);
      if (s.kind == Step::Done || s.kind == Step::Error) {
        break;
      }
      if (s.kind == Step::NeedMore) {
        ASSERT_FALSE(added_rest) << cut;
        pending.append(c.input.substr(cut));
        added_rest = true;
      }
    }
    EXPECT_EQ(s.kind, Step::Done) << cut;
    EXPECT_EQ(body, c.body) << cut;
  }
}

INSTANTIATE_TEST_SUITE_P(Chunked, ChunkedValidTest, ::testing::ValuesIn(kValidCases),
                         [](const auto& info) { return std::string(info.param.name); });

struct ErrorCase {
  const char* name;
  std::string_view input;
};

std::ostream& operator<<(std::ostream& os, const ErrorCase& c) { return os << c.name; }

const ErrorCase kErrorCases[] = {
    {"empty_size", "\r\nabc\r\n0\r\n\r\n"sv},
    {"leading_space", " 5\r\nhello\r\n0\r\n\r\n"sv},
    {"hex_prefix", "0x5\r\nhello\r\n0\r\n\r\n"sv},
    {"plus_sign", "+5\r\nhello\r\n0\r\n\r\n"sv},
    {"negative", "-5\r\nhello\r\n0\r\n\r\n"sv},
    {"not_hex", "g\r\nhello\r\n0\r\n\r\n"sv},
    {"seventeen_digits", "00000000000000005\r\nhello\r\n0\r\n\r\n"sv},
    {"overflow", "10000000000000000\r\nhello\r\n0\r\n\r\n"sv},
    {"trailing_space", "5 \r\nhello\r\n0\r\n\r\n"sv},
    {"size_bare_lf", "5\nhello\r\n0\r\n\r\n"sv},
    {"size_bare_cr", "5\rhello\r\n0\r\n\r\n"sv},
    {"size_junk", "5x\r\nhello\r\n0\r\n\r\n"sv},
    {"ext_empty_name", "5;\r\nhello\r\n0\r\n\r\n"sv},
    {"ext_empty_name_value", "5;=x\r\nhello\r\n0\r\n\r\n"sv},
    {"ext_empty_value", "5;a=\r\nhello\r\n0\r\n\r\n"sv},
    {"ext_bad_char", "5;a=b c\r\nhello\r\n0\r\n\r\n"sv},
    {"ext_unterminated_quote", "5;a=\"b\r\nhello\r\n0\r\n\r\n"sv},
    {"ext_ctl_in_quote", "5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n"sv},
    {"ext_lf_in_quote", "5;a=\"\n\"\r\nhello\r\n0\r\n\r\n"sv},
    {"data_too_long", "5\r\nhello!\r\n0\r\n\r\n"sv},
    {"data_bare_lf", "5\r\nhello\n0\r\n\r\n"sv},
    {"data_no_crlf", "5\r\nhelloXY0\r\n\r\n"sv},
    {"data_cr_only", "5\r\nhello\r0\r\n\r\n"sv},
    {"last_chunk_bare_lf", "0\n\r\n"sv},
    {"final_bare_lf", "0\r\n\n"sv},
    {"trailer_no_colon", "0\r\nX-A\r\n\r\n"sv},
    {"trailer_space_before_colon", "0\r\nX-A : b\r\n\r\n"sv},
    {"trailer_obs_fold", "0\r\nX-A: b\r\n c\r\n\r\n"sv},
    {"trailer_ctl", "0\r\nX-A: b\x01\r\n\r\n"sv},
    {"trailer_bare_lf", "0\r\nX-A: b\n\r\n"sv},
};

class ChunkedErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ChunkedErrorTest, Fails) {
  const ErrorCase& c = GetParam();
  for (size_t piece = 1; piece <= c.input.size(); ++piece) {
    const Decoded d = decode(c.input, piece);
    EXPECT_EQ(d.end, Step::Error) << piece;
  }
}

INSTANTIATE_TEST_SUITE_P(Chunked, ChunkedErrorTest, ::testing::ValuesIn(kErrorCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Chunked, ErrorIsSticky) {
  ChunkedDecoder decoder;
  Step s = decoder.next("zz\r\n");
  ASSERT_EQ(s.kind, Step::Error);
  EXPECT_FALSE(s.error_reason.empty());
  EXPECT_EQ(s.consumed, 0u);
  EXPECT_EQ(decoder.next("5\r\nhello\r\n").kind, Step::Error);
}

TEST(Chunked, BadSizeFailsBeforeLineEnds) {
  ChunkedDecoder decoder;
  EXPECT_EQ(decoder.next("5 x").kind, Step::Error);
  ChunkedDecoder other;
  EXPECT_EQ(other.next("12345").kind, Step::NeedMore);
}

TEST(Chunked, DataStepsAreViewsIntoInput) {
  ChunkedDecoder decoder;
  const std::string in = "5\r\nhel";
  Step s = decoder.next(in);
  ASSERT_EQ(s.kind, Step::Data);
  EXPECT_EQ(s.data, "hel");
  EXPECT_EQ(s.data.data(), in.data() + 3);
  EXPECT_EQ(s.consumed, in.size());
  // The size line was eaten with the data; what is left of the chunk comes next.
  s = decoder.next("lo\r");
  ASSERT_EQ(s.kind, Step::Data);
  EXPECT_EQ(s.data, "lo");
  EXPECT_EQ(s.consumed, 2u);
  s = decoder.next("\r");
  EXPECT_EQ(s.kind, Step::NeedMore);
  EXPECT_EQ(s.consumed, 1u);
  s = decoder.next("\n0\r\n");
  EXPECT_EQ(s.kind, Step::NeedMore);
  EXPECT_EQ(s.consumed, 4u);
  s = decoder.next("\r\nnext message");
  EXPECT_EQ(s.kind, Step::Done);
  EXPECT_EQ(s.consumed, 2u);
  EXPECT_TRUE(decoder.is_done());
  EXPECT_EQ(decoder.body_bytes(), 5u);
  // Once done, nothing more is consumed.
  s = decoder.next("more");
  EXPECT_EQ(s.kind, Step::Done);
  EXPECT_EQ(s.consumed, 0u);
}

TEST(Chunked, HugeChunkIsStreamed) {
  ChunkedDecoder decoder;
  Step s = decoder.next("ffffffffffffffff\r\nabc");
  ASSERT_EQ(s.kind, Step::Data);
  EXPECT_EQ(s.data, "abc");
  s = decoder.next("defg");
  ASSERT_EQ(s.kind, Step::Data);
  EXPECT_EQ(s.data, "defg");
}

TEST(Chunked, TrailersWaitForWholeSection) {
  ChunkedDecoder decoder;
  Step s = decoder.next("0\r\nA: 1\r\n");
  EXPECT_EQ(s.kind, Step::NeedMore);
  EXPECT_EQ(s.consumed, 3u);  // the last-chunk line
  s = decoder.next("A: 1\r\n");
  EXPECT_EQ(s.kind, Step::NeedMore);
  EXPECT_EQ(s.consumed, 0u);
  s = decoder.next("A: 1\r\nB: 2\r\n\r\n");
  ASSERT_EQ(s.kind, Step::Done);
  EXPECT_EQ(s.consumed, 14u);
  EXPECT_EQ(s.trailers, "A: 1\r\nB: 2\r\n");
}

TEST(Chunked, TrailerLimit) {
  const std::string trailer = "X: " + std::string(40, 'a') + "\r\n";  // 45 bytes
  // Exactly at the limit (trailer plus final CRLF) is fine.
  ChunkedDecoder fits(/*max_trailer_bytes=*/47);
  Step s = fits.next("0\r\n" + trailer + "\r\n");
  EXPECT_EQ(s.kind, Step::Done);
  // One byte less is not, even before the section ends.
  ChunkedDecoder tight(/*max_trailer_bytes=*/46);
  s = tight.next("0\r\n" + trailer);
  EXPECT_EQ(s.kind, Step::NeedMore);
  EXPECT_EQ(s.consumed, 3u);
  s = tight.next(trailer + "\r");
  EXPECT_EQ(s.kind, Step::Error);
}

TEST(Chunked, LineLimit) {
  ChunkedDecoder decoder(8192, /*max_line_bytes=*/16);
  // "5;abcdefghijk\r\n" is 15 bytes: fine.
  Step s = decoder.next("5;abcdefghijk\r\nhello\r\n");
  EXPECT_EQ(s.kind, Step::Data);
  ChunkedDecoder tight(8192, /*max_line_bytes=*/16);
  s = tight.next("5;abcdefghijklmn");
  EXPECT_EQ(s.kind, Step::Error);
  ChunkedDecoder waiting(8192, /*max_line_bytes=*/16);
  s = waiting.next("5;abcdefghijklm");
  EXPECT_EQ(s.kind, Step::NeedMore);
}

TEST(Chunked, WriteChunkSizeLine) {
  char buf[kMaxChunkSizeLine];
  auto line = [&](uint64_t n) { return std::string(buf, write_chunk_size_line(buf, n)); };
  EXPECT_EQ(line(0), "0\r\n");
  EXPECT_EQ(line(1), "1\r\n");
  EXPECT_EQ(line(255), "ff\r\n");
  EXPECT_EQ(line(4096), "1000\r\n");
  EXPECT_EQ(line(UINT64_MAX), "ffffffffffffffff\r\n");
  // What we write, we read back.
  for (uint64_t n : {1ULL, 10ULL, 0xabcdefULL, 0x123456789ULL}) {
    ChunkedDecoder decoder;
    const Step s = decoder.next(line(n) + "x");
    ASSERT_EQ(s.kind, Step::Data);
  }
}

}  // namespace
}  // namespace apisix::http
