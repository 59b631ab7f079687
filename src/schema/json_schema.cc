#include "schema/json_schema.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <boost/json/serialize.hpp>
#include <pcre2.h>

#include "config/schema_check.h"

namespace apisix::schema {
namespace {

namespace json = boost::json;
using Msg = std::optional<std::string>;

// Bounds that keep compile(), validation and expand_refs() finite and off the end of the
// stack whatever the documents are. Real schemas nest a dozen levels and real
// configurations take a few thousand steps to check.
constexpr int kMaxSchemaDepth = 200;
constexpr int kMaxValidateDepth = 200;
constexpr uint64_t kMaxValidateSteps = uint64_t{1} << 20;
constexpr size_t kMaxExpandedValues = 200'000;
constexpr std::string_view kTooDeep = "schema recursion too deep";
constexpr std::string_view kTooMuchWork = "validation exceeded its work limit";

// ---------------------------------------------------------------------------------------
// How the Lua library prints things.

// Lua's type() of the decoded value: cjson gives tables for objects and arrays and a
// userdata for null.
std::string_view lua_type_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
    case json::kind::array:
      return "table";
    case json::kind::string:
      return "string";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::bool_:
      return "boolean";
    case json::kind::null:
      return "userdata";
  }
  return "userdata";
}

// string.format("%q", s) as LuaJIT writes it: quotes, backslash-escaped quote, backslash
// and newline, other control bytes as decimal escapes (three digits when a digit follows).
std::string lua_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\' || c == '\n') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      bool digit_follows = i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9';
      char buf[8];
      std::snprintf(buf, sizeof buf, digit_follows ? "\\%03u" : "\\%u", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

// Code points as the Lua library counts them: a well-formed UTF-8 sequence is one, and
// every byte that does not start one is one on its own.
size_t lua_utf8_length(std::string_view s) {
  size_t count = 0;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    auto lead = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      extra = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      extra = 2;
      if (lead == 0xE0) {
        lo = 0xA0;
      } else if (lead == 0xED) {
        hi = 0x9F;
      }
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      extra = 3;
      if (lead == 0xF0) {
        lo = 0x90;
      } else if (lead == 0xF4) {
        hi = 0x8F;
      }
    }
    if (i + extra >= n) {
      extra = 0;
    }
    for (size_t j = 1; j <= extra; ++j) {
      auto b = static_cast<unsigned char>(s[i + j]);
      if (b < lo || b > hi) {
        extra = 0;
        break;
      }
      lo = 0x80;
      hi = 0xBF;
    }
    i += extra + 1;
    ++count;
  }
  return count;
}

bool is_empty_container(const json::value& v) {
  return (v.is_object() && v.get_object().empty()) || (v.is_array() && v.get_array().empty());
}

// Equality as the Lua library sees decoded JSON: numbers by value, and an empty object is
// the same empty table as an empty array.
bool same_value(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    return config::schema::number_value(a) == config::schema::number_value(b);
  }
  if (is_empty_container(a) && is_empty_container(b)) {
    return true;
  }
  if (a.kind() != b.kind()) {
    return false;
  }
  switch (a.kind()) {
    case json::kind::string:
      return a.get_string() == b.get_string();
    case json::kind::bool_:
      return a.get_bool() == b.get_bool();
    case json::kind::null:
      return true;
    case json::kind::array: {
      const json::array& x = a.get_array();
      const json::array& y = b.get_array();
      if (x.size() != y.size()) {
        return false;
      }
      for (size_t i = 0; i < x.size(); ++i) {
        if (!same_value(x[i], y[i])) {
          return false;
        }
      }
      return true;
    }
    case json::kind::object: {
      const json::object& x = a.get_object();
      const json::object& y = b.get_object();
      if (x.size() != y.size()) {
        return false;
      }
      for (const auto& kv : x) {
        const json::value* other = y.if_contains(kv.key());
        if (other == nullptr || !same_value(kv.value(), *other)) {
          return false;
        }
      }
      return true;
    }
    default:
      return false;
  }
}

// The first pair of equal items (1-based), found as the Lua library does: plain values in
// one pass, then objects and arrays pairwise.
std::optional<std::pair<size_t, size_t>> first_duplicate(const json::array& arr) {
  for (size_t j = 0; j < arr.size(); ++j) {
    if (arr[j].is_structured()) {
      continue;
    }
    for (size_t i = 0; i < j; ++i) {
      if (!arr[i].is_structured() && same_value(arr[i], arr[j])) {
        return std::make_pair(i + 1, j + 1);
      }
    }
  }
  for (size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_structured()) {
      continue;
    }
    for (size_t j = i + 1; j < arr.size(); ++j) {
      if (arr[j].is_structured() && same_value(arr[i], arr[j])) {
        return std::make_pair(i + 1, j + 1);
      }
    }
  }
  return std::nullopt;
}

// APISIX's secret references (apisix/secret.lua is_secret_ref): "$secret://..." exactly,
// or "$env://..." in any case.
bool is_secret_reference(const json::value& v) {
  if (!v.is_string()) {
    return false;
  }
  std::string_view s(v.get_string().data(), v.get_string().size());
  if (s.starts_with("$secret://")) {
    return true;
  }
  constexpr std::string_view kEnv = "$ENV://";
  if (s.size() < kEnv.size()) {
    return false;
  }
  for (size_t i = 0; i < kEnv.size(); ++i) {
    char c = s[i];
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
    if (c != kEnv[i]) {
      return false;
    }
  }
  return true;
}

std::string_view view(const json::string& s) { return {s.data(), s.size()}; }

// ---------------------------------------------------------------------------------------
// Regular expressions.

// One thread's PCRE2 match block: compiled schemas are shared by all threads, so the scratch
// space a match needs cannot live in them. We need no captures.
pcre2_match_data* thread_match_data() {
  struct Holder {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    ~Holder() { pcre2_match_data_free(data); }
  };
  thread_local Holder holder;
  return holder.data;
}

struct RegexDeleter {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};

