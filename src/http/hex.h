#pragma once
// Hex digit decoding shared by the chunked codec (chunk sizes) and the URI normaliser
// (percent-escapes).

namespace apisix::http {

// The value of hex digit `c` (either case), or -1.
constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace apisix::http
