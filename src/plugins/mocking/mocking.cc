#include "plugins/mocking/mocking.h"

#include <cmath>
#include <cstdio>
#include <random>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/log.h"
#include "core/loop.h"
#include "plugins/conf_value.h"
#include "plugins/request.h"

// The APISIX version this build answers as (x-mock-by); the build defines it for the gateway.
#ifndef APISIX_COMPAT_VERSION
#define APISIX_COMPAT_VERSION "3.18.0"
#endif

namespace apisix::plugins {

namespace {

namespace json = boost::json;

// LuaJIT's tostring() and lua-cjson's encoding of a number ("%.14g").
std::string number_text(double d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.14g", d);
  return buf;
}

// This worker's math.random.
std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

int random_int(int lo, int hi) {
  std::uniform_int_distribution<int> pick(lo, hi);
  return pick(thread_rng());
}

double random_unit() {
  std::uniform_real_distribution<double> pick(0.0, 1.0);
  return pick(thread_rng());
}

bool is_printable(char c) { return c >= ' ' && c <= '~'; }

// gen_by_property and friends of APISIX's mocking.lua. `failed` is set where the Lua code
// raises (string.lower of a missing type, indexing a non-table).
json::value gen_by_property(const json::value& property, bool& failed);

json::value gen_object(const json::value& property, bool& failed) {
  json::object out;
  const json::value* props =
      property.is_object() ? property.get_object().if_contains("properties") : nullptr;
  if (props == nullptr || !props->is_object()) {
    return out;
  }
  for (const auto& [key, sub] : props->get_object()) {
    json::value v = gen_by_property(sub, failed);
    if (failed) {
      return out;
    }
    if (!v.is_null()) {
      out[key] = std::move(v);
    }
  }
  return out;
}

json::value gen_array(const json::value& property, bool& failed) {
  const json::value* items = property.get_object().if_contains("items");
  if (items == nullptr || items->is_null()) {
    return nullptr;
  }
  json::array out;
  int n = random_int(1, 3);
  for (int i = 0; i < n; ++i) {
    json::value v = gen_by_property(*items, failed);
    if (failed) {
      return out;
    }
    if (!v.is_null()) {
      out.push_back(std::move(v));  // table.insert of nil adds nothing
    }
  }
  return out;
}

json::value gen_by_property(const json::value& property, bool& failed) {
  const json::value* type =
      property.is_object() ? property.get_object().if_contains("type") : nullptr;
  if (type == nullptr || !type->is_string()) {
    failed = true;
    return nullptr;
  }
  std::string typ(type->get_string());
  for (char& c : typ) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  const json::value* example = property.get_object().if_contains("example");
  if (typ == "array") {
    return gen_array(property, failed);
  }
  if (typ == "object") {
    return gen_object(property, failed);
  }
  if (typ == "string") {
    if (example != nullptr && example->is_string()) {
      return *example;
    }
    std::string s(static_cast<size_t>(random_int(1, 10)), 'a');
    for (char& c : s) {
      c = static_cast<char>(random_int(97, 122));
    }
    return json::value(s);
  }
  if (typ == "number") {
    if (example != nullptr && example->is_number()) {
      return example->to_number<double>();
    }
    return random_unit() * 10000;
  }
  if (typ == "integer") {
    if (example != nullptr && example->is_number()) {
      return std::floor(example->to_number<double>());
    }
    return static_cast<double>(random_int(1, 10000));
  }
  if (typ == "boolean") {
    // `example and type(example) == "boolean"`: a false example reads as no example.
    if (example != nullptr && example->is_bool() && example->get_bool()) {
      return true;
    }
    return random_int(0, 1) != 0;
  }
  return nullptr;
}

void encode_string(std::string_view s, std::string& out) {
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '/':
        out += "\\/";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void encode_json_to(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, item] : v.get_object()) {
        if (!first) {
          out += ',';
        }
        first = false;
        encode_string(k, out);
        out += ':';
        encode_json_to(item, out);
      }
      out += '}';
      break;
    }
    case json::kind::array: {
      const json::array& a = v.get_array();
      if (a.empty()) {
        out += "{}";  // an empty Lua table is encoded as an object
        break;
      }
      out += '[';
      for (size_t i = 0; i < a.size(); ++i) {
        if (i != 0) {
          out += ',';
        }
        encode_json_to(a[i], out);
      }
      out += ']';
      break;
    }
    case json::kind::string:
      encode_string(v.get_string(), out);
      break;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      break;
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      out += number_text(v.to_number<double>());
      break;
    case json::kind::null:
      out += "null";
      break;
  }
}

std::string scalar_text(const json::value& v) {
  if (v.is_string()) {
    return std::string(v.get_string());
  }
  if (v.is_bool()) {
    return v.get_bool() ? "true" : "false";
  }
  if (v.is_number()) {
    return number_text(v.to_number<double>());
  }
  return "nil";
}

bool is_table(const json::value& v) { return v.is_object() || v.is_array(); }