// A pattern compiled (and JIT-compiled where possible) once. Like ngx.re with "jo", it
// matches bytes, unanchored; a match that fails for lack of resources counts as no match.
class Regex {
 public:
  static Result<Regex> compile(std::string_view pattern) {
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0,
                                   &code, &offset, nullptr);
    if (re == nullptr) {
      PCRE2_UCHAR text[256];
      pcre2_get_error_message(code, text, sizeof text);
      return Error::config("bad regex " + lua_quote(pattern) + ": " +
                           reinterpret_cast<const char*>(text) + " at offset " +
                           std::to_string(offset));
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    Regex r;
    r.code_.reset(re);
    return r;
  }

  bool matches(std::string_view text) const {
    int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0,
                         thread_match_data(), nullptr);
    return rc >= 0;
  }

 private:
  std::unique_ptr<pcre2_code, RegexDeleter> code_;
};

// ---------------------------------------------------------------------------------------
// The compiled tree.

// Bits of Node::types.
constexpr uint8_t kObject = 1;
constexpr uint8_t kArray = 2;
constexpr uint8_t kString = 4;
constexpr uint8_t kNumber = 8;
constexpr uint8_t kInteger = 16;
constexpr uint8_t kBoolean = 32;
constexpr uint8_t kNull = 64;

// What happens to properties (or tuple items) that nothing else describes.
enum class Extra { Allowed, Forbidden, Checked };

enum class Format { None, Ipv4, Ipv6 };

struct Node;

struct Property {
  std::string name;
  const Node* schema = nullptr;
  std::optional<json::value> fill;  // the default written when the property is missing
};

struct PatternProperty {
  std::string pattern;
  Regex regex;
  const Node* schema = nullptr;
};

struct Dependency {
  std::string name;
  std::vector<std::string> required;  // the list form
  const Node* schema = nullptr;       // the schema form
};

struct Pattern {
  std::string text;
  Regex regex;
};

// One compiled schema object. Children are owned by the CompiledSchema's node list, so
// recursive references can point back up the tree.
struct Node {
  const Node* ref = nullptr;  // "$ref": everything else is ignored

  // The small fields sit together to keep the node compact.
  std::optional<bool> constant;  // the schemas `true` and `false`
  uint8_t types = 0;             // k* bits; 0 = any
  bool skips_secrets = true;     // "type" absent or "string"
  bool object_keywords = false;  // any keyword that looks at objects
  bool requires_empty = false;   // "required": []
  bool array_keywords = false;   // any keyword that looks at arrays
  bool unique_items = false;
  Extra additional = Extra::Allowed;
  Extra additional_items = Extra::Allowed;
  Format format = Format::None;
  std::string type_text;

  std::vector<std::string> required;
  std::vector<Property> properties;
  std::vector<std::string_view> declared;  // property names, sorted, views into properties
  std::vector<PatternProperty> pattern_properties;
  const Node* additional_schema = nullptr;
  std::vector<Dependency> dependencies;
  std::optional<size_t> min_properties;
  std::optional<size_t> max_properties;

  std::optional<size_t> min_items;
  std::optional<size_t> max_items;
  const Node* items = nullptr;
  std::vector<const Node*> tuple;
  const Node* additional_items_schema = nullptr;

  std::optional<size_t> min_length;
  std::optional<size_t> max_length;
  std::optional<Pattern> pattern;

  std::optional<double> minimum;
  std::optional<double> exclusive_minimum;
  std::optional<double> maximum;
  std::optional<double> exclusive_maximum;
  std::optional<double> multiple_of;

  std::optional<std::vector<json::value>> enum_values;
  std::optional<json::value> const_value;
  std::vector<const Node*> all_of;
  std::vector<const Node*> any_of;
  std::string any_of_required;  // ": [\"a\"] or [\"b\"]" when branches list required keys
  std::vector<const Node*> one_of;
  const Node* if_schema = nullptr;
  const Node* then_schema = nullptr;
  const Node* else_schema = nullptr;
  const Node* not_schema = nullptr;

  bool is_declared(std::string_view key) const {
    return std::binary_search(declared.begin(), declared.end(), key);
  }
  const Property* property(std::string_view key) const {
    for (const Property& p : properties) {
      if (p.name == key) {
        return &p;
      }
    }
    return nullptr;
  }
};

// ---------------------------------------------------------------------------------------
// JSON pointers and references.

