#include "admin/admin_server.h"

#include <chrono>
#include <cstdio>
#include <cstring>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "config/resource_parse.h"
#include "core/log.h"
#include "http/error_page.h"
#include "http/parser.h"
#include "router/expr.h"
#include "router/vars.h"

namespace apisix::admin {
namespace json = boost::json;
using core::Task;

namespace {

constexpr size_t kMaxBody = 1572864;  // 1.5 MiB (core.md §3.2)

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string json_line(const json::value& v) {
  std::string out = json::serialize(v);
  out += '\n';
  return out;
}

// `text` with every byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD,
// so that echoing client bytes (req_body) always yields valid JSON text.
std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    bool ok = len != 0 && i + len <= text.size();
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; ok && k < len; ++k) {
      auto cont = static_cast<unsigned char>(text[i + k]);
      ok = (cont & 0xC0) == 0x80;
      cp = (cp << 6) | (cont & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not well-formed either.
    ok = ok && !(len == 2 && cp < 0x80) && !(len == 3 && cp < 0x800) &&
         !(len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

AdminServer::Response error(int status, std::string message) {
  json::object body;
  body["error_msg"] = valid_utf8(message);  // messages may quote the client's bytes
  return {status, json_line(body)};
}

AdminServer::Response not_found_key() {
  return {404, json_line(json::object{{"message", "Key not found"}})};
}

AdminServer::Response plain_page(int status) {
  // The nginx-style page (core.md §3.1: 403 from allow_admin, 404 for unknown paths), with
  // the body only: the listener adds the head.
  std::string title = std::to_string(status) + " " + std::string(http::reason_phrase(status));
  return {status,
          "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
              "</h1></center>\r\n<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n",
          false, false};
}

// The kind word APISIX's messages use for a resource type.
std::string_view kind_of(std::string_view type) {
  if (type == "routes") return "route";
  if (type == "services") return "service";
  if (type == "upstreams") return "upstream";
  return type;
}

bool is_built_type(std::string_view type) {
  return type == "routes" || type == "services" || type == "upstreams";
}

// APISIX resource types whose compilation is not built yet (refused with a clear message).
bool is_known_type(std::string_view type) {
  static constexpr std::string_view kTypes[] = {
      "consumers",       "consumer_groups", "ssls",   "global_rules", "plugin_configs",
      "plugin_metadata", "stream_routes",   "protos", "secrets",      "credentials"};
  for (std::string_view t : kTypes) {
    if (t == type) return true;
  }
  return false;
}

// Query argument `name`, undecoded ("" when absent or bare).
std::optional<std::string_view> arg(std::string_view query, std::string_view name) {
  bool bare = false;
  auto v = router::query_arg(query, name, bare);
  if (v) return v;
  if (bare) return std::string_view{};
  return std::nullopt;
}

// Percent-decoding of a query argument value (`+` is a space).
std::string url_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int hi = i + 1 < in.size() ? hex(in[i + 1]) : -1;
      int lo = i + 2 < in.size() ? hex(in[i + 2]) : -1;
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
      } else {
        out += c;
      }
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<double> parse_number(std::string_view text) { return router::parse_lua_number(text); }

// Unanchored PCRE match, as the list filters use (core.md §3.11). An invalid pattern matches
// nothing.
class Pattern {
 public:
  explicit Pattern(const std::string& pattern) {
    int err = 0;
    PCRE2_SIZE offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0, &err,
                          &offset, nullptr);
    if (code_ != nullptr) {
      data_ = pcre2_match_data_create_from_pattern(code_, nullptr);
    }
  }
  ~Pattern() {
    pcre2_match_data_free(data_);
    pcre2_code_free(code_);
  }
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;
  bool matches(std::string_view text) const {
    return code_ != nullptr && pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(text.data()),
                                           text.size(), 0, 0, data_, nullptr) >= 0;
  }

 private:
  pcre2_code* code_ = nullptr;
  pcre2_match_data* data_ = nullptr;
};

std::string id_text(const json::value& id) {
  if (id.is_string()) return std::string(id.get_string());
  if (id.is_int64()) return std::to_string(id.get_int64());
  if (id.is_uint64()) return std::to_string(id.get_uint64());
  return json::serialize(id);
}

// JSON merge of `patch` into `target` (core.md §3.8): objects merge key by key, null deletes,
// anything else (arrays included) replaces.
void merge(json::value& target, const json::value& patch) {
  if (!patch.is_object() || !target.is_object()) {
    target = patch;
    return;
  }
  json::object& t = target.get_object();
  for (const auto& [key, value] : patch.get_object()) {
    if (value.is_null()) {
      t.erase(key);
    } else if (value.is_object() && t.contains(key) && t.at(key).is_object()) {
      merge(t.at(key), value);
    } else {
      t[key] = value;
    }
  }
}

}  // namespace

