#include "config/env.h"

#include <cstdlib>
#include <utility>

namespace apisix::config {
namespace {

constexpr std::string_view kOpen = "${{";
constexpr std::string_view kClose = "}}";
constexpr std::string_view kDefaultMark = ":=";

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

EnvLookup env_from_map(std::map<std::string, std::string, std::less<>> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

Result<Substituted> substitute_env(std::string_view text, const EnvLookup& env) {
  Substituted out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find(kOpen, pos);
    if (open == std::string_view::npos) {
      break;
    }
    size_t body_start = open + kOpen.size();
    size_t close = text.find(kClose, body_start);
    if (close == std::string_view::npos) {
      break;
    }
    std::string_view body = trim(text.substr(body_start, close - body_start));
    // A reference starts with a name character, as in APISIX; anything else is literal text.
    if (body.empty() || !is_name_char(body.front())) {
      out.text.append(text.substr(pos, body_start - pos));
      pos = body_start;
      continue;
    }
    std::string_view name = body;
    std::optional<std::string_view> fallback;
    if (size_t mark = body.find(kDefaultMark); mark != std::string_view::npos) {
      name = trim(body.substr(0, mark));
      fallback = trim(body.substr(mark + kDefaultMark.size()));
    }
    std::optional<std::string> value;
    bool name_ok = !name.empty();
    for (char c : name) {
      name_ok = name_ok && is_name_char(c);
    }
    if (name_ok && env) {
      value = env(name);
    }
    if (!value && fallback) {
      value = std::string(*fallback);
    }
    if (!value) {
      return Error::config("can't find environment variable " + std::string(name));
    }
    out.text.append(text.substr(pos, open - pos));
    out.text.append(*value);
    out.replaced_any = true;
    pos = close + kClose.size();
  }
  out.text.append(text.substr(pos));
  return out;
}

}  // namespace apisix::config
