#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace apisix::core {
namespace {

std::mutex g_mutex;
FILE* g_file = nullptr;  // guarded by g_mutex; nullptr = stderr
std::atomic<int> g_level{static_cast<int>(LogLevel::Warn)};

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Notice:
      return "notice";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
    case LogLevel::Crit:
      return "crit";
  }
  return "?";
}

}  // namespace

bool log_open(const std::string& path) {
  FILE* file = nullptr;
  if (!path.empty()) {
    file = std::fopen(path.c_str(), "a");
    if (file == nullptr) {
      return false;
    }
  }
  std::lock_guard lock(g_mutex);
  if (g_file != nullptr) {
    std::fclose(g_file);
  }
  g_file = file;
  return true;
}

void log_set_level(LogLevel level) { g_level = static_cast<int>(level); }

bool log_set_level(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(LogLevel::Crit); ++i) {
    if (name == level_name(static_cast<LogLevel>(i))) {
      g_level = i;
      return true;
    }
  }
  return false;
}

bool log_enabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void log_line(LogLevel level, std::string_view message) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y/%m/%d %H:%M:%S", &tm);
  std::lock_guard lock(g_mutex);
  FILE* out = g_file != nullptr ? g_file : stderr;
  std::fprintf(out, "%s [%s] %.*s\n", stamp, level_name(level), static_cast<int>(message.size()),
               message.data());
  std::fflush(out);
}

}  // namespace apisix::core
