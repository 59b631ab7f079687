#include "upstream/health_config.h"

#include <cmath>
#include <optional>
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace apisix::upstream {

namespace json = boost::json;

std::string_view to_string(CheckType type) {
  switch (type) {
    case CheckType::Http:
      return "http";
    case CheckType::Https:
      return "https";
    case CheckType::Tcp:
      return "tcp";
  }
  return "http";
}

StatusSet::StatusSet(std::initializer_list<int> statuses) {
  for (int s : statuses) {
    insert(s);
  }
}

namespace {

// The failure of one field, named by its dotted path.
Error field_error(const std::string& path, std::string_view what, const json::value& got) {
  return Error::config(path + ": " + std::string(what) + ", got " + json::serialize(got));
}

// Reads the fields of one JSON object; the first bad field is kept as the error.
class FieldReader {
 public:
  FieldReader(const json::object& object, std::string path)
      : object_(object), path_(std::move(path)) {}

  bool ok() const { return !error_.has_value(); }
  Error take_error() { return std::move(*error_); }
  std::string path_of(std::string_view key) const { return path_ + "." + std::string(key); }
  const json::value* find(std::string_view key) const { return object_.if_contains(key); }

  void fail(std::string_view key, std::string_view what, const json::value& got) {
    if (!error_) {
      error_ = field_error(path_of(key), what, got);
    }
  }

  // Integer (1.0 counts, as in APISIX's JSON Schema) within [min, max].
  void integer(std::string_view key, int64_t min, int64_t max, uint32_t& out) {
    int64_t v = 0;
    if (read_integer(key, min, max, v)) {
      out = static_cast<uint32_t>(v);
    }
  }

  bool read_integer(std::string_view key, int64_t min, int64_t max, int64_t& out) {
    const json::value* v = find(key);
    if (v == nullptr || !ok()) {
      return false;
    }
    std::optional<int64_t> n;
    if (v->is_int64()) {
      n = v->get_int64();
    } else if (v->is_uint64()) {
      n = v->get_uint64() > static_cast<uint64_t>(INT64_MAX)
              ? INT64_MAX
              : static_cast<int64_t>(v->get_uint64());
    } else if (v->is_double() && std::isfinite(v->get_double()) &&
               std::floor(v->get_double()) == v->get_double() &&
               std::fabs(v->get_double()) < 9e18) {
      n = static_cast<int64_t>(v->get_double());
    }
    if (!n || *n < min || *n > max) {
      fail(key,
           "expected an integer from " + std::to_string(min) + " to " +
               (max == INT64_MAX ? std::string("any") : std::to_string(max)),
           *v);
      return false;
    }
    out = *n;
    return true;
  }

  // Seconds as a JSON number >= 0, read into milliseconds.
  void seconds(std::string_view key, std::chrono::milliseconds& out) {
    const json::value* v = find(key);
    if (v == nullptr || !ok()) {
      return;
    }
    if (!v->is_number() || v->to_number<double>() < 0 || !std::isfinite(v->to_number<double>())) {
      fail(key, "expected a number of seconds >= 0", *v);
      return;
    }
    out = std::chrono::milliseconds(std::llround(v->to_number<double>() * 1000.0));
  }

  void boolean(std::string_view key, bool& out) {
    const json::value* v = find(key);
    if (v == nullptr || !ok()) {
      return;
    }
    if (!v->is_bool()) {
      fail(key, "expected a boolean", *v);
      return;
    }
    out = v->get_bool();
  }

  void string(std::string_view key, std::string& out) {
    const json::value* v = find(key);
    if (v == nullptr || !ok()) {
      return;
    }
    if (!v->is_string()) {
      fail(key, "expected a string", *v);
      return;
    }
    out = std::string(v->get_string());
  }

  void one_of(std::string_view key, std::initializer_list<std::string_view> allowed,
              std::string& out) {
    const json::value* v = find(key);
    if (v == nullptr || !ok()) {
      return;
    }
    if (v->is_string()) {
      for (std::string_view a : allowed) {
        if (v->get_string() == a) {
          out = std::string(a);
          return;
        }
      }
    }
    std::string list;
    for (std::string_view a : allowed) {
      list += list.empty() ? "" : ", ";
      list += a;
    }
    fail(key, "expected one of " + list, *v);
  }

  void check_type(std::string_view key, CheckType& out) {
    std::string name;
    one_of(key, {"http", "https", "tcp"}, name);
    if (name == "https") {
      out = CheckType::Https;
    } else if (name == "tcp") {
      out = CheckType::Tcp;
    } else if (name == "http") {
      out = CheckType::Http;
    }
  }

  // Array (>= 1 item) of unique integers 200..599.
  void statuses(std::string_view key, StatusSet& out) {
    const json::value* v = find(key);
    if (v == nullptr || !ok()) {
      return;
    }
    if (!v->is_array() || v->get_array().empty()) {
      fail(key, "expected a non-empty array of HTTP statuses", *v);
      return;
    }
    StatusSet set;
    for (const json::value& item : v->get_array()) {
      if (!item.is_int64() || item.get_int64() < 200 || item.get_int64() > 599) {
        fail(key, "expected HTTP statuses from 200 to 599", item);
        return;
      }
      int status = static_cast<int>(item.get_int64());
      if (set.contains(status)) {
        fail(key, "expected unique items", *v);
        return;
      }
      set.insert(status);
    }
    out = set;
  }

  // An optional nested object; nullptr when absent (or on error).
  const json::object* object(std::string_view key) {
    const json::value* v = find(key);
    if (v == nullptr || !ok()) {
      return nullptr;
    }
    if (!v->is_object()) {
      fail(key, "expected an object", *v);
      return nullptr;
    }
    return &v->get_object();
  }

 private:
  const json::object& object_;
  std::string path_;
  std::optional<Error> error_;
};

// core.md §4.1 host_def: ^\*$|^\*?[0-9a-zA-Z-._\[\]:]+$
bool is_host_def(std::string_view s) {
  if (s == "*") {
    return true;
  }
  if (!s.empty() && s.front() == '*') {
    s.remove_prefix(1);
  }
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '.' || c == '_' || c == '[' || c == ']' || c == ':';
    if (!ok) {
      return false;
    }
  }
  return true;
}

Result<void> parse_active(const json::object& o, ActiveCheck& a) {
  FieldReader r(o, "checks.active");
  r.check_type("type", a.type);
  r.seconds("timeout", a.timeout);
  r.integer("concurrency", 0, INT32_MAX, a.concurrency);
  r.string("host", a.host);
  if (r.ok() && r.find("host") != nullptr && !is_host_def(a.host)) {
    r.fail("host", "expected a host name or address", *r.find("host"));
  }
  uint32_t port = 0;
  r.integer("port", 1, 65535, port);
  a.port = static_cast<uint16_t>(port);
  r.one_of(
      "http_method",
      {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "PURGE"},
      a.http_method);
  r.string("http_path", a.http_path);
  r.string("http_req_body", a.http_req_body);
  r.boolean("https_verify_certificate", a.https_verify_certificate);
  if (const json::value* v = r.find("req_headers"); v != nullptr && r.ok()) {
    if (!v->is_array() || v->get_array().empty()) {
      r.fail("req_headers", "expected a non-empty array of strings", *v);
    } else {
      for (const json::value& item : v->get_array()) {
        if (!item.is_string()) {
          r.fail("req_headers", "expected strings", item);
          break;
        }
        a.req_headers.emplace_back(item.get_string());
      }
    }
  }
  // Schema defaults are filled only inside an object that exists (core.md §4.4.2 caveat): an
  // absent `healthy`/`unhealthy` keeps the checker library's interval 0, "never probe".
  if (const json::object* h = r.object("healthy")) {
    FieldReader hr(*h, "checks.active.healthy");
    a.healthy.interval = std::chrono::seconds(1);
    int64_t interval = 0;
    if (hr.read_integer("interval", 1, INT32_MAX, interval)) {
      a.healthy.interval = std::chrono::seconds(interval);
    }
    hr.statuses("http_statuses", a.healthy.http_statuses);
    hr.integer("successes", 1, 254, a.healthy.successes);
    if (!hr.ok()) {
      return hr.take_error();
    }
  }
  if (const json::object* u = r.object("unhealthy")) {
    FieldReader ur(*u, "checks.active.unhealthy");
    a.unhealthy.interval = std::chrono::seconds(1);
    int64_t interval = 0;
    if (ur.read_integer("interval", 1, INT32_MAX, interval)) {
      a.unhealthy.interval = std::chrono::seconds(interval);
    }
    ur.statuses("http_statuses", a.unhealthy.http_statuses);
    ur.integer("http_failures", 1, 254, a.unhealthy.http_failures);
    ur.integer("tcp_failures", 1, 254, a.unhealthy.tcp_failures);
    ur.integer("timeouts", 1, 254, a.unhealthy.timeouts);
    if (!ur.ok()) {
      return ur.take_error();
    }
  }
  if (!r.ok()) {
    return r.take_error();
  }
  return {};
}

Result<void> parse_passive(const json::object& o, PassiveCheck& p) {
  FieldReader r(o, "checks.passive");
  r.check_type("type", p.type);
  if (const json::object* h = r.object("healthy")) {
    FieldReader hr(*h, "checks.passive.healthy");
    hr.statuses("http_statuses", p.healthy.http_statuses);
    hr.integer("successes", 0, 254, p.healthy.successes);
    if (!hr.ok()) {
      return hr.take_error();
    }
  }
  if (const json::object* u = r.object("unhealthy")) {
    FieldReader ur(*u, "checks.passive.unhealthy");
    ur.statuses("http_statuses", p.unhealthy.http_statuses);
    ur.integer("http_failures", 0, 254, p.unhealthy.http_failures);
    ur.integer("tcp_failures", 0, 254, p.unhealthy.tcp_failures);
    ur.integer("timeouts", 0, 254, p.unhealthy.timeouts);
    if (!ur.ok()) {
      return ur.take_error();
    }
  }
  if (!r.ok()) {
    return r.take_error();
  }
  return {};
}

HealthConfig defaults() {
  HealthConfig c;
  c.active.healthy.http_statuses = {200, 302};
  c.active.healthy.successes = 2;
  c.active.unhealthy.http_statuses = {429, 404, 500, 501, 502, 503, 504, 505};
  c.active.unhealthy.http_failures = 5;
  c.active.unhealthy.tcp_failures = 2;
  c.active.unhealthy.timeouts = 3;
  c.passive.healthy.http_statuses = {200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
                                     300, 301, 302, 303, 304, 305, 306, 307, 308};
  c.passive.healthy.successes = 5;
  c.passive.unhealthy.http_statuses = {429, 500, 503};
  c.passive.unhealthy.http_failures = 5;
  c.passive.unhealthy.tcp_failures = 2;
  c.passive.unhealthy.timeouts = 7;
  return c;
}

}  // namespace

Result<HealthConfig> parse_health_config(const json::value& checks) {
  if (!checks.is_object()) {
    return field_error("checks", "expected an object", checks);
  }
  const json::object& o = checks.get_object();
  HealthConfig config = defaults();
  // APISIX's schema: anyOf required ["active"] / ["active","passive"], so passive alone (or
  // an empty object) is refused.
  const json::value* active = o.if_contains("active");
  if (active == nullptr) {
    return Error::config("checks: \"active\" is required (passive checks need active ones)");
  }
  if (!active->is_object()) {
    return field_error("checks.active", "expected an object", *active);
  }
  if (auto r = parse_active(active->get_object(), config.active); !r) {
    return r.error();
  }
  if (const json::value* passive = o.if_contains("passive")) {
    if (!passive->is_object()) {
      return field_error("checks.passive", "expected an object", *passive);
    }
    if (auto r = parse_passive(passive->get_object(), config.passive); !r) {
      return r.error();
    }
    config.passive_configured = true;
  }
  return config;
}

}  // namespace apisix::upstream