// One token of a JSON pointer: "~1" is "/", "~0" is "~"; in a "$ref" fragment, "%XX" too.
std::string unescape_token(std::string_view token, bool percent) {
  std::string out;
  out.reserve(token.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  for (size_t i = 0; i < token.size(); ++i) {
    char c = token[i];
    if (percent && c == '%' && i + 2 < token.size() && hex(token[i + 1]) >= 0 &&
        hex(token[i + 2]) >= 0) {
      out += static_cast<char>(hex(token[i + 1]) * 16 + hex(token[i + 2]));
      i += 2;
    } else if (c == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out += token[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      out += c;
    }
  }
  return out;
}

// The value at `pointer` ("" or "/a/b", optionally after a "#"), or null.
const json::value* find_pointer(const json::value& document, std::string_view pointer,
                                bool percent) {
  if (!pointer.empty() && pointer.front() == '#') {
    pointer.remove_prefix(1);
  }
  const json::value* at = &document;
  if (pointer.empty()) {
    return at;
  }
  if (pointer.front() != '/') {
    return nullptr;
  }
  pointer.remove_prefix(1);
  while (true) {
    size_t slash = pointer.find('/');
    std::string token = unescape_token(pointer.substr(0, slash), percent);
    if (at->is_object()) {
      at = at->get_object().if_contains(token);
    } else if (at->is_array()) {
      const json::array& arr = at->get_array();
      bool digits =
          !token.empty() && token.size() < 10 &&
          std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
          (token.size() == 1 || token[0] != '0');
      size_t index = digits ? std::stoul(token) : arr.size();
      at = index < arr.size() ? &arr[index] : nullptr;
    } else {
      at = nullptr;
    }
    if (at == nullptr || slash == std::string_view::npos) {
      return at;
    }
    pointer.remove_prefix(slash + 1);
  }
}

// A "$ref" that this engine resolves: "#" or "#/...", inside the same document.
const json::value* resolve_ref(const json::value& document, std::string_view ref) {
  if (ref.empty() || ref.front() != '#') {
    return nullptr;
  }
  return find_pointer(document, ref, true);
}

std::string escape_token(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Compiling.

class Compiler {
 public:
  Compiler(const json::value& document, std::vector<std::unique_ptr<Node>>& nodes)
      : document_(document), nodes_(nodes) {}

  const Node* compile(const json::value& schema, const std::string& path, int depth);
  // A "$ref" loop that never reaches a real schema (a -> b -> a) would spin forever.
  bool check_ref_cycles();
  const std::optional<std::string>& error() const { return error_; }

 private:
  void fail(const std::string& path, std::string_view what) {
    if (!error_) {
      error_ = "invalid schema at " + path + ": " + std::string(what);
    }
  }
  const Node* child(const json::value& schema, const std::string& path, std::string_view key,
                    int depth) {
    return compile(schema, path + "/" + escape_token(key), depth + 1);
  }
  std::optional<size_t> count(const json::object& o, std::string_view key, const std::string& path);
  std::optional<double> number(const json::object& o, std::string_view key,
                               const std::string& path);
  bool flag(const json::object& o, std::string_view key, const std::string& path);
  std::vector<const Node*> schema_list(const json::object& o, std::string_view key,
                                       const std::string& path, int depth, bool allow_empty);
  void compile_type(const json::object& o, Node& n, const std::string& path);
  void compile_object(const json::object& o, Node& n, const std::string& path, int depth);
  void compile_array(const json::object& o, Node& n, const std::string& path, int depth);
  void compile_scalars(const json::object& o, Node& n, const std::string& path);
  void compile_combinators(const json::object& o, Node& n, const std::string& path, int depth);

  const json::value& document_;
  std::vector<std::unique_ptr<Node>>& nodes_;
  std::unordered_map<const json::value*, const Node*> done_;
  std::optional<std::string> error_;
};

std::optional<size_t> Compiler::count(const json::object& o, std::string_view key,
                                      const std::string& path) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (!config::schema::is_integer(*v) || config::schema::number_value(*v) < 0) {
    fail(path, "\"" + std::string(key) + "\" must be a non-negative integer");
    return std::nullopt;
  }
  double d = config::schema::number_value(*v);
  if (d >= 1.8e19) {
    return std::numeric_limits<size_t>::max();
  }
  return static_cast<size_t>(d);
}

std::optional<double> Compiler::number(const json::object& o, std::string_view key,
                                       const std::string& path) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (!v->is_number()) {
    fail(path, "\"" + std::string(key) + "\" must be a number");
    return std::nullopt;
  }
  return config::schema::number_value(*v);
}

bool Compiler::flag(const json::object& o, std::string_view key, const std::string& path) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) {
    return false;
  }
  if (!v->is_bool()) {
    fail(path, "\"" + std::string(key) + "\" must be a boolean");
    return false;
  }
  return v->get_bool();
}

std::vector<const Node*> Compiler::schema_list(const json::object& o, std::string_view key,
                                               const std::string& path, int depth,
                                               bool allow_empty) {
  std::vector<const Node*> out;
  const json::value* v = o.if_contains(key);
  if (v == nullptr) {
    return out;
  }
  if (!v->is_array() || (!allow_empty && v->get_array().empty())) {
    fail(path, "\"" + std::string(key) + "\" must be " +
                   (allow_empty ? "an array of schemas" : "a non-empty array of schemas"));
    return out;
  }
  const std::string base = path + "/" + std::string(key);
  const json::array& arr = v->get_array();
  for (size_t i = 0; i < arr.size() && !error_; ++i) {
    out.push_back(compile(arr[i], base + "/" + std::to_string(i), depth + 1));
  }
  return out;
}

const Node* Compiler::compile(const json::value& schema, const std::string& path, int depth) {
  if (error_) {
    return nullptr;
  }
  if (auto it = done_.find(&schema); it != done_.end()) {
    return it->second;
  }
  if (depth > kMaxSchemaDepth) {
    fail(path, "schema nested too deeply");
    return nullptr;
  }
  nodes_.push_back(std::make_unique<Node>());
  Node& n = *nodes_.back();
  done_.emplace(&schema, &n);
  if (schema.is_bool()) {
    n.constant = schema.get_bool();
    return &n;
  }
  if (!schema.is_object()) {
    fail(path, "a schema must be an object or a boolean");
    return nullptr;
  }
  const json::object& o = schema.get_object();
  if (const json::value* ref = o.if_contains("$ref")) {
    if (!ref->is_string()) {
      fail(path, "\"$ref\" must be a string");
      return nullptr;
    }
    std::string_view text = view(ref->get_string());
    const json::value* target = resolve_ref(document_, text);
    if (target == nullptr) {
      fail(path, "cannot resolve \"$ref\" " + lua_quote(text));
      return nullptr;
    }
    n.ref = compile(*target, std::string(text), depth + 1);
    return error_ ? nullptr : &n;
  }
  compile_type(o, n, path);
  compile_object(o, n, path, depth);
  compile_array(o, n, path, depth);
  compile_scalars(o, n, path);
  compile_combinators(o, n, path, depth);
  return error_ ? nullptr : &n;
}

