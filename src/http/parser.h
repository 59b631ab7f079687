#pragma once
// Strict, zero-copy HTTP/1.1 message-head parser (RFC 9112 with the field rules of RFC 9110).
//
// The parser is stateless: the caller passes everything received so far and calls again with
// more bytes while the result is Incomplete. Limits and syntax errors are reported as soon as
// the offending bytes are seen, so a caller never has to buffer more than the limits allow.
// It never allocates; every string_view in a RequestHead or ResponseHead points into the
// buffer that was parsed and lives only as long as that buffer stays unchanged.
//
// Strictness is deliberate: a proxy that accepts something its upstream reads differently is
// the root of request smuggling (RFC 9112 §11.2), so ambiguous framing is an error here.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace apisix::http {

inline constexpr size_t kMaxHeaders = 128;

// One field line; both views point into the parsed buffer. `value` has no leading or
// trailing OWS (RFC 9110 §5.5).
struct Header {
  std::string_view name;
  std::string_view value;
};

enum class Method : uint8_t {
  Get,
  Head,
  Post,
  Put,
  Delete,
  Connect,
  Options,
  Trace,
  Patch,
  Purge,
  Other,  // any other valid token; see RequestHead::method_text
};

struct ParseLimits {
  size_t max_request_line = 8192;            // request line (without CRLF) longer -> 414
  size_t max_head_bytes = 32768;             // head (start line + fields + CRLF) larger -> 431
  size_t max_headers = kMaxHeaders;          // more field lines -> 431 (capped at kMaxHeaders)
  bool allow_underscores_in_headers = true;  // nginx underscores_in_headers; false -> 400
};

enum class ParseStatus {
  Complete,    // the head is parsed; `consumed` bytes belong to it, the body (if any) follows.
  Incomplete,  // no verdict yet: call again with the same bytes plus more.
  Error,       // reject: answer `error_status` (requests) and close the connection.
};

struct ParseResult {
  ParseStatus status = ParseStatus::Incomplete;
  size_t consumed = 0;  // head bytes on Complete, else 0
  // Requests: 400, 414, 431, 501 (unsupported transfer-coding) or 505 (HTTP version).
  // Responses: always 502, the status a gateway answers with for an invalid upstream
  // response (RFC 9110 §15.6.3). 0 unless status is Error.
  int error_status = 0;
  std::string_view error_reason;  // static text for logs, e.g. "invalid header name"
};

// A parsed request head. Views point into the parsed buffer (see the file comment).
struct RequestHead {
  std::string_view method_text;
  Method method = Method::Other;
  std::string_view target;  // raw request-target as received
  // Target before '?'. In absolute-form it is the path after the authority, or "/" (a static
  // string) when the URI has none (RFC 9112 §3.2.2); for '*' and authority-form it is the
  // whole target.
  std::string_view path;
  std::string_view query;  // after the first '?' (without it), empty if none
  int version_minor = 1;   // 0 or 1 (HTTP/1.0, HTTP/1.1)
  Header headers[kMaxHeaders];
  size_t header_count = 0;
  // Host field value; for an absolute-form target the target's authority instead, which
  // RFC 9112 §3.2.2 says a server must use in place of the Host field.
  std::string_view host;
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool chunked = false;          // Transfer-Encoding is exactly "chunked" (case-insensitive)
  bool keep_alive = false;       // 1.1: unless Connection: close; 1.0: only with keep-alive
  bool expect_continue = false;  // HTTP/1.1 and Expect: 100-continue (RFC 9110 §10.1.1)
  bool upgrade = false;          // Connection has the "upgrade" token and Upgrade is present
  size_t head_bytes = 0;         // == consumed on Complete
};

[[nodiscard]] ParseResult parse_request_head(std::string_view buf, RequestHead& out,
                                             const ParseLimits& limits);

// A parsed response head. Views point into the parsed buffer (see the file comment).
struct ResponseHead {
  int version_minor = 1;
  int status = 0;
  std::string_view reason;
  Header headers[kMaxHeaders];
  size_t header_count = 0;
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool chunked = false;
  bool keep_alive = false;
  size_t head_bytes = 0;
};

// Response heads follow the same field rules as requests (underscores always allowed,
// max_request_line unused). Transfer-Encoding other than exactly "chunked" is an error: we
// cannot decode other codings, and RFC 9112 §6.3's read-until-close fallback would hide them.
[[nodiscard]] ParseResult parse_response_head(std::string_view buf, ResponseHead& out,
                                              const ParseLimits& limits);

enum class BodyKind {
  None,           // no body follows the head
  ContentLength,  // exactly content_length bytes follow
  Chunked,        // a chunked body follows (see chunked.h)
  UntilClose,     // responses only: the body ends when the connection closes
};

// None when the request has neither Content-Length nor Transfer-Encoding, or Content-Length 0
// (RFC 9112 §6.3 rule 6).
BodyKind request_body_kind(const RequestHead& head);

// RFC 9112 §6.3: responses to HEAD, 1xx, 204 and 304 have no body; neither does a 2xx answer
// to CONNECT (the connection becomes a tunnel). Content-Length 0 also gives None.
BodyKind response_body_kind(const ResponseHead& head, Method request_method);

// ASCII case-insensitive comparison; field names and most tokens compare this way
// (RFC 9110 §5.1).
bool iequals(std::string_view a, std::string_view b);

// The first field named `name` (case-insensitive), or nullptr.
const Header* find_header(const Header* headers, size_t count, std::string_view name);

// Whether a comma-separated list such as a Connection value (RFC 9110 §7.6.1) contains
// `token`, compared case-insensitively, ignoring OWS and empty elements.
bool connection_has_token(std::string_view connection_value, std::string_view token);

// tchar (RFC 9110 §5.6.2): the characters of a token such as a method or field name.
bool is_tchar(char c);

// One line of a field section (RFC 9112 §5), for callers that read field sections outside a
// message head, such as chunked trailers.
enum class FieldLineStatus {
  Field,         // name and value are set; `consumed` covers the line and its CRLF
  EndOfSection,  // the empty line (CRLF) that ends a section; `consumed` is 2
  Incomplete,    // the line is not complete yet; call again with more bytes
  Error,         // the line is invalid; see error_reason
};

struct FieldLineResult {
  FieldLineStatus status;
  size_t consumed;
  std::string_view name;   // into the parsed buffer
  std::string_view value;  // without leading or trailing OWS
  std::string_view error_reason;
};

[[nodiscard]] FieldLineResult parse_field_line(std::string_view buf, bool allow_underscores);

// Maps a method token to Method (case-sensitive, RFC 9110 §9.1).
Method method_from_text(std::string_view text);

}  // namespace apisix::http
