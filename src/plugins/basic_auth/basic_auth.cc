#include "plugins/basic_auth/basic_auth.h"

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "plugins/consumers.h"
#include "plugins/request.h"

namespace apisix::plugins {

namespace basic_auth {

namespace {

// PCRE's `\s`: space, \t, \n, \v, \f, \r.
bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

constexpr std::array<int8_t, 256> make_base64_table() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) {
    v = -1;
  }
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return table;
}

constexpr std::array<int8_t, 256> kBase64 = make_base64_table();

std::string without_spaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (!is_space(c)) {
      out += c;
    }
  }
  return out;
}

// The text captured by `(?i:basic)\s(.+)` (unanchored; `.` stops at a newline), or nullopt.
std::optional<std::string_view> basic_payload(std::string_view value) {
  constexpr std::string_view kScheme = "basic";
  for (size_t i = 0; i + kScheme.size() + 1 < value.size(); ++i) {
    bool scheme = true;
    for (size_t k = 0; k < kScheme.size(); ++k) {
      if (ascii_lower(value[i + k]) != kScheme[k]) {
        scheme = false;
        break;
      }
    }
    size_t start = i + kScheme.size() + 1;
    if (!scheme || !is_space(value[i + kScheme.size()]) || value[start] == '\n') {
      continue;
    }
    size_t end = value.find('\n', start);
    return value.substr(start, end == std::string_view::npos ? end : end - start);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> decode_base64(std::string_view text) {
  size_t len = 0;
  while (len < text.size() && text[len] != '=') {
    if (kBase64[static_cast<unsigned char>(text[len])] < 0) {
      return std::nullopt;
    }
    ++len;
  }
  if (len % 4 == 1) {
    return std::nullopt;
  }
  auto at = [&](size_t i) {
    return static_cast<unsigned>(kBase64[static_cast<unsigned char>(text[i])]);
  };
  std::string out;
  out.reserve(len / 4 * 3 + 2);
  size_t i = 0;
  for (; len - i > 3; i += 4) {
    out += static_cast<char>((at(i) << 2) | (at(i + 1) >> 4));
    out += static_cast<char>((at(i + 1) << 4) | (at(i + 2) >> 2));
    out += static_cast<char>((at(i + 2) << 6) | at(i + 3));
  }
  if (len - i > 1) {
    out += static_cast<char>((at(i) << 2) | (at(i + 1) >> 4));
  }
  if (len - i > 2) {
    out += static_cast<char>((at(i + 1) << 4) | (at(i + 2) >> 2));
  }
  return out;
}

std::optional<Credentials> parse_authorization(std::string_view value) {
  std::optional<std::string_view> payload = basic_payload(value);
  if (!payload) {
    return std::nullopt;
  }
  std::optional<std::string> decoded = decode_base64(*payload);
  if (!decoded) {
    return std::nullopt;
  }
  // ngx.re.split(decoded, ":"): every colon separates; empty fields at the end are dropped.
  std::vector<std::string_view> fields;
  std::string_view rest = *decoded;
  while (true) {
    size_t colon = rest.find(':');
    fields.push_back(rest.substr(0, colon));
    if (colon == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(colon + 1);
  }
  while (!fields.empty() && fields.back().empty()) {
    fields.pop_back();
  }
  if (fields.size() < 2) {
    return std::nullopt;
  }
  return Credentials{without_spaces(fields[0]), without_spaces(fields[1])};
}

}  // namespace basic_auth

Result<std::shared_ptr<const Plugin>> BasicAuth::compile(const boost::json::value& conf,
                                                         CompileContext&) {
  std::shared_ptr<BasicAuth> plugin(new BasicAuth());
  const boost::json::object* obj = conf.if_object();
  std::string realm = "basic";
  if (obj != nullptr) {
    if (const auto* r = obj->if_contains("realm"); r && r->is_string()) {
      realm = std::string(r->get_string());
    }
    if (const auto* hide = obj->if_contains("hide_credentials"); hide && hide->is_bool()) {
      plugin->hide_credentials_ = hide->get_bool();
    }
    if (const auto* anon = obj->if_contains("anonymous_consumer"); anon && anon->is_string()) {
      plugin->anonymous_consumer_ = std::string(anon->get_string());
    }
  }
  plugin->www_authenticate_ = "Basic realm=\"" + realm + "\"";
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

core::Task<PhaseResult> BasicAuth::rewrite(Request& request) const {
  co_return authenticate(request);
}

Exit BasicAuth::reject(std::string_view message) const {
  Exit exit = Exit::message(401, message);
  exit.headers.emplace_back("WWW-Authenticate", www_authenticate_);
  return exit;
}

namespace {

// Compares without stopping at the first difference, so that the time taken does not tell
// how much of a guessed password was right.
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

}  // namespace

PhaseResult BasicAuth::authenticate(Request& request) const {
  // plugins.md §4.2 steps 1-3.
  std::string_view failure;
  const ConsumerAuth* found = nullptr;
  if (auto header = request.header("Authorization"); !header) {
    failure = "Missing authorization in request";
  } else if (auto credentials = basic_auth::parse_authorization(*header); !credentials) {
    failure = "Invalid authorization in request";
  } else {
    failure = "Invalid user authorization";
    const ConsumerAuth* entry = request.consumers != nullptr
                                    ? request.consumers->find(kName, credentials->username)
                                    : nullptr;
    const boost::json::value* password = nullptr;
    if (entry != nullptr && entry->conf.is_object()) {
      password = entry->conf.get_object().if_contains("password");
    }
    if (password != nullptr && password->is_string() &&
        same_secret(std::string_view(password->get_string().data(), password->get_string().size()),
                    credentials->password)) {
      found = entry;
    }
  }

  const Consumer* consumer = found != nullptr ? found->consumer.get() : nullptr;
  bool anonymous = false;
  if (consumer == nullptr) {
    if (!anonymous_consumer_) {
      return reject(failure);
    }
    consumer =
        request.consumers != nullptr ? request.consumers->by_name(*anonymous_consumer_) : nullptr;
    if (consumer == nullptr) {
      return reject("Invalid user authorization");
    }
    anonymous = true;
  }
  // Step 4: on success and on the anonymous fallback alike.
  if (hide_credentials_) {
    request.remove_header("Authorization");
  }
  request.attach_consumer(*consumer, anonymous ? std::string_view{} : found->credential_id);
  if (anonymous) {
    // APISIX attaches the anonymous consumer's stored object, which has no custom_id field
    // (only the consumers indexed for lookup get one from labels.custom_id).
    request.remove_header("X-Consumer-Custom-ID");
  }
  return std::nullopt;
}

}  // namespace apisix::plugins