void Compiler::compile_type(const json::object& o, Node& n, const std::string& path) {
  const json::value* type = o.if_contains("type");
  if (type == nullptr) {
    return;
  }
  auto bit = [](std::string_view name) -> uint8_t {
    if (name == "object") {
      return kObject;
    }
    if (name == "array") {
      return kArray;
    }
    if (name == "string") {
      return kString;
    }
    if (name == "number") {
      return kNumber;
    }
    if (name == "integer") {
      return kInteger;
    }
    if (name == "boolean") {
      return kBoolean;
    }
    if (name == "null") {
      return kNull;
    }
    return 0;
  };
  if (type->is_string()) {
    std::string_view name = view(type->get_string());
    n.types = bit(name);
    n.type_text = name;
    n.skips_secrets = name == "string";
  } else if (type->is_array() && !type->get_array().empty()) {
    // Only a plain "string" type lets secret references through (apisix/secret.lua).
    n.skips_secrets = false;
    n.type_text = "one of ";
    const json::array& names = type->get_array();
    for (size_t i = 0; i < names.size(); ++i) {
      uint8_t b = names[i].is_string() ? bit(view(names[i].get_string())) : 0;
      if (b == 0) {
        n.types = 0;
        break;
      }
      n.types |= b;
      n.type_text += (i == 0 ? "" : ", ") + std::string(view(names[i].get_string()));
    }
  }
  if (n.types == 0) {
    fail(path, "\"type\" must be a JSON type name or a non-empty array of them");
  }
}

void Compiler::compile_object(const json::object& o, Node& n, const std::string& path, int depth) {
  if (const json::value* req = o.if_contains("required")) {
    n.object_keywords = true;
    if (!req->is_array()) {
      fail(path, "\"required\" must be an array of strings");
      return;
    }
    for (const json::value& name : req->get_array()) {
      if (!name.is_string()) {
        fail(path, "\"required\" must be an array of strings");
        return;
      }
      n.required.emplace_back(view(name.get_string()));
    }
    n.requires_empty = n.required.empty();
  }
  if (const json::value* props = o.if_contains("properties")) {
    n.object_keywords = true;
    if (!props->is_object()) {
      fail(path, "\"properties\" must be an object");
      return;
    }
    const std::string base = path + "/properties";
    for (const auto& kv : props->get_object()) {
      Property p;
      p.name = std::string(kv.key());
      p.schema = child(kv.value(), base, kv.key(), depth);
      if (error_) {
        return;
      }
      // The default is read from the property's own schema object, before any "$ref"; a
      // null default is never written (the Lua library skips it).
      if (kv.value().is_object()) {
        const json::value* def = kv.value().get_object().if_contains("default");
        if (def != nullptr && !def->is_null()) {
          p.fill = *def;
        }
      }
      n.properties.push_back(std::move(p));
    }
    for (const Property& p : n.properties) {
      n.declared.emplace_back(p.name);
    }
    std::sort(n.declared.begin(), n.declared.end());
  }
  if (const json::value* pats = o.if_contains("patternProperties")) {
    n.object_keywords = true;
    if (!pats->is_object()) {
      fail(path, "\"patternProperties\" must be an object");
      return;
    }
    const std::string base = path + "/patternProperties";
    for (const auto& kv : pats->get_object()) {
      auto regex = Regex::compile(kv.key());
      if (!regex) {
        fail(path, regex.error().context);
        return;
      }
      const Node* s = child(kv.value(), base, kv.key(), depth);
      if (error_) {
        return;
      }
      n.pattern_properties.push_back(PatternProperty{std::string(kv.key()), std::move(*regex), s});
    }
  }
  if (const json::value* extra = o.if_contains("additionalProperties")) {
    n.object_keywords = true;
    if (extra->is_bool()) {
      n.additional = extra->get_bool() ? Extra::Allowed : Extra::Forbidden;
    } else {
      n.additional = Extra::Checked;
      n.additional_schema = compile(*extra, path + "/additionalProperties", depth + 1);
      if (error_) {
        return;
      }
    }
  }
  if (const json::value* deps = o.if_contains("dependencies")) {
    n.object_keywords = true;
    if (!deps->is_object()) {
      fail(path, "\"dependencies\" must be an object");
      return;
    }
    const std::string base = path + "/dependencies";
    for (const auto& kv : deps->get_object()) {
      Dependency d;
      d.name = std::string(kv.key());
      if (kv.value().is_array()) {
        for (const json::value& name : kv.value().get_array()) {
          if (!name.is_string()) {
            fail(path, "\"dependencies\" lists must hold strings");
            return;
          }
          d.required.emplace_back(view(name.get_string()));
        }
      } else {
        d.schema = child(kv.value(), base, kv.key(), depth);
        if (error_) {
          return;
        }
      }
      n.dependencies.push_back(std::move(d));
    }
  }
  if (o.contains("minProperties") || o.contains("maxProperties")) {
    n.object_keywords = true;
    n.min_properties = count(o, "minProperties", path);
    n.max_properties = count(o, "maxProperties", path);
  }
}

void Compiler::compile_array(const json::object& o, Node& n, const std::string& path, int depth) {
  n.min_items = count(o, "minItems", path);
  n.max_items = count(o, "maxItems", path);
  n.unique_items = flag(o, "uniqueItems", path);
  if (error_) {
    return;
  }
  n.array_keywords = n.min_items || n.max_items || n.unique_items;
  if (const json::value* items = o.if_contains("items")) {
    n.array_keywords = true;
    if (items->is_array()) {
      n.tuple = schema_list(o, "items", path, depth, true);
      if (error_) {
        return;
      }
      if (const json::value* extra = o.if_contains("additionalItems")) {
        if (extra->is_bool()) {
          n.additional_items = extra->get_bool() ? Extra::Allowed : Extra::Forbidden;
        } else {
          n.additional_items = Extra::Checked;
          n.additional_items_schema = compile(*extra, path + "/additionalItems", depth + 1);
        }
      }
    } else {
      n.items = compile(*items, path + "/items", depth + 1);
    }
  }
}

