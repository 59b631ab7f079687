#include "tests/harness/headers.h"

#include <algorithm>
#include <cctype>

namespace apisix::test {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

void Headers::set(std::string_view name, std::string value) {
  remove(name);
  fields_.emplace_back(std::string(name), std::move(value));
}

void Headers::remove(std::string_view name) {
  std::erase_if(fields_, [&](const Field& f) { return iequals(f.first, name); });
}

std::optional<std::string> Headers::get(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (iequals(n, name)) {
      return v;
    }
  }
  return std::nullopt;
}

std::string Headers::value_or_empty(std::string_view name) const {
  return get(name).value_or(std::string());
}

size_t Headers::count(std::string_view name) const {
  return static_cast<size_t>(std::count_if(fields_.begin(), fields_.end(),
                                           [&](const Field& f) { return iequals(f.first, name); }));
}

std::vector<std::string> Headers::all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : fields_) {
    if (iequals(n, name)) {
      out.push_back(v);
    }
  }
  return out;
}

bool Headers::has_token(std::string_view name, std::string_view token) const {
  for (const auto& value : all(name)) {
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view item = trim(rest.substr(0, comma));
      if (iequals(item, token)) {
        return true;
      }
      if (comma == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

std::string Headers::serialize() const {
  std::string out;
  for (const auto& [n, v] : fields_) {
    out.append(n).append(": ").append(v).append("\r\n");
  }
  return out;
}

std::string Headers::to_string() const {
  std::string out;
  for (const auto& [n, v] : fields_) {
    out.append(n).append(": ").append(v).append("\n");
  }
  return out;
}

}  // namespace apisix::test
