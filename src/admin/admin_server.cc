#include "admin/admin_server.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <tuple>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pcre2.h>

#include "config/resource_parse.h"
#include "config/schema_check.h"
#include "core/log.h"
#include "http/error_page.h"
#include "http/parser.h"
#include "router/expr.h"
#include "router/vars.h"
#include "schema/core_schemas.h"

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

// A resource type of core.md §3.3: its path segment, the word APISIX's messages use, the core
// schema that validates it, and whether it takes POST and PATCH (GET, PUT and DELETE: always).
struct Kind {
  std::string_view type;
  std::string_view kind;
  std::string_view schema;
  bool post;
  bool patch;
};

constexpr Kind kKinds[] = {
    {"routes", "route", "route", true, true},
    {"services", "service", "service", true, true},
    {"upstreams", "upstream", "upstream", true, true},
    {"consumers", "consumer", "consumer", false, false},
    {"credentials", "credential", "credential", false, false},
    {"consumer_groups", "consumer group", "consumer_group", false, true},
    {"ssls", "ssl", "ssl", true, true},
    {"global_rules", "global rule", "global_rule", false, true},
    {"plugin_configs", "plugin config", "plugin_config", false, true},
    {"plugin_metadata", "plugin_metadata", "", false, false},
    {"stream_routes", "stream route", "stream_route", true, false},
    {"protos", "proto", "proto", true, false},
    {"secrets", "secret", "", false, true},
};

const Kind* find_kind(std::string_view type) {
  for (const Kind& k : kKinds) {
    if (k.type == type) return &k;
  }
  return nullptr;
}

// The directory a resource type's keys live in: credentials sit under their consumer.
std::string_view dir_of(std::string_view type) {
  return type == "credentials" ? std::string_view("consumers") : type;
}

// The id of a resource inside its directory: a credential's is "<username>/credentials/<id>".
std::string stored_id(std::string_view type, std::string_view owner, std::string_view id) {
  if (type == "credentials") {
    return std::string(owner) + "/credentials/" + std::string(id);
  }
  return std::string(id);
}

constexpr std::string_view kSecretManagers[] = {"vault", "aws", "gcp"};

// `$secret://...` and `$env://...` references are resolved at run time, so write-time checks
// (PEM parsing, duplicate keys) skip them (core.md §3.10, §6.10).
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

// ---- Private keys and certificates (core.md §2.2, §3.10) ----

template <auto Free>
struct Freer {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Freer<BIO_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Freer<EVP_CIPHER_CTX_free>>;

// The cipher a keyring entry selects, or null for an unusable length.
const EVP_CIPHER* cipher_for(std::string_view entry) {
  if (entry.size() == 16) return EVP_aes_128_cbc();
  if (entry.size() == 32) return EVP_aes_256_cbc();
  return nullptr;
}

// AES-CBC with the entry as key and IV, PKCS#7 padding (as resty.aes).
std::optional<std::string> aes_cbc(std::string_view entry, std::string_view in, bool encrypt) {
  const EVP_CIPHER* cipher = cipher_for(entry);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (cipher == nullptr || ctx == nullptr) return std::nullopt;
  const auto* key = reinterpret_cast<const unsigned char*>(entry.data());
  if (EVP_CipherInit_ex(ctx.get(), cipher, nullptr, key, key, encrypt ? 1 : 0) != 1) {
    return std::nullopt;
  }
  std::string out(in.size() + 32, '\0');
  int len = 0;
  int tail = 0;
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  if (EVP_CipherUpdate(ctx.get(), dst, &len, reinterpret_cast<const unsigned char*>(in.data()),
                       static_cast<int>(in.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), dst + len, &tail) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  out.resize(static_cast<size_t>(len + tail));
  return out;
}

std::string base64_encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0) return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  size_t padding = in.ends_with("==") ? 2 : in.ends_with('=') ? 1 : 0;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

// Never asks for a pass phrase (OpenSSL's default callback would read the terminal).
int no_pass_phrase(char*, int, int, void*) { return -1; }

// A PEM certificate chain as ngx.ssl's parse_pem_cert reads it: nullopt, or its message.
std::optional<std::string> parse_cert(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return "BIO_new_mem_buf() failed";
  X509* first = PEM_read_bio_X509_AUX(bio.get(), nullptr, no_pass_phrase, nullptr);
  if (first == nullptr) {
    ERR_clear_error();
    return "PEM_read_bio_X509_AUX() failed";
  }
  X509_free(first);
  while (BIO_eof(bio.get()) == 0) {
    X509* next = PEM_read_bio_X509(bio.get(), nullptr, no_pass_phrase, nullptr);
    if (next == nullptr) {
      ERR_clear_error();
      return "PEM_read_bio_X509() failed";
    }
    X509_free(next);
  }
  return std::nullopt;
}

std::optional<std::string> parse_key(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return "BIO_new_mem_buf() failed";
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_pass_phrase, nullptr);
  if (key == nullptr) {
    ERR_clear_error();
    return "PEM_read_bio_PrivateKey() failed";
  }
  EVP_PKEY_free(key);
  return std::nullopt;
}

// APISIX's apisix/ssl.lua validate(): the certificate parses, and the key (decrypted when
// stored encrypted) parses too.
std::optional<std::string> check_cert_key(const json::value& cert, const json::value* key,
                                          const std::vector<std::string>& keyring) {
  if (!cert.is_string()) return std::nullopt;  // the schema's to report
  if (auto e = parse_cert(cert.get_string())) return "failed to parse cert: " + *e;
  if (key == nullptr || !key->is_string()) return std::nullopt;
  auto pem = decrypt_private_key(key->get_string(), keyring);
  if (!pem) return std::string("failed to decrypt previous encrypted key");
  if (auto e = parse_key(*pem)) return "failed to parse key: " + *e;
  return std::nullopt;
}