void Compiler::compile_scalars(const json::object& o, Node& n, const std::string& path) {
  n.min_length = count(o, "minLength", path);
  n.max_length = count(o, "maxLength", path);
  if (const json::value* pattern = o.if_contains("pattern")) {
    if (!pattern->is_string()) {
      fail(path, "\"pattern\" must be a string");
      return;
    }
    auto regex = Regex::compile(view(pattern->get_string()));
    if (!regex) {
      fail(path, regex.error().context);
      return;
    }
    n.pattern = Pattern{std::string(view(pattern->get_string())), std::move(*regex)};
  }

  n.minimum = number(o, "minimum", path);
  n.maximum = number(o, "maximum", path);
  n.multiple_of = number(o, "multipleOf", path);
  if (n.multiple_of && !(*n.multiple_of > 0)) {
    fail(path, "\"multipleOf\" must be greater than 0");
  }
  // Draft 4 writes exclusiveMinimum/Maximum as booleans that modify minimum/maximum.
  if (const json::value* ex = o.if_contains("exclusiveMinimum"); ex != nullptr && ex->is_bool()) {
    if (ex->get_bool() && n.minimum) {
      n.exclusive_minimum = n.minimum;
      n.minimum.reset();
    }
  } else {
    n.exclusive_minimum = number(o, "exclusiveMinimum", path);
  }
  if (const json::value* ex = o.if_contains("exclusiveMaximum"); ex != nullptr && ex->is_bool()) {
    if (ex->get_bool() && n.maximum) {
      n.exclusive_maximum = n.maximum;
      n.maximum.reset();
    }
  } else {
    n.exclusive_maximum = number(o, "exclusiveMaximum", path);
  }

  if (const json::value* values = o.if_contains("enum")) {
    if (!values->is_array() || values->get_array().empty()) {
      fail(path, "\"enum\" must be a non-empty array");
      return;
    }
    n.enum_values.emplace(values->get_array().begin(), values->get_array().end());
  }
  if (const json::value* c = o.if_contains("const")) {
    n.const_value = *c;
  }
  if (const json::value* format = o.if_contains("format")) {
    if (!format->is_string()) {
      fail(path, "\"format\" must be a string");
      return;
    }
    // Other formats are not checked by APISIX's build of the library either.
    if (format->get_string() == "ipv4") {
      n.format = Format::Ipv4;
    } else if (format->get_string() == "ipv6") {
      n.format = Format::Ipv6;
    }
  }
}

void Compiler::compile_combinators(const json::object& o, Node& n, const std::string& path,
                                   int depth) {
  n.all_of = schema_list(o, "allOf", path, depth, true);
  n.any_of = schema_list(o, "anyOf", path, depth, false);
  n.one_of = schema_list(o, "oneOf", path, depth, false);
  if (error_) {
    return;
  }
  // anyOf's message lists the "required" keys of the branches that have them.
  if (const json::value* any = o.if_contains("anyOf")) {
    std::string lists;
    for (const json::value& branch : any->get_array()) {
      const json::value* req =
          branch.is_object() ? branch.get_object().if_contains("required") : nullptr;
      if (req != nullptr) {
        // cjson writes an empty Lua table as an object.
        bool empty = req->is_array() && req->get_array().empty();
        lists +=
            (lists.empty() ? "" : " or ") + (empty ? std::string("{}") : json::serialize(*req));
      }
    }
    if (!lists.empty()) {
      n.any_of_required = ": " + lists;
    }
  }
  auto one = [&](std::string_view key) -> const Node* {
    const json::value* v = o.if_contains(key);
    return v == nullptr ? nullptr : child(*v, path, key, depth);
  };
  n.if_schema = one("if");
  n.then_schema = one("then");
  n.else_schema = one("else");
  n.not_schema = one("not");
}