// ---- ResourceMap ----

const StoredItem* ResourceMap::get(const std::string& key) const {
  auto it = items_.find(key);
  return it == items_.end() ? nullptr : &it->second;
}

void ResourceMap::set_expiry(const std::string& key, int64_t old_expire_at, int64_t expire_at) {
  if (old_expire_at != 0) {
    expiries_.erase({old_expire_at, key});
  }
  if (expire_at != 0) {
    expiries_.emplace(expire_at, key);
  }
}

std::vector<std::string> ResourceMap::expired(int64_t now_unix) const {
  std::vector<std::string> keys;
  for (auto it = expiries_.begin(); it != expiries_.end() && it->first <= now_unix; ++it) {
    keys.push_back(it->second);
  }
  return keys;
}

bool ResourceMap::put(const std::string& key, json::value value, int64_t expire_at) {
  int64_t revision = next_revision();
  auto [it, inserted] = items_.try_emplace(key);
  if (inserted) {
    it->second.created_index = revision;
  }
  it->second.value = std::move(value);
  it->second.modified_index = revision;
  set_expiry(key, it->second.expire_at, expire_at);
  it->second.expire_at = expire_at;
  return inserted;
}

bool ResourceMap::put_at(const std::string& key, json::value value, int64_t expire_at,
                         int64_t created, int64_t modified) {
  revision_ = std::max(revision_, modified);
  auto [it, inserted] = items_.try_emplace(key);
  it->second.value = std::move(value);
  it->second.created_index = created;
  it->second.modified_index = modified;
  set_expiry(key, it->second.expire_at, expire_at);
  it->second.expire_at = expire_at;
  return inserted;
}

void ResourceMap::erase_at(const std::string& key, int64_t revision) {
  revision_ = std::max(revision_, revision);
  if (auto it = items_.find(key); it != items_.end()) {
    set_expiry(key, it->second.expire_at, 0);
    items_.erase(it);
  }
}

bool ResourceMap::erase(const std::string& key) {
  auto it = items_.find(key);
  if (it == items_.end()) {
    return false;
  }
  set_expiry(key, it->second.expire_at, 0);
  items_.erase(it);
  next_revision();
  return true;
}

// ---- AdminServer ----

AdminServer::Response AdminServer::json_error(int status, std::string message) {
  return error(status, std::move(message));
}

AdminServer::AdminServer(core::Loop& loop, AdminOptions options, ChangeSink on_change,
                         store::ConfigStore* durable)
    : loop_(loop),
      options_(std::move(options)),
      on_change_(std::move(on_change)),
      durable_(durable),
      listener_(loop, "admin") {}

AdminServer::~AdminServer() = default;

std::string AdminServer::key_of(std::string_view type, std::string_view id) const {
  std::string key = options_.prefix;
  key += '/';
  key += type;
  key += '/';
  key += id;
  return key;
}

AdminServer::Response AdminServer::handle(const Request& request) {
  Outcome outcome = prepare(request);
  if (auto* response = std::get_if<Response>(&outcome)) {
    return std::move(*response);
  }
  return commit(std::get<Pending>(outcome), 0, 0);
}

