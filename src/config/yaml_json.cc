#include "config/yaml_json.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <limits>
#include <optional>
#include <string>

#include <boost/json/object.hpp>
#include <yaml-cpp/yaml.h>

namespace apisix::config {
namespace json = boost::json;
namespace {

constexpr std::string_view kTagInt = "tag:yaml.org,2002:int";
constexpr std::string_view kTagFloat = "tag:yaml.org,2002:float";
constexpr std::string_view kTagBool = "tag:yaml.org,2002:bool";
constexpr std::string_view kTagNull = "tag:yaml.org,2002:null";

bool is_one_of(std::string_view s, std::initializer_list<std::string_view> words) {
  for (std::string_view w : words) {
    if (s == w) {
      return true;
    }
  }
  return false;
}

bool is_null_word(std::string_view s) { return is_one_of(s, {"", "~", "null", "Null", "NULL"}); }

std::optional<bool> as_bool_word(std::string_view s) {
  // YAML 1.1 booleans, as libyaml-based loaders (lyaml, used by APISIX) read them.
  if (is_one_of(s, {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"})) {
    return true;
  }
  if (is_one_of(s, {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"})) {
    return false;
  }
  return std::nullopt;
}

bool all_digits(std::string_view s, int base) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    bool ok = false;
    if (base == 16) {
      ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    } else if (base == 8) {
      ok = c >= '0' && c <= '7';
    } else {
      ok = c >= '0' && c <= '9';
    }
    if (!ok) {
      return false;
    }
  }
  return true;
}

// Integers: [-+]?[0-9]+, 0x[0-9a-fA-F]+, 0o[0-7]+ (YAML 1.2 core schema).
std::optional<json::value> as_integer(std::string_view s) {
  bool negative = false;
  std::string_view digits = s;
  if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) {
    negative = digits.front() == '-';
    digits.remove_prefix(1);
  }
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'o')) {
    if (s.front() == '-' || s.front() == '+') {
      return std::nullopt;  // signed hex/octal is not an integer in the core schema
    }
    base = digits[1] == 'x' ? 16 : 8;
    digits.remove_prefix(2);
  }
  if (!all_digits(digits, base)) {
    return std::nullopt;
  }
  std::string buf(digits);
  errno = 0;
  unsigned long long magnitude = std::strtoull(buf.c_str(), nullptr, base);
  if (errno == ERANGE) {
    double d = std::strtod(std::string(s).c_str(), nullptr);
    return json::value(base == 10 ? d : static_cast<double>(magnitude));
  }
  if (negative) {
    constexpr auto kMinMagnitude =
        static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()) + 1;
    if (magnitude > kMinMagnitude) {
      return json::value(-static_cast<double>(magnitude));
    }
    if (magnitude == kMinMagnitude) {
      return json::value(std::numeric_limits<int64_t>::min());
    }
    return json::value(-static_cast<int64_t>(magnitude));
  }
  if (magnitude > static_cast<unsigned long long>(std::numeric_limits<int64_t>::max())) {
    return json::value(static_cast<uint64_t>(magnitude));
  }
  return json::value(static_cast<int64_t>(magnitude));
}

// Floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, [-+]?.inf, .nan.
std::optional<json::value> as_float(std::string_view s) {
  std::string_view rest = s;
  bool negative = false;
  if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) {
    negative = rest.front() == '-';
    rest.remove_prefix(1);
  }
  if (is_one_of(rest, {".inf", ".Inf", ".INF"})) {
    double inf = std::numeric_limits<double>::infinity();
    return json::value(negative ? -inf : inf);
  }
  if (rest.size() == s.size() && is_one_of(rest, {".nan", ".NaN", ".NAN"})) {
    return json::value(std::numeric_limits<double>::quiet_NaN());
  }
  size_t i = 0;
  size_t int_digits = 0;
  while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
    ++i;
    ++int_digits;
  }
  size_t frac_digits = 0;
  if (i < rest.size() && rest[i] == '.') {
    ++i;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
      ++i;
      ++frac_digits;
    }
  }
  if (int_digits == 0 && frac_digits == 0) {
    return std::nullopt;
  }
  if (i < rest.size() && (rest[i] == 'e' || rest[i] == 'E')) {
    ++i;
    if (i < rest.size() && (rest[i] == '-' || rest[i] == '+')) {
      ++i;
    }
    size_t exp_digits = 0;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
      ++i;
      ++exp_digits;
    }
    if (exp_digits == 0) {
      return std::nullopt;
    }
  }
  if (i != rest.size()) {
    return std::nullopt;
  }
  return json::value(std::strtod(std::string(s).c_str(), nullptr));
}

