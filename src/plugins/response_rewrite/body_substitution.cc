#include "plugins/response_rewrite/body_substitution.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <utility>

#include <pcre2.h>

namespace apisix::plugins::response_rewrite {

struct BodySubstitution::Code {
  pcre2_code* re = nullptr;
  ~Code() { pcre2_code_free(re); }
};

namespace {

// The replacement template of ngx.re.sub (lua-nginx-module's complex values): literal text,
// `$$`, and capture references `$N` / `${N}`.
Result<void> parse_replacement(std::string_view text,
                               std::vector<std::pair<std::string, int>>& out) {
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$') {
      literal += c;
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      literal += '$';
      i += 2;
      continue;
    }
    size_t j = i + 1;
    bool bracket = j < text.size() && text[j] == '{';
    if (bracket) {
      ++j;
    }
    size_t digits_start = j;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') {
      ++j;
    }
    size_t digits = j - digits_start;
    if (bracket) {
      if (j >= text.size() || text[j] != '}') {
        if (digits == 0 && j < text.size()) {
          return Error::config("invalid capturing variable name found in \"" + std::string(text) +
                               "\"");
        }
        return Error::config("the closing bracket in \"" + std::string(text) +
                             "\" variable is missing");
      }
    }
    if (digits == 0 || digits > 6) {
      return Error::config("invalid capturing variable name found in \"" + std::string(text) +
                           "\"");
    }
    int group = std::stoi(std::string(text.substr(digits_start, digits)));
    if (!literal.empty()) {
      out.emplace_back(std::move(literal), -1);
      literal.clear();
    }
    out.emplace_back(std::string(), group);
    i = bracket ? j + 1 : j;
  }
  if (!literal.empty()) {
    out.emplace_back(std::move(literal), -1);
  }
  return {};
}

size_t utf8_length(unsigned char lead) {
  if (lead >= 0xF0) {
    return 4;
  }
  if (lead >= 0xE0) {
    return 3;
  }
  return lead >= 0xC0 ? 2 : 1;
}

}  // namespace

Result<BodySubstitution> BodySubstitution::compile(std::string_view regex, std::string_view replace,
                                                   bool global, std::string_view options) {
  auto failed = [&](const std::string& why) {
    return Error::config("regex \"" + std::string(regex) + "\" validation failed: " + why);
  };
  uint32_t compile_options = 0;
  uint32_t match_options = 0;
  bool utf = false;
  for (char flag : options) {
    switch (flag) {
      case 'a':
        compile_options |= PCRE2_ANCHORED;
        break;
      case 'D':
        compile_options |= PCRE2_DUPNAMES;
        break;
      case 'i':
        compile_options |= PCRE2_CASELESS;
        break;
      case 'J':
        compile_options |= PCRE2_ALT_BSUX | PCRE2_MATCH_UNSET_BACKREF;
        break;
      case 'm':
        compile_options |= PCRE2_MULTILINE;
        break;
      case 's':
        compile_options |= PCRE2_DOTALL;
        break;
      case 'u':
        compile_options |= PCRE2_UTF;
        utf = true;
        break;
      case 'U':
        compile_options |= PCRE2_UTF;
        match_options |= PCRE2_NO_UTF_CHECK;
        utf = true;
        break;
      case 'x':
        compile_options |= PCRE2_EXTENDED;
        break;
      case 'd':  // DFA matching: run with the default engine (see the header)
      case 'j':  // JIT: always tried
      case 'o':  // compile once: always
        break;
      default:
        return failed("unknown flag \"" + std::string(1, flag) + "\" (flags \"" +
                      std::string(options) + "\")");
    }
  }
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(regex.data()), regex.size(),
                                 compile_options, &code, &offset, nullptr);
  if (re == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(code, message, sizeof message);
    return failed("pcre_compile() failed: " + std::string(reinterpret_cast<const char*>(message)) +
                  " in \"" + std::string(regex) + "\"");
  }
  auto owned = std::make_shared<Code>();
  owned->re = re;
  pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  // without JIT support pcre2_match interprets

  std::vector<std::pair<std::string, int>> pieces;
  if (auto parsed = parse_replacement(replace, pieces); !parsed) {
    return Error::config("filter replace \"" + std::string(replace) +
                         "\" validation failed: " + parsed.error().context);
  }
  BodySubstitution made;
  made.regex_ = std::string(regex);
  made.code_ = std::move(owned);
  for (auto& [text, group] : pieces) {
    made.replacement_.push_back(Piece{std::move(text), group});
  }
  made.global_ = global;
  made.utf_ = utf;
  made.match_options_ = match_options;
  return made;
}

bool BodySubstitution::apply(std::string& body, std::string& error) const {
  struct MatchData {
    pcre2_match_data* data;
    ~MatchData() { pcre2_match_data_free(data); }
  } md{pcre2_match_data_create_from_pattern(code_->re, nullptr)};
  if (md.data == nullptr) {
    error = "out of memory";
    return false;
  }
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(body.data());
  const size_t length = body.size();
  std::string out;
  size_t copied = 0;  // body[0, copied) is already in `out`
  size_t pos = 0;
  bool matched = false;
  while (pos <= length) {
    int rc = pcre2_match(code_->re, subject, length, pos, match_options_, md.data, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) {
      break;
    }
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof message);
      error = reinterpret_cast<const char*>(message);
      return false;
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.data);
    const uint32_t pairs = pcre2_get_ovector_count(md.data);
    const size_t from = ov[0];
    const size_t to = ov[1];
    if (!matched) {
      out.reserve(length);
      matched = true;
    }
    out.append(body, copied, from - copied);
    for (const Piece& piece : replacement_) {
      if (piece.group < 0) {
        out += piece.text;
        continue;
      }
      auto g = static_cast<size_t>(piece.group);
      if (g < pairs && ov[2 * g] != PCRE2_UNSET) {
        out.append(body, ov[2 * g], ov[(2 * g) + 1] - ov[2 * g]);
      }
    }
    copied = to;
    if (!global_) {
      break;
    }
    if (from == to) {
      // An empty match: go on one character later (the character is copied with the rest).
      if (to >= length) {
        break;
      }
      pos = to + (utf_ ? utf8_length(static_cast<unsigned char>(body[to])) : 1);
    } else {
      pos = to;
    }
  }
  if (!matched) {
    return true;
  }
  out.append(body, copied, std::string::npos);
  body = std::move(out);
  return true;
}

}  // namespace apisix::plugins::response_rewrite