AdminServer::Outcome AdminServer::prepare(const Request& request) {
  if (options_.allow && !options_.allow->contains(request.client_ip)) {
    return plain_page(403);
  }
  if (request.method == "OPTIONS" && options_.cors) {
    return Response{200, "", false, false};
  }
  std::string_view path = request.path;
  if (request.method == "HEAD" && (path == "/apisix/admin" || path == "/apisix/admin/")) {
    return Response{200, "", true, false};
  }
  constexpr std::string_view kBase = "/apisix/admin/";
  if (path.substr(0, kBase.size()) != kBase) {
    return plain_page(404);
  }
  const std::string_view m = request.method;
  if (m != "GET" && m != "PUT" && m != "POST" && m != "DELETE" && m != "PATCH") {
    return plain_page(404);
  }

  // Token (core.md §3.1): api_key argument, X-API-KEY header, x_api_key cookie.
  if (options_.key_required && options_.keys && !options_.keys->empty()) {
    std::optional<std::string> token;
    if (auto a = arg(request.query, "api_key")) {
      token = url_decode(*a);
    } else if (!request.api_key_header.empty()) {
      token = std::string(request.api_key_header);
    } else if (auto c = router::cookie_value(request.cookie, "x_api_key")) {
      token = std::string(*c);
    }
    auto refuse = [](std::string reason) {
      json::object body{{"error_msg", "failed to check token"}, {"description", reason}};
      return Response{401, json_line(body), true, false};
    };
    if (!token || token->empty()) {
      return refuse("missing apikey");
    }
    const AdminKey* found = nullptr;
    for (const AdminKey& k : *options_.keys) {
      if (!k.key.empty() && k.key == *token) {
        found = &k;
        break;
      }
    }
    if (found == nullptr) {
      return refuse("wrong apikey");
    }
    if (found->role == Role::Viewer && m != "GET") {
      return refuse("invalid method for role viewer");
    }
  }

  // Segments after /apisix/admin/: type, id, sub path (a trailing '/' is dropped).
  std::vector<std::string_view> segments;
  std::string_view rest = path.substr(kBase.size());
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    segments.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (segments.empty()) {
    return plain_page(404);
  }
  std::string_view type = segments[0];
  std::string_view id = segments.size() > 1 ? segments[1] : std::string_view{};
  std::vector<std::string_view> sub_path;
  for (size_t i = 2; i < segments.size(); ++i) {
    sub_path.push_back(segments[i]);
  }
  if (!is_built_type(type)) {
    if (is_known_type(type)) {
      return error(400,
                   "resource type " + std::string(type) + " is not supported by this build yet");
    }
    return error(404, "Unsupported resource type: " + std::string(type));
  }
  return dispatch(request, type, id, sub_path);
}

AdminServer::Outcome AdminServer::dispatch(const Request& request, std::string_view type,
                                           std::string_view id,
                                           const std::vector<std::string_view>& sub_path) {
  const std::string_view m = request.method;
  if (request.body.size() > kMaxBody) {
    return error(400, "invalid request body: request size " + std::to_string(request.body.size()) +
                          " is greater than the maximum size 1572864 allowed");
  }
  json::value body;
  if (!request.body.empty()) {
    boost::system::error_code ec;
    body = json::parse(request.body, ec);
    if (ec) {
      json::object out{{"error_msg", "invalid request body: " + ec.message()},
                       {"req_body", valid_utf8(request.body)}};
      return Response{400, json_line(out)};
    }
  }
  if (auto ttl = arg(request.query, "ttl")) {
    if (!parse_number(*ttl)) {
      return error(400, "invalid argument ttl: should be a number");
    }
  }
  if (m == "GET") {
    return get(type, id, request.query);
  }
  if (m == "DELETE") {
    if (id.empty()) {
      return error(400, "missing " + std::string(kind_of(type)) + " id");
    }
    return remove(type, id, request.query);
  }
  return write(m, type, std::string(id), std::move(body), request.query, sub_path);
}

