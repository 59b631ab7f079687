// Feeds arbitrary text to the standalone apisix.yaml parser. Inputs without the end flag get
// it appended as well, so that the fuzzer reaches the YAML and resource checks.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/serialize.hpp>

#include "config/standalone.h"

namespace {

void parse_once(std::string_view text) {
  static const apisix::config::EnvLookup env = apisix::config::env_from_map({
      {"UPSTREAM_HOST", "127.0.0.1"},
      {"UPSTREAM_PORT", "1980"},
      {"ROUTE_URI", "/hello"},
  });
  static const std::vector<std::string> enabled = {"key-auth", "limit-count", "proxy-rewrite",
                                                   "echo"};
  auto config = apisix::config::parse_standalone_yaml(text, env, &enabled);
  if (!config) {
    if (config.error().context.empty()) {
      __builtin_trap();
    }
    return;
  }
  (void)boost::json::serialize(config->raw);
  for (const auto& route : config->routes) {
    if (route.uris.empty()) {
      __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  parse_once(text);
  if (size > 0 && (data[0] & 1) != 0) {
    parse_once(std::string(text) + "\n#END\n");
  }
  return 0;
}
