#pragma once
// Request path normalisation: the equivalent of nginx's $uri, which APISIX routes on.

#include <string>
#include <string_view>

namespace apisix::http {

// Percent-decodes `raw_path` (RFC 3986 §2.1), then merges repeated '/' and resolves "." and
// ".." segments (RFC 3986 §5.2.4) on the decoded text, as nginx does, so "%2e%2e" and "%2F"
// cannot slip past a route prefix. Returns false, with `out` unspecified, when the path does
// not start with '/', has a malformed escape ("%zz", "%a"), contains or decodes to NUL, or
// climbs above the root. A trailing '/' (or a final "." or ".." segment) leaves `out` ending in
// '/'.
// '+' is not a space in a path and is kept.
[[nodiscard]] bool normalize_path(std::string_view raw_path, std::string& out);

// Cheap check for the common case: false means normalize_path would return `raw` unchanged,
// so the caller can use the raw view without copying. True when `raw` contains '%', NUL, "//",
// "/./" or "/../", ends in "/." or "/..", or does not start with '/'.
bool path_needs_normalizing(std::string_view raw);

}  // namespace apisix::http
