#include "plugins/proxy_rewrite/uri_rewrite.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <utility>

#include <pcre2.h>

namespace apisix::plugins {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_';
}

// One thread's PCRE2 match block, grown to the largest capture count seen: UriRegex objects
// are shared by all workers, so the scratch space of a match cannot live in them.
pcre2_match_data* thread_match_data(uint32_t pairs) {
  struct Holder {
    pcre2_match_data* data = nullptr;
    uint32_t pairs = 0;
    ~Holder() {
      if (data != nullptr) {
        pcre2_match_data_free(data);
      }
    }
  };
  thread_local Holder holder;
  if (holder.data == nullptr || holder.pairs < pairs) {
    if (holder.data != nullptr) {
      pcre2_match_data_free(holder.data);
    }
    holder.data = pcre2_match_data_create(pairs, nullptr);
    holder.pairs = holder.data != nullptr ? pairs : 0;
  }
  return holder.data;
}

constexpr char kHex[] = "0123456789ABCDEF";

void append_escaped(std::string& out, unsigned char c) {
  out += '%';
  out += kHex[c >> 4];
  out += kHex[c & 0xf];
}

}  // namespace

struct UriRegex::Code {
  pcre2_code* code = nullptr;
  uint32_t capture_count = 0;
  ~Code() {
    if (code != nullptr) {
      pcre2_code_free(code);
    }
  }
};

UriRegex::UriRegex() = default;
UriRegex::~UriRegex() = default;
UriRegex::UriRegex(UriRegex&&) noexcept = default;
UriRegex& UriRegex::operator=(UriRegex&&) noexcept = default;

Result<UriRegex> UriRegex::compile(std::string_view pattern, std::string_view replacement) {
  UriRegex re;
  re.pattern_ = std::string(pattern);
  re.replacement_ = std::string(replacement);

  // "jo": no UTF mode, JIT when available, compiled once.
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0,
                                   &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[128];
    pcre2_get_error_message(error_code, message, sizeof message);
    std::string text = "pcre2_compile() failed: ";
    text += reinterpret_cast<const char*>(message);
    text += " in \"" + re.pattern_ + "\"";
    if (error_offset < pattern.size()) {
      text += " at \"" + std::string(pattern.substr(error_offset)) + "\"";
    }
    return Error::config(std::move(text));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  re.code_ = std::make_unique<Code>();
  re.code_->code = code;
  pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &re.code_->capture_count);

  // The replacement template, as lua-nginx-module's ngx_http_lua_script_compile reads it.
  const Error template_error = Error::config("failed to compile the replacement template");
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) {
      re.pieces_.push_back(Piece{std::move(literal), -1});
      literal.clear();
    }
  };
  size_t i = 0;
  const size_t n = replacement.size();
  while (i < n) {
    if (replacement[i] != '$') {
      literal += replacement[i++];
      continue;
    }
    if (++i == n) {
      return template_error;  // a trailing `$`
    }
    if (replacement[i] == '$') {
      literal += '$';
      ++i;
      continue;
    }
    bool bracket = false;
    bool numeric = is_digit(replacement[i]);
    if (replacement[i] == '{') {
      bracket = true;
      if (++i == n) {
        return template_error;
      }
      numeric = is_digit(replacement[i]);
    }
    size_t name_len = 0;
    int number = 0;
    for (; i < n; ++i, ++name_len) {
      char c = replacement[i];
      if (c == '}' && bracket) {
        ++i;
        bracket = false;
        break;
      }
      if (numeric) {
        if (is_digit(c)) {
          if (number < 100000) {
            number = number * 10 + (c - '0');
          }
          continue;
        }
        break;
      }
      if (is_name_char(c)) {
        continue;
      }
      break;
    }
    // An unclosed `${`, an empty name and a named capture are all refused.
    if (bracket || name_len == 0 || !numeric) {
      return template_error;
    }
    flush();
    re.pieces_.push_back(Piece{{}, number});
  }
  flush();
  return re;
}

UriRegex::Outcome UriRegex::substitute(std::string_view subject, std::string& out,
                                       std::string& error,
                                       std::vector<std::optional<std::string>>* captures) const {
  if (code_ == nullptr) {
    return Outcome::NoMatch;
  }
  const uint32_t pairs = code_->capture_count + 1;
  pcre2_match_data* data = thread_match_data(pairs);
  if (data == nullptr) {
    error = "no memory";
    return Outcome::Failed;
  }
  // PCRE2 wants a non-null subject pointer even when the length is 0.
  const char* text = subject.data() != nullptr ? subject.data() : "";
  const int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(text), subject.size(), 0, 0,
                             data, nullptr);
  if (rc == PCRE2_ERROR_NOMATCH) {
    return Outcome::NoMatch;
  }
  if (rc < 0) {
    // lua-resty-core's words for a failed match.
    error = "pcre_exec() failed: " + std::to_string(rc);
    return Outcome::Failed;
  }
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
  // rc == 0 cannot happen (the block has room for every group); rc is then the highest set
  // group + 1, and groups from rc on read as empty, as in lua-nginx-module.
  const uint32_t set = rc == 0 ? pairs : static_cast<uint32_t>(rc);
  auto group = [&](size_t g) -> std::optional<std::string_view> {
    if (g >= set || ovector[2 * g] == PCRE2_UNSET) {
      return std::nullopt;
    }
    return subject.substr(ovector[2 * g], ovector[2 * g + 1] - ovector[2 * g]);
  };
  if (captures != nullptr) {
    captures->clear();
    for (uint32_t g = 0; g < pairs; ++g) {
      auto v = group(g);
      captures->push_back(v ? std::optional<std::string>(std::string(*v)) : std::nullopt);
    }
  }
  out.assign(subject.substr(0, ovector[0]));
  for (const Piece& piece : pieces_) {
    if (piece.capture < 0) {
      out += piece.literal;
    } else if (auto v = group(static_cast<size_t>(piece.capture))) {
      out += *v;
    }
  }
  out += subject.substr(ovector[1]);
  return Outcome::Matched;
}

std::string escape_uri(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == '#' || c == '%' || c == '?' || c >= 0x7f) {
      append_escaped(out, c);
    } else {
      out += ch;
    }
  }
  return out;
}

std::string escape_uri_control_chars(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      append_escaped(out, c);
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace apisix::plugins