AdminServer::Response AdminServer::get(std::string_view type, std::string_view id,
                                       std::string_view query) {
  auto envelope = [](const std::string& key, const StoredItem& item) {
    return json::object{{"key", key},
                        {"value", item.value},
                        {"createdIndex", item.created_index},
                        {"modifiedIndex", item.modified_index}};
  };
  if (!id.empty()) {
    std::string key = key_of(type, id);
    const StoredItem* item = store_.get(key);
    if (item == nullptr) {
      return not_found_key();
    }
    return {200, json_line(envelope(key, *item))};
  }

  // List with the filters of core.md §3.11.
  std::optional<Pattern> name_filter;
  std::optional<Pattern> uri_filter;
  std::optional<std::string> label;
  if (auto a = arg(query, "name")) name_filter.emplace(url_decode(*a));
  if (auto a = arg(query, "uri")) uri_filter.emplace(url_decode(*a));
  if (auto a = arg(query, "label")) label = url_decode(*a);
  std::vector<std::pair<const std::string*, const StoredItem*>> rows;
  std::string prefix = key_of(type, "");
  for (auto it = store_.items().lower_bound(prefix);
       it != store_.items().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    const json::object* value = it->second.value.if_object();
    if (value == nullptr) continue;
    if (name_filter) {
      const json::value* n = value->if_contains("name");
      if (n == nullptr || !n->is_string() || !name_filter->matches(n->get_string())) continue;
    }
    if (label) {
      const json::value* l = value->if_contains("labels");
      if (l == nullptr || !l->is_object() || !l->get_object().contains(*label)) continue;
    }
    if (uri_filter) {
      bool hit = false;
      if (const json::value* u = value->if_contains("uri"); u && u->is_string()) {
        hit = uri_filter->matches(u->get_string());
      }
      if (const json::value* us = value->if_contains("uris"); !hit && us && us->is_array()) {
        for (const json::value& u : us->get_array()) {
          if (u.is_string() && uri_filter->matches(u.get_string())) {
            hit = true;
            break;
          }
        }
      }
      if (!hit) continue;
    }
    rows.emplace_back(&it->first, &it->second);
  }
  size_t total = rows.size();
  auto page = arg(query, "page");
  auto page_size = arg(query, "page_size");
  if (page && page_size) {
    auto p = parse_number(*page);
    auto s = parse_number(*page_size);
    if (p && s) {
      if (*s < 10 || *s > 500) {
        return {400, "page_size must be between 10 and 500", true, true};
      }
      int64_t pn = std::max<int64_t>(1, static_cast<int64_t>(*p));
      auto size = static_cast<int64_t>(*s);
      std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
        return a.second->created_index < b.second->created_index;
      });
      int64_t from = (pn - 1) * size;
      if (from >= static_cast<int64_t>(rows.size())) {
        rows.clear();
      } else {
        rows.erase(rows.begin(), rows.begin() + from);
        if (static_cast<int64_t>(rows.size()) > size) rows.resize(static_cast<size_t>(size));
      }
    }
  }
  json::array list;
  for (const auto& [key, item] : rows) {
    list.push_back(envelope(*key, *item));
  }
  return {200, json_line(json::object{{"list", std::move(list)}, {"total", total}})};
}

std::optional<std::string> AdminServer::validate(std::string_view type, const json::value& value) {
  const json::object* obj = value.if_object();
  if (obj == nullptr) {
    return "invalid configuration: wrong type: expected object, got " +
           std::string(value.is_array() ? "array" : "scalar");
  }
  auto exists = [&](std::string_view t, const json::value& ref) {
    return store_.get(key_of(t, id_text(ref))) != nullptr;
  };
  auto check_plugins = [&](const json::object& o) -> std::optional<std::string> {
    if (const json::value* p = o.if_contains("plugins"); p && p->is_object()) {
      for (const auto& [name, conf] : p->get_object()) {
        // The plugin machinery is not built yet: every plugin is unknown to this build.
        return "unknown plugin [" + std::string(name) + "]";
      }
    }
    return std::nullopt;
  };
  if (type == "routes") {
    if (obj->contains("host") && obj->contains("hosts")) {
      return "only one of host or hosts is allowed";
    }
    if (obj->contains("remote_addr") && obj->contains("remote_addrs")) {
      return "only one of remote_addr or remote_addrs is allowed";
    }
    auto parsed = config::parse_route(value);
    if (!parsed) {
      return parsed.error().context;
    }
    if (const json::value* u = obj->if_contains("upstream_id"); u && !exists("upstreams", *u)) {
      return "failed to fetch upstream info by upstream id [" + id_text(*u) +
             "], response code: 404";
    }
    if (const json::value* s = obj->if_contains("service_id"); s && !exists("services", *s)) {
      return "failed to fetch service info by service id [" + id_text(*s) + "], response code: 404";
    }
    if (const json::value* p = obj->if_contains("plugin_config_id"); p) {
      return "failed to fetch plugin config info by plugin config id [" + id_text(*p) +
             "], response code: 404";
    }
    if (!parsed->vars.empty()) {
      auto expr = router::Expr::compile(json::value(parsed->vars));
      if (!expr) {
        return "failed to validate the 'vars' expression: " + expr.error().context;
      }
    }
    if (auto e = check_plugins(*obj)) return e;
    if (const json::value* up = obj->if_contains("upstream"); up && up->is_object()) {
      if (auto e = check_plugins(up->get_object())) return e;
    }
    return std::nullopt;
  }
  if (type == "services") {
    auto parsed = config::parse_service(value);
    if (!parsed) {
      return parsed.error().context;
    }
    if (const json::value* u = obj->if_contains("upstream_id"); u && !exists("upstreams", *u)) {
      return "failed to fetch upstream info by upstream id [" + id_text(*u) +
             "], response code: 404";
    }
    return check_plugins(*obj);
  }
  auto parsed = config::parse_upstream(value);
  if (!parsed) {
    return parsed.error().context;
  }
  return std::nullopt;
}

