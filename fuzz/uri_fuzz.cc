// Fuzzes normalize_path and path_needs_normalizing. The input is a raw request path. Checks
// that a normalised path is in canonical form and that the fast check never skips a path
// that normalisation would change.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "http/uri.h"

namespace {

using apisix::fuzz::require;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  std::string out;
  const bool ok = apisix::http::normalize_path(raw, out);
  if (!apisix::http::path_needs_normalizing(raw)) {
    require(ok && out == raw, "a path that needs no work comes back unchanged");
  }
  if (!ok) {
    return 0;
  }
  require(!out.empty() && out[0] == '/', "starts with '/'");
  require(out.size() <= raw.size(), "never longer than the input");
  require(out.find('\0') == std::string::npos, "no NUL");
  require(out.find("//") == std::string::npos, "no empty segments");
  require(out.find("/./") == std::string::npos && out.find("/../") == std::string::npos,
          "no dot segments");
  const std::string_view o(out);
  require(!o.ends_with("/.") && !o.ends_with("/.."), "no trailing dot segment");
  // Without escapes left to decode, normalising again changes nothing.
  if (out.find('%') == std::string::npos) {
    std::string again;
    require(apisix::http::normalize_path(out, again) && again == out, "idempotent");
    require(!apisix::http::path_needs_normalizing(out), "canonical form needs no work");
  }
  return 0;
}
