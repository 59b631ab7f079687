#include "plugins/key_auth/key_auth.h"

#include <algorithm>
#include <utility>

#include "plugins/consumers.h"
#include "plugins/request.h"

namespace apisix::plugins {

namespace key_auth {

namespace {

// How many arguments ngx.req.get_uri_args() reads by default.
constexpr int kMaxArgs = 100;

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  char lower = static_cast<char>(c | 0x20);
  if (lower >= 'a' && lower <= 'f') {
    return lower - 'a' + 10;
  }
  return -1;
}

// Percent-decoding as lua-nginx-module's unescape for URI components: `+` is a space; a `%`
// followed by a non-hex character is dropped (the character is kept); `%h` followed by a
// non-hex character drops all three; an unfinished escape at the end is dropped.
std::string unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c != '%') {
      out += c;
    } else if (i + 1 < text.size()) {
      int high = hex_value(text[i + 1]);
      if (high < 0) {
        out += text[i + 1];
        ++i;
      } else if (i + 2 < text.size()) {
        int low = hex_value(text[i + 2]);
        if (low >= 0) {
          out += static_cast<char>(high * 16 + low);
        }
        i += 2;
      } else {
        i += 1;
      }
    }
  }
  return out;
}

// Calls fn(segment, decoded_key, has_value, raw_value) for each `&`-separated segment of
// `query` with a non-empty key, up to kMaxArgs of them; fn returns false to stop.
template <typename Fn>
void for_each_arg(std::string_view query, Fn&& fn) {
  int seen = 0;
  size_t pos = 0;
  while (pos <= query.size() && seen < kMaxArgs) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) {
      amp = query.size();
    }
    std::string_view segment = query.substr(pos, amp - pos);
    pos = amp + 1;
    size_t eq = segment.find('=');
    std::string key = unescape(segment.substr(0, eq));
    if (key.empty()) {
      continue;  // get_uri_args ignores pairs with an empty key
    }
    ++seen;
    bool has_value = eq != std::string_view::npos;
    std::string_view raw_value = has_value ? segment.substr(eq + 1) : std::string_view{};
    if (!fn(segment, key, has_value, raw_value)) {
      return;
    }
  }
}

}  // namespace

QueryArg find_query_arg(std::string_view query, std::string_view name) {
  QueryArg arg;
  for_each_arg(query, [&](std::string_view, const std::string& key, bool has_value,
                          std::string_view raw_value) {
    if (key != name) {
      return true;
    }
    if (arg.kind != QueryArg::Kind::Absent || !has_value) {
      // A repeated argument is a table in Lua and a bare one is `true`: neither is a key.
      arg.kind = QueryArg::Kind::Unusable;
      arg.value.clear();
      return true;
    }
    arg.kind = QueryArg::Kind::Single;
    arg.value = unescape(raw_value);
    return true;
  });
  return arg;
}

std::optional<std::string> remove_query_arg(std::string_view query, std::string_view name) {
  std::string out;
  bool removed = false;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) {
      amp = query.size();
    }
    std::string_view segment = query.substr(pos, amp - pos);
    pos = amp + 1;
    if (segment.empty()) {
      continue;
    }
    if (unescape(segment.substr(0, segment.find('='))) == name) {
      removed = true;
      continue;
    }
    if (!out.empty()) {
      out += '&';
    }
    out += segment;
  }
  if (!removed) {
    return std::nullopt;
  }
  return out;
}

}  // namespace key_auth

