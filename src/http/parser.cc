#include "http/parser.h"

#include <algorithm>
#include <array>

namespace apisix::http {
namespace {

// Character classes, one table lookup per byte instead of chains of comparisons.
enum CharClass : uint8_t {
  kToken = 1,       // tchar (RFC 9110 §5.6.2)
  kTarget = 2,      // visible ASCII: what a request-target may contain (RFC 9112 §3.2)
  kFieldValue = 4,  // field-vchar, SP, HTAB (RFC 9110 §5.5); obs-text included
  kHostChar = 8,    // reg-name: unreserved, sub-delims, '%' (RFC 3986 §3.2.2)
  kHexDigit = 16,
};

constexpr std::array<uint8_t, 256> make_char_table() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    uint8_t bits = 0;
    if (alpha || digit ||
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos) {
      bits |= kToken;
    }
    if (c > 0x20 && c < 0x7f) {
      bits |= kTarget;
    }
    if ((c > 0x20 && c != 0x7f) || c == ' ' || c == '\t') {
      bits |= kFieldValue;
    }
    if (alpha || digit ||
        std::string_view("-._~!$&'()*+,;=%").find(static_cast<char>(c)) != std::string_view::npos) {
      bits |= kHostChar;
    }
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
      bits |= kHexDigit;
    }
    t[static_cast<size_t>(c)] = bits;
  }
  return t;
}

constexpr std::array<uint8_t, 256> kCharTable = make_char_table();

inline bool is_char(char c, CharClass cls) {
  return (kCharTable[static_cast<unsigned char>(c)] & cls) != 0;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

enum class LineOutcome { Field, EndOfSection, NeedMore, Bad };

struct FieldLine {
  LineOutcome outcome;
  const char* next;  // first byte after the line's CRLF (Field, EndOfSection)
  std::string_view name;
  std::string_view value;
  std::string_view reason;  // Bad only
};

// field-line = field-name ":" OWS field-value OWS, then CRLF (RFC 9112 §5). Also recognises
// the empty line that ends a field section.
FieldLine scan_field_line(const char* p, const char* end, bool allow_underscores) {
  auto bad = [](std::string_view reason) {
    return FieldLine{LineOutcome::Bad, nullptr, {}, {}, reason};
  };
  const FieldLine need_more{LineOutcome::NeedMore, nullptr, {}, {}, {}};
  if (p >= end) {
    return need_more;
  }
  if (*p == '\r') {
    if (p + 1 >= end) {
      return need_more;
    }
    if (p[1] != '\n') {
      return bad("bare CR in header section");
    }
    return FieldLine{LineOutcome::EndOfSection, p + 2, {}, {}, {}};
  }
  if (*p == '\n') {
    return bad("bare LF in header section");
  }
  if (is_ows(*p)) {
    // obs-fold must be rejected or replaced by SP (RFC 9112 §5.2); rejecting is safest.
    return bad("obsolete line folding");
  }
  const char* const name_begin = p;
  while (p < end && is_char(*p, kToken)) {
    ++p;
  }
  if (p >= end) {
    return need_more;
  }
  if (*p != ':') {
    if (is_ows(*p)) {
      // RFC 9112 §5.1: whitespace between name and colon MUST be rejected with 400.
      return bad("whitespace before colon in header");
    }
    if (*p == '\r' || *p == '\n') {
      return bad("header line without colon");
    }
    return bad("invalid character in header name");
  }
  if (p == name_begin) {
    return bad("empty header name");
  }
  const std::string_view name(name_begin, static_cast<size_t>(p - name_begin));
  if (!allow_underscores && name.find('_') != std::string_view::npos) {
    return bad("underscore in header name");
  }
  ++p;
  while (p < end && is_ows(*p)) {
    ++p;
  }
  const char* const value_begin = p;
  while (p < end && is_char(*p, kFieldValue)) {
    ++p;
  }
  if (p >= end) {
    return need_more;
  }
  if (*p != '\r') {
    return bad(*p == '\n' ? "bare LF in header section" : "invalid character in header value");
  }
  if (p + 1 >= end) {
    return need_more;
  }
  if (p[1] != '\n') {
    return bad("bare CR in header value");
  }
  const char* value_end = p;
  while (value_end > value_begin && is_ows(value_end[-1])) {
    --value_end;
  }
  return FieldLine{LineOutcome::Field,
                   p + 2,
                   name,
                   std::string_view(value_begin, static_cast<size_t>(value_end - value_begin)),
                   {}};
}

// RFC 9112 §2.2 asks servers to ignore "at least one" empty line before the request-line
// (some clients send a CRLF after a POST body); a handful is generous, more is garbage.
constexpr int kMaxLeadingEmptyLines = 4;

// nginx stores Content-Length in an off_t, so larger values could not be forwarded anyway.
constexpr uint64_t kMaxContentLength = 0x7fffffffffffffffULL;
constexpr size_t kMaxContentLengthDigits = 19;

ParseResult incomplete() { return ParseResult{ParseStatus::Incomplete, 0, 0, {}}; }

ParseResult error(int status, std::string_view reason) {
  return ParseResult{ParseStatus::Error, 0, status, reason};
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c; }

// Compares `a` against the lowercase literal `lower` ignoring the case of `a` only.
bool equals_lower(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != lower[i]) {
      return false;
    }
  }
  return true;
}

