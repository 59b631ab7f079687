#include "store/etcd_codec.h"

#include <array>
#include <charconv>

#include <boost/json.hpp>

namespace apisix::store::etcd {
namespace json = boost::json;
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_decode_table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) {
    v = -1;
  }
  for (int i = 0; i < 64; ++i) {
    t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return t;
}
constexpr std::array<int8_t, 256> kDecode = make_decode_table();

Error bad_reply(std::string what) {
  return Error{ErrorKind::Invalid, ErrorSource::Upstream, false, "etcd reply: " + what};
}

json::string_view sv(std::string_view s) { return json::string_view(s.data(), s.size()); }

// etcd writes int64 fields as strings; accept numbers too.
int64_t get_i64(const json::object& obj, std::string_view name) {
  const json::value* v = obj.if_contains(sv(name));
  if (v == nullptr) {
    return 0;
  }
  if (const auto* s = v->if_string()) {
    int64_t out = 0;
    auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), out);
    return (ec == std::errc() && end == s->data() + s->size()) ? out : 0;
  }
  if (const auto* i = v->if_int64()) {
    return *i;
  }
  if (const auto* u = v->if_uint64()) {
    return static_cast<int64_t>(*u);
  }
  return 0;
}

bool get_bool(const json::object& obj, std::string_view name) {
  const json::value* v = obj.if_contains(sv(name));
  return v != nullptr && v->is_bool() && v->get_bool();
}

std::string get_string(const json::object& obj, std::string_view name) {
  const json::value* v = obj.if_contains(sv(name));
  if (v != nullptr && v->is_string()) {
    return std::string(v->get_string());
  }
  return {};
}

const json::object* get_object(const json::object& obj, std::string_view name) {
  const json::value* v = obj.if_contains(sv(name));
  return v == nullptr ? nullptr : v->if_object();
}

const json::array* get_array(const json::object& obj, std::string_view name) {
  const json::value* v = obj.if_contains(sv(name));
  return v == nullptr ? nullptr : v->if_array();
}

Result<json::object> parse_object(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(sv(text), ec);
  if (ec) {
    return bad_reply("invalid JSON: " + ec.message());
  }
  if (!v.is_object()) {
    return bad_reply("not a JSON object");
  }
  return std::move(v.get_object());
}

Result<std::string> get_b64(const json::object& obj, std::string_view name) {
  std::string text = get_string(obj, name);
  auto decoded = base64_decode(text);
  if (!decoded) {
    return bad_reply("bad base64 in " + std::string(name));
  }
  return std::move(*decoded);
}

Result<KeyValue> parse_kv(const json::object& obj) {
  KeyValue kv;
  auto key = get_b64(obj, "key");
  if (!key) {
    return key.error();
  }
  auto value = get_b64(obj, "value");
  if (!value) {
    return value.error();
  }
  kv.key = std::move(*key);
  kv.value = std::move(*value);
  kv.create_revision = get_i64(obj, "create_revision");
  kv.mod_revision = get_i64(obj, "mod_revision");
  kv.version = get_i64(obj, "version");
  kv.lease = get_i64(obj, "lease");
  return kv;
}

int64_t header_revision(const json::object& obj) {
  const json::object* header = get_object(obj, "header");
  return header == nullptr ? 0 : get_i64(*header, "revision");
}

Result<std::optional<KeyValue>> first_kv(const json::object& obj, std::string_view field) {
  const json::array* arr = get_array(obj, field);
  if (arr == nullptr || arr->empty()) {
    return std::optional<KeyValue>();
  }
  const json::object* o = arr->front().if_object();
  if (o == nullptr) {
    return bad_reply(std::string(field) + " is not a list of objects");
  }
  auto kv = parse_kv(*o);
  if (!kv) {
    return kv.error();
  }
  return std::optional<KeyValue>(std::move(*kv));
}

std::string to_text(const json::object& obj) { return json::serialize(obj); }

std::string i64_text(int64_t v) { return std::to_string(v); }

}  // namespace

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8) |
                 static_cast<uint8_t>(data[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint8_t>(data[i]) << 16;
    if (rest == 2) {
      n |= static_cast<uint8_t>(data[i + 1]) << 8;
    }
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) {
        return std::nullopt;  // data after padding
      }
      v[k] = kDecode[static_cast<uint8_t>(c)];
      if (v[k] < 0) {
        return std::nullopt;
      }
    }
    uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) {
      out += static_cast<char>((n >> 8) & 0xff);
    }
    if (pad < 1) {
      out += static_cast<char>(n & 0xff);
    }
  }
  return out;
}

