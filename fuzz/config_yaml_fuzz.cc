// Feeds arbitrary text to the config.yaml loader: YAML parsing, environment substitution,
// merging over the defaults and validation must fail with an Error, never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/json/serialize.hpp>

#include "config/gateway_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const apisix::config::EnvLookup env = apisix::config::env_from_map({
      {"PORT", "9081"},
      {"HOST", "127.0.0.1"},
      {"FLAG", "true"},
      {"RATIO", "0.5"},
      {"NAME", "apisix"},
  });
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = apisix::config::load_gateway_config(text, env);
  if (config) {
    // Everything a later reader might touch must be well formed.
    std::string raw = boost::json::serialize(config->raw);
    if (config->worker_processes < 1 || raw.empty()) {
      __builtin_trap();
    }
  } else if (config.error().context.empty()) {
    __builtin_trap();
  }
  return 0;
}