// Encrypts an SSL object's `key` and each of `keys` in place (core.md §2.2).
void encrypt_ssl_keys(json::value& value, const std::vector<std::string>& keyring) {
  json::object* o = value.if_object();
  if (o == nullptr) return;
  if (json::value* k = o->if_contains("key"); k && k->is_string()) {
    *k = encrypt_private_key(k->get_string(), keyring);
  }
  if (json::value* ks = o->if_contains("keys"); ks && ks->is_array()) {
    for (json::value& k : ks->get_array()) {
      if (k.is_string()) k = encrypt_private_key(k.get_string(), keyring);
    }
  }
}

// ---- Plugin schemas (core.md §4.16) ----

constexpr std::string_view kInjectedMark = "this is a mark for our injected plugin schema";

json::value meta_schema() {
  return json::parse(R"({"type":"object","properties":{
    "disable":{"type":"boolean"},
    "error_response":{"oneOf":[{"type":"string"},{"type":"object"}]},
    "priority":{"description":"priority of plugins by customized order","type":"integer"},
    "filter":{"description":"filter determines whether the plugin needs to be executed at runtime","type":"array"},
    "pre_function":{"description":"function to be executed in each phase before execution of plugins. The pre_function will have access to two arguments: `conf` and `ctx`.","type":"string"}},
    "additionalProperties":false})");
}

// The plugin's schema as APISIX serves and checks it: `_meta` added to its properties and the
// mark comment set. nullopt when the schema defines `_meta` itself (APISIX refuses to load it).
std::optional<json::value> inject_meta(const json::value& schema) {
  json::value doc = schema.is_object() ? schema : json::value(json::object{});
  json::object& o = doc.as_object();
  const json::value* mark = o.if_contains("$comment");
  if (mark != nullptr && mark->is_string() && mark->get_string() == kInjectedMark) {
    return doc;
  }
  json::value& properties = o["properties"];
  if (!properties.is_object()) properties = json::object{};
  if (properties.get_object().contains("_meta")) return std::nullopt;
  properties.get_object()["_meta"] = meta_schema();
  o["$comment"] = kInjectedMark;
  return doc;
}

std::shared_ptr<const schema::Schema> compile_or_log(const json::value& document,
                                                     std::string_view what) {
  if (document.is_null()) return nullptr;
  auto compiled = schema::Schema::compile(document);
  if (!compiled) {
    core::log_error("admin: cannot compile the ", what, ": ", compiled.error().context);
    return nullptr;
  }
  return std::move(compiled.value());
}

std::optional<std::string> check_with(const schema::Schema* s, const json::value& value) {
  return s == nullptr ? std::nullopt : s->check(value);
}

// The upstream ids a traffic-split configuration names (rules[].weighted_upstreams[]).
bool traffic_split_uses(const json::value* plugins, std::string_view upstream_id) {
  const json::object* p = plugins ? plugins->if_object() : nullptr;
  const json::value* ts = p ? p->if_contains("traffic-split") : nullptr;
  const json::value* rules =
      ts && ts->is_object() ? ts->get_object().if_contains("rules") : nullptr;
  if (rules == nullptr || !rules->is_array()) return false;
  for (const json::value& rule : rules->get_array()) {
    const json::value* ups =
        rule.is_object() ? rule.get_object().if_contains("weighted_upstreams") : nullptr;
    if (ups == nullptr || !ups->is_array()) continue;
    for (const json::value& up : ups->get_array()) {
      const json::value* id = up.is_object() ? up.get_object().if_contains("upstream_id") : nullptr;
      if (id != nullptr && id_text(*id) == upstream_id) return true;
    }
  }
  return false;
}

// Decodes a query string as ngx.decode_args does: the last value of each key (`true` for a
// key without '=').
std::map<std::string, json::value> decode_args(std::string_view query) {
  std::map<std::string, json::value> args;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      args[url_decode(pair)] = true;
    } else {
      args[url_decode(pair.substr(0, eq))] = json::string(url_decode(pair.substr(eq + 1)));
    }
  }
  return args;
}

}  // namespace

std::optional<std::string> decrypt_private_key(std::string_view stored,
                                               const std::vector<std::string>& keyring) {
  if (stored.starts_with("---")) return std::string(stored);
  bool usable = false;
  for (const std::string& entry : keyring) {
    usable = usable || cipher_for(entry) != nullptr;
  }
  if (!usable) return std::string(stored);  // nothing was encrypted
  auto raw = base64_decode(stored);
  if (!raw) return std::nullopt;
  for (const std::string& entry : keyring) {
    if (auto plain = aes_cbc(entry, *raw, false)) return plain;
  }
  return std::nullopt;
}