Result<std::shared_ptr<const Plugin>> KeyAuth::compile(const boost::json::value& conf,
                                                       CompileContext&) {
  std::shared_ptr<KeyAuth> plugin(new KeyAuth());
  const boost::json::object* obj = conf.if_object();
  auto text = [&](std::string_view field, std::string_view fallback) {
    const boost::json::value* v = obj != nullptr ? obj->if_contains(field) : nullptr;
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string(fallback);
  };
  plugin->header_ = text("header", "apikey");
  if (plugin->header_.find('_') != std::string::npos) {
    plugin->header_dashed_ = plugin->header_;
    std::replace(plugin->header_dashed_.begin(), plugin->header_dashed_.end(), '_', '-');
  }
  plugin->query_ = text("query", "apikey");
  plugin->www_authenticate_ = "apikey realm=\"" + text("realm", "key") + "\"";
  if (obj != nullptr) {
    if (const auto* hide = obj->if_contains("hide_credentials"); hide && hide->is_bool()) {
      plugin->hide_credentials_ = hide->get_bool();
    }
    if (const auto* anon = obj->if_contains("anonymous_consumer"); anon && anon->is_string()) {
      plugin->anonymous_consumer_ = std::string(anon->get_string());
    }
  }
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

core::Task<PhaseResult> KeyAuth::rewrite(Request& request) const {
  co_return authenticate(request);
}

std::optional<std::pair<std::string_view, std::string_view>> KeyAuth::find_header(
    const Request& request) const {
  if (auto value = request.header(header_)) {
    return std::make_pair(*value, std::string_view(header_));
  }
  // core.request.header() reads ngx.req.get_headers(), whose lookup also finds `api-key`
  // for a configured `api_key`.
  if (!header_dashed_.empty()) {
    if (auto value = request.header(header_dashed_)) {
      return std::make_pair(*value, std::string_view(header_dashed_));
    }
  }
  return std::nullopt;
}

void KeyAuth::remove_query(Request& request) const {
  std::string_view path;
  std::string_view query;
  if (const auto& current = request.upstream_uri()) {
    std::string_view target = *current;
    size_t mark = target.find('?');
    path = target.substr(0, mark);
    query = mark == std::string_view::npos ? std::string_view{} : target.substr(mark + 1);
  } else {
    path = request.head() != nullptr ? request.head()->path : std::string_view{};
    query = request.query();
  }
  std::optional<std::string> kept = key_auth::remove_query_arg(query, query_);
  if (!kept) {
    return;  // the argument is not there: the target stays as it is
  }
  std::string target(path);
  if (!kept->empty()) {
    target += '?';
    target += *kept;
  }
  request.set_upstream_uri(std::move(target));
}

Exit KeyAuth::reject(std::string_view message) const {
  Exit exit = Exit::message(401, message);
  exit.headers.emplace_back("WWW-Authenticate", www_authenticate_);
  return exit;
}

PhaseResult KeyAuth::authenticate(Request& request) const {
  // plugins.md §4.1 steps 1-5.
  std::string_view failure;
  const ConsumerAuth* found = nullptr;
  auto header = find_header(request);
  if (header) {
    found = request.consumers != nullptr ? request.consumers->find(kName, header->first) : nullptr;
    failure = "Invalid API key in request";
  } else {
    key_auth::QueryArg arg = key_auth::find_query_arg(request.query(), query_);
    if (arg.kind == key_auth::QueryArg::Kind::Absent) {
      failure = "Missing API key in request";
    } else {
      failure = "Invalid API key in request";
      if (arg.kind == key_auth::QueryArg::Kind::Single && request.consumers != nullptr) {
        found = request.consumers->find(kName, arg.value);
      }
    }
  }

  if (found != nullptr && found->consumer != nullptr) {
    if (hide_credentials_) {
      if (header) {
        request.remove_header(header->second);
      } else {
        remove_query(request);
      }
    }
    request.attach_consumer(*found->consumer, found->credential_id);
    return std::nullopt;
  }

  if (!anonymous_consumer_) {
    return reject(failure);
  }
  // Step 6: an invalid credential must not reach the upstream with the anonymous consumer
  // either; the request may carry it in both places.
  if (hide_credentials_) {
    if (header) {
      request.remove_header(header->second);
    }
    remove_query(request);
  }
  const Consumer* anonymous =
      request.consumers != nullptr ? request.consumers->by_name(*anonymous_consumer_) : nullptr;
  if (anonymous == nullptr) {
    return reject("Invalid user authorization");
  }
  request.attach_consumer(*anonymous, "");
  // APISIX attaches the anonymous consumer's stored object, which has no custom_id field
  // (only the consumers indexed for lookup get one from labels.custom_id).
  request.remove_header("X-Consumer-Custom-ID");
  return std::nullopt;
}

}  // namespace apisix::plugins
