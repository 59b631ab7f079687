#pragma once

// HTTP/1.1 message parsing and framing shared by the raw client and the upstream server
// (RFC 9112). Strict on purpose: the harness reads what the gateway produces, and anything
// off-spec is reported as Malformed so a test can say what was wrong.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tests/harness/body.h"
#include "tests/harness/headers.h"
#include "tests/harness/socket_stream.h"

namespace apisix::test {

inline constexpr size_t kMaxHeadBytes = 1 << 20;

struct RequestHead {
  std::string method;
  std::string target;
  std::string version;  // "HTTP/1.1"
  Headers headers;
};

struct ResponseHead {
  std::string version;
  int status = 0;
  std::string reason;
  Headers headers;
};

// Parses a head that ends with CRLF CRLF. Returns nullopt and sets `error` when malformed.
std::optional<RequestHead> parse_request_head(std::string_view raw, std::string& error);
std::optional<ResponseHead> parse_response_head(std::string_view raw, std::string& error);

// How a message body is delimited (RFC 9112 §6.3).
struct BodyFraming {
  enum class Kind {
    None,     // no body
    Length,   // exactly `length` bytes
    Chunked,  // chunked transfer coding
    Close,    // until the connection closes (responses only)
    Invalid,  // framing headers that cannot be honoured; `error` says why
  };
  Kind kind = Kind::None;
  uint64_t length = 0;
  std::string error;
};

BodyFraming request_framing(const Headers& headers);
// `request_method` is the method of the request being answered ("HEAD" means no body).
BodyFraming response_framing(const ResponseHead& head, std::string_view request_method);

// Reads a chunked body: data into `sink`, trailer fields into `trailers`; `raw`, if set, gets
// the body as it was on the wire (sizes, extensions, CRLFs, trailers).
IoStatus read_chunked_body(SocketStream& stream, Deadline deadline, BodySink& sink,
                           Headers& trailers, BodySink* raw, std::string& error);

// Reads a body framed as `framing` into `sink`; `raw` as above.
IoStatus read_body(SocketStream& stream, const BodyFraming& framing, Deadline deadline,
                   BodySink& sink, Headers& trailers, BodySink* raw, std::string& error);

// Builds a request. Adds "Content-Length" when `body` is non-empty and the headers have
// neither Content-Length nor Transfer-Encoding. Headers are written in the given order.
std::string make_request(std::string_view method, std::string_view target,
                         const Headers& headers = {{"Host", "example.com"}},
                         std::string_view body = {});

// Encodes `data` as one chunk ("<hex>\r\n<data>\r\n"); empty data gives nothing.
std::string chunk(std::string_view data);
// The last chunk and trailer section ("0\r\n<trailers>\r\n").
std::string last_chunk(const Headers& trailers = {});

// The standard reason phrase for `status` ("OK", "Not Found", ...).
std::string_view reason_phrase(int status);

}  // namespace apisix::test