std::string prefix_range_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto last = static_cast<uint8_t>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string range_request(std::string_view key, std::string_view range_end, int64_t limit,
                          int64_t revision) {
  json::object o;
  o["key"] = base64_encode(key);
  if (!range_end.empty()) {
    o["range_end"] = base64_encode(range_end);
  }
  if (limit > 0) {
    o["limit"] = i64_text(limit);
  }
  if (revision > 0) {
    o["revision"] = i64_text(revision);
  }
  return to_text(o);
}

std::string put_request(std::string_view key, std::string_view value, int64_t lease) {
  json::object o;
  o["key"] = base64_encode(key);
  o["value"] = base64_encode(value);
  o["prev_kv"] = true;
  if (lease != 0) {
    o["lease"] = i64_text(lease);
  }
  return to_text(o);
}

std::string delete_request(std::string_view key) {
  json::object o;
  o["key"] = base64_encode(key);
  o["prev_kv"] = true;
  return to_text(o);
}

std::string compare_txn_request(std::string_view key, int64_t expected,
                                const std::optional<std::string_view>& value, int64_t lease) {
  json::object compare;
  compare["target"] = "MOD";
  compare["result"] = "EQUAL";
  compare["key"] = base64_encode(key);
  compare["mod_revision"] = i64_text(expected);
  json::object op;
  if (value) {
    json::object put;
    put["key"] = base64_encode(key);
    put["value"] = base64_encode(*value);
    put["prev_kv"] = true;
    if (lease != 0) {
      put["lease"] = i64_text(lease);
    }
    op["request_put"] = std::move(put);
  } else {
    json::object del;
    del["key"] = base64_encode(key);
    del["prev_kv"] = true;
    op["request_delete_range"] = std::move(del);
  }
  json::object read;
  json::object range;
  range["key"] = base64_encode(key);
  read["request_range"] = std::move(range);
  json::object o;
  o["compare"] = json::array{std::move(compare)};
  o["success"] = json::array{std::move(op)};
  o["failure"] = json::array{std::move(read)};
  return to_text(o);
}

std::string watch_create_request(std::string_view key, std::string_view range_end,
                                 int64_t start_revision) {
  json::object create;
  create["key"] = base64_encode(key);
  if (!range_end.empty()) {
    create["range_end"] = base64_encode(range_end);
  }
  if (start_revision > 0) {
    create["start_revision"] = i64_text(start_revision);
  }
  json::object o;
  o["create_request"] = std::move(create);
  return to_text(o);
}

std::string lease_grant_request(int64_t ttl_seconds) {
  json::object o;
  o["TTL"] = i64_text(ttl_seconds);
  return to_text(o);
}

std::string compaction_request(int64_t revision) {
  json::object o;
  o["revision"] = i64_text(revision);
  o["physical"] = true;
  return to_text(o);
}

std::string authenticate_request(std::string_view name, std::string_view password) {
  json::object o;
  o["name"] = sv(name);
  o["password"] = sv(password);
  return to_text(o);
}

std::optional<GatewayError> parse_error(std::string_view text) {
  auto obj = parse_object(text);
  if (!obj) {
    return std::nullopt;
  }
  const json::value* err = obj->if_contains("error");
  if (err == nullptr) {
    return std::nullopt;
  }
  GatewayError out;
  out.code = static_cast<int>(get_i64(*obj, "code"));
  out.message = get_string(*obj, "message");
  if (out.message.empty() && err->is_string()) {
    out.message = std::string(err->get_string());
  }
  if (const json::object* inner = err->if_object()) {  // streaming errors nest their fields
    out.code = static_cast<int>(get_i64(*inner, "grpc_code"));
    out.message = get_string(*inner, "message");
  }
  return out;
}

Result<RangeReply> parse_range_reply(std::string_view text) {
  auto obj = parse_object(text);
  if (!obj) {
    return obj.error();
  }
  RangeReply reply;
  reply.revision = header_revision(*obj);
  reply.more = get_bool(*obj, "more");
  if (const json::array* kvs = get_array(*obj, "kvs")) {
    reply.kvs.reserve(kvs->size());
    for (const json::value& v : *kvs) {
      const json::object* o = v.if_object();
      if (o == nullptr) {
        return bad_reply("kvs is not a list of objects");
      }
      auto kv = parse_kv(*o);
      if (!kv) {
        return kv.error();
      }
      reply.kvs.push_back(std::move(*kv));
    }
  }
  return reply;
}

