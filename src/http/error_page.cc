#include "http/error_page.h"

namespace apisix::http {

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Moved Temporarily";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Authorization Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Time-out";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Request Entity Too Large";
    case 414:
      return "Request-URI Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Temporarily Unavailable";
    case 504:
      return "Gateway Time-out";
    case 505:
      return "HTTP Version Not Supported";
    default:
      // nginx sends an unknown success or redirect status without a reason phrase.
      if (status < 400) {
        return "";
      }
      return status < 500 ? "Bad Request" : "Internal Server Error";
  }
}

namespace {

std::string head(int status, std::string_view server_header, std::string_view content_type,
                 size_t body_bytes, bool close, bool keep_alive_10, std::string_view extra) {
  std::string out;
  out.reserve(256);
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(body_bytes);
  out += "\r\nServer: ";
  out += server_header;
  out += "\r\n";
  if (close) {
    out += "Connection: close\r\n";
  } else if (keep_alive_10) {
    out += "Connection: keep-alive\r\n";
  }
  out += extra;
  out += "\r\n";
  return out;
}

}  // namespace

std::string error_page_body(int status, std::string_view server_header) {
  std::string title = std::to_string(status) + " ";
  title += reason_phrase(status);
  std::string body = "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n" +
                     "<center><h1>" + title + "</h1></center>\r\n<hr><center>" +
                     std::string(server_header) +
                     "</center>\r\n<p><em>Powered by <a href=\"https://apisix.apache.org/\">"
                     "APISIX</a>.</em></p></body>\r\n</html>\r\n";
  return body;
}

std::string error_response(int status, std::string_view server_header, bool close,
                           bool keep_alive_10, std::string_view extra_headers) {
  std::string body = error_page_body(status, server_header);
  return head(status, server_header, "text/html; charset=utf-8", body.size(), close, keep_alive_10,
              extra_headers) +
         body;
}

std::string route_not_found_response(std::string_view server_header, bool close,
                                     bool keep_alive_10) {
  static constexpr std::string_view kBody = "{\"error_msg\":\"404 Route Not Found\"}\n";
  return head(404, server_header, "text/plain; charset=utf-8", kBody.size(), close, keep_alive_10,
              {}) +
         std::string(kBody);
}

}  // namespace apisix::http
