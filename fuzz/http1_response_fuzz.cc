// Fuzzes parse_response_head and response_body_kind. The input is the bytes an upstream sent,
// so corpus files are plain responses. Checks that views stay inside the buffer, that a
// Complete head obeys the framing rules, and that a prefix is Incomplete or gets the same
// verdict as the whole buffer.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "http/parser.h"

namespace {

using apisix::fuzz::inside;
using apisix::fuzz::require;

using apisix::http::BodyKind;
using apisix::http::Method;
using apisix::http::ParseLimits;
using apisix::http::ParseResult;
using apisix::http::ParseStatus;
using apisix::http::ResponseHead;

void check_head(std::string_view buf, const ParseResult& r, const ResponseHead& head,
                const ParseLimits& limits) {
  require(r.consumed <= buf.size(), "consumed within buffer");
  if (r.status == ParseStatus::Error) {
    require(r.error_status == 502 && !r.error_reason.empty() && r.consumed == 0,
            "response errors are 502 with a reason");
    return;
  }
  if (r.status == ParseStatus::Incomplete) {
    require(r.consumed == 0 && buf.size() < limits.max_head_bytes, "incomplete below limit");
    return;
  }
  const std::string_view head_bytes = buf.substr(0, r.consumed);
  require(r.consumed == head.head_bytes && head_bytes.ends_with("\r\n\r\n"), "head framing");
  require(head.status >= 100 && head.status <= 599, "status in range");
  require(head.version_minor == 0 || head.version_minor == 1, "HTTP/1.x");
  require(inside(head_bytes, head.reason), "reason inside head");
  require(!(head.chunked && head.has_content_length), "never both CL and TE");
  require(head.header_count <= limits.max_headers, "header count within limit");
  for (size_t i = 0; i < head.header_count; ++i) {
    require(inside(head_bytes, head.headers[i].name) && inside(head_bytes, head.headers[i].value),
            "field inside head");
    require(!head.headers[i].name.empty(), "field name not empty");
  }
  for (Method m : {Method::Get, Method::Head, Method::Connect, Method::Post}) {
    const BodyKind kind = apisix::http::response_body_kind(head, m);
    if (m == Method::Head || head.status < 200 || head.status == 204 || head.status == 304) {
      require(kind == BodyKind::None, "no body for HEAD, 1xx, 204, 304");
    }
    if (kind == BodyKind::Chunked) {
      require(head.chunked, "chunked only with Transfer-Encoding");
    }
    if (kind == BodyKind::ContentLength) {
      require(head.has_content_length && head.content_length > 0, "length only with CL");
    }
  }
}

void check_prefix(std::string_view buf, size_t len, const ParseResult& whole,
                  const ParseLimits& limits) {
  ResponseHead head;
  const ParseResult r = apisix::http::parse_response_head(buf.substr(0, len), head, limits);
  check_head(buf.substr(0, len), r, head, limits);
  if (r.status != ParseStatus::Incomplete) {
    require(r.status == whole.status && r.consumed == whole.consumed, "prefix verdict matches");
  }
}

void run(std::string_view buf, const ParseLimits& limits) {
  ResponseHead head;
  const ParseResult r = apisix::http::parse_response_head(buf, head, limits);
  check_head(buf, r, head, limits);
  if (buf.empty()) {
    return;
  }
  check_prefix(buf, buf.size() - 1, r, limits);
  check_prefix(buf, buf.size() / 2, r, limits);
  if (r.status == ParseStatus::Complete) {
    check_prefix(buf, r.consumed - 1, r, limits);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view buf(reinterpret_cast<const char*>(data), size);
  run(buf, ParseLimits{});
  const uint8_t seed = size > 0 ? data[size - 1] : 0;
  ParseLimits small;
  small.max_head_bytes = 32 + seed % 128;
  small.max_headers = seed % 5;
  run(buf, small);
  return 0;
}
