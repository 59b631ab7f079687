#pragma once
// Responses the gateway (and its admin listener) writes itself: the default HTML error page
// (core.md §8.5) and the JSON 404 for an unmatched route (§5.8).

#include <string>
#include <string_view>

namespace apisix::http {

// The nginx reason phrase for `status` ("Bad Gateway"), or a generic one.
std::string_view reason_phrase(int status);

// The default HTML page body for an error `status` (nginx style, core.md §8.5).
std::string error_page_body(int status, std::string_view server_header);

// A complete response (status line, headers, body). `close` adds `Connection: close`;
// `keep_alive_10` adds `Connection: keep-alive` (for HTTP/1.0 clients kept open).
std::string error_response(int status, std::string_view server_header, bool close,
                           bool keep_alive_10 = false, std::string_view extra_headers = {});
std::string route_not_found_response(std::string_view server_header, bool close,
                                     bool keep_alive_10 = false);

}  // namespace apisix::http