// xml2lua.toXml(tb, tableName, level), including its quirk that `level` grows by one for
// every table-valued named field, which deepens the indentation of later siblings' content.
std::string to_xml(const json::value& tb, const std::string& table_name, int level) {
  const int first_level = level;
  const std::string spaces(static_cast<size_t>(level) * 2, ' ');
  std::vector<std::string> parts;
  if (!table_name.empty() && level == 1) {
    parts.push_back("<" + table_name + ">");
  }
  auto visit = [&](bool numeric_key, const std::string& key, const json::value& v) {
    if (is_table(v)) {
      if (numeric_key) {
        parts.push_back(spaces + "<" + table_name + ">\n" + to_xml(v, table_name, level + 1) +
                        "\n" + spaces + "</" + table_name + ">");
        return;
      }
      ++level;
      if (v.is_array() && !v.get_array().empty()) {
        parts.push_back(to_xml(v, key, level));
      } else {
        parts.push_back(spaces + "<" + key + ">\n" + to_xml(v, key, level + 1) + "\n" + spaces +
                        "</" + key + ">");
      }
      return;
    }
    const std::string& name = numeric_key ? table_name : key;
    parts.push_back(spaces + "<" + name + ">" + scalar_text(v) + "</" + name + ">");
  };
  if (tb.is_object()) {
    for (const auto& [k, v] : tb.get_object()) {
      visit(false, std::string(k), v);
    }
  } else if (tb.is_array()) {
    for (const json::value& v : tb.get_array()) {
      visit(true, {}, v);
    }
  }
  if (!table_name.empty() && first_level == 1) {
    parts.push_back("</" + table_name + ">\n");
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i != 0) {
      out += '\n';
    }
    out += parts[i];
  }
  return out;
}

bool supported_media_type(std::string_view typ) {
  return typ == "application/xml" || typ == "application/json" || typ == "text/plain" ||
         typ == "text/html" || typ == "text/xml";
}

}  // namespace

std::string_view Mocking::media_type(std::string_view content_type) {
  // ngx.re.match(content_type, "([ -~]*);([ -~]*)"): the leftmost start from which a run of
  // printable characters reaches a `;`; the greedy first group ends at the run's last `;`.
  size_t p = 0;
  while (p < content_type.size()) {
    size_t end = p;
    while (end < content_type.size() && is_printable(content_type[end])) {
      ++end;
    }
    std::string_view run = content_type.substr(p, end - p);
    size_t semi = run.rfind(';');
    if (semi != std::string_view::npos) {
      return run.substr(0, semi);
    }
    p = end + 1;
  }
  return content_type;
}

std::optional<json::value> Mocking::generate(const json::value& schema) {
  bool failed = false;
  json::value out = gen_object(schema, failed);
  if (failed) {
    return std::nullopt;
  }
  return out;
}

std::string Mocking::encode_json(const json::value& value) {
  std::string out;
  encode_json_to(value, out);
  return out;
}

std::string Mocking::encode_xml(const json::value& value) { return to_xml(value, "data", 1); }

Result<std::shared_ptr<const Plugin>> Mocking::compile(const json::value& conf,
                                                       CompileContext& /*ctx*/) {
  auto plugin = std::make_shared<Mocking>();
  const json::object& obj = conf.get_object();
  if (const json::value* v = obj.if_contains("delay"); v != nullptr && v->is_number()) {
    plugin->delay_seconds_ = int32_of(*v);
  }
  if (const json::value* v = obj.if_contains("response_status"); v != nullptr && v->is_number()) {
    plugin->response_status_ = int32_of(*v);
  }
  if (const json::value* v = obj.if_contains("content_type"); v != nullptr && v->is_string()) {
    plugin->content_type_ = std::string(v->get_string());
  }
  std::string_view typ = media_type(plugin->content_type_);
  if (!supported_media_type(typ)) {
    return Error::config("unsupported content type!");
  }
  if (typ == "application/xml" || typ == "text/xml") {
    plugin->schema_body_ = BodyKind::Xml;
  } else if (typ == "text/html") {
    plugin->schema_body_ = BodyKind::Empty;
  }
  if (const json::value* v = obj.if_contains("response_example"); v && v->is_string()) {
    plugin->response_example_ = Template::compile(v->get_string());
  }
  if (const json::value* v = obj.if_contains("response_schema"); v && v->is_object()) {
    plugin->response_schema_ = *v;
  }
  if (const json::value* v = obj.if_contains("with_mock_header"); v && v->is_bool()) {
    plugin->with_mock_header_ = v->get_bool();
  }
  if (const json::value* v = obj.if_contains("response_headers"); v && v->is_object()) {
    for (const auto& [name, value] : v->get_object()) {
      std::string text = value.is_string() ? std::string(value.get_string())
                                           : number_text(value.to_number<double>());
      plugin->response_headers_.emplace_back(std::string(name), Template::compile(text));
    }
  }
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

core::Task<PhaseResult> Mocking::access(Request& request) const {
  std::string body;
  if (response_example_) {
    body = response_example_->render(request);
  } else {
    std::optional<json::value> output = generate(response_schema_);
    if (!output) {
      core::log_error("mocking: response_schema has a property without a string type");
      co_return Exit::status_only(500);
    }
    std::string content;
    if (schema_body_ == BodyKind::Xml) {
      content = encode_xml(*output);
    } else if (schema_body_ == BodyKind::Json) {
      content = encode_json(*output);
    } else {
      core::log_error("mocking: json schema body only support xml and json content type");
    }
    // APISIX resolves variables in the generated text too.
    if (content.find('$') == std::string::npos) {
      body = std::move(content);
    } else {
      body = Template::compile(content).render(request);
    }
  }

  Response& response = request.response();
  response.set_header("Content-Type", content_type_);
  if (with_mock_header_) {
    response.set_header("x-mock-by", "APISIX/" APISIX_COMPAT_VERSION);
  }
  for (const auto& [name, value] : response_headers_) {
    response.add_header(name, value.render(request));
  }

  if (delay_seconds_ > 0 && request.loop != nullptr) {
    co_await request.loop->sleep_for(std::chrono::seconds(delay_seconds_));
  }
  co_return Exit::text(response_status_, body);
}

}  // namespace apisix::plugins
