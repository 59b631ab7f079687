// Fuzzes parse_request_head. The input is the received bytes, so corpus files are plain
// requests. Besides memory safety it checks what callers rely on: views stay inside the
// buffer, a Complete head obeys the strictness rules, and the verdict does not depend on how
// the bytes arrived (a prefix is Incomplete or gets the same verdict).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "http/parser.h"

namespace {

using apisix::fuzz::inside;
using apisix::fuzz::require;

using apisix::http::Header;
using apisix::http::is_tchar;
using apisix::http::ParseLimits;
using apisix::http::ParseResult;
using apisix::http::ParseStatus;
using apisix::http::RequestHead;

bool is_ows(char c) { return c == ' ' || c == '\t'; }

void check_head(std::string_view buf, const ParseResult& r, const RequestHead& head,
                const ParseLimits& limits) {
  require(r.consumed <= buf.size(), "consumed within buffer");
  if (r.status == ParseStatus::Error) {
    const int s = r.error_status;
    require(s == 400 || s == 414 || s == 431 || s == 501 || s == 505, "known error status");
    require(!r.error_reason.empty(), "error has a reason");
    require(r.consumed == 0, "error consumes nothing");
    return;
  }
  if (r.status == ParseStatus::Incomplete) {
    require(r.consumed == 0 && r.error_status == 0, "incomplete consumes nothing");
    require(buf.size() < limits.max_head_bytes, "incomplete only below the head limit");
    return;
  }
  require(r.consumed > 0 && r.consumed == head.head_bytes, "head_bytes == consumed");
  require(r.consumed <= limits.max_head_bytes, "head within limit");
  require(buf.substr(0, r.consumed).ends_with("\r\n\r\n"), "head ends with CRLF CRLF");
  const std::string_view head_bytes = buf.substr(0, r.consumed);
  for (std::string_view v : {head.method_text, head.target, head.query, head.host}) {
    require(inside(head_bytes, v), "view inside head");
  }
  require(head.path == "/" || inside(head_bytes, head.path), "path inside head");
  require(!head.method_text.empty() && !head.target.empty(), "method and target present");
  for (char c : head.method_text) {
    require(is_tchar(c), "method is a token");
  }
  for (char c : head.target) {
    require(c > 0x20 && c < 0x7f, "target is visible ASCII");
  }
  require(head.version_minor == 0 || head.version_minor == 1, "HTTP/1.0 or HTTP/1.1");
  require(head.version_minor == 0 || !head.host.empty(), "HTTP/1.1 has a host");
  require(!(head.chunked && head.has_content_length), "never both CL and TE");
  require(!(head.chunked && head.version_minor == 0), "no TE in HTTP/1.0");
  require(head.header_count <= limits.max_headers, "header count within limit");
  for (size_t i = 0; i < head.header_count; ++i) {
    const Header& h = head.headers[i];
    require(inside(head_bytes, h.name) && inside(head_bytes, h.value), "field inside head");
    require(!h.name.empty(), "field name not empty");
    for (char c : h.name) {
      require(is_tchar(c), "field name is a token");
      require(limits.allow_underscores_in_headers || c != '_', "underscore only when allowed");
    }
    require(h.value.empty() || (!is_ows(h.value.front()) && !is_ows(h.value.back())),
            "value trimmed");
    for (char c : h.value) {
      const auto u = static_cast<unsigned char>(c);
      require(u >= 0x20 ? u != 0x7f : c == '\t', "no CTL in value");
    }
  }
  if (head.has_content_length) {
    require(head.content_length <= 0x7fffffffffffffffULL, "content length bounded");
  }
}

// The verdict for a prefix: still waiting, or the same as for the whole buffer.
void check_prefix(std::string_view buf, size_t len, const ParseResult& whole,
                  const ParseLimits& limits) {
  RequestHead head;
  const ParseResult r = apisix::http::parse_request_head(buf.substr(0, len), head, limits);
  check_head(buf.substr(0, len), r, head, limits);
  if (r.status == ParseStatus::Incomplete) {
    return;
  }
  require(r.status == whole.status, "prefix verdict matches");
  require(r.error_status == whole.error_status, "prefix error status matches");
  require(r.consumed == whole.consumed, "prefix consumed matches");
}

void run(std::string_view buf, const ParseLimits& limits) {
  RequestHead head;
  const ParseResult r = apisix::http::parse_request_head(buf, head, limits);
  check_head(buf, r, head, limits);
  if (buf.empty()) {
    return;
  }
  check_prefix(buf, buf.size() - 1, r, limits);
  check_prefix(buf, buf.size() / 2, r, limits);
  if (r.status == ParseStatus::Complete) {
    check_prefix(buf, r.consumed - 1, r, limits);
    check_prefix(buf, r.consumed, r, limits);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view buf(reinterpret_cast<const char*>(data), size);
  run(buf, ParseLimits{});
  // Small limits, chosen from the input so each is explored at its edges too.
  const uint8_t seed = size > 0 ? data[size - 1] : 0;
  ParseLimits small;
  small.max_request_line = 16 + seed % 48;
  small.max_head_bytes = 48 + (seed >> 2) % 96;
  small.max_headers = seed % 5;
  small.allow_underscores_in_headers = (seed & 1) != 0;
  run(buf, small);
  return 0;
}