std::string encrypt_private_key(std::string_view pem, const std::vector<std::string>& keyring) {
  if (!pem.starts_with("---")) return std::string(pem);
  for (const std::string& entry : keyring) {
    if (cipher_for(entry) == nullptr) continue;  // APISIX drops such entries
    if (auto sealed = aes_cbc(entry, pem, true)) return base64_encode(*sealed);
    break;
  }
  return std::string(pem);
}

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
      listener_(loop, "admin") {
  for (const PluginInfo& info : options_.plugins) {
    auto document = inject_meta(info.schema);
    if (!document) {
      core::log_error("admin: plugin ", info.name, ": its schema may not define '_meta'; ignored");
      continue;
    }
    KnownPlugin known;
    known.info = &info;
    known.document = std::move(*document);
    known.schema = compile_or_log(known.document, "schema of plugin " + info.name);
    known.consumer_schema =
        compile_or_log(info.consumer_schema, "consumer schema of plugin " + info.name);
    // Without a metadata schema any object is accepted (APISIX injects an empty one).
    known.metadata_schema = compile_or_log(info.metadata_schema.is_null()
                                               ? json::value(json::object{{"type", "object"}})
                                               : info.metadata_schema,
                                           "metadata schema of plugin " + info.name);
    (info.stream ? stream_plugins_ : http_plugins_)[info.name] = std::move(known);
  }
}

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

  // Endpoints with routes of their own in APISIX's admin router (core.md §3.12); they do not
  // carry X-API-VERSION.
  if (path == "/apisix/admin/plugins/list" && m == "GET") {
    return plugin_list(request.query);
  }
  if (path == "/apisix/admin/plugins/reload") {
    if (m != "PUT") {
      return Response{
          405,
          json_line(json::object{{"error_msg", "please use PUT method to reload the plugins, " +
                                                   std::string(m) + " method is not allowed."}}),
          true, false};
    }
    if (options_.reload_plugins) {
      options_.reload_plugins();
    }
    return Response{200, "done", true, false};
  }
  constexpr std::string_view kValidate = "/apisix/admin/schema/validate/";
  if (m == "POST" && path.starts_with(kValidate)) {
    std::string_view type = path.substr(kValidate.size());
    return schema_validate(type.substr(0, type.find('/')), request.body);
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
  auto segment = [&](size_t i) { return i < segments.size() ? segments[i] : std::string_view{}; };
  std::string_view type = segments[0];
  size_t id_at = 1;
  if (type == "schema" && segment(1) == "plugins") {
    type = "plugins";  // /schema/plugins/<name> is /plugins/<name>
    id_at = 2;
  }
  if (type == "schema" || type == "plugins") {
    if (m != "GET") {
      return error(404, "not found");
    }
    if (type == "plugins") {
      return plugin_schema(segment(id_at), request.query);
    }
    const json::value* doc = schema::core_schema_document(segment(1));
    if (doc == nullptr) {
      return error(400, "not found schema: " + std::string(segment(1)));
    }
    return Response{200, json_line(*doc)};
  }
  if (type == "stream_routes" && !options_.stream_proxy) {
    return error(400, "stream mode is disabled, can not add stream routes");
  }

  Target target;
  if (type == "consumers" && segment(2) == "credentials") {
    // /consumers/<username>/credentials[/<id>]; further segments are ignored, as in APISIX.
    target.type = "credentials";
    target.owner = std::string(segment(1));
    target.id = std::string(segment(3));
  } else {
    target.type = std::string(type);
    size_t sub_at = id_at + 1;
    if (type == "secrets") {
      // /secrets/<manager>/<id>[/<sub path>]: the id is "<manager>/<id>".
      target.manager = std::string(segment(1));
      if (!segment(2).empty()) {
        target.id = target.manager + "/" + std::string(segment(2));
      }
      sub_at = 3;
    } else {
      target.id = std::string(segment(id_at));
    }
    for (size_t i = sub_at; i < segments.size(); ++i) {
      target.sub_path.push_back(segments[i]);
    }
  }
  // "credentials" is only reachable under a consumer.
  if (find_kind(target.type) == nullptr || (target.type == "credentials" && type != "consumers")) {
    return error(404, "Unsupported resource type: " + std::string(type));
  }
  return dispatch(request, std::move(target));
}

AdminServer::Outcome AdminServer::dispatch(const Request& request, Target target) {
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
  const Kind& kind = *find_kind(target.type);
  if ((m == "POST" && !kind.post) || (m == "PATCH" && !kind.patch)) {
    return error(405,
                 "not supported `" + std::string(m) + "` method for " + std::string(kind.kind));
  }
  if (m == "GET") {
    return get(target, request.query);
  }
  if (m == "DELETE") {
    if (target.id.empty()) {
      return error(400, "missing " + std::string(kind.kind) + " id");
    }
    return remove(target, request.query);
  }
  return write(m, std::move(target), std::move(body), request.query);
}