json::value resolve_plain(const std::string& text) {
  if (is_null_word(text)) {
    return nullptr;
  }
  if (auto b = as_bool_word(text)) {
    return *b;
  }
  if (auto i = as_integer(text)) {
    return *i;
  }
  if (auto f = as_float(text)) {
    return *f;
  }
  return json::value(json::string_view(text));
}

// Walks a yaml-cpp tree. Errors are recorded once and stop the walk.
class Converter {
 public:
  explicit Converter(size_t node_budget) : budget_(node_budget) {}

  bool convert(const YAML::Node& node, int depth, json::value& out) {
    if (depth > kMaxYamlDepth) {
      return fail("YAML nesting is deeper than " + std::to_string(kMaxYamlDepth) + " levels", node);
    }
    if (budget_ == 0) {
      return fail("YAML document expands to too many values (alias expansion?)", node);
    }
    --budget_;
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out = nullptr;
        return true;
      case YAML::NodeType::Scalar:
        return scalar(node, out);
      case YAML::NodeType::Sequence: {
        json::array& arr = out.emplace_array();
        arr.reserve(node.size());
        for (const auto& item : node) {
          arr.emplace_back(nullptr);
          if (!convert(item, depth + 1, arr.back())) {
            return false;
          }
        }
        return true;
      }
      case YAML::NodeType::Map: {
        json::object& obj = out.emplace_object();
        for (const auto& kv : node) {
          if (!kv.first.IsScalar() && !kv.first.IsNull()) {
            return fail("complex mapping keys are not supported", kv.first);
          }
          std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("null");
          json::value child;
          if (!convert(kv.second, depth + 1, child)) {
            return false;
          }
          // A repeated key keeps the last value, like a Lua table would.
          obj.insert_or_assign(key, std::move(child));
        }
        return true;
      }
    }
    return fail("unknown YAML node type", node);
  }

  const std::string& error() const { return error_; }

 private:
  bool scalar(const YAML::Node& node, json::value& out) {
    const std::string& tag = node.Tag();
    const std::string& text = node.Scalar();
    if (tag == "?") {
      out = resolve_plain(text);
      return true;
    }
    if (tag == kTagInt) {
      if (auto i = as_integer(text)) {
        out = *i;
        return true;
      }
      return fail("invalid !!int value \"" + text + "\"", node);
    }
    if (tag == kTagFloat) {
      if (auto i = as_integer(text)) {
        out = i->to_number<double>();
        return true;
      }
      if (auto f = as_float(text)) {
        out = *f;
        return true;
      }
      return fail("invalid !!float value \"" + text + "\"", node);
    }
    if (tag == kTagBool) {
      if (auto b = as_bool_word(text)) {
        out = *b;
        return true;
      }
      return fail("invalid !!bool value \"" + text + "\"", node);
    }
    if (tag == kTagNull) {
      out = nullptr;
      return true;
    }
    // "!" (quoted or block scalar), !!str, and unknown local tags: the text as written.
    out = json::value(json::string_view(text));
    return true;
  }

  bool fail(std::string msg, const YAML::Node& node) {
    if (error_.empty()) {
      YAML::Mark mark = node.Mark();
      if (mark.is_null()) {
        error_ = std::move(msg);
      } else {
        error_ = "line " + std::to_string(mark.line + 1) + ", column " +
                 std::to_string(mark.column + 1) + ": " + msg;
      }
    }
    return false;
  }

  size_t budget_;
  std::string error_;
};

}  // namespace

Result<json::value> parse_yaml(std::string_view text) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    // Without aliases a document cannot hold more values than it has bytes (plus a few
    // implicit nulls); the slack admits every real file and stops exponential expansion.
    Converter converter(text.size() * 2 + 1024);
    json::value out;
    if (!converter.convert(root, 0, out)) {
      return Error::config("invalid YAML: " + converter.error());
    }
    return out;
  } catch (const YAML::Exception& e) {
    std::string where;
    if (!e.mark.is_null()) {
      where = "line " + std::to_string(e.mark.line + 1) + ", column " +
              std::to_string(e.mark.column + 1) + ": ";
    }
    return Error::config("invalid YAML: " + where + e.msg);
  } catch (const std::exception& e) {
    return Error::config(std::string("invalid YAML: ") + e.what());
  }
}

}  // namespace apisix::config
