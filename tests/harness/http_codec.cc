#include "tests/harness/http_codec.h"

#include <cctype>
#include <charconv>
#include <vector>

namespace apisix::test {

namespace {

bool is_tchar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) {
    return true;
  }
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!is_tchar(c)) {
      return false;
    }
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Splits `raw` (ending in CRLF CRLF) into lines without their CRLF; the final empty line is
// dropped. Fails on a bare CR or LF.
bool split_lines(std::string_view raw, std::vector<std::string_view>& lines, std::string& error) {
  if (raw.size() < 4 || raw.substr(raw.size() - 4) != "\r\n\r\n") {
    error = "head does not end with CRLF CRLF";
    return false;
  }
  raw.remove_suffix(2);
  while (!raw.empty()) {
    size_t crlf = raw.find("\r\n");
    std::string_view line = raw.substr(0, crlf);
    if (line.find('\r') != std::string_view::npos || line.find('\n') != std::string_view::npos) {
      error = "bare CR or LF in head";
      return false;
    }
    lines.push_back(line);
    raw.remove_prefix(crlf + 2);
  }
  if (lines.empty()) {
    error = "empty head";
    return false;
  }
  return true;
}

bool parse_field_line(std::string_view line, Headers& headers, std::string& error) {
  if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    error = "obsolete line folding: '" + std::string(line) + "'";
    return false;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    error = "field line without colon: '" + std::string(line) + "'";
    return false;
  }
  std::string_view name = line.substr(0, colon);
  if (!is_token(name)) {
    error = "invalid field name: '" + std::string(name) + "'";
    return false;
  }
  std::string_view value = trim_ows(line.substr(colon + 1));
  for (char c : value) {
    if (c == '\0' || c == '\r' || c == '\n') {
      error = "control character in value of " + std::string(name);
      return false;
    }
  }
  headers.add(std::string(name), std::string(value));
  return true;
}

bool parse_fields(const std::vector<std::string_view>& lines, size_t from, Headers& headers,
                  std::string& error) {
  for (size_t i = from; i < lines.size(); ++i) {
    if (!parse_field_line(lines[i], headers, error)) {
      return false;
    }
  }
  return true;
}

bool valid_version(std::string_view v) {
  return v.size() == 8 && v.substr(0, 5) == "HTTP/" &&
         std::isdigit(static_cast<unsigned char>(v[5])) && v[6] == '.' &&
         std::isdigit(static_cast<unsigned char>(v[7]));
}

bool parse_decimal(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19) {
    return false;
  }
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<RequestHead> parse_request_head(std::string_view raw, std::string& error) {
  std::vector<std::string_view> lines;
  if (!split_lines(raw, lines, error)) {
    return std::nullopt;
  }
  std::string_view line = lines[0];
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    error = "bad request line: '" + std::string(line) + "'";
    return std::nullopt;
  }
  RequestHead head;
  head.method = line.substr(0, sp1);
  head.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  head.version = line.substr(sp2 + 1);
  if (!is_token(head.method) || head.target.empty() || !valid_version(head.version)) {
    error = "bad request line: '" + std::string(line) + "'";
    return std::nullopt;
  }
  if (!parse_fields(lines, 1, head.headers, error)) {
    return std::nullopt;
  }
  return head;
}

std::optional<ResponseHead> parse_response_head(std::string_view raw, std::string& error) {
  std::vector<std::string_view> lines;
  if (!split_lines(raw, lines, error)) {
    return std::nullopt;
  }
  std::string_view line = lines[0];
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]
  if (line.size() < 12 || !valid_version(line.substr(0, 8)) || line[8] != ' ' ||
      (line.size() > 12 && line[12] != ' ')) {
    error = "bad status line: '" + std::string(line) + "'";
    return std::nullopt;
  }
  ResponseHead head;
  head.version = line.substr(0, 8);
  uint64_t status = 0;
  if (!parse_decimal(line.substr(9, 3), status) || status < 100) {
    error = "bad status code: '" + std::string(line) + "'";
    return std::nullopt;
  }
  head.status = static_cast<int>(status);
  head.reason = line.size() > 13 ? line.substr(13) : std::string_view();
  if (!parse_fields(lines, 1, head.headers, error)) {
    return std::nullopt;
  }
  return head;
}

BodyFraming request_framing(const Headers& headers) {
  BodyFraming f;
  auto te = headers.all("Transfer-Encoding");
  auto cl = headers.all("Content-Length");
  if (!te.empty()) {
    if (!cl.empty()) {
      f.kind = BodyFraming::Kind::Invalid;
      f.error = "both Transfer-Encoding and Content-Length";
      return f;
    }
    if (te.size() != 1 || !iequals(te[0], "chunked")) {
      f.kind = BodyFraming::Kind::Invalid;
      f.error = "unsupported Transfer-Encoding";
      return f;
    }
    f.kind = BodyFraming::Kind::Chunked;
    return f;
  }
  if (cl.size() > 1) {
    f.kind = BodyFraming::Kind::Invalid;
    f.error = "several Content-Length fields";
    return f;
  }
  if (cl.size() == 1) {
    if (!parse_decimal(cl[0], f.length)) {
      f.kind = BodyFraming::Kind::Invalid;
      f.error = "invalid Content-Length";
      return f;
    }
    f.kind = f.length == 0 ? BodyFraming::Kind::None : BodyFraming::Kind::Length;
    return f;
  }
  return f;
}

