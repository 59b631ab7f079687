#include "http/parser.h"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace apisix::http {
namespace {

using namespace std::string_view_literals;

ParseResult parse(std::string_view buf, RequestHead& head, const ParseLimits& limits = {}) {
  return parse_request_head(buf, head, limits);
}

std::string_view header_value(const RequestHead& head, std::string_view name) {
  const Header* h = find_header(head.headers, head.header_count, name);
  return h == nullptr ? "<none>"sv : h->value;
}

// ---------------------------------------------------------------------------------------------
// Rejections: each case is a complete head (or a prefix that is already invalid) and the
// status the parser must answer with.

struct RejectCase {
  const char* name;
  std::string_view input;
  int status;
};

std::ostream& operator<<(std::ostream& os, const RejectCase& c) { return os << c.name; }

const RejectCase kRejectCases[] = {
    // request line (RFC 9112 §3)
    {"empty_method", " / HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"bad_method_char", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"method_with_nul", "GE\0T / HTTP/1.1\r\n"sv, 400},
    {"two_spaces_after_method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"two_spaces_before_version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"tab_separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"target_with_ctl", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"target_with_del", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"target_with_obs_text", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"target_relative", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"asterisk_not_options", "GET * HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"authority_not_connect", "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"connect_origin_form", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"connect_without_port", "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"absolute_form_userinfo", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"absolute_form_empty_host", "GET http:/// HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"absolute_form_other_scheme", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"missing_version", "GET /\r\nHost: a\r\n\r\n"sv, 400},
    {"lowercase_version", "GET / http/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"version_two_digit_minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n"sv, 400},
    {"version_trailing_space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n"sv, 400},
    {"version_garbage", "GET / HTTP/x.1\r\nHost: a\r\n\r\n"sv, 400},
    {"version_2_0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n"sv, 505},
    {"version_0_9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n"sv, 505},
    {"version_1_2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n"sv, 505},
    {"request_line_bare_lf", "GET / HTTP/1.1\nHost: a\r\n\r\n"sv, 400},
    {"request_line_bare_cr", "GET / HTTP/1.1\rHost: a\r\n\r\n"sv, 400},
    {"leading_bare_lf", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"leading_bare_cr", "\rXGET / HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    {"too_many_leading_crlf", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"sv, 400},
    // field lines (RFC 9112 §5)
    {"space_before_colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"sv, 400},
    {"tab_before_colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A\t: b\r\n\r\n"sv, 400},
    {"no_colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"sv, 400},
    {"empty_name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n"sv, 400},
    {"obs_fold_space", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n"sv, 400},
    {"obs_fold_tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n"sv, 400},
    {"name_with_slash", "GET / HTTP/1.1\r\nHost: a\r\nX/A: b\r\n\r\n"sv, 400},
    {"value_with_nul", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n"sv, 400},
    {"value_with_bare_cr", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n"sv, 400},
    {"value_with_ctl", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x1b[0m\r\n\r\n"sv, 400},
    {"value_with_del", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x7f\r\n\r\n"sv, 400},
    {"field_bare_lf", "GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n"sv, 400},
    {"final_bare_lf", "GET / HTTP/1.1\r\nHost: a\r\n\n"sv, 400},
    {"final_bare_cr", "GET / HTTP/1.1\r\nHost: a\r\n\rX"sv, 400},
    // Host (RFC 9112 §3.2)
    {"missing_host_1_1", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n"sv, 400},
    {"duplicate_host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"sv, 400},
    {"host_with_space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"sv, 400},
    {"host_with_slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"sv, 400},
    {"host_with_at", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"sv, 400},
    {"host_empty", "GET / HTTP/1.1\r\nHost:\r\n\r\n"sv, 400},
    {"host_dot_dot", "GET / HTTP/1.1\r\nHost: a..b\r\n\r\n"sv, 400},
    {"host_bad_port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n"sv, 400},
    {"host_port_too_big", "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n"sv, 400},
    {"host_unclosed_ipv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"sv, 400},
    {"host_ipv6_junk", "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n"sv, 400},
    {"host_bad_pct", "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n"sv, 400},
    // Content-Length (RFC 9110 §8.6, RFC 9112 §6.3)
    {"cl_plus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"sv, 400},
    {"cl_negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"sv, 400},
    {"cl_hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n"sv, 400},
    {"cl_empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"sv, 400},
    {"cl_inner_space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n"sv, 400},
    {"cl_list_same", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n"sv, 400},
    {"cl_list_differs", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,6\r\n\r\n"sv, 400},
    {"cl_duplicate_same",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"sv, 400},
    {"cl_duplicate_differs",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"sv, 400},
    {"cl_twenty_digits",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000000000000000\r\n\r\n"sv, 400},
    {"cl_above_int64",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n"sv, 400},
    // Transfer-Encoding (RFC 9112 §6.1, §6.3, §11.2)
    {"te_and_cl",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"sv,
     400},
    {"cl_after_te",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"sv,
     400},
    {"te_gzip_chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"sv,
     501},
    {"te_identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n"sv, 501},
    {"te_chunked_twice",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"sv, 400},
    {"te_xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n"sv, 501},
    {"te_chunked_param", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n"sv,
     501},
    {"te_chunked_bare_param",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x\r\n\r\n"sv, 400},
    {"te_chunked_junk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked x\r\n\r\n"sv,
     400},
    {"te_chunked_trailing_comma",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n"sv, 400},
    {"te_empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n"sv, 400},
    {"te_duplicate_field",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
     "chunked\r\n\r\n"sv,
     400},
    {"te_in_http_1_0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"sv, 400},
    {"te_vertical_tab", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \vchunked\r\n\r\n"sv,
     400},
};

class RejectTest : public ::testing::TestWithParam<RejectCase> {};

TEST_P(RejectTest, RejectsWithStatus) {
  const RejectCase& c = GetParam();
  RequestHead head;
  const ParseResult r = parse(c.input, head);
  EXPECT_EQ(r.status, ParseStatus::Error) << c.name;
  EXPECT_EQ(r.error_status, c.status) << c.name << ": " << r.error_reason;
  EXPECT_FALSE(r.error_reason.empty());
  EXPECT_EQ(r.consumed, 0u);

  // Fed in pieces, the verdict never flips to Complete and ends the same.
  for (size_t len = 0; len < c.input.size(); ++len) {
    RequestHead partial;
    const ParseResult pr = parse(c.input.substr(0, len), partial);
    ASSERT_NE(pr.status, ParseStatus::Complete) << c.name << " at " << len;
    if (pr.status == ParseStatus::Error) {
      EXPECT_EQ(pr.error_status, c.status) << c.name << " at " << len;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Parser, RejectTest, ::testing::ValuesIn(kRejectCases),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// Acceptance: a table of valid heads and the facts the parser must report.

struct AcceptCase {  // NOLINT(clang-analyzer-optin.performance.Padding): readable order
  const char* name;
  std::string_view input;
  std::string_view method;
  Method method_id;
  std::string_view path;
  std::string_view query;
  std::string_view host;
  int version_minor;
  bool keep_alive;
  BodyKind body;
};

std::ostream& operator<<(std::ostream& os, const AcceptCase& c) { return os << c.name; }

const AcceptCase kAcceptCases[] = {
    {"simple_get", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"sv, "GET", Method::Get, "/", "",
     "example.com", 1, true, BodyKind::None},
    {"query", "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: a\r\n\r\n"sv, "GET", Method::Get, "/a/b",
     "x=1&y=2", "a", 1, true, BodyKind::None},
    {"empty_query", "GET /a? HTTP/1.1\r\nHost: a\r\n\r\n"sv, "GET", Method::Get, "/a", "", "a", 1,
     true, BodyKind::None},
    {"head", "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n"sv, "HEAD", Method::Head, "/x", "", "a", 1, true,
     BodyKind::None},
    {"options_asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"sv, "OPTIONS", Method::Options, "*",
     "", "a", 1, true, BodyKind::None},
    {"absolute_form", "GET http://Example.com:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n"sv, "GET",
     Method::Get, "/p", "q", "Example.com:8080", 1, true, BodyKind::None},
    {"absolute_form_https_no_path", "GET HTTPS://a.b HTTP/1.1\r\nHost: a.b\r\n\r\n"sv, "GET",
     Method::Get, "/", "", "a.b", 1, true, BodyKind::None},
    {"absolute_form_query_no_path", "GET http://a?x HTTP/1.1\r\nHost: a\r\n\r\n"sv, "GET",
     Method::Get, "/", "x", "a", 1, true, BodyKind::None},
    {"connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"sv, "CONNECT",
     Method::Connect, "example.com:443", "", "example.com:443", 1, true, BodyKind::None},
    {"extension_method", "MKCOL /d HTTP/1.1\r\nHost: a\r\n\r\n"sv, "MKCOL", Method::Other, "/d", "",
     "a", 1, true, BodyKind::None},
    {"lowercase_method_is_other", "get / HTTP/1.1\r\nHost: a\r\n\r\n"sv, "get", Method::Other, "/",
     "", "a", 1, true, BodyKind::None},
    {"http_1_0_no_host", "GET / HTTP/1.0\r\n\r\n"sv, "GET", Method::Get, "/", "", "", 0, false,
     BodyKind::None},
    {"http_1_0_keep_alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"sv, "GET",
     Method::Get, "/", "", "", 0, true, BodyKind::None},
    {"http_1_1_close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"sv, "GET",
     Method::Get, "/", "", "a", 1, false, BodyKind::None},
    {"close_wins", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"sv, "GET", Method::Get,
     "/", "", "", 0, false, BodyKind::None},
    {"post_content_length", "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n"sv, "POST",
     Method::Post, "/f", "", "a", 1, true, BodyKind::ContentLength},
    {"post_content_length_zero", "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"sv,
     "POST", Method::Post, "/f", "", "a", 1, true, BodyKind::None},
    {"post_chunked", "POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"sv, "POST",
     Method::Post, "/f", "", "a", 1, true, BodyKind::Chunked},
    {"chunked_mixed_case_ows",
     "PUT /f HTTP/1.1\r\nHost: a\r\ntransfer-encoding:\t ChUnKeD \t\r\n\r\n"sv, "PUT", Method::Put,
     "/f", "", "a", 1, true, BodyKind::Chunked},
    {"leading_crlf", "\r\n\r\nDELETE /r HTTP/1.1\r\nHost: a\r\n\r\n"sv, "DELETE", Method::Delete,
     "/r", "", "a", 1, true, BodyKind::None},
    {"host_ipv6_port", "GET / HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n"sv, "GET", Method::Get,
     "/", "", "[2001:db8::1]:8443", 1, true, BodyKind::None},
    {"host_trailing_ows", "GET / HTTP/1.1\r\nHost:   a.example  \r\n\r\n"sv, "GET", Method::Get,
     "/", "", "a.example", 1, true, BodyKind::None},
    {"host_empty_port", "GET / HTTP/1.1\r\nhost: a:\r\n\r\n"sv, "GET", Method::Get, "/", "",
     "a:", 1, true, BodyKind::None},
    {"target_with_punctuation",
     "GET /a/%7e;p=1/~x!$&'()*+,=:@?q=\"<>\" HTTP/1.1\r\nHost: a\r\n\r\n"sv, "GET", Method::Get,
     "/a/%7e;p=1/~x!$&'()*+,=:@", "q=\"<>\"", "a", 1, true, BodyKind::None},
    {"purge", "PURGE /c HTTP/1.1\r\nHost: a\r\n\r\n"sv, "PURGE", Method::Purge, "/c", "", "a", 1,
     true, BodyKind::None},
    {"patch", "PATCH /c HTTP/1.1\r\nHost: a\r\n\r\n"sv, "PATCH", Method::Patch, "/c", "", "a", 1,
     true, BodyKind::None},
};

class AcceptTest : public ::testing::TestWithParam<AcceptCase> {};

TEST_P(AcceptTest, ParsesFields) {
  const AcceptCase& c = GetParam();
  RequestHead head;
  const ParseResult r = parse(c.input, head);
  ASSERT_EQ(r.status, ParseStatus::Complete) << r.error_reason;
  EXPECT_EQ(r.consumed, c.input.size());
  EXPECT_EQ(head.head_bytes, c.input.size());
  EXPECT_EQ(head.method_text, c.method);
  EXPECT_EQ(head.method, c.method_id);
  EXPECT_EQ(head.path, c.path);
  EXPECT_EQ(head.query, c.query);
  EXPECT_EQ(head.host, c.host);
  EXPECT_EQ(head.version_minor, c.version_minor);
  EXPECT_EQ(head.keep_alive, c.keep_alive);
  EXPECT_EQ(request_body_kind(head), c.body);
}

// Fed one byte at a time, the parser says Incomplete until the last byte, then gives the same
// answer as for the whole buffer.
TEST_P(AcceptTest, ByteByByte) {
  const AcceptCase& c = GetParam();
  for (size_t len = 0; len < c.input.size(); ++len) {
    RequestHead head;
    const ParseResult r = parse(c.input.substr(0, len), head);
    ASSERT_EQ(r.status, ParseStatus::Incomplete) << "at " << len << ": " << r.error_reason;
    EXPECT_EQ(r.consumed, 0u);
  }
  RequestHead whole;
  ASSERT_EQ(parse(c.input, whole).status, ParseStatus::Complete);
  EXPECT_EQ(whole.path, c.path);
}

INSTANTIATE_TEST_SUITE_P(Parser, AcceptTest, ::testing::ValuesIn(kAcceptCases),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// Individual behaviours.

TEST(ParseRequest, HeadersKeepOrderAndTrimOws) {
  const std::string_view in =
      "GET /x HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Ows: \t v a l \t\r\nx-obs: caf\xc3\xa9\r\n"
      "X-Tab:\tin\tside\r\n\r\n"sv;
  RequestHead head;
  ASSERT_EQ(parse(in, head).status, ParseStatus::Complete);
  ASSERT_EQ(head.header_count, 5u);
  EXPECT_EQ(head.headers[0].name, "Host");
  EXPECT_EQ(head.headers[1].name, "X-Empty");
  EXPECT_EQ(head.headers[1].value, "");
  EXPECT_EQ(head.headers[2].value, "v a l");
  EXPECT_EQ(head.headers[3].value, "caf\xc3\xa9");  // obs-text is allowed in values
  EXPECT_EQ(head.headers[4].value, "in\tside");
  EXPECT_EQ(header_value(head, "X-OWS"), "v a l");
  EXPECT_EQ(header_value(head, "missing"), "<none>");
}

TEST(ParseRequest, ViewsPointIntoBuffer) {
  const std::string in = "GET /p?q HTTP/1.1\r\nHost: h\r\nA: b\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parse(in, head).status, ParseStatus::Complete);
  for (std::string_view v : {head.method_text, head.target, head.path, head.query, head.host,
                             head.headers[1].name, head.headers[1].value}) {
    EXPECT_GE(v.data(), in.data());
    EXPECT_LE(v.data() + v.size(), in.data() + in.size());
  }
}

TEST(ParseRequest, PipelinedRequestsConsumeExactlyOne) {
  const std::string_view first = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"sv;
  const std::string_view second = "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"sv;
  const std::string both = std::string(first) + std::string(second);
  RequestHead head;
  ParseResult r = parse(both, head);
  ASSERT_EQ(r.status, ParseStatus::Complete);
  EXPECT_EQ(r.consumed, first.size());
  EXPECT_EQ(head.path, "/1");
  r = parse(std::string_view(both).substr(r.consumed), head);
  ASSERT_EQ(r.status, ParseStatus::Complete);
  EXPECT_EQ(r.consumed, second.size());
  EXPECT_EQ(head.path, "/2");
}

TEST(ParseRequest, BodyBytesAfterHeadAreNotConsumed) {
  const std::string_view in = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"sv;
  RequestHead head;
  const ParseResult r = parse(in, head);
  ASSERT_EQ(r.status, ParseStatus::Complete);
  EXPECT_EQ(in.substr(r.consumed), "hello");
  EXPECT_TRUE(head.has_content_length);
  EXPECT_EQ(head.content_length, 5u);
}

TEST(ParseRequest, LargestContentLength) {
  RequestHead head;
  ASSERT_EQ(parse("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", head)
                .status,
            ParseStatus::Complete);
  EXPECT_EQ(head.content_length, 9223372036854775807ULL);
  ASSERT_EQ(parse("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", head).status,
            ParseStatus::Complete);
  EXPECT_EQ(head.content_length, 7u);
}

TEST(ParseRequest, ExpectContinue) {
  RequestHead head;
  ASSERT_EQ(parse("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: "
                  "3\r\n\r\n",
                  head)
                .status,
            ParseStatus::Complete);
  EXPECT_TRUE(head.expect_continue);
  // RFC 9110 §10.1.1: ignored in HTTP/1.0.
  ASSERT_EQ(parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", head).status,
            ParseStatus::Complete);
  EXPECT_FALSE(head.expect_continue);
  ASSERT_EQ(parse("PUT / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", head).status,
            ParseStatus::Complete);
  EXPECT_FALSE(head.expect_continue);
}

TEST(ParseRequest, Upgrade) {
  RequestHead head;
  ASSERT_EQ(parse("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
                  "Upgrade: websocket\r\n\r\n",
                  head)
                .status,
            ParseStatus::Complete);
  EXPECT_TRUE(head.upgrade);
  EXPECT_TRUE(head.keep_alive);
  // The token alone, or the field alone, is not an upgrade.
  ASSERT_EQ(parse("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n", head).status,
            ParseStatus::Complete);
  EXPECT_FALSE(head.upgrade);
  ASSERT_EQ(parse("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", head).status,
            ParseStatus::Complete);
  EXPECT_FALSE(head.upgrade);
  // RFC 9110 §7.8: ignored in HTTP/1.0.
  ASSERT_EQ(
      parse("GET /ws HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", head).status,
      ParseStatus::Complete);
  EXPECT_FALSE(head.upgrade);
  // Tokens may be spread over several Connection fields.
  ASSERT_EQ(parse("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: foo\r\nUpgrade: h2c\r\n"
                  "Connection: UPGRADE\r\n\r\n",
                  head)
                .status,
            ParseStatus::Complete);
  EXPECT_TRUE(head.upgrade);
}

TEST(ParseRequest, UnderscoresInHeaderNames) {
  const std::string_view in = "GET / HTTP/1.1\r\nHost: a\r\nX_Forwarded: b\r\n\r\n"sv;
  RequestHead head;
  EXPECT_EQ(parse(in, head).status, ParseStatus::Complete);
  ParseLimits strict;
  strict.allow_underscores_in_headers = false;
  const ParseResult r = parse(in, head, strict);
  EXPECT_EQ(r.status, ParseStatus::Error);
  EXPECT_EQ(r.error_status, 400);
}

TEST(ParseRequest, RequestLineLimitIsEarly) {
  ParseLimits limits;
  limits.max_request_line = 64;
  RequestHead head;
  // No CRLF yet, but already past the limit: 414 without waiting for more.
  const std::string long_target = "GET /" + std::string(100, 'a');
  ParseResult r = parse(long_target, head, limits);
  EXPECT_EQ(r.status, ParseStatus::Error);
  EXPECT_EQ(r.error_status, 414);
  // A line exactly at the limit is fine.
  const std::string exact = "GET /" + std::string(64 - 14, 'b') + " HTTP/1.1";
  ASSERT_EQ(exact.size(), 64u);
  r = parse(exact + "\r\nHost: a\r\n\r\n", head, limits);
  EXPECT_EQ(r.status, ParseStatus::Complete) << r.error_reason;
  // One byte more is not, and that is known once the target ends.
  const std::string over = "GET /" + std::string(64 - 13, 'b') + " ";
  r = parse(over, head, limits);
  EXPECT_EQ(r.status, ParseStatus::Error);
  EXPECT_EQ(r.error_status, 414);
  // A long method counts too.
  r = parse(std::string(65, 'M'), head, limits);
  EXPECT_EQ(r.error_status, 414);
}

TEST(ParseRequest, HeadSizeLimitIsEarly) {
  ParseLimits limits;
  limits.max_head_bytes = 128;
  RequestHead head;
  std::string in = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(200, 'x');
  ParseResult r = parse(in, head, limits);
  EXPECT_EQ(r.status, ParseStatus::Error);
  EXPECT_EQ(r.error_status, 431);
  // A head exactly at the limit is fine.
  std::string exact = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
  exact += std::string(128 - exact.size() - 4, 'y') + "\r\n\r\n";
  ASSERT_EQ(exact.size(), 128u);
  r = parse(exact, head, limits);
  EXPECT_EQ(r.status, ParseStatus::Complete) << r.error_reason;
  // The same head with one more byte is not, even before the final CRLF arrives.
  exact.insert(30, "z");
  r = parse(std::string_view(exact).substr(0, 128), head, limits);
  EXPECT_EQ(r.error_status, 431);
}

TEST(ParseRequest, HeaderCountLimit) {
  ParseLimits limits;
  limits.max_headers = 3;
  RequestHead head;
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\n\r\n", head, limits).status,
            ParseStatus::Complete);
  const ParseResult r =
      parse("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nD: 3\r\n", head, limits);
  EXPECT_EQ(r.status, ParseStatus::Error);
  EXPECT_EQ(r.error_status, 431);
  // The default is kMaxHeaders, and a larger setting is capped to it.
  limits.max_headers = 1000;
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (size_t i = 0; i < kMaxHeaders; ++i) {
    many += "X: y\r\n";
  }
  EXPECT_EQ(parse(many + "\r\n", head, limits).error_status, 431);
}

TEST(ParseRequest, BadBytesFailBeforeTheHeadEnds) {
  RequestHead head;
  EXPECT_EQ(parse("G@", head).status, ParseStatus::Error);
  EXPECT_EQ(parse("GET /\x01", head).status, ParseStatus::Error);
  EXPECT_EQ(parse("GET / HTTP/3", head).error_status, 505);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nX : ", head).status, ParseStatus::Error);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x", head).status,
            ParseStatus::Incomplete);  // the value is checked when its line ends
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n", head).status,
            ParseStatus::Error);
  // A CR at the very end may still be followed by LF.
  EXPECT_EQ(parse("GET / HTTP/1.1\r", head).status, ParseStatus::Incomplete);
  EXPECT_EQ(parse("\r", head).status, ParseStatus::Incomplete);
}

TEST(ParseRequest, EmptyBuffer) {
  RequestHead head;
  const ParseResult r = parse("", head);
  EXPECT_EQ(r.status, ParseStatus::Incomplete);
  EXPECT_EQ(r.consumed, 0u);
}

// ---------------------------------------------------------------------------------------------
// Responses.

ParseResult parse_response(std::string_view in, ResponseHead& head) {
  return parse_response_head(in, head, ParseLimits{});
}

TEST(ParseResponse, StatusLineForms) {
  ResponseHead head;
  ASSERT_EQ(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", head).status,
            ParseStatus::Complete);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.reason, "OK");
  EXPECT_EQ(head.head_bytes, 38u);
  EXPECT_EQ(head.content_length, 3u);
  EXPECT_TRUE(head.keep_alive);
  ASSERT_EQ(parse_response("HTTP/1.1 404 Not  Found \t\r\n\r\n", head).status,
            ParseStatus::Complete);
  EXPECT_EQ(head.reason, "Not  Found \t");
  // The SP before an empty reason phrase may be missing (RFC 9112 §4).
  ASSERT_EQ(parse_response("HTTP/1.1 204\r\n\r\n", head).status, ParseStatus::Complete);
  EXPECT_EQ(head.reason, "");
  ASSERT_EQ(parse_response("HTTP/1.0 204 \r\n\r\n", head).status, ParseStatus::Complete);
  EXPECT_EQ(head.reason, "");
  EXPECT_EQ(head.version_minor, 0);
  EXPECT_FALSE(head.keep_alive);
}

TEST(ParseResponse, KeepAliveAndChunked) {
  ResponseHead head;
  ASSERT_EQ(parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: "
                           "close\r\n\r\n",
                           head)
                .status,
            ParseStatus::Complete);
  EXPECT_TRUE(head.chunked);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parse_response("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nX_Under: ok\r\n\r\n", head)
                .status,
            ParseStatus::Complete);
  EXPECT_TRUE(head.keep_alive);
}

TEST(ParseResponse, Rejections) {
  const std::string_view bad[] = {
      "HTTP/1.1 20 OK\r\n\r\n"sv,
      "HTTP/1.1 2000 OK\r\n\r\n"sv,
      "HTTP/1.1 099 Low\r\n\r\n"sv,
      "HTTP/1.1 600 High\r\n\r\n"sv,
      "HTTP/1.1  200 OK\r\n\r\n"sv,
      "HTTP/1.1 200 OK\n\r\n"sv,
      "HTTP/1.1 200 O\x01K\r\n\r\n"sv,
      "HTTP/2.0 200 OK\r\n\r\n"sv,
      "HTTP/1.2 200 OK\r\n\r\n"sv,
      "http/1.1 200 OK\r\n\r\n"sv,
      "\r\nHTTP/1.1 200 OK\r\n\r\n"sv,
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"sv,
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"sv,
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"sv,
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"sv,
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"sv,
      "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"sv,
      "HTTP/1.1 200 OK\r\nX : y\r\n\r\n"sv,
      "HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n"sv,
  };
  for (std::string_view in : bad) {
    ResponseHead head;
    const ParseResult r = parse_response(in, head);
    EXPECT_EQ(r.status, ParseStatus::Error) << in;
    EXPECT_EQ(r.error_status, 502) << in;
  }
}

TEST(ParseResponse, ByteByByte) {
  const std::string_view in = "HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"sv;
  for (size_t len = 0; len < in.size(); ++len) {
    ResponseHead head;
    ASSERT_EQ(parse_response(in.substr(0, len), head).status, ParseStatus::Incomplete) << len;
  }
  ResponseHead head;
  ASSERT_EQ(parse_response(in, head).status, ParseStatus::Complete);
  EXPECT_EQ(head.status, 301);
}

TEST(ParseResponse, SizeLimit) {
  ParseLimits limits;
  limits.max_head_bytes = 40;
  ResponseHead head;
  const ParseResult r =
      parse_response_head("HTTP/1.1 200 OK\r\nX: " + std::string(40, 'a'), head, limits);
  EXPECT_EQ(r.status, ParseStatus::Error);
  EXPECT_EQ(r.error_status, 502);
}

TEST(BodyKind, Responses) {
  ResponseHead head;
  head.status = 200;
  EXPECT_EQ(response_body_kind(head, Method::Get), BodyKind::UntilClose);
  head.has_content_length = true;
  head.content_length = 10;
  EXPECT_EQ(response_body_kind(head, Method::Get), BodyKind::ContentLength);
  EXPECT_EQ(response_body_kind(head, Method::Head), BodyKind::None);
  head.content_length = 0;
  EXPECT_EQ(response_body_kind(head, Method::Get), BodyKind::None);
  head.has_content_length = false;
  head.chunked = true;
  EXPECT_EQ(response_body_kind(head, Method::Post), BodyKind::Chunked);
  for (int status : {100, 101, 199, 204, 304}) {
    head.status = status;
    EXPECT_EQ(response_body_kind(head, Method::Get), BodyKind::None) << status;
  }
  head.status = 200;
  EXPECT_EQ(response_body_kind(head, Method::Connect), BodyKind::None);
  head.status = 407;
  EXPECT_EQ(response_body_kind(head, Method::Connect), BodyKind::Chunked);
}

// ---------------------------------------------------------------------------------------------
// Helpers.

TEST(Helpers, Iequals) {
  EXPECT_TRUE(iequals("Content-Length", "content-LENGTH"));
  EXPECT_FALSE(iequals("abc", "abd"));
  EXPECT_FALSE(iequals("abc", "ab"));
  EXPECT_TRUE(iequals("", ""));
  // Only ASCII letters fold: '@' (0x40) and '`' (0x60) differ.
  EXPECT_FALSE(iequals("@", "`"));
  EXPECT_FALSE(iequals("[", "{"));
}

TEST(Helpers, ConnectionHasToken) {
  EXPECT_TRUE(connection_has_token("close", "close"));
  EXPECT_TRUE(connection_has_token("Keep-Alive , Upgrade", "upgrade"));
  EXPECT_TRUE(connection_has_token(",,\tclose\t,", "CLOSE"));
  EXPECT_FALSE(connection_has_token("closed", "close"));
  EXPECT_FALSE(connection_has_token("", "close"));
  EXPECT_FALSE(connection_has_token("keep-alive", "alive"));
}

TEST(Helpers, FindHeader) {
  const Header headers[] = {{"A", "1"}, {"b", "2"}, {"B", "3"}};
  ASSERT_NE(find_header(headers, 3, "B"), nullptr);
  EXPECT_EQ(find_header(headers, 3, "B")->value, "2");
  EXPECT_EQ(find_header(headers, 3, "c"), nullptr);
  EXPECT_EQ(find_header(headers, 0, "A"), nullptr);
}

TEST(Helpers, ParseFieldLine) {
  FieldLineResult r = parse_field_line("Name:  v \r\nrest", true);
  EXPECT_EQ(r.status, FieldLineStatus::Field);
  EXPECT_EQ(r.consumed, 11u);
  EXPECT_EQ(r.name, "Name");
  EXPECT_EQ(r.value, "v");
  EXPECT_EQ(parse_field_line("\r\n", true).status, FieldLineStatus::EndOfSection);
  EXPECT_EQ(parse_field_line("Name: v", true).status, FieldLineStatus::Incomplete);
  EXPECT_EQ(parse_field_line("Na me: v\r\n", true).status, FieldLineStatus::Error);
}

}  // namespace
}  // namespace apisix::http
