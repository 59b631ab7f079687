#pragma once
// nginx's time and size syntax, as used by the `nginx_config` section of config.yaml
// (core.md §1.6): "60s", "500ms", "1h 30m", "8k", "1m", bare numbers.

#include <chrono>
#include <cstdint>
#include <string_view>

#include "core/result.h"

namespace apisix::config {

// A time: one or more <number><unit> parts, unit one of ms, s, m, h, d, w, M (30 days),
// y (365 days); parts may be separated by spaces. A bare number means seconds.
// The error text says what is wrong, without naming the key (the caller adds it).
[[nodiscard]] Result<std::chrono::milliseconds> parse_nginx_duration(std::string_view text);

// A size in bytes: <number> with an optional k/K, m/M or g/G suffix (powers of 1024).
[[nodiscard]] Result<uint64_t> parse_nginx_size(std::string_view text);

}  // namespace apisix::config