// Content-Length = 1*DIGIT (RFC 9110 §8.6). No sign, no spaces inside, no list: a list, even
// of equal values, is one of the classic smuggling ambiguities (RFC 9112 §6.3 rule 5).
bool parse_content_length(std::string_view v, uint64_t& out) {
  if (v.empty() || v.size() > kMaxContentLengthDigits) {
    return false;
  }
  uint64_t n = 0;
  for (char c : v) {
    if (!is_digit(c)) {
      return false;
    }
    n = n * 10 + static_cast<uint64_t>(c - '0');  // 19 digits cannot overflow 64 bits
  }
  if (n > kMaxContentLength) {
    return false;
  }
  out = n;
  return true;
}

// Parses "HTTP/d.d" at p. Returns the status to fail with (0: ok, -1: need more bytes).
// HTTP-name is case-sensitive (RFC 9112 §2.3), so "http/1.1" is a syntax error, while a
// well-formed version we do not speak is 505 (RFC 9110 §15.6.6).
int parse_version(const char* p, const char* end, int& minor) {
  static constexpr std::string_view kName = "HTTP/";
  for (size_t i = 0; i < kName.size(); ++i) {
    if (p + i >= end) {
      return -1;
    }
    if (p[i] != kName[i]) {
      return 400;
    }
  }
  p += kName.size();
  if (p >= end) {
    return -1;
  }
  if (!is_digit(p[0])) {
    return 400;
  }
  if (p[0] != '1') {
    return 505;  // decided here so that a client waiting for an answer gets it at once
  }
  if (p + 1 >= end) {
    return -1;
  }
  if (p[1] != '.') {
    return 400;
  }
  if (p + 2 >= end) {
    return -1;
  }
  if (!is_digit(p[2])) {
    return 400;
  }
  if (p[2] != '0' && p[2] != '1') {
    return 505;
  }
  minor = p[2] - '0';
  return 0;
}

// Checks CRLF at p. Returns 0 when present, -1 when more bytes are needed, 400 otherwise.
int expect_crlf(const char* p, const char* end) {
  if (p >= end) {
    return -1;
  }
  if (*p != '\r') {
    return 400;
  }
  if (p + 1 >= end) {
    return -1;
  }
  return p[1] == '\n' ? 0 : 400;
}

// uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2). reg-name is limited to unreserved,
// sub-delims and pct-encoded characters, so '/', '@', '\', spaces and controls are rejected;
// ".." is rejected as nginx does, because some setups build file paths from the host.
bool valid_authority(std::string_view s, bool require_port) {
  if (s.empty()) {
    return false;
  }
  size_t i = 0;
  const size_t n = s.size();
  if (s[0] == '[') {
    // IP-literal: only the IPv6address characters; a full IPv6 grammar check would buy
    // nothing here since the value is never used to open a connection.
    const size_t close = s.find(']');
    if (close == std::string_view::npos || close < 3) {
      return false;
    }
    bool has_colon = false;
    for (i = 1; i < close; ++i) {
      const char c = s[i];
      if (c == ':') {
        has_colon = true;
      } else if (c != '.' && !is_char(c, kHexDigit)) {
        return false;
      }
    }
    if (!has_colon) {
      return false;
    }
    i = close + 1;
  } else {
    for (; i < n && s[i] != ':'; ++i) {
      const char c = s[i];
      if (!is_char(c, kHostChar)) {
        return false;
      }
      if (c == '%') {
        if (i + 2 >= n || !is_char(s[i + 1], kHexDigit) || !is_char(s[i + 2], kHexDigit)) {
          return false;
        }
        i += 2;
      } else if (c == '.' && i > 0 && s[i - 1] == '.') {
        return false;
      }
    }
    if (i == 0) {
      return false;
    }
  }
  if (i == n) {
    return !require_port;
  }
  if (s[i] != ':') {
    return false;
  }
  const std::string_view port = s.substr(i + 1);
  if (port.empty()) {
    return !require_port;
  }
  if (port.size() > 5) {
    return false;
  }
  uint32_t value = 0;
  for (char c : port) {
    if (!is_digit(c)) {
      return false;
    }
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  return value <= 65535;
}

// Transfer-Encoding (RFC 9112 §6.1): we decode only a lone "chunked". Returns 0 for that,
// 400 for a malformed list or a repeated "chunked" (ambiguous framing), 501 for a
// well-formed list naming codings we do not implement (RFC 9112 §6.1: "SHOULD respond with
// 501"), including parameters on chunked.
int classify_transfer_encoding(std::string_view v) {
  if (equals_lower(v, "chunked")) {
    return 0;
  }
  int chunked_count = 0;
  size_t i = 0;
  const size_t n = v.size();
  auto skip_ows = [&] {
    while (i < n && (v[i] == ' ' || v[i] == '\t')) {
      ++i;
    }
  };
  auto token = [&]() -> std::string_view {
    const size_t start = i;
    while (i < n && is_char(v[i], kToken)) {
      ++i;
    }
    return v.substr(start, i - start);
  };
  while (true) {
    skip_ows();
    const std::string_view coding = token();
    if (coding.empty()) {
      return 400;
    }
    if (equals_lower(coding, "chunked")) {
      ++chunked_count;
    }
    skip_ows();
    // transfer-parameter = token BWS "=" BWS ( token / quoted-string )  (RFC 9110 §10.1.4)
    while (i < n && v[i] == ';') {
      ++i;
      skip_ows();
      if (token().empty()) {
        return 400;
      }
      skip_ows();
      if (i >= n || v[i] != '=') {
        return 400;
      }
      ++i;
      skip_ows();
      if (i < n && v[i] == '"') {
        ++i;
        while (i < n && v[i] != '"') {
          if (v[i] == '\\') {
            ++i;
          }
          ++i;
        }
        if (i >= n) {
          return 400;
        }
        ++i;
      } else if (token().empty()) {
        return 400;
      }
      skip_ows();
    }
    if (i == n) {
      break;
    }
    if (v[i] != ',') {
      return 400;
    }
    ++i;
  }
  return chunked_count > 1 ? 400 : 501;
}

// Connection tokens that change how the connection is handled (RFC 9112 §9.3, §9.6).
struct ConnectionTokens {
  bool close = false;
  bool keep_alive = false;
  bool upgrade = false;
};

// Calls fn(element) for each non-empty element of a comma-separated list, trimmed of OWS
// (RFC 9110 §5.6.1: recipients ignore empty elements).
template <typename Fn>
void for_each_list_element(std::string_view v, Fn&& fn) {
  size_t i = 0;
  while (i <= v.size()) {
    size_t comma = v.find(',', i);
    if (comma == std::string_view::npos) {
      comma = v.size();
    }
    std::string_view item = v.substr(i, comma - i);
    while (!item.empty() && is_ows(item.front())) {
      item.remove_prefix(1);
    }
    while (!item.empty() && is_ows(item.back())) {
      item.remove_suffix(1);
    }
    if (!item.empty()) {
      fn(item);
    }
    i = comma + 1;
  }
}

void scan_connection(std::string_view v, ConnectionTokens& t) {
  for_each_list_element(v, [&](std::string_view item) {
    if (equals_lower(item, "close")) {
      t.close = true;
    } else if (equals_lower(item, "keep-alive")) {
      t.keep_alive = true;
    } else if (equals_lower(item, "upgrade")) {
      t.upgrade = true;
    }
  });
}

// The fields whose meaning the parser itself needs; everything else is only stored.
enum class KnownField { None, Host, ContentLength, TransferEncoding, Connection, Expect, Upgrade };

KnownField classify_field(std::string_view name) {
  switch (name.size()) {
    case 4:
      return equals_lower(name, "host") ? KnownField::Host : KnownField::None;
    case 6:
      return equals_lower(name, "expect") ? KnownField::Expect : KnownField::None;
    case 7:
      return equals_lower(name, "upgrade") ? KnownField::Upgrade : KnownField::None;
    case 10:
      return equals_lower(name, "connection") ? KnownField::Connection : KnownField::None;
    case 14:
      return equals_lower(name, "content-length") ? KnownField::ContentLength : KnownField::None;
    case 17:
      return equals_lower(name, "transfer-encoding") ? KnownField::TransferEncoding
                                                     : KnownField::None;
    default:
      return KnownField::None;
  }
}

// Framing facts gathered while the fields are read; shared by requests and responses.
struct FieldState {
  ConnectionTokens connection;
  bool has_transfer_encoding = false;
  bool has_upgrade_field = false;
  int host_count = 0;
};

// What a field's meaning says about the message: status 0 to go on, else the error status.
struct FieldVerdict {
  int status = 0;
  std::string_view reason;
};

constexpr FieldVerdict kFieldOk{};

FieldVerdict reject(int status, std::string_view reason) { return FieldVerdict{status, reason}; }

// Reads the field section starting at p up to and including the empty line. `on_field` is
// called for each field as soon as its line is complete, so semantic errors surface early.
template <typename OnField>
ParseResult parse_fields(const char*& p, const char* end, bool at_limit, Header* headers,
                         size_t& header_count, size_t max_headers, bool allow_underscores,
                         OnField&& on_field) {
  max_headers = std::min(max_headers, kMaxHeaders);
  while (true) {
    const FieldLine line = scan_field_line(p, end, allow_underscores);
    switch (line.outcome) {
      case LineOutcome::NeedMore:
        return at_limit ? error(431, "header section too large") : incomplete();
      case LineOutcome::Bad:
        return error(400, line.reason);
      case LineOutcome::EndOfSection:
        p = line.next;
        return ParseResult{ParseStatus::Complete, 0, 0, {}};
      case LineOutcome::Field:
        break;
    }
    if (header_count >= max_headers) {
      return error(431, "too many header fields");
    }
    headers[header_count++] = Header{line.name, line.value};
    const FieldVerdict verdict = on_field(line.name, line.value);
    if (verdict.status != 0) {
      return error(verdict.status, verdict.reason);
    }
    p = line.next;
  }
}

// The request-target forms of RFC 9112 §3.2. Fills path, query and (absolute-form) host.
bool split_target(RequestHead& out) {
  const std::string_view t = out.target;
  if (out.method == Method::Connect) {
    // authority-form only, and the port is mandatory (RFC 9110 §9.3.6).
    out.path = t;
    return valid_authority(t, /*require_port=*/true);
  }
  if (t[0] == '/') {
    const size_t q = t.find('?');
    if (q == std::string_view::npos) {
      out.path = t;
    } else {
      out.path = t.substr(0, q);
      out.query = t.substr(q + 1);
    }
    return true;
  }
  if (t == "*") {
    out.path = t;
    return out.method == Method::Options;  // asterisk-form, RFC 9112 §3.2.4
  }
  // absolute-form (RFC 9112 §3.2.2): only the schemes a gateway can serve.
  size_t i;
  if (t.size() > 7 && equals_lower(t.substr(0, 7), "http://")) {
    i = 7;
  } else if (t.size() > 8 && equals_lower(t.substr(0, 8), "https://")) {
    i = 8;
  } else {
    return false;
  }
  size_t authority_end = t.find_first_of("/?", i);
  if (authority_end == std::string_view::npos) {
    authority_end = t.size();
  }
  // userinfo is deprecated and must be treated as an error (RFC 9110 §4.2.4); '@' is not a
  // reg-name character, so valid_authority rejects it.
  const std::string_view authority = t.substr(i, authority_end - i);
  if (!valid_authority(authority, /*require_port=*/false)) {
    return false;
  }
  out.host = authority;
  const std::string_view rest = t.substr(authority_end);
  const size_t q = rest.find('?');
  std::string_view path = rest.substr(0, q);
  if (path.empty()) {
    path = "/";
  }
  out.path = path;
  if (q != std::string_view::npos) {
    out.query = rest.substr(q + 1);
  }
  return true;
}

ParseResult parse_request_head_impl(std::string_view buf, RequestHead& out,
                                    const ParseLimits& limits) {
  const char* const begin = buf.data();
  const bool at_limit = buf.size() >= limits.max_head_bytes;
  const char* const end = begin + std::min(buf.size(), limits.max_head_bytes);
  auto need_more = [&] { return at_limit ? error(431, "request header too large") : incomplete(); };

  const char* p = begin;
  for (int empty_lines = 0;; ++empty_lines) {
    if (p >= end) {
      return need_more();
    }
    if (*p != '\r' && *p != '\n') {
      break;
    }
    if (*p == '\n' || empty_lines == kMaxLeadingEmptyLines) {
      return error(400, "invalid empty line before request line");
    }
    if (p + 1 >= end) {
      return need_more();
    }
    if (p[1] != '\n') {
      return error(400, "bare CR before request line");
    }
    p += 2;
  }

  // request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3). Exactly one
  // SP between parts: lenient whitespace splitting is a known source of parser disagreement.
  const char* const line = p;
  const size_t line_room = static_cast<size_t>(end - line);
  const bool line_capped = line_room > limits.max_request_line;
  const char* const line_end = line_capped ? line + limits.max_request_line : end;
  auto line_ran_out = [&] {
    return line_capped || line_room == limits.max_request_line ? error(414, "request line too long")
                                                               : need_more();
  };

  while (p < line_end && is_char(*p, kToken)) {
    ++p;
  }
  if (p >= line_end) {
    return line_ran_out();
  }
  if (*p != ' ' || p == line) {
    return error(400, "invalid method");
  }
  out.method_text = std::string_view(line, static_cast<size_t>(p - line));
  out.method = method_from_text(out.method_text);
  ++p;

  const char* const target = p;
  while (p < line_end && is_char(*p, kTarget)) {
    ++p;
  }
  if (p >= line_end) {
    return line_ran_out();
  }
  if (*p != ' ') {
    return error(400, "invalid character in request target");
  }
  if (p == target) {
    return error(400, "empty request target");
  }
  out.target = std::string_view(target, static_cast<size_t>(p - target));
  ++p;

  // Known as soon as the target ends, since the version is exactly 8 bytes.
  if (static_cast<size_t>(p - line) + 8 > limits.max_request_line) {
    return error(414, "request line too long");
  }
  int rc = parse_version(p, end, out.version_minor);
  if (rc == 400) {
    return error(400, "invalid HTTP version");
  }
  if (rc == 505) {
    return error(505, "unsupported HTTP version");
  }
  if (rc == 0) {
    rc = expect_crlf(p + 8, end);
    if (rc == 400) {
      return error(400, "request line not terminated by CRLF");
    }
  }
  if (rc == -1) {
    return need_more();
  }
  p += 10;

  out.path = {};
  out.query = {};
  out.host = {};
  if (!split_target(out)) {
    return error(400, "invalid request target");
  }

  out.header_count = 0;
  out.has_content_length = false;
  out.content_length = 0;
  out.chunked = false;
  out.expect_continue = false;
  FieldState state;
  const bool absolute_form = !out.host.empty();
  auto on_field = [&](std::string_view name, std::string_view value) -> FieldVerdict {
    switch (classify_field(name)) {
      case KnownField::Host:
        // RFC 9112 §3.2: more than one Host, or an invalid one, is a 400.
        if (++state.host_count > 1) {
          return reject(400, "duplicate Host header");
        }
        if (!valid_authority(value, /*require_port=*/false)) {
          return reject(400, "invalid Host header");
        }
        if (!absolute_form) {
          out.host = value;
        }
        break;
      case KnownField::ContentLength:
        if (out.has_content_length) {
          return reject(400, "duplicate Content-Length header");
        }
        if (!parse_content_length(value, out.content_length)) {
          return reject(400, "invalid Content-Length header");
        }
        if (state.has_transfer_encoding) {
          return reject(400, "both Transfer-Encoding and Content-Length");
        }
        out.has_content_length = true;
        break;
      case KnownField::TransferEncoding: {
        if (state.has_transfer_encoding) {
          return reject(400, "duplicate Transfer-Encoding header");
        }
        state.has_transfer_encoding = true;
        // A 1.0 peer cannot send chunked framing (RFC 9112 §6.1), so an intermediary
        // downstream of it would frame the message differently: treat as smuggling.
        if (out.version_minor == 0) {
          return reject(400, "Transfer-Encoding in HTTP/1.0 request");
        }
        const int te = classify_transfer_encoding(value);
        if (te == 400) {
          return reject(400, "invalid Transfer-Encoding header");
        }
        if (te == 501) {
          return reject(501, "unsupported transfer coding");
        }
        // RFC 9112 §6.3 rule 3 lets TE override CL, but also calls the pair a likely attack.
        if (out.has_content_length) {
          return reject(400, "both Transfer-Encoding and Content-Length");
        }
        out.chunked = true;
        break;
      }
      case KnownField::Connection:
        scan_connection(value, state.connection);
        break;
      case KnownField::Expect:
        // RFC 9110 §10.1.1: an HTTP/1.0 request's 100-continue expectation is ignored.
        if (out.version_minor == 1 && equals_lower(value, "100-continue")) {
          out.expect_continue = true;
        }
        break;
      case KnownField::Upgrade:
        state.has_upgrade_field = true;
        break;
      case KnownField::None:
        break;
    }
    return kFieldOk;
  };
  ParseResult r = parse_fields(p, end, at_limit, out.headers, out.header_count, limits.max_headers,
                               limits.allow_underscores_in_headers, on_field);
  if (r.status != ParseStatus::Complete) {
    return r;
  }
  if (out.version_minor == 1 && state.host_count == 0) {
    return error(400, "missing Host header");
  }
  out.keep_alive = out.version_minor == 1 ? !state.connection.close
                                          : state.connection.keep_alive && !state.connection.close;
  // RFC 9110 §7.8: a server must ignore Upgrade in an HTTP/1.0 request.
  out.upgrade = out.version_minor == 1 && state.connection.upgrade && state.has_upgrade_field;
  out.head_bytes = static_cast<size_t>(p - begin);
  return ParseResult{ParseStatus::Complete, out.head_bytes, 0, {}};
}

ParseResult parse_response_head_impl(std::string_view buf, ResponseHead& out,
                                     const ParseLimits& limits) {
  const char* const begin = buf.data();
  const bool at_limit = buf.size() >= limits.max_head_bytes;
  const char* const end = begin + std::min(buf.size(), limits.max_head_bytes);
  auto need_more = [&] {
    return at_limit ? error(431, "response header too large") : incomplete();
  };

  // status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF (RFC 9112 §4)
  const char* p = begin;
  int rc = parse_version(p, end, out.version_minor);
  if (rc == -1) {
    return need_more();
  }
  if (rc != 0) {
    return error(rc, "invalid HTTP version in status line");
  }
  p += 8;
  if (p >= end) {
    return need_more();
  }
  if (*p != ' ') {
    return error(400, "invalid status line");
  }
  ++p;
  int status = 0;
  for (int i = 0; i < 3; ++i, ++p) {
    if (p >= end) {
      return need_more();
    }
    if (!is_digit(*p)) {
      return error(400, "invalid status code");
    }
    status = status * 10 + (*p - '0');
  }
  if (status < 100 || status > 599) {
    return error(400, "invalid status code");
  }
  out.status = status;
  if (p >= end) {
    return need_more();
  }
  // RFC 9112 §4: a recipient should accept a status line whose SP before an empty reason
  // phrase is missing.
  const char* reason = p;
  if (*p == ' ') {
    ++p;
    reason = p;
    while (p < end && is_char(*p, kFieldValue)) {
      ++p;
    }
  }
  rc = expect_crlf(p, end);
  if (rc == -1) {
    return need_more();
  }
  if (rc != 0) {
    return error(400, "invalid status line");
  }
  out.reason = std::string_view(reason, static_cast<size_t>(p - reason));
  p += 2;

  out.header_count = 0;
  out.has_content_length = false;
  out.content_length = 0;
  out.chunked = false;
  FieldState state;
  auto on_field = [&](std::string_view name, std::string_view value) -> FieldVerdict {
    switch (classify_field(name)) {
      case KnownField::ContentLength:
        if (out.has_content_length) {
          return reject(400, "duplicate Content-Length header");
        }
        if (!parse_content_length(value, out.content_length)) {
          return reject(400, "invalid Content-Length header");
        }
        if (state.has_transfer_encoding) {
          return reject(400, "both Transfer-Encoding and Content-Length");
        }
        out.has_content_length = true;
        break;
      case KnownField::TransferEncoding:
        if (state.has_transfer_encoding) {
          return reject(400, "duplicate Transfer-Encoding header");
        }
        state.has_transfer_encoding = true;
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
        if (out.version_minor == 0) {
          return reject(400, "Transfer-Encoding in HTTP/1.0 response");
        }
        if (!equals_lower(value, "chunked")) {
          return reject(400, "unsupported Transfer-Encoding in response");
        }
        if (out.has_content_length) {
          return reject(400, "both Transfer-Encoding and Content-Length");
        }
        out.chunked = true;
        break;
      case KnownField::Connection:
        scan_connection(value, state.connection);
        break;
      default:
        break;
    }
    return kFieldOk;
  };
  ParseResult r = parse_fields(p, end, at_limit, out.headers, out.header_count, limits.max_headers,
                               /*allow_underscores=*/true, on_field);
  if (r.status != ParseStatus::Complete) {
    return r;
  }
  out.keep_alive = out.version_minor == 1 ? !state.connection.close
                                          : state.connection.keep_alive && !state.connection.close;
  out.head_bytes = static_cast<size_t>(p - begin);
  return ParseResult{ParseStatus::Complete, out.head_bytes, 0, {}};
}

}  // namespace

