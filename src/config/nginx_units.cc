#include "config/nginx_units.h"

#include <limits>
#include <optional>
#include <string>

namespace apisix::config {
namespace {

constexpr uint64_t kMaxMillis = uint64_t{1} << 52;  // ~142,000 years; keeps arithmetic exact

std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  out.append(text);
  out.push_back('"');
  return out;
}

// Reads the digits at the front of `s`; nullopt when there are none or they overflow.
std::optional<uint64_t> take_number(std::string_view& s) {
  uint64_t n = 0;
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (n > (std::numeric_limits<uint64_t>::max() - 9) / 10) {
      return std::nullopt;
    }
    n = n * 10 + static_cast<uint64_t>(s[i] - '0');
    ++i;
  }
  if (i == 0) {
    return std::nullopt;
  }
  s.remove_prefix(i);
  return n;
}

}  // namespace

Result<std::chrono::milliseconds> parse_nginx_duration(std::string_view text) {
  std::string_view s = text;
  auto bad = [&] {
    return Error::config("expected an nginx time such as \"60s\", \"500ms\" or \"1m\", got " +
                         quoted(text));
  };
  uint64_t total = 0;
  bool any = false;
  while (true) {
    while (!s.empty() && s.front() == ' ') {
      s.remove_prefix(1);
    }
    if (s.empty()) {
      break;
    }
    std::optional<uint64_t> n = take_number(s);
    if (!n) {
      return bad();
    }
    uint64_t unit_ms = 1000;  // a bare number is seconds
    if (s.substr(0, 2) == "ms") {
      unit_ms = 1;
      s.remove_prefix(2);
    } else if (!s.empty() && s.front() != ' ') {
      switch (s.front()) {
        case 's':
          unit_ms = 1000;
          break;
        case 'm':
          unit_ms = 60 * 1000;
          break;
        case 'h':
          unit_ms = 3600 * 1000;
          break;
        case 'd':
          unit_ms = 86400ULL * 1000;
          break;
        case 'w':
          unit_ms = 7 * 86400ULL * 1000;
          break;
        case 'M':
          unit_ms = 30 * 86400ULL * 1000;
          break;
        case 'y':
          unit_ms = 365 * 86400ULL * 1000;
          break;
        default:
          return bad();
      }
      s.remove_prefix(1);
    }
    if (*n > kMaxMillis / unit_ms || total + *n * unit_ms > kMaxMillis) {
      return Error::config("time " + quoted(text) + " is too large");
    }
    total += *n * unit_ms;
    any = true;
  }
  if (!any) {
    return bad();
  }
  return std::chrono::milliseconds(static_cast<int64_t>(total));
}

Result<uint64_t> parse_nginx_size(std::string_view text) {
  std::string_view s = text;
  auto bad = [&] {
    return Error::config("expected an nginx size such as \"0\", \"8k\", \"1m\" or \"1g\", got " +
                         quoted(text));
  };
  std::optional<uint64_t> n = take_number(s);
  if (!n) {
    return bad();
  }
  unsigned shift = 0;
  if (s.size() == 1) {
    switch (s.front()) {
      case 'k':
      case 'K':
        shift = 10;
        break;
      case 'm':
      case 'M':
        shift = 20;
        break;
      case 'g':
      case 'G':
        shift = 30;
        break;
      default:
        return bad();
    }
  } else if (!s.empty()) {
    return bad();
  }
  if (*n > (std::numeric_limits<uint64_t>::max() >> shift)) {
    return Error::config("size " + quoted(text) + " is too large");
  }
  return *n << shift;
}

}  // namespace apisix::config
