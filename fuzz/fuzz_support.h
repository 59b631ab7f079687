#pragma once
// Checks shared by the fuzz targets: an invariant that must hold for every input, and whether
// a view points inside the buffer it was parsed from.

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace apisix::fuzz {

inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

inline bool inside(std::string_view buf, std::string_view v) {
  if (v.empty()) {
    return true;
  }
  return v.data() >= buf.data() && v.data() + v.size() <= buf.data() + buf.size();
}

}  // namespace apisix::fuzz