bool Compiler::check_ref_cycles() {
  for (const auto& node : nodes_) {
    const Node* at = node.get();
    for (size_t i = 0; at->ref != nullptr && i <= nodes_.size(); ++i) {
      at = at->ref;
    }
    if (at->ref != nullptr) {
      error_ = "invalid schema: \"$ref\" loop that never reaches a schema";
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Validating.

// One validation: walks the compiled tree over a value. With `out` set (validate()), `out`
// is the same value as `v`, reached through a mutable path, and defaults are written there.
class Walker {
 public:
  Msg run(const Node& n, const json::value& v, json::value* out);
  // Set when a limit was hit: the whole validation fails with this, whatever `not` or
  // anyOf made of the inner failure.
  const Msg& aborted() const { return aborted_; }

 private:
  Msg run_object(const Node& n, const json::value& v, json::value* out_value);
  Msg run_array(const Node& n, const json::array& arr, json::array* out);
  Msg run_string(const Node& n, std::string_view s);
  Msg run_number(const Node& n, const json::value& v);
  Msg run_combinators(const Node& n, const json::value& v, json::value* out);
  // Whether `v` passes, without building messages nobody reads; defaults are written only
  // when `out` is given.
  bool passes(const Node& n, const json::value& v, json::value* out = nullptr) {
    ++quiet_;
    bool ok = !run(n, v, out);
    --quiet_;
    return ok;
  }
  // A failure; its message is made only when it can reach the caller.
  template <typename Make>
  Msg fail(Make&& make) {
    if (quiet_ > 0) {
      return Msg(std::in_place);
    }
    return Msg(make());
  }
  // An inner failure under a prefix such as `property "a" validation failed: `.
  template <typename Make>
  Msg chain(Msg inner, Make&& prefix) {
    if (quiet_ > 0 || inner == aborted_) {
      return inner;
    }
    return prefix() + *inner;
  }
  Msg abort(std::string_view why) {
    if (!aborted_) {
      aborted_ = std::string(why);
    }
    return aborted_;
  }

  int depth_ = 0;
  int quiet_ = 0;
  uint64_t steps_ = 0;
  Msg aborted_;
};

bool has_type(uint8_t types, const json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
      return (types & kObject) != 0;
    case json::kind::array:
      return (types & kArray) != 0;
    case json::kind::string:
      return (types & kString) != 0;
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return (types & kNumber) != 0 || ((types & kInteger) != 0 && config::schema::is_integer(v));
    case json::kind::bool_:
      return (types & kBoolean) != 0;
    case json::kind::null:
      return (types & kNull) != 0;
  }
  return false;
}

Msg Walker::run(const Node& n, const json::value& v, json::value* out) {
  if (aborted_) {
    return aborted_;
  }
  if (++steps_ > kMaxValidateSteps) {
    return abort(kTooMuchWork);
  }
  if (depth_ >= kMaxValidateDepth) {
    return abort(kTooDeep);
  }
  struct Level {
    int& depth;
    explicit Level(int& d) : depth(d) { ++depth; }
    ~Level() { --depth; }
    Level(const Level&) = delete;
    Level& operator=(const Level&) = delete;
  } level(depth_);

  if (n.ref != nullptr) {
    return run(*n.ref, v, out);
  }
  if (n.constant) {
    return *n.constant ? Msg() : fail([] { return "expect false always"; });
  }
  if (n.skips_secrets && is_secret_reference(v)) {
    return std::nullopt;
  }
  if (n.types != 0 && !has_type(n.types, v)) {
    return fail([&] {
      return "wrong type: expected " + n.type_text + ", got " + std::string(lua_type_name(v));
    });
  }
  if (n.object_keywords) {
    if (v.is_object()) {
      if (Msg m = run_object(n, v, out)) {
        return m;
      }
    }
    if (n.requires_empty && !is_empty_container(v)) {
      return fail([] { return "the input data should be an empty table"; });
    }
  }
  if (n.array_keywords && v.is_array()) {
    if (Msg m = run_array(n, v.get_array(), out ? &out->get_array() : nullptr)) {
      return m;
    }
  }
  if (v.is_string()) {
    if (Msg m = run_string(n, view(v.get_string()))) {
      return m;
    }
  }
  if (v.is_number()) {
    if (Msg m = run_number(n, v)) {
      return m;
    }
  }
  if (n.enum_values) {
    bool found = std::any_of(n.enum_values->begin(), n.enum_values->end(),
                             [&](const json::value& e) { return same_value(e, v); });
    if (!found) {
      return fail([] { return "matches none of the enum values"; });
    }
  }
  if (Msg m = run_combinators(n, v, out)) {
    return m;
  }
  if (n.format != Format::None && v.is_string()) {
    std::string text(view(v.get_string()));
    unsigned char buf[sizeof(in6_addr)];
    bool v4 = n.format == Format::Ipv4;
    if (inet_pton(v4 ? AF_INET : AF_INET6, text.c_str(), buf) != 1) {
      return fail([&] {
        return std::string("expect valid ") + (v4 ? "ipv4" : "ipv6") + " format but got: " + text;
      });
    }
  }
  if (n.const_value && !same_value(*n.const_value, v)) {
    return fail([] { return "failed to check const value"; });
  }
  return std::nullopt;
}

Msg Walker::run_object(const Node& n, const json::value& v, json::value* out_value) {
  const json::object& o = v.get_object();
  json::object* out = out_value ? &out_value->get_object() : nullptr;
  for (const std::string& name : n.required) {
    if (!o.contains(name)) {
      return fail([&] { return *config::schema::required(name); });
    }
  }
  // Properties in schema order; a missing one with a default gets a copy of it. Defaults
  // are not validated, as in the Lua library.
  size_t pending_fills = 0;  // defaults check() would have written
  std::vector<std::string_view> filled;
  for (const Property& p : n.properties) {
    json::value* mutable_child = out ? out->if_contains(p.name) : nullptr;
    const json::value* child = out ? mutable_child : o.if_contains(p.name);
    if (child != nullptr) {
      if (Msg m = run(*p.schema, *child, mutable_child)) {
        return chain(std::move(m),
                     [&] { return "property \"" + p.name + "\" validation failed: "; });
      }
    } else if (p.fill) {
      if (out != nullptr) {
        out->emplace(p.name, *p.fill);
        filled.emplace_back(p.name);
      } else {
        ++pending_fills;
      }
    }
  }
  // A dependency applies when its property was given (not filled in by a default); the
  // properties it asks for may come from defaults.
  auto given = [&](std::string_view key) {
    return o.contains(key) && std::find(filled.begin(), filled.end(), key) == filled.end();
  };
  auto present = [&](std::string_view key) {
    if (o.contains(key)) {
      return true;
    }
    const Property* p = out == nullptr ? n.property(key) : nullptr;
    return p != nullptr && p->fill.has_value();
  };
  for (const Dependency& d : n.dependencies) {
    if (!given(d.name)) {
      continue;
    }
    for (const std::string& needed : d.required) {
      if (!present(needed)) {
        return fail([&] {
          return "property \"" + needed + "\" is required when \"" + d.name + "\" is set";
        });
      }
    }
    if (d.schema != nullptr) {
      // The dependent schema applies to the whole object.
      if (Msg m = run(*d.schema, v, out_value)) {
        return chain(std::move(m), [&] {
          return "failed to validate dependent schema for \"" + d.name + "\": ";
        });
      }
    }
  }
  if (!n.pattern_properties.empty() || n.additional != Extra::Allowed) {
    for (size_t i = 0; i < o.size(); ++i) {
      const json::key_value_pair& kv = *(o.begin() + i);
      json::value* mutable_value = out ? &(out->begin() + i)->value() : nullptr;
      std::string_view key = kv.key();
      bool matched = false;
      for (const PatternProperty& pp : n.pattern_properties) {
        if (!pp.regex.matches(key)) {
          continue;
        }
        matched = true;
        if (Msg m = run(*pp.schema, kv.value(), mutable_value)) {
          return chain(std::move(m), [&] {
            return "failed to validate " + std::string(key) + " (matching \"" + pp.pattern +
                   "\"): ";
          });
        }
      }
      if (matched || n.additional == Extra::Allowed || n.is_declared(key)) {
        continue;
      }
      if (n.additional == Extra::Forbidden) {
        return fail([&] { return "additional properties forbidden, found " + std::string(key); });
      }
      if (Msg m = run(*n.additional_schema, kv.value(), mutable_value)) {
        return chain(std::move(m), [&] {
          return "failed to validate additional property " + std::string(key) + ": ";
        });
      }
    }
  }
  // Counted after defaults are in, as the Lua library counts.
  size_t count = o.size() + pending_fills;
  if (n.min_properties && count < *n.min_properties) {
    return fail([&] {
      return "expect object to have at least " + std::to_string(*n.min_properties) + " properties";
    });
  }
  if (n.max_properties && count > *n.max_properties) {
    return fail([&] {
      return "expect object to have at most " + std::to_string(*n.max_properties) + " properties";
    });
  }
  return std::nullopt;
}

Msg Walker::run_array(const Node& n, const json::array& arr, json::array* out) {
  if (n.min_items && arr.size() < *n.min_items) {
    return fail(
        [&] { return "expect array to have at least " + std::to_string(*n.min_items) + " items"; });
  }
  if (n.max_items && arr.size() > *n.max_items) {
    return fail(
        [&] { return "expect array to have at most " + std::to_string(*n.max_items) + " items"; });
  }
  auto item = [&](size_t i) { return out ? &(*out)[i] : nullptr; };
  if (!n.tuple.empty()) {
    for (size_t i = 0; i < n.tuple.size() && i < arr.size(); ++i) {
      if (Msg m = run(*n.tuple[i], arr[i], item(i))) {
        return chain(std::move(m),
                     [&] { return "failed to validate item " + std::to_string(i + 1) + ": "; });
      }
    }
    if (arr.size() > n.tuple.size()) {
      if (n.additional_items == Extra::Forbidden) {
        return fail([] { return "found unexpected extra items in array"; });
      }
      if (n.additional_items == Extra::Checked) {
        for (size_t i = n.tuple.size(); i < arr.size(); ++i) {
          if (Msg m = run(*n.additional_items_schema, arr[i], item(i))) {
            return chain(std::move(m), [&] {
              return "failed to validate additional item " + std::to_string(i + 1) + ": ";
            });
          }
        }
      }
    }
  } else if (n.items != nullptr) {
    for (size_t i = 0; i < arr.size(); ++i) {
      if (Msg m = run(*n.items, arr[i], item(i))) {
        return chain(std::move(m),
                     [&] { return "failed to validate item " + std::to_string(i + 1) + ": "; });
      }
    }
  }
  if (n.unique_items) {
    if (auto dup = first_duplicate(arr)) {
      return fail([&] {
        return "expected unique items but items " + std::to_string(dup->first) + " and " +
               std::to_string(dup->second) + " are equal";
      });
    }
  }
  return std::nullopt;
}

Msg Walker::run_string(const Node& n, std::string_view s) {
  if (n.min_length || n.max_length) {
    size_t length = lua_utf8_length(s);
    if (n.min_length && length < *n.min_length) {
      return fail([&] {
        return "string too short, expected at least " + std::to_string(*n.min_length) + ", got " +
               std::to_string(length);
      });
    }
    if (n.max_length && length > *n.max_length) {
      return fail([&] {
        return "string too long, expected at most " + std::to_string(*n.max_length) + ", got " +
               std::to_string(length);
      });
    }
  }
  if (n.pattern && !n.pattern->regex.matches(s)) {
    return fail([&] {
      return "failed to match pattern " + lua_quote(n.pattern->text) + " with " + lua_quote(s);
    });
  }
  return std::nullopt;
}

Msg Walker::run_number(const Node& n, const json::value& v) {
  double d = config::schema::number_value(v);
  auto bound = [&](std::string_view relation, double limit) {
    return fail([&] {
      return "expected " + config::schema::lua_number_text(d) + " to be " + std::string(relation) +
             " " + config::schema::lua_number_text(limit);
    });
  };
  if (n.minimum && d < *n.minimum) {
    return bound("at least", *n.minimum);
  }
  if (n.exclusive_minimum && d <= *n.exclusive_minimum) {
    return bound("greater than", *n.exclusive_minimum);
  }
  if (n.maximum && d > *n.maximum) {
    return bound("at most", *n.maximum);
  }
  if (n.exclusive_maximum && d >= *n.exclusive_maximum) {
    return bound("smaller than", *n.exclusive_maximum);
  }
  if (n.multiple_of) {
    double q = d / *n.multiple_of;
    bool ok = false;
    if (std::isfinite(q)) {
      // Relative tolerance, so 1.13 is a multiple of 0.01 despite binary rounding.
      double nearest = std::floor(q + 0.5);
      ok = std::fabs(q - nearest) <= 1e-12 * std::max(1.0, std::fabs(nearest));
    }
    if (!ok) {
      return fail([&] {
        return "expected " + config::schema::lua_number_text(d) + " to be a multiple of " +
               config::schema::lua_number_text(*n.multiple_of);
      });
    }
  }
  return std::nullopt;
}

Msg Walker::run_combinators(const Node& n, const json::value& v, json::value* out) {
  for (size_t i = 0; i < n.all_of.size(); ++i) {
    if (Msg m = run(*n.all_of[i], v, out)) {
      return chain(std::move(m), [&] { return "allOf " + std::to_string(i + 1) + " failed: "; });
    }
  }
  // anyOf and oneOf try branches without writing; only the branch finally accepted writes
  // its defaults (the Lua library also keeps what rejected branches wrote).
  if (!n.any_of.empty()) {
    const Node* accepted = nullptr;
    for (const Node* branch : n.any_of) {
      if (passes(*branch, v)) {
        accepted = branch;
        break;
      }
    }
    if (aborted_) {
      return aborted_;
    }
    if (accepted == nullptr) {
      return fail([&] { return "object matches none of the required" + n.any_of_required; });
    }
    if (out != nullptr) {
      (void)passes(*accepted, v, out);
    }
  }
  if (!n.one_of.empty()) {
    size_t matched = 0;
    for (size_t i = 0; i < n.one_of.size(); ++i) {
      if (!passes(*n.one_of[i], v)) {
        continue;
      }
      if (matched != 0) {
        return fail([&] {
          return "value should match only one schema, but matches both schemas " +
                 std::to_string(matched) + " and " + std::to_string(i + 1);
        });
      }
      matched = i + 1;
    }
    if (aborted_) {
      return aborted_;
    }
    if (matched == 0) {
      return fail([] { return "value should match only one schema, but matches none"; });
    }
    if (out != nullptr) {
      (void)passes(*n.one_of[matched - 1], v, out);
    }
  }
  if (n.if_schema != nullptr) {
    bool matched = passes(*n.if_schema, v);
    if (matched && n.then_schema != nullptr && !passes(*n.then_schema, v, out)) {
      return fail([] { return "then clause did not match"; });
    }
    if (!matched && n.else_schema != nullptr && !passes(*n.else_schema, v, out)) {
      return fail([] { return "else clause did not match"; });
    }
  }
  if (n.not_schema != nullptr && passes(*n.not_schema, v)) {
    return fail([] { return "value wasn't supposed to match schema"; });
  }
  return aborted_;
}

// ---------------------------------------------------------------------------------------

class CompiledSchema final : public Schema {
 public:
  CompiledSchema(std::vector<std::unique_ptr<Node>> nodes, const Node* root)
      : nodes_(std::move(nodes)), root_(root) {}

  std::optional<std::string> validate(json::value& value) const override {
    Walker walker;
    Msg m = walker.run(*root_, value, &value);
    return walker.aborted() ? walker.aborted() : m;
  }

  std::optional<std::string> check(const json::value& value) const override {
    // APISIX always validates with defaults written (an `if` on a defaulted field, such as
    // limit-count's `policy`, must see the default), so check() validates a copy.
    json::value copy = value;
    return validate(copy);
  }

 private:
  std::vector<std::unique_ptr<Node>> nodes_;
  const Node* root_;
};

// ---------------------------------------------------------------------------------------
// Expanding references.

class Expander {
 public:
  explicit Expander(const json::value& document) : document_(document) {}

  json::value schema(const json::value& s, int depth);
  const std::optional<std::string>& error() const { return error_; }

 private:
  json::value verbatim(const json::value& v);
  void spend(size_t values) {
    budget_ = values > budget_ ? 0 : budget_ - values;
    if (budget_ == 0 && !error_) {
      error_ = "schema too large to expand its references";
    }
  }

  const json::value& document_;
  std::vector<const json::value*> open_;  // schemas being expanded, outermost first
  size_t budget_ = kMaxExpandedValues;
  std::optional<std::string> error_;
};

size_t value_count(const json::value& v) {
  size_t n = 1;
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      n += value_count(kv.value());
    }
  } else if (v.is_array()) {
    for (const json::value& item : v.get_array()) {
      n += value_count(item);
    }
  }
  return n;
}