AdminServer::Response AdminServer::get(const Target& target, std::string_view query) {
  const bool is_ssl = target.type == "ssls";
  auto envelope = [is_ssl](const std::string& key, const StoredItem& item) {
    json::value value = item.value;
    if (is_ssl && value.is_object()) {
      // Private keys never leave the Admin API (core.md §3.3).
      value.get_object().erase("key");
      value.get_object().erase("keys");
    }
    return json::object{{"key", key},
                        {"value", std::move(value)},
                        {"createdIndex", item.created_index},
                        {"modifiedIndex", item.modified_index}};
  };
  const std::string_view dir = dir_of(target.type);
  if (!target.id.empty()) {
    std::string key = key_of(dir, stored_id(target.type, target.owner, target.id));
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
  std::map<std::string, json::value> fields;
  if (auto a = arg(query, "name")) name_filter.emplace(url_decode(*a));
  if (auto a = arg(query, "uri")) uri_filter.emplace(url_decode(*a));
  if (auto a = arg(query, "label")) label = url_decode(*a);
  if (auto a = arg(query, "filter");
      a && (target.type == "routes" || target.type == "stream_routes")) {
    // Only these fields are honoured; the others are ignored (with a warning in APISIX).
    for (auto& [field, value] : decode_args(url_decode(*a))) {
      if (field == "service_id" || field == "upstream_id") fields[field] = std::move(value);
    }
  }
  std::vector<std::pair<const std::string*, const StoredItem*>> rows;
  std::string prefix =
      key_of(dir, target.type == "credentials" ? target.owner + "/credentials/" : "");
  for (auto it = store_.items().lower_bound(prefix);
       it != store_.items().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    const json::object* value = it->second.value.if_object();
    if (value == nullptr) continue;
    // Sub-resources (a consumer's credentials, a service's cost decorations) are not listed
    // with their parents; secrets are "<manager>/<id>".
    if (target.type != "secrets" && it->first.find('/', prefix.size()) != std::string::npos) {
      continue;
    }
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
    bool kept = true;
    for (const auto& [field, wanted] : fields) {
      // Compared without type conversion: a numeric id never equals the string argument.
      const json::value* have = value->if_contains(field);
      if (have == nullptr || have->is_null() || *have != wanted) {
        kept = false;
        break;
      }
    }
    if (!kept) continue;
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

std::optional<std::string> AdminServer::check_plugins(const json::value& plugins,
                                                      PluginScope scope) {
  const json::object* all = plugins.if_object();
  if (all == nullptr) {
    return std::nullopt;  // the resource schema's to report
  }
  const bool stream = scope == PluginScope::Stream;
  for (const auto& [name, conf] : *all) {
    if (!conf.is_object()) {
      return "invalid plugin conf " + json::serialize(conf) + " for plugin [" + std::string(name) +
             "]";
    }
    const auto& known = plugins_of(stream);
    auto it = known.find(std::string_view(name));
    if (it == known.end()) {
      return "unknown plugin [" + std::string(name) + "]";
    }
    const KnownPlugin& plugin = it->second;
    // Auth plugins check a consumer's (or credential's) configuration with their consumer
    // schema; every other plugin with its own (core.md §4.5).
    const schema::Schema* s = scope == PluginScope::Consumer && plugin.consumer_schema
                                  ? plugin.consumer_schema.get()
                                  : plugin.schema.get();
    const json::value* meta = conf.get_object().if_contains("_meta");
    const json::object* meta_obj = meta ? meta->if_object() : nullptr;
    if (auto e = check_with(s, conf)) {
      // A disabled plugin never runs, so its schema failures are tolerated (§3.10).
      const json::value* disable = meta_obj ? meta_obj->if_contains("disable") : nullptr;
      if (disable == nullptr || !disable->is_bool() || !disable->get_bool()) {
        if (stream) {
          return "failed to check the configuration of stream plugin [" + std::string(name) +
                 "]: " + *e;
        }
        return "failed to check the configuration of plugin " + std::string(name) + " err: " + *e;
      }
    } else if (!stream && scope != PluginScope::Consumer && options_.check_plugin) {
      json::value filled = conf;
      if (s != nullptr) {
        (void)s->validate(filled);  // accepted above: this only fills the defaults
      }
      filled.get_object().erase("_meta");
      if (auto e = options_.check_plugin(name, filled)) {
        return "failed to check the configuration of plugin " + std::string(name) + " err: " + *e;
      }
    }
    if (!stream && meta_obj != nullptr) {
      if (const json::value* filter = meta_obj->if_contains("filter")) {
        auto expr = router::Expr::compile(*filter);
        if (!expr) {
          return "failed to validate the 'vars' expression: " + expr.error().context;
        }
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> AdminServer::check_duplicate_auth_key(const json::value& plugins,
                                                                 const std::string& consumer,
                                                                 const std::string* credential) {
  // The attribute each auth plugin finds its consumer by (core.md §3.10).
  static constexpr std::pair<std::string_view, std::string_view> kAttrs[] = {
      {"key-auth", "key"},     {"basic-auth", "username"}, {"jwt-auth", "key"},
      {"hmac-auth", "key_id"}, {"ldap-auth", "user_dn"},   {"ldap-auth-advanced", "user_dn"},
  };
  const json::object* all = plugins.if_object();
  if (all == nullptr) return std::nullopt;
  const std::string prefix = key_of("consumers", "");
  for (const auto& [plugin, attr] : kAttrs) {
    const json::value* conf = all->if_contains(plugin);
    const json::value* wanted =
        conf && conf->is_object() ? conf->get_object().if_contains(attr) : nullptr;
    if (wanted == nullptr || !wanted->is_string() || config::schema::is_secret_ref(*wanted))
      continue;
    for (auto it = store_.items().lower_bound(prefix);
         it != store_.items().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      // <username> or <username>/credentials/<id>
      std::string_view rest = std::string_view(it->first).substr(prefix.size());
      std::string_view owner = rest.substr(0, rest.find('/'));
      std::optional<std::string_view> owner_credential;
      if (owner.size() != rest.size()) {
        constexpr std::string_view kMiddle = "/credentials/";
        if (rest.substr(owner.size(), kMiddle.size()) != kMiddle) continue;
        owner_credential = rest.substr(owner.size() + kMiddle.size());
      }
      const json::object* value = it->second.value.if_object();
      const json::value* p = value ? value->if_contains("plugins") : nullptr;
      const json::value* c = p && p->is_object() ? p->get_object().if_contains(plugin) : nullptr;
      const json::value* have = c && c->is_object() ? c->get_object().if_contains(attr) : nullptr;
      if (have == nullptr || *have != *wanted) continue;
      // A consumer does not conflict with itself or its own credentials; a credential only
      // with itself.
      bool is_self =
          credential ? owner == consumer && owner_credential == *credential : owner == consumer;
      if (is_self) continue;
      std::string holder = owner_credential ? "credential: " + std::string(*owner_credential) +
                                                  " of consumer: " + std::string(owner)
                                            : "consumer: " + std::string(owner);
      return "duplicate " + std::string(attr) + " of plugin " + std::string(plugin) +
             " found with " + holder;
    }
  }
  return std::nullopt;
}

std::optional<std::string> AdminServer::validate(const Target& target, const std::string& id,
                                                 const json::value& value) {
  const std::string& type = target.type;
  const json::object* obj = value.if_object();
  auto exists = [&](std::string_view t, const json::value& ref) {
    return store_.get(key_of(t, id_text(ref))) != nullptr;
  };
  auto field = [&](std::string_view name) -> const json::value* {
    return obj ? obj->if_contains(name) : nullptr;
  };
  if (type == "routes" || type == "services" || type == "upstreams") {
    if (obj == nullptr) {
      return "invalid configuration: wrong type: expected object, got " +
             std::string(value.is_array() ? "array" : "scalar");
    }
  }
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
    if (const json::value* p = obj->if_contains("plugin_config_id");
        p && !exists("plugin_configs", *p)) {
      return "failed to fetch plugin config info by plugin config id [" + id_text(*p) +
             "], response code: 404";
    }
    if (!parsed->vars.empty()) {
      auto expr = router::Expr::compile(json::value(parsed->vars));
      if (!expr) {
        return "failed to validate the 'vars' expression: " + expr.error().context;
      }
    }
    if (const json::value* p = obj->if_contains("plugins")) {
      if (auto e = check_plugins(*p, PluginScope::Http)) return e;
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
    if (const json::value* p = obj->if_contains("plugins")) {
      return check_plugins(*p, PluginScope::Http);
    }
    return std::nullopt;
  }
  if (type == "upstreams") {
    auto parsed = config::parse_upstream(value);
    if (!parsed) {
      return parsed.error().context;
    }
    return std::nullopt;
  }

  // The other kinds: their core schema first (core.md §4), then the checks of §3.10.
  auto schema_check = [&](std::string_view name) -> std::optional<std::string> {
    if (auto e = check_with(schema::core_schema(name), value)) {
      return "invalid configuration: " + *e;
    }
    if (obj == nullptr) {  // also when the schema is not available
      return "invalid configuration: wrong type: expected object, got " +
             config::schema::type_name(value);
    }
    return std::nullopt;
  };
  if (type == "plugin_metadata") {
    if (id.empty()) {
      return std::string("missing plugin name");
    }
    const KnownPlugin* plugin = nullptr;
    for (bool stream : {false, true}) {
      if (auto it = plugins_of(stream).find(id); it != plugins_of(stream).end()) {
        plugin = &it->second;
        break;
      }
    }
    // Until the gateway lists its plugins, metadata of any name is accepted.
    if (plugin == nullptr && !options_.plugins.empty()) {
      return std::string("invalid plugin name");
    }
    if (plugin != nullptr) {
      if (auto e = check_with(plugin->metadata_schema.get(), value)) {
        return "invalid configuration: " + *e;
      }
    }
    if (obj == nullptr) {
      return "invalid configuration: wrong type: expected object, got " +
             config::schema::type_name(value);
    }
    return std::nullopt;
  }
  if (type == "secrets") {
    if (std::find(std::begin(kSecretManagers), std::end(kSecretManagers), target.manager) ==
        std::end(kSecretManagers)) {
      return "invalid secret manager: " + target.manager;
    }
    return schema_check("secret_" + target.manager);
  }
  if (auto e = schema_check(find_kind(type)->schema)) {
    return e;
  }
  const json::value* plugins = field("plugins");

  if (type == "consumers") {
    const json::value* username = field("username");
    if (username == nullptr || !username->is_string()) {
      return std::string(R"(invalid configuration: property "username" is required)");
    }
    if (username->get_string().empty() ||
        username->get_string().find('/') != std::string_view::npos) {
      // The schema's pattern refuses these too; checked here as well because the name is the key.
      return "invalid configuration: property \"username\" validation failed: failed to match "
             "pattern \"^[a-zA-Z0-9_\\\\-]+$\" with \"" +
             std::string(username->get_string()) + "\"";
    }
    if (!target.id.empty() && target.id != username->get_string()) {
      return std::string("wrong username");
    }
    if (plugins != nullptr) {
      if (auto e = check_plugins(*plugins, PluginScope::Consumer)) {
        return "invalid plugins configuration: " + *e;
      }
      if (auto e =
              check_duplicate_auth_key(*plugins, std::string(username->get_string()), nullptr)) {
        return e;
      }
    }
    if (const json::value* g = field("group_id"); g && !exists("consumer_groups", *g)) {
      return "failed to fetch consumer group info by consumer group id [" + id_text(*g) +
             "], response code: 404";
    }
    return std::nullopt;
  }
  if (type == "credentials") {
    if (plugins != nullptr) {
      if (auto e = check_plugins(*plugins, PluginScope::Consumer)) {
        return "invalid plugins configuration: " + *e;
      }
      if (const json::object* all = plugins->if_object()) {
        for (const auto& [name, conf] : *all) {
          auto it = http_plugins_.find(std::string_view(name));
          if (it == http_plugins_.end()) {
            return "unknown plugin " + std::string(name);
          }
          if (it->second.info->type != "auth") {
            return std::string("only supports auth type plugins in consumer credential");
          }
        }
      }
      if (auto e = check_duplicate_auth_key(*plugins, target.owner, &id)) {
        return e;
      }
    }
    return std::nullopt;
  }
  if (type == "consumer_groups" || type == "plugin_configs") {
    return plugins ? check_plugins(*plugins, PluginScope::Http) : std::nullopt;
  }
  if (type == "global_rules") {
    if (plugins == nullptr) return std::nullopt;
    if (auto e = check_plugins(*plugins, PluginScope::Http)) return e;
    // A plugin may be used by one global rule only (§3.10).
    const std::string prefix = key_of("global_rules", "");
    for (auto it = store_.items().lower_bound(prefix);
         it != store_.items().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      std::string other = it->first.substr(prefix.size());
      const json::object* o = it->second.value.if_object();
      const json::value* p = o ? o->if_contains("plugins") : nullptr;
      if (other == id || p == nullptr || !p->is_object() || !plugins->is_object()) continue;
      for (const auto& [name, conf] : plugins->get_object()) {
        if (p->get_object().contains(name)) {
          return "plugin '" + std::string(name) + "' already exists in global rule with id '" +
                 other + "'";
        }
      }
    }
    return std::nullopt;
  }
  if (type == "ssls") {
    const json::value* cert = field("cert");
    const json::value* key = field("key");
    if (cert != nullptr && !config::schema::is_secret_ref(*cert) &&
        !(key && config::schema::is_secret_ref(*key))) {
      if (auto e = check_cert_key(*cert, key, options_.keyring)) return e;
    }
    const json::value* ssl_type = field("type");
    if (ssl_type != nullptr && ssl_type->is_string() && ssl_type->get_string() == "client") {
      return std::nullopt;
    }
    const json::value* certs = field("certs");
    const json::value* keys = field("keys");
    size_t cert_count = certs && certs->is_array() ? certs->get_array().size() : 0;
    size_t key_count = keys && keys->is_array() ? keys->get_array().size() : 0;
    if (cert_count != key_count) {
      return std::string("mismatched number of certs and keys");
    }
    for (size_t i = 0; i < cert_count; ++i) {
      const json::value& c = certs->get_array()[i];
      const json::value& k = keys->get_array()[i];
      if (config::schema::is_secret_ref(c) || config::schema::is_secret_ref(k)) continue;
      if (auto e = check_cert_key(c, &k, options_.keyring)) {
        return "failed to handle cert-key pair[" + std::to_string(i + 1) + "]: " + *e;
      }
    }
    if (const json::value* client = field("client"); client && client->is_object()) {
      if (const json::value* ca = client->get_object().if_contains("ca");
          ca && !config::schema::is_secret_ref(*ca)) {
        if (auto e = check_cert_key(*ca, nullptr, options_.keyring)) {
          return "failed to validate client_cert: " + *e;
        }
      }
    }
    return std::nullopt;
  }
  if (type == "stream_routes") {
    if (const json::value* u = field("upstream_id"); u && !exists("upstreams", *u)) {
      return "failed to fetch upstream info by upstream id [" + id_text(*u) +
             "], response code: 404";
    }
    if (const json::value* s = field("service_id"); s && !exists("services", *s)) {
      return "failed to fetch service info by service id [" + id_text(*s) + "], response code: 404";
    }
    const json::value* protocol = field("protocol");
    const json::object* proto = protocol ? protocol->if_object() : nullptr;
    if (const json::value* sup = proto ? proto->if_contains("superior_id") : nullptr) {
      std::string superior = id_text(*sup);
      if (!id.empty() && superior == id) {
        return std::string("stream route can not set itself as superior_id");
      }
      const StoredItem* held = store_.get(key_of("stream_routes", superior));
      if (held == nullptr) {
        return "failed to fetch stream routes[" + superior + "], response code: 404";
      }
      const json::object* h = held->value.if_object();
      const json::value* hp = h ? h->if_contains("protocol") : nullptr;
      if (hp != nullptr && hp->is_object()) {
        const json::value* theirs = hp->get_object().if_contains("name");
        const json::value* ours = proto->if_contains("name");
        if (theirs && ours && *theirs != *ours) {
          return "protocol mismatch: subordinate protocol [" + id_text(*ours) +
                 "] does not match superior protocol [" + id_text(*theirs) + "]";
        }
      }
    }
    if (plugins != nullptr) {
      if (auto e = check_plugins(*plugins, PluginScope::Stream)) return e;
    }
    for (std::string_view name : {"remote_addr", "server_addr"}) {
      const json::value* addr = field(name);
      if (addr == nullptr || !addr->is_string()) continue;
      // The IP or CIDR rules of core.ip.validate_cidr_or_ip.
      if (!router::IpMatcher::compile({std::string(addr->get_string())})) {
        return "invalid " + std::string(name) + ": " + std::string(addr->get_string());
      }
    }
    if (proto != nullptr) {
      const json::value* name = proto->if_contains("name");
      std::string n = name ? id_text(*name) : "";
      if (std::find(options_.xrpc_protocols.begin(), options_.xrpc_protocols.end(), n) ==
          options_.xrpc_protocols.end()) {
        return "unknown protocol [" + n + "]";
      }
    }
    return std::nullopt;
  }
  // protos: the schema only; compiling `content` as protobuf is not done yet.
  return std::nullopt;
}

AdminServer::Outcome AdminServer::write(std::string_view method, Target target, json::value body,
                                        std::string_view query) {
  const Kind& k = *find_kind(target.type);
  const std::string kind(k.kind);
  const std::string& type = target.type;
  const std::string_view dir = dir_of(type);
  int64_t ttl = 0;
  if (auto t = arg(query, "ttl")) {
    ttl = static_cast<int64_t>(*parse_number(*t));
  }
  const int64_t now = unix_now();
  std::string id = target.id;
  bool generated_id = false;
  json::value value;
  const StoredItem* current = nullptr;

  if (method == "PATCH") {
    if (type == "secrets" && id.empty()) {
      return error(400, "no secret id");
    }
    if (id.empty()) {
      return error(400, "missing " + kind + " id");
    }
    if (body.is_null()) {
      return error(400, "missing new configuration");
    }
    const auto& sub_path = target.sub_path;
    if (sub_path.empty() && !body.is_object()) {
      return error(400, "invalid configuration");
    }
    current = store_.get(key_of(dir, stored_id(type, target.owner, id)));
    if (current == nullptr) {
      return not_found_key();
    }
    if (type == "ssls") {
      // New private keys are encrypted before they are merged (core.md §2.2).
      if (sub_path.empty()) {
        encrypt_ssl_keys(body, options_.keyring);
      } else if (sub_path.size() == 1 && sub_path[0] == "key" && body.is_string()) {
        body = encrypt_private_key(body.get_string(), options_.keyring);
      } else if (sub_path.size() == 1 && sub_path[0] == "keys" && body.is_array()) {
        for (json::value& key : body.get_array()) {
          if (key.is_string()) key = encrypt_private_key(key.get_string(), options_.keyring);
        }
      }
    }
    value = current->value;
    if (sub_path.empty()) {
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
    json::object& merged = value.as_object();
    if (const json::value* given = merged.if_contains("id"); given && id_text(*given) != id) {
      return error(400, "wrong " + kind + " id");
    }
    merged["id"] = id;
    if (auto problem = validate(target, id, value)) {
      return error(400, *problem);
    }
  } else {
    if (!target.sub_path.empty()) {
      return error(404, "not found");
    }
    if (body.is_null()) {
      return error(400, "missing configurations");
    }
    json::object* o = body.if_object();
    const bool names_itself = type == "consumers" || type == "plugin_metadata";
    if (method == "POST") {
      if (!id.empty() || (o && o->contains("id"))) {
        return error(400, "wrong " + kind + " id, do not need it");
      }
    } else if (type == "secrets" && id.empty()) {
      return error(400, "missing secret id");
    } else if (!names_itself) {
      const json::value* given = o ? o->if_contains("id") : nullptr;
      if (id.empty()) {
        if (given == nullptr) {
          return error(400, "missing " + kind + " id");
        }
        id = id_text(*given);
      } else if (given != nullptr && id_text(*given) != id) {
        return error(400, "wrong " + kind + " id");
      }
      if (id.find('/') != std::string::npos && type != "secrets") {
        // Ids become keys: the id schema (core.md §4.1) never allows a '/'.
        return error(400,
                     "invalid configuration: property \"id\" validation failed: object "
                     "matches none of the required");
      }
    }
    if (o != nullptr) {
      for (std::string_view field : {"create_time", "update_time"}) {
        bool nested = false;
        for (std::string_view parent : {"upstream", "plugins"}) {
          if (const json::value* p = o->if_contains(parent); p && p->is_object()) {
            nested = nested || p->get_object().contains(field);
          }
        }
        if (o->contains(field) || nested) {
          return error(400, "the property is forbidden:  " + std::string(field));
        }
      }
      if (method == "PUT" && !names_itself) {
        (*o)["id"] = id;
      }
    }
    if (auto problem = validate(target, id, body)) {
      return error(400, *problem);
    }
    value = std::move(body);
    if (type == "consumers") {
      id = std::string(value.get_object().at("username").get_string());
    }
    if (type == "ssls") {
      encrypt_ssl_keys(value, options_.keyring);
    }
    if (method == "POST") {
      char buf[24];
      // The next revision, as APISIX takes etcd's (core.md §2.4); never repeated even while
      // earlier POSTs wait for the disk.
      last_generated_id_ = std::max(last_generated_id_ + 1, store_.revision() + 1);
      std::snprintf(buf, sizeof(buf), "%020lld", static_cast<long long>(last_generated_id_));
      id = buf;
      generated_id = true;
    }
    if (type == "credentials" && store_.get(key_of("consumers", target.owner)) == nullptr) {
      return error(404, "consumer not found");
    }
    current = store_.get(key_of(dir, stored_id(type, target.owner, id)));
    if (json::object* stored = value.if_object()) {
      if (type == "plugin_metadata") {
        (*stored)["id"] = id;  // no timestamps on plugin metadata
      } else {
        if (type != "consumers") {
          (*stored)["id"] = id;
        }
        const json::value* created_at = nullptr;
        if (current != nullptr && current->value.is_object()) {
          created_at = current->value.get_object().if_contains("create_time");
        }
        (*stored)["create_time"] = created_at ? *created_at : json::value(now);
        (*stored)["update_time"] = now;
      }
    }
  }

  Pending pending;
  pending.type = std::string(dir);
  pending.id = stored_id(type, target.owner, id);
  pending.key = key_of(dir, pending.id);
  pending.ttl = ttl;
  pending.generated_id = generated_id;
  pending.status = method == "PATCH" ? 200 : (current == nullptr || method == "POST" ? 201 : 200);
  if (method == "PATCH") {
    pending.expected = current->modified_index;
  }
  pending.value = std::move(value);
  return pending;
}

void AdminServer::commit_removed(const std::string& key, int64_t revision) {
  if (revision != 0) {
    store_.erase_at(key, revision);
    tombstones_[key] = revision;
  } else {
    store_.erase(key);
  }
  if (auto names = split_key(key)) {
    on_change_({Change{std::move(names->first), std::move(names->second), std::nullopt}});
  }
}

AdminServer::Response AdminServer::commit(const Pending& pending, int64_t created,
                                          int64_t modified) {
  if (pending.remove) {
    if (modified == 0) {
      // In memory only; the durable path (handle_async) applies each one as the store
      // acknowledges it.
      for (const std::string& key : pending.also_remove) {
        commit_removed(key, 0);
      }
    }
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

std::optional<std::string> AdminServer::reference_holder(const Target& target) {
  const std::string& type = target.type;
  const std::string& id = target.id;
  // Calls `visit(id, object)` for each resource of `dir` (not sub-resources) until it
  // returns a message.
  auto scan = [&](std::string_view dir, const auto& visit) -> std::optional<std::string> {
    const std::string prefix = key_of(dir, "");
    for (auto it = store_.items().lower_bound(prefix);
         it != store_.items().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      const json::object* o = it->second.value.if_object();
      if (o == nullptr || it->first.find('/', prefix.size()) != std::string::npos) continue;
      if (auto message = visit(it->first.substr(prefix.size()), *o)) return message;
    }
    return std::nullopt;
  };
  auto refers = [&](const json::object& o, std::string_view field) {
    const json::value* ref = o.if_contains(field);
    return ref != nullptr && !ref->is_null() && id_text(*ref) == id;
  };
  if (type == "services") {
    for (auto [dir, word] : {std::pair{"routes", "route"}, {"stream_routes", "stream_route"}}) {
      auto holder = scan(dir, [&](const std::string& other, const json::object& o) {
        return refers(o, "service_id")
                   ? std::optional<std::string>("can not delete this service directly, " +
                                                std::string(word) + " [" + other +
                                                "] is still using it now")
                   : std::nullopt;
      });
      if (holder) return holder;
    }
  } else if (type == "upstreams") {
    // Routes and services by upstream_id or a traffic-split rule; the other kinds only by
    // traffic-split (core.md §3.3).
    constexpr std::tuple<std::string_view, std::string_view, bool> kHolders[] = {
        {"routes", "route", true},
        {"services", "service", true},
        {"plugin_configs", "plugin_config", false},
        {"consumers", "consumer", false},
        {"consumer_groups", "consumer_group", false},
        {"global_rules", "global_rules", false},
    };
    for (const auto& [dir, word, by_field] : kHolders) {
      auto holder = scan(
          dir, [&](const std::string& other, const json::object& o) -> std::optional<std::string> {
            if (traffic_split_uses(o.if_contains("plugins"), id)) {
              return "can not delete this upstream, plugin in " + std::string(word) + " [" + other +
                     "] is still using it now";
            }
            if (by_field && refers(o, "upstream_id")) {
              return "can not delete this upstream, " + std::string(word) + " [" + other +
                     "] is still using it now";
            }
            return std::nullopt;
          });
      if (holder) return holder;
    }
  } else if (type == "consumer_groups") {
    return scan("consumers", [&](const std::string& other, const json::object& o) {
      return refers(o, "group_id")
                 ? std::optional<std::string>("can not delete this consumer group, consumer [" +
                                              other + "] is still using it now")
                 : std::nullopt;
    });
  } else if (type == "plugin_configs") {
    return scan("routes", [&](const std::string& other, const json::object& o) {
      return refers(o, "plugin_config_id")
                 ? std::optional<std::string>("can not delete this plugin config, route [" + other +
                                              "] is still using it now")
                 : std::nullopt;
    });
  } else if (type == "protos") {
    for (auto [dir, word] : {std::pair{"routes", "route"}, {"services", "service"}}) {
      auto holder = scan(
          dir, [&](const std::string& other, const json::object& o) -> std::optional<std::string> {
            const json::value* p = o.if_contains("plugins");
            const json::value* gt =
                p && p->is_object() ? p->get_object().if_contains("grpc-transcode") : nullptr;
            if (gt != nullptr && gt->is_object() && refers(gt->get_object(), "proto_id")) {
              return "can not delete this proto, " + std::string(word) + " [" + other +
                     "] is still using it now";
            }
            return std::nullopt;
          });
      if (holder) return holder;
    }
  } else if (type == "stream_routes") {
    return scan("stream_routes",
                [&](const std::string& other, const json::object& o) -> std::optional<std::string> {
                  const json::value* p = o.if_contains("protocol");
                  if (p != nullptr && p->is_object() && refers(p->get_object(), "superior_id")) {
                    return "can not delete this stream route directly, stream route [" + other +
                           "] is still using it as superior_id";
                  }
                  return std::nullopt;
                });
  }
  return std::nullopt;
}

AdminServer::Outcome AdminServer::remove(const Target& target, std::string_view query) {
  const std::string_view dir = dir_of(target.type);
  const std::string id = stored_id(target.type, target.owner, target.id);
  const std::string key = key_of(dir, id);
  if (store_.get(key) == nullptr) {
    return not_found_key();
  }
  auto force = arg(query, "force");
  if (!(force && *force == "true")) {
    // Reference checks (core.md §3.3, §3.9).
    if (auto holder = reference_holder(target)) {
      return error(400, *holder);
    }
  }
  Pending pending;
  pending.remove = true;
  pending.type = std::string(dir);
  pending.id = id;
  pending.key = key;
  if (target.type == "consumers") {
    // A consumer's credentials go with it (§3.9).
    const std::string prefix = key + "/credentials/";
    for (auto it = store_.items().lower_bound(prefix);
         it != store_.items().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      pending.also_remove.push_back(it->first);
    }
  }
  return pending;
}

// ---- Special endpoints (core.md §3.12) ----

AdminServer::Response AdminServer::plugin_list(std::string_view query) {
  auto subsystem = arg(query, "subsystem");
  std::string s = subsystem ? url_decode(*subsystem) : "http";
  if (s != "http" && s != "stream") {
    return Response{400, "invalid subsystem passed", true, false};
  }
  std::vector<const PluginInfo*> listed;
  for (const auto& [name, plugin] : plugins_of(s == "stream")) {
    listed.push_back(plugin.info);
  }
  // By priority, highest first (ties by name, so the order is stable).
  std::stable_sort(listed.begin(), listed.end(), [](const PluginInfo* a, const PluginInfo* b) {
    return a->priority > b->priority;
  });
  json::array names;
  for (const PluginInfo* info : listed) {
    names.emplace_back(info->name);
  }
  return Response{200, json_line(names), true, false};
}

AdminServer::Response AdminServer::plugin_schema(std::string_view name, std::string_view query) {
  auto subsystem = arg(query, "subsystem");
  std::string s = subsystem ? url_decode(*subsystem) : "http";
  if (s != "http" && s != "stream") {
    return error(400, "unsupported subsystem: " + s);
  }
  const auto& known = plugins_of(s == "stream");
  if (auto all = arg(query, "all"); all && *all == "true") {
    json::object out;
    for (const auto& [plugin_name, plugin] : known) {
      const PluginInfo& info = *plugin.info;
      json::object entry{
          {"version", info.version}, {"priority", info.priority}, {"schema", plugin.document}};
      if (!info.metadata_schema.is_null()) entry["metadata_schema"] = info.metadata_schema;
      if (!info.consumer_schema.is_null()) entry["consumer_schema"] = info.consumer_schema;
      if (!info.type.empty()) entry["type"] = info.type;
      if (!info.scope.empty()) entry["scope"] = info.scope;
      out[plugin_name] = std::move(entry);
    }
    return Response{200, json_line(out)};
  }
  auto it = known.find(name);
  if (name.empty() || it == known.end()) {
    return error(404, "plugin not found in subsystem " + s);
  }
  const json::value* document = &it->second.document;
  if (auto t = arg(query, "schema_type"); t && *t == "consumer") {
    document = &it->second.info->consumer_schema;
  }
  if (document->is_null()) {
    return error(400, "not found schema");
  }
  return Response{200, json_line(*document)};
}

AdminServer::Response AdminServer::schema_validate(std::string_view type, std::string_view body) {
  auto answer = [](Response r) {
    r.api_version = false;
    return r;
  };
  const Kind* kind = find_kind(type);
  if (kind == nullptr) {
    return answer(error(404, "Unsupported resource type: " + std::string(type)));
  }
  if (body.size() > kMaxBody) {
    return answer(error(400, "invalid request body: request size " + std::to_string(body.size()) +
                                 " is greater than the maximum size 1572864 allowed"));
  }
  json::value value;
  if (!body.empty()) {
    boost::system::error_code ec;
    value = json::parse(body, ec);
    if (ec) {
      json::object out{{"error_msg", "invalid request body: " + ec.message()},
                       {"req_body", valid_utf8(body)}};
      return Response{400, json_line(out), true, false};
    }
  }
  // Only the JSON schema, without the `invalid configuration: ` prefix (§3.12.6). Secrets and
  // plugin metadata have no resource schema of their own.
  if (kind->schema.empty()) {
    return answer(error(400, "not found schema"));
  }
  if (auto e = check_with(schema::core_schema(kind->schema), value)) {
    return answer(error(400, *e));
  }
  return Response{200, "", true, false};
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