BodyFraming response_framing(const ResponseHead& head, std::string_view request_method) {
  BodyFraming f;
  if (request_method == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304) {
    return f;
  }
  auto te = head.headers.all("Transfer-Encoding");
  auto cl = head.headers.all("Content-Length");
  if (!te.empty()) {
    if (!cl.empty()) {
      f.kind = BodyFraming::Kind::Invalid;
      f.error = "both Transfer-Encoding and Content-Length in a response";
      return f;
    }
    f.kind = head.headers.has_token("Transfer-Encoding", "chunked") ? BodyFraming::Kind::Chunked
                                                                    : BodyFraming::Kind::Close;
    return f;
  }
  if (cl.size() > 1) {
    f.kind = BodyFraming::Kind::Invalid;
    f.error = "several Content-Length fields in a response";
    return f;
  }
  if (cl.size() == 1) {
    if (!parse_decimal(cl[0], f.length)) {
      f.kind = BodyFraming::Kind::Invalid;
      f.error = "invalid Content-Length in a response";
      return f;
    }
    f.kind = BodyFraming::Kind::Length;
    return f;
  }
  f.kind = BodyFraming::Kind::Close;
  return f;
}

IoStatus read_chunked_body(SocketStream& stream, Deadline deadline, BodySink& sink,
                           Headers& trailers, BodySink* raw, std::string& error) {
  std::string line;
  while (true) {
    IoStatus st = stream.read_until("\r\n", 4096, deadline, line);
    if (st != IoStatus::Ok) {
      if (st == IoStatus::TooLarge) {
        error = "chunk-size line too long";
        return IoStatus::Malformed;
      }
      return st;
    }
    if (raw != nullptr) {
      raw->feed(line);
    }
    std::string_view text(line.data(), line.size() - 2);
    if (text.find('\n') != std::string_view::npos || text.find('\r') != std::string_view::npos) {
      error = "bare CR or LF in chunk-size line";
      return IoStatus::Malformed;
    }
    std::string_view size_text = text.substr(0, text.find(';'));
    size_text = trim_ows(size_text);
    if (size_text.empty() || size_text.size() > 15) {
      error = "bad chunk size '" + std::string(text) + "'";
      return IoStatus::Malformed;
    }
    uint64_t size = 0;
    auto [p, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (ec != std::errc() || p != size_text.data() + size_text.size()) {
      error = "bad chunk size '" + std::string(text) + "'";
      return IoStatus::Malformed;
    }
    if (size == 0) {
      break;
    }
    st = stream.read_exact(size, deadline, &sink, raw);
    if (st != IoStatus::Ok) {
      return st;
    }
    BodySink crlf(2);
    st = stream.read_exact(2, deadline, &crlf, raw);
    if (st != IoStatus::Ok) {
      return st;
    }
    if (crlf.stored != "\r\n") {
      error = "chunk data not followed by CRLF";
      return IoStatus::Malformed;
    }
  }
  // trailer-section CRLF
  while (true) {
    IoStatus st = stream.read_until("\r\n", 65536, deadline, line);
    if (st != IoStatus::Ok) {
      return st == IoStatus::TooLarge ? IoStatus::Malformed : st;
    }
    if (raw != nullptr) {
      raw->feed(line);
    }
    if (line == "\r\n") {
      return IoStatus::Ok;
    }
    std::string_view text(line.data(), line.size() - 2);
    if (text.find('\n') != std::string_view::npos || text.find('\r') != std::string_view::npos ||
        !parse_field_line(text, trailers, error)) {
      if (error.empty()) {
        error = "bare CR or LF in trailer";
      }
      return IoStatus::Malformed;
    }
  }
}

IoStatus read_body(SocketStream& stream, const BodyFraming& framing, Deadline deadline,
                   BodySink& sink, Headers& trailers, BodySink* raw, std::string& error) {
  switch (framing.kind) {
    case BodyFraming::Kind::None:
      return IoStatus::Ok;
    case BodyFraming::Kind::Length:
      return stream.read_exact(framing.length, deadline, &sink, raw);
    case BodyFraming::Kind::Chunked:
      return read_chunked_body(stream, deadline, sink, trailers, raw, error);
    case BodyFraming::Kind::Close:
      return stream.read_to_eof(deadline, &sink);  // responses only; `raw` is not fed
    case BodyFraming::Kind::Invalid:
      error = framing.error;
      return IoStatus::Malformed;
  }
  return IoStatus::Malformed;
}

std::string make_request(std::string_view method, std::string_view target, const Headers& headers,
                         std::string_view body) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  out.append(headers.serialize());
  if (!body.empty() && !headers.has("Content-Length") && !headers.has("Transfer-Encoding")) {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  out.append("\r\n");
  out.append(body);
  return out;
}

std::string chunk(std::string_view data) {
  if (data.empty()) {
    return {};
  }
  char hex[32];
  auto [p, ec] = std::to_chars(hex, hex + sizeof(hex), data.size(), 16);
  std::string out(hex, p);
  out.append("\r\n").append(data).append("\r\n");
  return out;
}

std::string last_chunk(const Headers& trailers) { return "0\r\n" + trailers.serialize() + "\r\n"; }

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 102:
      return "Processing";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

}  // namespace apisix::test