json::value Expander::verbatim(const json::value& v) {
  spend(value_count(v));
  return error_ ? json::value() : v;
}

json::value Expander::schema(const json::value& s, int depth) {
  if (error_) {
    return {};
  }
  if (depth > kMaxSchemaDepth) {
    error_ = "schema nested too deeply";
    return {};
  }
  if (!s.is_object()) {
    return verbatim(s);
  }
  const json::object& o = s.get_object();
  if (const json::value* ref = o.if_contains("$ref"); ref != nullptr && ref->is_string()) {
    const json::value* target = resolve_ref(document_, view(ref->get_string()));
    if (target == nullptr) {
      error_ = "cannot resolve \"$ref\" " + lua_quote(view(ref->get_string()));
      return {};
    }
    if (std::find(open_.begin(), open_.end(), target) != open_.end()) {
      return verbatim(s);
    }
    return schema(*target, depth + 1);
  }
  spend(1);
  open_.push_back(&s);
  json::object result;
  for (const auto& kv : o) {
    std::string_view key = kv.key();
    const json::value& v = kv.value();
    json::value expanded;
    bool map_of_schemas = key == "properties" || key == "patternProperties" ||
                          key == "definitions" || key == "dependencies";
    bool list_of_schemas = key == "anyOf" || key == "oneOf" || key == "allOf" || key == "items";
    bool one_schema = key == "additionalProperties" || key == "additionalItems" || key == "items" ||
                      key == "not" || key == "if" || key == "then" || key == "else" ||
                      key == "contains" || key == "propertyNames";
    if (map_of_schemas && v.is_object()) {
      json::object members;
      for (const auto& member : v.get_object()) {
        // A dependencies list names properties; it is not a schema.
        members.emplace(member.key(), member.value().is_array()
                                          ? verbatim(member.value())
                                          : schema(member.value(), depth + 1));
      }
      expanded = std::move(members);
    } else if (list_of_schemas && v.is_array()) {
      json::array items;
      for (const json::value& item : v.get_array()) {
        items.push_back(schema(item, depth + 1));
      }
      expanded = std::move(items);
    } else if (one_schema) {
      expanded = schema(v, depth + 1);
    } else {
      expanded = verbatim(v);
    }
    if (error_) {
      break;
    }
    result.emplace(key, std::move(expanded));
  }
  open_.pop_back();
  return result;
}

}  // namespace

