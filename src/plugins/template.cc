#include "plugins/template.h"

namespace apisix::plugins {

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::string> var_text(const router::VarValue& value) {
  switch (value.kind) {
    case router::VarValue::Kind::String:
      return std::string(value.str);
    case router::VarValue::Kind::Bool:
      return std::string(value.boolean ? "true" : "false");
    case router::VarValue::Kind::Array: {
      std::string out;
      for (size_t i = 0; i < value.array.size(); ++i) {
        if (i != 0) out += ", ";
        out += value.array[i];
      }
      return out;
    }
    case router::VarValue::Kind::Nil:
      break;
  }
  return std::nullopt;
}

Template Template::compile(std::string_view text) {
  Template t;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) {
      t.parts_.push_back(Part{std::move(literal), false, {}, std::nullopt});
      literal.clear();
    }
  };
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size() && text[i + 1] == '$') {
      literal += "\\$";
      i += 2;
      continue;
    }
    if (c != '$' || i + 1 >= text.size()) {
      literal += c;
      ++i;
      continue;
    }
    if (text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        literal += c;
        ++i;
        continue;
      }
      std::string_view inner = text.substr(i + 2, close - i - 2);
      std::optional<std::string> fallback;
      if (size_t q = inner.find("??"); q != std::string_view::npos) {
        fallback = std::string(trim(inner.substr(q + 2)));
        inner = inner.substr(0, q);
      }
      std::string name(trim(inner));
      flush();
      t.parts_.push_back(Part{name, true, router::parse_var_ref(name), std::move(fallback)});
      ++t.vars_;
      i = close + 1;
      continue;
    }
    size_t end = i + 1;
    while (end < text.size() && is_name_char(text[end])) ++end;
    if (end == i + 1) {
      literal += c;
      ++i;
      continue;
    }
    std::string name(text.substr(i + 1, end - i - 1));
    flush();
    t.parts_.push_back(Part{name, true, router::parse_var_ref(name), std::nullopt});
    ++t.vars_;
    i = end;
  }
  if (t.vars_ == 0) {
    t.literal_ = literal;  // no variable: nothing was flushed into parts_
  }
  flush();
  return t;
}

size_t Template::render(const router::VarSource& vars, std::string& out) const {
  if (vars_ == 0) {
    out += literal_;
    return 0;
  }
  size_t resolved = 0;
  for (const Part& p : parts_) {
    if (!p.is_var) {
      out += p.text;
      continue;
    }
    if (auto text = var_text(vars.get(p.ref))) {
      out += *text;
      ++resolved;
    } else if (p.fallback) {
      out += *p.fallback;
      ++resolved;
    }
  }
  return resolved;
}

}  // namespace apisix::plugins
