#pragma once
// The error log: leveled lines appended to logs/error.log (or stderr before it is opened).
// Thread-safe; used off the hot path (startup, config changes, failures), so a mutex is fine.

#include <sstream>
#include <string>
#include <string_view>

namespace apisix::core {

enum class LogLevel { Debug, Info, Notice, Warn, Error, Crit };

// Opens `path` for appending (also used to reopen after rotation). Empty = stderr.
bool log_open(const std::string& path);
void log_set_level(LogLevel level);
bool log_set_level(std::string_view name);  // "debug" .. "crit"; false if unknown
bool log_enabled(LogLevel level);
void log_line(LogLevel level, std::string_view message);

template <typename... Parts>
void log(LogLevel level, const Parts&... parts) {
  if (!log_enabled(level)) {
    return;
  }
  std::ostringstream out;
  (out << ... << parts);
  log_line(level, out.str());
}

template <typename... Parts>
void log_info(const Parts&... parts) {
  log(LogLevel::Info, parts...);
}
template <typename... Parts>
void log_warn(const Parts&... parts) {
  log(LogLevel::Warn, parts...);
}
template <typename... Parts>
void log_error(const Parts&... parts) {
  log(LogLevel::Error, parts...);
}

}  // namespace apisix::core