Result<std::shared_ptr<const Schema>> Schema::compile(const json::value& document,
                                                      std::string_view pointer) {
  const json::value* root = find_pointer(document, pointer, false);
  if (root == nullptr) {
    return Error::config("invalid schema: no subschema at " + lua_quote(pointer));
  }
  std::vector<std::unique_ptr<Node>> nodes;
  Compiler compiler(document, nodes);
  std::string path = "#";
  if (!pointer.empty() && pointer.front() == '#') {
    pointer.remove_prefix(1);
  }
  path += pointer;
  const Node* node = compiler.compile(*root, path, 0);
  if (node == nullptr || !compiler.check_ref_cycles()) {
    return Error::config(compiler.error().value_or("invalid schema"));
  }
  return std::shared_ptr<const Schema>(std::make_shared<CompiledSchema>(std::move(nodes), node));
}

Result<json::value> expand_refs(const json::value& document, std::string_view pointer) {
  const json::value* root = find_pointer(document, pointer, false);
  if (root == nullptr) {
    return Error::config("invalid schema: no subschema at " + lua_quote(pointer));
  }
  Expander expander(document);
  json::value out = expander.schema(*root, 0);
  if (expander.error()) {
    return Error::config("invalid schema: " + *expander.error());
  }
  return out;
}

}  // namespace apisix::schema
