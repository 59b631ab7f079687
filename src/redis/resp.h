#pragma once
// RESP, the Redis wire protocol: an incremental, strict reply parser (RESP2, plus the RESP3
// types a server may send once HELLO 3 is negotiated) with limits, and the command encoder.
// Plain values and a parser object owned by one connection; no I/O, no threads.
//
// Protocol reference: https://redis.io/docs/reference/protocol-spec/ (RESP2 and RESP3).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace apisix::redis {

enum class ReplyType : uint8_t {
  Status,     // +OK: `str`
  Error,      // -ERR ... or RESP3 !<len> blob error: `str` (code, a space, the message)
  Integer,    // :42: `integer`
  Bulk,       // $<len>: `str` (binary-safe)
  Nil,        // $-1, *-1, RESP3 _
  Array,      // *<n>: `elements`
  Double,     // RESP3 ,<d>: `str` as sent, `number` parsed
  Boolean,    // RESP3 #t / #f: `integer` 1 / 0
  BigNumber,  // RESP3 (<digits>: `str`
  Verbatim,   // RESP3 =<len>: `str` with its "txt:" format prefix
  Map,        // RESP3 %<n>: `elements` key, value, key, value, ...
  Set,        // RESP3 ~<n>: `elements`
  Push,       // RESP3 ><n>: `elements` (out-of-band data; never sent unless subscribed)
};
const char* to_string(ReplyType type);

// One parsed reply. A server-side error ("-WRONGTYPE ...") is a Reply of type Error, not a
// failed Result: the server answered, the connection is fine.
struct Reply {
  ReplyType type = ReplyType::Nil;
  int64_t integer = 0;
  double number = 0;
  std::string str;
  std::vector<Reply> elements;

  static Reply status(std::string text) { return leaf(ReplyType::Status, std::move(text)); }
  static Reply error(std::string text) { return leaf(ReplyType::Error, std::move(text)); }
  static Reply bulk(std::string text) { return leaf(ReplyType::Bulk, std::move(text)); }
  static Reply integer_value(int64_t n) {
    Reply r;
    r.type = ReplyType::Integer;
    r.integer = n;
    return r;
  }
  static Reply nil() { return Reply{}; }
  static Reply array(std::vector<Reply> items) {
    Reply r;
    r.type = ReplyType::Array;
    r.elements = std::move(items);
    return r;
  }
  static Reply leaf(ReplyType type, std::string text) {
    Reply r;
    r.type = type;
    r.str = std::move(text);
    return r;
  }

  bool is_error() const { return type == ReplyType::Error; }
  bool is_nil() const { return type == ReplyType::Nil; }
  // The error code of an Error reply: "NOSCRIPT" for "NOSCRIPT No matching script"; "" else.
  std::string_view error_code() const;
  // Equality of what was sent (a Double compares by its text, so NaN equals NaN).
  bool operator==(const Reply& other) const;
};

// Bounds on what a reply may make us buffer or build; exceeding one is ErrorKind::Limit.
struct ReplyLimits {
  size_t max_bulk_bytes = 512u << 20;  // Redis's own proto-max-bulk-len default
  size_t max_elements = 1u << 20;      // per aggregate (a map counts keys and values)
  size_t max_depth = 32;               // nested aggregates; a top-level array is depth 1
  size_t max_line_bytes = 64u << 10;   // status, error, number and length lines
};

// Parses the replies of one connection as bytes arrive. Feed bytes, then call next() until it
// yields nullopt (more bytes needed). A parse error is final: the byte stream cannot be
// resynchronised, so the connection must be closed; next() keeps returning that error.
class ReplyParser {
 public:
  explicit ReplyParser(ReplyLimits limits = {}) : limits_(limits) {}

  void feed(std::string_view bytes);
  // Zero-copy feeding: room for `bytes` more bytes at the end of the buffer; then commit()
  // the number actually written there (the span is invalid after commit or feed).
  std::span<char> prepare(size_t bytes);
  void commit(size_t bytes);

  // The next complete reply, nullopt when it has not fully arrived, or the protocol error.
  Result<std::optional<Reply>> next();

  // Bytes received but not yet returned as part of a reply.
  size_t buffered_bytes() const { return buf_.size() - pos_; }
  bool has_failed() const { return error_.has_value(); }

 private:
  enum class Step : uint8_t { NeedMore, Leaf, Aggregate, Failed };
  struct Frame {
    Reply reply;
    size_t remaining = 0;  // elements still to come
  };
  // Parses one element header (and, for leaves, its payload) at pos_ without consuming it
  // unless complete. Aggregate: `count` elements follow (the header is consumed).
  Step parse_element(Reply& out, size_t& count);
  // Finds the CRLF ending the line that starts at `from`; npos when it has not arrived.
  Step find_line(size_t from, size_t& line_end);
  Step fail(ErrorKind kind, std::string message);
  void compact();

  ReplyLimits limits_;
  std::string buf_;
  size_t pos_ = 0;  // first byte of buf_ not yet consumed
  size_t committed_ = 0;
  std::vector<Frame> stack_;  // aggregates under construction, outermost first
  std::optional<Error> error_;
};

// Appends the command `args` as RESP (an array of bulk strings) to `out`.
void append_command(std::string& out, std::span<const std::string> args);
void append_command(std::string& out, std::span<const std::string_view> args);
std::string encode_command(std::span<const std::string> args);

// Writes `reply` as RESP (RESP3 markers for RESP3 types); for fake servers and tests.
void append_reply(std::string& out, const Reply& reply);
std::string encode_reply(const Reply& reply);

// A readable one-line rendering for logs and test failures (bulk bytes escaped, long values
// cut short).
std::string describe(const Reply& reply);

}  // namespace apisix::redis