bool is_tchar(char c) { return is_char(c, kToken); }

FieldLineResult parse_field_line(std::string_view buf, bool allow_underscores) {
  const FieldLine line = scan_field_line(buf.data(), buf.data() + buf.size(), allow_underscores);
  switch (line.outcome) {
    case LineOutcome::Field:
      return FieldLineResult{FieldLineStatus::Field,
                             static_cast<size_t>(line.next - buf.data()),
                             line.name,
                             line.value,
                             {}};
    case LineOutcome::EndOfSection:
      return FieldLineResult{FieldLineStatus::EndOfSection, 2, {}, {}, {}};
    case LineOutcome::NeedMore:
      return FieldLineResult{FieldLineStatus::Incomplete, 0, {}, {}, {}};
    case LineOutcome::Bad:
      break;
  }
  return FieldLineResult{FieldLineStatus::Error, 0, {}, {}, line.reason};
}

Method method_from_text(std::string_view m) {
  switch (m.size()) {
    case 3:
      if (m == "GET") {
        return Method::Get;
      }
      if (m == "PUT") {
        return Method::Put;
      }
      break;
    case 4:
      if (m == "POST") {
        return Method::Post;
      }
      if (m == "HEAD") {
        return Method::Head;
      }
      break;
    case 5:
      if (m == "PATCH") {
        return Method::Patch;
      }
      if (m == "PURGE") {
        return Method::Purge;
      }
      if (m == "TRACE") {
        return Method::Trace;
      }
      break;
    case 6:
      if (m == "DELETE") {
        return Method::Delete;
      }
      break;
    case 7:
      if (m == "OPTIONS") {
        return Method::Options;
      }
      if (m == "CONNECT") {
        return Method::Connect;
      }
      break;
    default:
      break;
  }
  return Method::Other;
}

