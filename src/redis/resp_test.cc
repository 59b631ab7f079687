#include "redis/resp.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace apisix::redis {
namespace {

// Every reply in `bytes` fed at once; stops at the first error (returned in `error`).
std::vector<Reply> parse_all(std::string_view bytes, std::optional<Error>* error = nullptr,
                             ReplyLimits limits = {}) {
  ReplyParser parser(limits);
  parser.feed(bytes);
  std::vector<Reply> out;
  for (;;) {
    auto next = parser.next();
    if (!next) {
      if (error != nullptr) {
        *error = next.error();
      }
      return out;
    }
    if (!next->has_value()) {
      return out;
    }
    out.push_back(std::move(**next));
  }
}

Reply parse_one(std::string_view bytes) {
  std::optional<Error> error;
  auto replies = parse_all(bytes, &error);
  EXPECT_FALSE(error.has_value()) << error->context;
  EXPECT_EQ(replies.size(), 1u);
  return replies.empty() ? Reply{} : replies[0];
}

Error parse_error(std::string_view bytes, ReplyLimits limits = {}) {
  std::optional<Error> error;
  parse_all(bytes, &error, limits);
  EXPECT_TRUE(error.has_value()) << "accepted: " << bytes;
  return error.value_or(Error{});
}

TEST(RespParser, ParsesEveryRESP2Type) {
  EXPECT_EQ(parse_one("+OK\r\n"), Reply::status("OK"));
  EXPECT_EQ(parse_one("-ERR wrong\r\n"), Reply::error("ERR wrong"));
  EXPECT_EQ(parse_one(":-42\r\n"), Reply::integer_value(-42));
  EXPECT_EQ(parse_one(":9223372036854775807\r\n"), Reply::integer_value(INT64_MAX));
  EXPECT_EQ(parse_one("$5\r\nhe\r\no\r\n"), Reply::bulk("he\r\no"));
  EXPECT_EQ(parse_one("$0\r\n\r\n"), Reply::bulk(""));
  EXPECT_TRUE(parse_one("$-1\r\n").is_nil());
  EXPECT_TRUE(parse_one("*-1\r\n").is_nil());
  EXPECT_EQ(parse_one("*0\r\n"), Reply::array({}));
  EXPECT_EQ(parse_one("*3\r\n:1\r\n$1\r\nx\r\n*1\r\n+in\r\n"),
            Reply::array(
                {Reply::integer_value(1), Reply::bulk("x"), Reply::array({Reply::status("in")})}));
}

TEST(RespParser, ParsesRESP3Types) {
  EXPECT_TRUE(parse_one("_\r\n").is_nil());
  Reply t = parse_one("#t\r\n");
  EXPECT_EQ(t.type, ReplyType::Boolean);
  EXPECT_EQ(t.integer, 1);
  Reply d = parse_one(",-1.5e3\r\n");
  EXPECT_EQ(d.type, ReplyType::Double);
  EXPECT_DOUBLE_EQ(d.number, -1500.0);
  EXPECT_EQ(parse_one(",inf\r\n").number, HUGE_VAL);
  EXPECT_EQ(parse_one("(12345678901234567890\r\n").str, "12345678901234567890");
  Reply blob_error = parse_one("!10\r\nSYNTAX bad\r\n");
  EXPECT_TRUE(blob_error.is_error());
  EXPECT_EQ(blob_error.error_code(), "SYNTAX");
  EXPECT_EQ(parse_one("=8\r\ntxt:abcd\r\n").str, "txt:abcd");
  Reply map = parse_one("%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n");
  EXPECT_EQ(map.type, ReplyType::Map);
  EXPECT_EQ(map.elements.size(), 4u);
  EXPECT_EQ(parse_one("~1\r\n+x\r\n").type, ReplyType::Set);
  EXPECT_EQ(parse_one(">2\r\n+message\r\n$1\r\nz\r\n").type, ReplyType::Push);
}

TEST(RespParser, ErrorCodeIsTheFirstWord) {
  EXPECT_EQ(Reply::error("NOSCRIPT No matching script.").error_code(), "NOSCRIPT");
  EXPECT_EQ(Reply::error("MOVED 3999 127.0.0.1:6381").error_code(), "MOVED");
  EXPECT_EQ(Reply::status("OK").error_code(), "");
}

TEST(RespParser, EveryByteBoundaryGivesTheSameReplies) {
  const std::string stream =
      "+OK\r\n*2\r\n$3\r\nfoo\r\n*2\r\n:1\r\n$-1\r\n-ERR x\r\n$10\r\n0123456789\r\n"
      "%1\r\n+k\r\n,3.25\r\n";
  std::vector<Reply> whole = parse_all(stream);
  ASSERT_EQ(whole.size(), 5u);
  for (size_t split = 0; split <= stream.size(); ++split) {
    ReplyParser parser;
    std::vector<Reply> got;
    auto drain = [&] {
      for (;;) {
        auto next = parser.next();
        ASSERT_TRUE(next) << next.error().context;
        if (!next->has_value()) {
          return;
        }
        got.push_back(std::move(**next));
      }
    };
    parser.feed(std::string_view(stream).substr(0, split));
    drain();
    parser.feed(std::string_view(stream).substr(split));
    drain();
    EXPECT_EQ(got, whole) << "split at " << split;
    EXPECT_EQ(parser.buffered_bytes(), 0u);
  }
}

TEST(RespParser, ByteByByteFeedingCompletesOnlyAtTheEnd) {
  const std::string reply = "*2\r\n$3\r\nabc\r\n:7\r\n";
  ReplyParser parser;
  for (size_t i = 0; i + 1 < reply.size(); ++i) {
    parser.feed(reply.substr(i, 1));
    auto next = parser.next();
    ASSERT_TRUE(next);
    EXPECT_FALSE(next->has_value()) << "complete after " << i + 1 << " bytes";
  }
  parser.feed(reply.substr(reply.size() - 1));
  auto next = parser.next();
  ASSERT_TRUE(next && next->has_value());
  EXPECT_EQ(**next, Reply::array({Reply::bulk("abc"), Reply::integer_value(7)}));
}

TEST(RespParser, ZeroCopyFeeding) {
  ReplyParser parser;
  std::string_view data = "$3\r\nxyz\r\n";
  auto room = parser.prepare(64);
  std::copy(data.begin(), data.end(), room.begin());
  parser.commit(data.size());
  auto next = parser.next();
  ASSERT_TRUE(next && next->has_value());
  EXPECT_EQ((*next)->str, "xyz");
}

TEST(RespParser, RejectsMalformedInput) {
  for (std::string_view bad : {
           "?x\r\n",                     // unknown type byte
           "+OK\n",                      // LF without CR
           "+O\rK\r\n",                  // CR without LF
           ":12a\r\n",                   // not a number
           ":+1\r\n",                    // no plus sign
           ":\r\n",                      // empty number
           ":99999999999999999999\r\n",  // overflow
           "$-2\r\n",                    // negative length
           "$3\r\nabcd\r\n",             // bulk longer than announced
           "$3\r\nab\r\n\r\n",           // CRLF not where the length says
           "*-2\r\n",                    // negative count
           "%-1\r\n",                    // RESP3 aggregates have no null form
           "#x\r\n",                     // bad boolean
           ",1.\r\n",                    // bad double
           "(12x\r\n",                   // bad big number
           "=3\r\nabc\r\n",              // verbatim without format
           "_x\r\n",                     // null with a payload
           "$?\r\n",                     // streamed strings are not supported
       }) {
    Error error = parse_error(bad);
    EXPECT_EQ(error.kind, ErrorKind::Invalid) << bad;
    EXPECT_EQ(error.source, ErrorSource::Upstream);
    EXPECT_FALSE(error.retryable);
    EXPECT_NE(error.context.find("redis protocol"), std::string::npos) << error.context;
  }
  EXPECT_EQ(parse_error("|1\r\n+a\r\n+b\r\n").kind, ErrorKind::Unsupported);
}

TEST(RespParser, AnErrorIsFinal) {
  ReplyParser parser;
  parser.feed("+OK\r\n?bad\r\n+OK\r\n");
  auto first = parser.next();
  ASSERT_TRUE(first && first->has_value());
  EXPECT_FALSE(parser.next());
  EXPECT_TRUE(parser.has_failed());
  parser.feed("+OK\r\n");
  EXPECT_FALSE(parser.next());
}

TEST(RespParser, EnforcesLimits) {
  ReplyLimits limits;
  limits.max_bulk_bytes = 8;
  limits.max_elements = 4;
  limits.max_depth = 3;
  limits.max_line_bytes = 16;
  EXPECT_EQ(parse_error("$9\r\n", limits).kind, ErrorKind::Limit);  // before the payload
  EXPECT_EQ(parse_all("$8\r\n12345678\r\n", nullptr, limits).size(), 1u);
  EXPECT_EQ(parse_error("*5\r\n", limits).kind, ErrorKind::Limit);
  EXPECT_EQ(parse_error("%3\r\n", limits).kind, ErrorKind::Limit);  // 6 elements
  EXPECT_EQ(parse_error("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", limits).kind, ErrorKind::Limit);
  EXPECT_EQ(parse_all("*1\r\n*1\r\n*1\r\n:1\r\n", nullptr, limits).size(), 1u);
  EXPECT_EQ(parse_error("*1\r\n*1\r\n*1\r\n*0\r\n", limits).kind, ErrorKind::Limit);
  EXPECT_EQ(parse_error("+" + std::string(17, 'a') + "\r\n", limits).kind, ErrorKind::Limit);
  // A line with no end in sight fails as soon as it is longer than the limit.
  EXPECT_EQ(parse_error("+" + std::string(40, 'a'), limits).kind, ErrorKind::Limit);
  std::optional<Error> error;
  EXPECT_TRUE(parse_all("+" + std::string(16, 'a'), &error, limits).empty());
  EXPECT_FALSE(error.has_value());
}

TEST(RespParser, DoesNotPreallocateWhatACountClaims) {
  ReplyParser parser;
  parser.feed("*1000000\r\n:1\r\n");
  auto next = parser.next();
  ASSERT_TRUE(next);
  EXPECT_FALSE(next->has_value());
}

TEST(RespParser, LargeBulkInPieces) {
  std::string payload(5 << 20, 'z');
  std::string bytes = "$" + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
  ReplyParser parser;
  size_t replies = 0;
  for (size_t at = 0; at < bytes.size(); at += 16384) {
    parser.feed(std::string_view(bytes).substr(at, 16384));
    auto next = parser.next();
    ASSERT_TRUE(next);
    if (next->has_value()) {
      EXPECT_EQ((*next)->str.size(), payload.size());
      ++replies;
    }
  }
  EXPECT_EQ(replies, 1u);
}

TEST(RespEncoder, CommandIsAnArrayOfBulkStrings) {
  std::vector<std::string> args = {"SET", "key", std::string("a\0\r\nb", 5)};
  std::string encoded = encode_command(args);
  static constexpr char kExpected[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\na\0\r\nb\r\n";
  EXPECT_EQ(encoded, std::string(kExpected, sizeof(kExpected) - 1));
  Reply parsed = parse_one(encoded);
  ASSERT_EQ(parsed.type, ReplyType::Array);
  ASSERT_EQ(parsed.elements.size(), 3u);
  EXPECT_EQ(parsed.elements[2].str, args[2]);
  std::vector<std::string_view> views = {"PING"};
  std::string out;
  append_command(out, views);
  EXPECT_EQ(out, "*1\r\n$4\r\nPING\r\n");
}

TEST(RespEncoder, RepliesRoundTrip) {
  Reply reply = Reply::array({Reply::status("OK"), Reply::error("ERR a\r\nb"), Reply::nil(),
                              Reply::integer_value(-7), Reply::bulk(std::string(3, '\0')),
                              parse_one(",1.5\r\n"), parse_one("%1\r\n+k\r\n#f\r\n")});
  EXPECT_EQ(parse_one(encode_reply(reply)), reply);
  EXPECT_EQ(describe(Reply::bulk("a\nb")), "bulk \"a\\x0ab\"");
}

}  // namespace
}  // namespace apisix::redis