AdminServer::Outcome AdminServer::write(std::string_view method, std::string_view type,
                                        std::string id, json::value body, std::string_view query,
                                        const std::vector<std::string_view>& sub_path) {
  const std::string kind(kind_of(type));
  int64_t ttl = 0;
  if (auto t = arg(query, "ttl")) {
    ttl = static_cast<int64_t>(*parse_number(*t));
  }
  const int64_t now = unix_now();
  json::value value;
  bool created = false;

  if (method == "PATCH") {
    if (id.empty()) {
      return error(400, "missing " + kind + " id");
    }
    if (body.is_null()) {
      return error(400, "missing new configuration");
    }
    const StoredItem* current = store_.get(key_of(type, id));
    if (current == nullptr) {
      return not_found_key();
    }
    value = current->value;
    if (sub_path.empty()) {
      if (!body.is_object()) {
        return error(400, "invalid configuration");
      }
      bool sets_update_time = body.get_object().contains("update_time");
      merge(value, body);
      if (!sets_update_time) {
        value.as_object()["update_time"] = now;
      }
    } else {
      json::value* at = &value;
      std::string walked;
      for (size_t i = 0; i + 1 < sub_path.size(); ++i) {
        walked += "/";
        walked += sub_path[i];
        json::object* o = at->if_object();
        if (o == nullptr) {
          return error(400, "invalid sub-path: " + walked);
        }
        json::value& next = (*o)[sub_path[i]];
        if (next.is_null()) {
          next = json::object{};
        } else if (!next.is_object()) {
          return error(400, "invalid sub-path: " + walked + "/" + std::string(sub_path[i + 1]));
        }
        at = &next;
      }
      json::object* o = at->if_object();
      if (o == nullptr) {
        return error(400, "invalid sub-path: " + walked);
      }
      (*o)[sub_path.back()] = body;
      value.as_object()["update_time"] = now;
    }
    value.as_object()["id"] = id;
  } else {
    if (!sub_path.empty()) {
      return error(404, "not found");
    }
    if (method == "POST") {
      if (!id.empty() || (body.is_object() && body.get_object().contains("id"))) {
        return error(400, "wrong " + kind + " id, do not need it");
      }
    } else if (id.empty()) {
      if (body.is_object() && body.get_object().contains("id")) {
        id = id_text(body.get_object().at("id"));
      } else {
        return error(400, "missing " + kind + " id");
      }
    } else if (body.is_object() && body.get_object().contains("id") &&
               id_text(body.get_object().at("id")) != id) {
      return error(400, "wrong " + kind + " id");
    }
    if (body.is_null()) {
      return error(400, "missing configurations");
    }
    if (json::object* o = body.if_object()) {
      for (std::string_view field : {"create_time", "update_time"}) {
        bool in_upstream = false;
        if (const json::value* up = o->if_contains("upstream"); up && up->is_object()) {
          in_upstream = up->get_object().contains(field);
        }
        if (o->contains(field) || in_upstream) {
          return error(400, "the property is forbidden:  " + std::string(field));
        }
      }
    }
    value = std::move(body);
    if (method == "POST") {
      char buf[24];
      // The next revision, as APISIX takes etcd's (core.md §2.4); never repeated even while
      // earlier POSTs wait for the disk.
      last_generated_id_ = std::max(last_generated_id_ + 1, store_.revision() + 1);
      std::snprintf(buf, sizeof(buf), "%020lld", static_cast<long long>(last_generated_id_));
      id = buf;
    }
    if (json::object* o = value.if_object()) {
      (*o)["id"] = id;
      const StoredItem* current = store_.get(key_of(type, id));
      const json::value* created_at = nullptr;
      if (current != nullptr && current->value.is_object()) {
        created_at = current->value.get_object().if_contains("create_time");
      }
      (*o)["create_time"] = created_at ? *created_at : json::value(now);
      (*o)["update_time"] = now;
    }
  }

  if (auto problem = validate(type, value)) {
    return error(400, *problem);
  }
  Pending pending;
  pending.type = std::string(type);
  pending.key = key_of(type, id);
  pending.id = std::move(id);
  pending.ttl = ttl;
  const StoredItem* current = store_.get(pending.key);
  created = current == nullptr;
  pending.status = method == "PATCH" ? 200 : (created || method == "POST" ? 201 : 200);
  if (method == "PATCH" && current != nullptr) {
    pending.expected = current->modified_index;
  }
  pending.value = std::move(value);
  return pending;
}