ParseResult parse_request_head(std::string_view buf, RequestHead& out, const ParseLimits& limits) {
  return parse_request_head_impl(buf, out, limits);
}

ParseResult parse_response_head(std::string_view buf, ResponseHead& out,
                                const ParseLimits& limits) {
  ParseResult r = parse_response_head_impl(buf, out, limits);
  if (r.status == ParseStatus::Error) {
    r.error_status = 502;
  }
  return r;
}

BodyKind request_body_kind(const RequestHead& head) {
  if (head.chunked) {
    return BodyKind::Chunked;
  }
  if (head.has_content_length && head.content_length > 0) {
    return BodyKind::ContentLength;
  }
  return BodyKind::None;
}

BodyKind response_body_kind(const ResponseHead& head, Method request_method) {
  if (request_method == Method::Head || head.status < 200 || head.status == 204 ||
      head.status == 304) {
    return BodyKind::None;
  }
  if (request_method == Method::Connect && head.status < 300) {
    return BodyKind::None;
  }
  if (head.chunked) {
    return BodyKind::Chunked;
  }
  if (head.has_content_length) {
    return head.content_length > 0 ? BodyKind::ContentLength : BodyKind::None;
  }
  return BodyKind::UntilClose;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) {
      return false;
    }
  }
  return true;
}

const Header* find_header(const Header* headers, size_t count, std::string_view name) {
  for (size_t i = 0; i < count; ++i) {
    if (iequals(headers[i].name, name)) {
      return &headers[i];
    }
  }
  return nullptr;
}

bool connection_has_token(std::string_view connection_value, std::string_view token) {
  bool found = false;
  for_each_list_element(connection_value,
                        [&](std::string_view item) { found = found || iequals(item, token); });
  return found;
}

}  // namespace apisix::http
