#include "http/uri.h"

#include <cstring>

#include "http/hex.h"

namespace apisix::http {
namespace {

// Decodes %XX escapes into `out`; false on a malformed escape or a NUL, raw or decoded,
// which would truncate the path for any C API downstream.
bool percent_decode(std::string_view in, std::string& out) {
  out.resize(in.size());
  char* w = out.data();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\0') {
      return false;
    }
    if (c == '%') {
      if (i + 2 >= in.size()) {
        return false;
      }
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) {
        return false;
      }
      c = static_cast<char>(hi << 4 | lo);
      if (c == '\0') {
        return false;
      }
      i += 2;
    }
    *w++ = c;
  }
  out.resize(static_cast<size_t>(w - out.data()));
  return true;
}

}  // namespace

bool normalize_path(std::string_view raw_path, std::string& out) {
  if (raw_path.empty() || raw_path[0] != '/') {
    return false;
  }
  if (!percent_decode(raw_path, out)) {
    return false;
  }
  // Rewrite in place: the write cursor never passes the read cursor. `w` always ends just
  // after a '/', except after a final segment with no '/' behind it.
  char* const base = out.data();
  const size_t n = out.size();
  size_t w = 1;
  size_t r = 1;
  while (r < n) {
    size_t seg_end = r;
    while (seg_end < n && base[seg_end] != '/') {
      ++seg_end;
    }
    const size_t len = seg_end - r;
    const bool has_slash = seg_end < n;
    if (len == 0 || (len == 1 && base[r] == '.')) {
      // "//" or "/./": nothing to keep.
    } else if (len == 2 && base[r] == '.' && base[r + 1] == '.') {
      if (w == 1) {
        return false;  // above the root
      }
      // Drop the previous segment: back over its '/' and to the '/' before it.
      --w;
      while (base[w - 1] != '/') {
        --w;
      }
    } else {
      std::memmove(base + w, base + r, len);
      w += len;
      if (has_slash) {
        base[w++] = '/';
      }
    }
    r = seg_end + 1;
  }
  out.resize(w);
  return true;
}

bool path_needs_normalizing(std::string_view raw) {
  if (raw.empty() || raw[0] != '/') {
    return true;
  }
  // One pass over the segments: an empty one before another '/', a "." or ".." one, or an
  // escape or NUL anywhere.
  const size_t n = raw.size();
  size_t segment = 1;
  for (size_t i = 1; i <= n; ++i) {
    if (i == n || raw[i] == '/') {
      const size_t len = i - segment;
      if ((len == 0 && i < n) || (len == 1 && raw[segment] == '.') ||
          (len == 2 && raw[segment] == '.' && raw[segment + 1] == '.')) {
        return true;
      }
      segment = i + 1;
    } else if (raw[i] == '%' || raw[i] == '\0') {
      return true;
    }
  }
  return false;
}

}  // namespace apisix::http