Result<WriteReply> parse_put_reply(std::string_view text) {
  auto obj = parse_object(text);
  if (!obj) {
    return obj.error();
  }
  WriteReply reply;
  reply.revision = header_revision(*obj);
  if (const json::object* prev = get_object(*obj, "prev_kv")) {
    auto kv = parse_kv(*prev);
    if (!kv) {
      return kv.error();
    }
    reply.prev = std::move(*kv);
  }
  return reply;
}

Result<WriteReply> parse_delete_reply(std::string_view text) {
  auto obj = parse_object(text);
  if (!obj) {
    return obj.error();
  }
  WriteReply reply;
  reply.revision = header_revision(*obj);
  reply.deleted = get_i64(*obj, "deleted");
  auto prev = first_kv(*obj, "prev_kvs");
  if (!prev) {
    return prev.error();
  }
  reply.prev = std::move(*prev);
  return reply;
}

Result<WriteReply> parse_txn_reply(std::string_view text) {
  auto obj = parse_object(text);
  if (!obj) {
    return obj.error();
  }
  WriteReply reply;
  reply.revision = header_revision(*obj);
  reply.succeeded = get_bool(*obj, "succeeded");
  const json::array* responses = get_array(*obj, "responses");
  if (responses == nullptr || responses->empty() || !responses->front().is_object()) {
    return bad_reply("txn without responses");
  }
  const json::object& first = responses->front().get_object();
  if (const json::object* put = get_object(first, "response_put")) {
    if (const json::object* prev = get_object(*put, "prev_kv")) {
      auto kv = parse_kv(*prev);
      if (!kv) {
        return kv.error();
      }
      reply.prev = std::move(*kv);
    }
  } else if (const json::object* del = get_object(first, "response_delete_range")) {
    reply.deleted = get_i64(*del, "deleted");
    auto prev = first_kv(*del, "prev_kvs");
    if (!prev) {
      return prev.error();
    }
    reply.prev = std::move(*prev);
  } else if (const json::object* range = get_object(first, "response_range")) {
    auto current = first_kv(*range, "kvs");
    if (!current) {
      return current.error();
    }
    reply.current = std::move(*current);
  }
  return reply;
}

Result<int64_t> parse_lease_grant_reply(std::string_view text) {
  auto obj = parse_object(text);
  if (!obj) {
    return obj.error();
  }
  int64_t id = get_i64(*obj, "ID");
  if (id == 0) {
    return bad_reply("lease grant without ID");
  }
  return id;
}

Result<std::string> parse_authenticate_reply(std::string_view text) {
  auto obj = parse_object(text);
  if (!obj) {
    return obj.error();
  }
  std::string token = get_string(*obj, "token");
  if (token.empty()) {
    return bad_reply("authenticate without token");
  }
  return token;
}

Result<WatchMessage> parse_watch_message(std::string_view text) {
  auto obj = parse_object(text);
  if (!obj) {
    return obj.error();
  }
  if (obj->contains("error")) {
    auto err = parse_error(text);
    return Error{ErrorKind::Io, ErrorSource::Upstream, true,
                 "etcd watch error: " + (err ? err->message : std::string("unknown"))};
  }
  const json::object* result = get_object(*obj, "result");
  if (result == nullptr) {
    return bad_reply("watch message without result");
  }
  WatchMessage msg;
  msg.revision = header_revision(*result);
  msg.created = get_bool(*result, "created");
  msg.canceled = get_bool(*result, "canceled");
  msg.compact_revision = get_i64(*result, "compact_revision");
  msg.cancel_reason = get_string(*result, "cancel_reason");
  if (const json::array* events = get_array(*result, "events")) {
    msg.events.reserve(events->size());
    for (const json::value& v : *events) {
      const json::object* e = v.if_object();
      const json::object* kv = e == nullptr ? nullptr : get_object(*e, "kv");
      if (kv == nullptr) {
        return bad_reply("watch event without kv");
      }
      auto parsed = parse_kv(*kv);
      if (!parsed) {
        return parsed.error();
      }
      std::string type = get_string(*e, "type");
      Event event;
      if (type.empty() || type == "PUT") {
        event.type = EventType::Put;
      } else if (type == "DELETE") {
        event.type = EventType::Delete;
      } else {
        return bad_reply("unknown watch event type " + type);
      }
      event.kv = std::move(*parsed);
      msg.events.push_back(std::move(event));
    }
  }
  return msg;
}

}  // namespace apisix::store::etcd