AdminServer::Response AdminServer::commit(const Pending& pending, int64_t created,
                                          int64_t modified) {
  if (pending.remove) {
    if (modified != 0) {
      store_.erase_at(pending.key, modified);
      tombstones_[pending.key] = modified;
    } else {
      store_.erase(pending.key);
    }
    on_change_({Change{pending.type, pending.id, std::nullopt}});
    return {200, json_line(json::object{{"deleted", "1"}, {"key", pending.key}})};
  }
  int64_t expire_at = pending.ttl > 0 ? unix_now() + pending.ttl : 0;
  if (modified != 0) {
    store_.put_at(pending.key, pending.value, expire_at, created, modified);
  } else {
    store_.put(pending.key, pending.value, expire_at);
  }
  on_change_({Change{pending.type, pending.id, pending.value}});
  return {pending.status, json_line(json::object{{"key", pending.key}, {"value", pending.value}})};
}

AdminServer::Outcome AdminServer::remove(std::string_view type, std::string_view id,
                                         std::string_view query) {
  const std::string key = key_of(type, id);
  if (store_.get(key) == nullptr) {
    return not_found_key();
  }
  auto force = arg(query, "force");
  if (!(force && *force == "true") && type != "routes") {
    // Reference checks (core.md §3.3, §3.9).
    auto referenced_by = [&](std::string_view from, std::string_view field) -> std::string {
      std::string prefix = key_of(from, "");
      for (auto it = store_.items().lower_bound(prefix);
           it != store_.items().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        const json::object* o = it->second.value.if_object();
        const json::value* ref = o ? o->if_contains(field) : nullptr;
        if (ref != nullptr && id_text(*ref) == id) {
          return it->first.substr(prefix.size());
        }
      }
      return {};
    };
    if (type == "services") {
      if (std::string r = referenced_by("routes", "service_id"); !r.empty()) {
        return error(
            400, "can not delete this service directly, route [" + r + "] is still using it now");
      }
    } else if (type == "upstreams") {
      if (std::string r = referenced_by("routes", "upstream_id"); !r.empty()) {
        return error(400, "can not delete this upstream, route [" + r + "] is still using it now");
      }
      if (std::string s = referenced_by("services", "upstream_id"); !s.empty()) {
        return error(400,
                     "can not delete this upstream, service [" + s + "] is still using it now");
      }
    }
  }
  Pending pending;
  pending.remove = true;
  pending.type = std::string(type);
  pending.id = std::string(id);
  pending.key = key;
  return pending;
}

void AdminServer::expire(int64_t now_unix) {
  std::vector<Change> changes;
  for (const std::string& key : store_.expired(now_unix)) {
    store_.erase(key);
    // <prefix>/<type>/<id>
    std::string_view rest = std::string_view(key).substr(options_.prefix.size() + 1);
    size_t slash = rest.find('/');
    changes.push_back(
        Change{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1)), {}});
  }
  if (!changes.empty()) {
    on_change_(changes);
  }
}

}  // namespace apisix::admin
