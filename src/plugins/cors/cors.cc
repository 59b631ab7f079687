#include "plugins/cors/cors.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <cstdint>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <pcre2.h>

#include "plugins/request.h"

namespace apisix::plugins {

namespace json = boost::json;

// Immutable once compiled; pcre2_match only reads it, so all workers share one.
class Cors::OriginRegex {
 public:
  // Compiles `pattern` as ngx.re does with options "jo" (no PCRE flags); the error text is
  // the one APISIX's check_schema returns.
  static Result<std::shared_ptr<const OriginRegex>> compile(const std::string& pattern) {
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0,
                                   &code, &offset, nullptr);
    if (re == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(code, message, sizeof message);
      return Error::config(
          "pcre_compile() failed: " + std::string(reinterpret_cast<const char*>(message)) +
          " in \"" + pattern + "\"");
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  // without JIT support it interprets; same result
    auto made = std::make_shared<OriginRegex>();
    made->code_ = re;
    return std::shared_ptr<const OriginRegex>(std::move(made));
  }

  OriginRegex() = default;
  ~OriginRegex() { pcre2_code_free(code_); }
  OriginRegex(const OriginRegex&) = delete;
  OriginRegex& operator=(const OriginRegex&) = delete;

  // ngx.re.find(subject, pattern, "jo"): true when the pattern matches anywhere in `subject`.
  bool find(std::string_view subject) const {
    // One match block per worker thread, reused by every search on it.
    thread_local struct Data {
      pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
      ~Data() { pcre2_match_data_free(data); }
    } holder;
    int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0,
                         holder.data, nullptr);
    // rc == 0: a match whose captures did not fit; negative: no match (or a matching error,
    // which ngx.re.find also reports as "not found" to cors).
    return rc >= 0;
  }

 private:
  pcre2_code* code_ = nullptr;
};

namespace {

// What cors keeps of the request head for header_filter.
struct CorsState {
  std::optional<std::string> origin;           // the request's Origin, as received
  std::optional<std::string> request_headers;  // Access-Control-Request-Headers (allow_headers **)
};

constexpr std::string_view kAllMethods = "GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS,CONNECT,TRACE";

std::optional<std::string> string_field(const json::object& conf, std::string_view name) {
  if (const auto* v = conf.if_contains(name); v != nullptr && v->is_string()) {
    return std::string(v->get_string());
  }
  return std::nullopt;
}

// APISIX's allow_origins_by_regex handling: the rules joined by "|" form one pattern. Each rule
// is compiled on its own first, so that the error names the rule that is wrong.
Result<std::shared_ptr<const Cors::OriginRegex>> compile_rules(const json::value* rules) {
  std::string joined;
  for (const json::value& rule : rules->get_array()) {
    std::string text(rule.get_string());
    auto alone = Cors::OriginRegex::compile(text);
    if (!alone) {
      return alone.error();
    }
    if (!joined.empty()) {
      joined += '|';
    }
    joined += text;
  }
  return Cors::OriginRegex::compile(joined);
}

using Origin = std::optional<std::string_view>;

// process_with_allow_origins: the Access-Control-Allow-Origin value an origin option gives
// this request. "**" stands for the request's Origin ("*" without one); a list (a value with
// a ",") gives the Origin when it is one of the entries, else nothing; any other value
// ("*", "null", one origin) is given as it is, whatever the request's Origin.
Origin resolve(std::string_view allow, Origin origin) {
  if (allow == "**") {
    allow = origin ? *origin : std::string_view("*");
  }
  if (allow.find(',') == std::string_view::npos) {
    return allow;
  }
  if (!origin) {
    return std::nullopt;
  }
  size_t pos = 0;
  while (pos <= allow.size()) {
    size_t comma = allow.find(',', pos);
    if (comma == std::string_view::npos) {
      comma = allow.size();
    }
    std::string_view entry = allow.substr(pos, comma - pos);
    if (!entry.empty() && entry == *origin) {
      return origin;
    }
    pos = comma + 1;
  }
  return std::nullopt;
}

// match_origins: whether `allow` admits the request's Origin. Like APISIX's Lua, a request
// without Origin "matches" an absent value (nil == nil).
bool matches(Origin origin, Origin allow) {
  if (!allow) {
    return !origin;
  }
  return *allow == "*" || (origin && *allow == *origin);
}

Origin by_regex(Origin origin, const Cors::OriginRegex& regex) {
  if (origin && regex.find(*origin)) {
    return origin;
  }
  return std::nullopt;
}

}  // namespace

Result<std::shared_ptr<const Plugin>> Cors::compile(const json::value& conf, CompileContext& ctx) {
  const json::object& o = conf.get_object();
  auto plugin = std::make_shared<Cors>();
  plugin->allow_origins_ = string_field(o, "allow_origins").value_or("*");
  std::string methods = string_field(o, "allow_methods").value_or("*");
  plugin->allow_headers_ = string_field(o, "allow_headers").value_or("*");
  plugin->expose_headers_ = string_field(o, "expose_headers");
  plugin->timing_allow_origins_ = string_field(o, "timing_allow_origins");
  int64_t max_age = 5;
  if (const auto* v = o.if_contains("max_age"); v != nullptr && v->is_int64()) {
    max_age = v->get_int64();
  }
  plugin->max_age_ = std::to_string(max_age);
  if (const auto* v = o.if_contains("allow_credential"); v != nullptr && v->is_bool()) {
    plugin->allow_credential_ = v->get_bool();
  }

  if (plugin->allow_credential_ &&
      (plugin->allow_origins_ == "*" || methods == "*" || plugin->allow_headers_ == "*" ||
       plugin->expose_headers_ == "*" || plugin->timing_allow_origins_ == "*")) {
    return Error::config("you can not set '*' for other option when 'allow_credential' is true");
  }
  plugin->allow_methods_ = methods == "**" ? std::string(kAllMethods) : methods;
  plugin->allow_headers_from_request_ = plugin->allow_headers_ == "**";

  if (const auto* rules = o.if_contains("allow_origins_by_regex");
      rules != nullptr && rules->is_array()) {
    auto regex = compile_rules(rules);
    if (!regex) {
      return regex.error();
    }
    plugin->origins_regex_ = std::move(*regex);
  }
  if (const auto* rules = o.if_contains("timing_allow_origins_by_regex");
      rules != nullptr && rules->is_array()) {
    auto regex = compile_rules(rules);
    if (!regex) {
      return regex.error();
    }
    plugin->timing_regex_ = std::move(*regex);
  }

  if (const auto* keys = o.if_contains("allow_origins_by_metadata");
      keys != nullptr && keys->is_array()) {
    plugin->by_metadata_ = true;
    // The metadata is read now; a change to it rebuilds the chains that use the plugin.
    const json::object* lists = nullptr;
    if (ctx.metadata != nullptr && ctx.metadata->is_object()) {
      if (const auto* a = ctx.metadata->get_object().if_contains("allow_origins")) {
        lists = a->if_object();
      }
    }
    for (const json::value& key : keys->get_array()) {
      const json::value* list = lists != nullptr ? lists->if_contains(key.get_string()) : nullptr;
      if (list != nullptr && list->is_string()) {
        plugin->metadata_origins_.emplace_back(list->get_string());
      }
    }
  }
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

core::Task<PhaseResult> Cors::rewrite(Request& request) const {
  // The Origin as the client sent it: later plugins (proxy-rewrite) may change the header.
  CorsState& state = request.state<CorsState>(*this);
  if (auto origin = request.header("Origin")) {
    state.origin = std::string(*origin);
  }
  if (allow_headers_from_request_) {
    if (auto asked = request.header("Access-Control-Request-Headers")) {
      state.request_headers = std::string(*asked);
    }
  }
  if (request.method() == "OPTIONS") {
    // Every OPTIONS request is a preflight to APISIX: answered here with 200 and no body; the
    // CORS headers are added by header_filter, which runs for this response too.
    co_return Exit::status_only(200);
  }
  co_return std::nullopt;
}

Cors::Origin Cors::by_metadata(Origin origin) const {
  if (!by_metadata_) {
    return std::nullopt;
  }
  for (const std::string& list : metadata_origins_) {
    if (matches(origin, resolve(list, origin))) {
      return origin;
    }
  }
  return std::nullopt;
}

void Cors::header_filter(Request& request, Response& response) const {
  const CorsState* state = request.find_state<CorsState>(*this);
  Origin origin;
  if (state != nullptr && state->origin) {
    origin = *state->origin;
  }

  // The order of APISIX's header_filter: metadata lists first; the route's own options when
  // the metadata did not admit the Origin (and allow_origins is not the default "*"); the
  // metadata once more when those did not either.
  Origin allow;
  bool use_local = true;
  if (by_metadata_) {
    allow = by_metadata(origin);
    use_local = !matches(origin, allow) && allow_origins_ != "*";
  }
  if (use_local) {
    allow = origins_regex_ ? by_regex(origin, *origins_regex_) : resolve(allow_origins_, origin);
  }
  if (!matches(origin, allow)) {
    allow = by_metadata(origin);
  }

  if (allow_origins_ != "*") {
    response.add_header("Vary", "Origin");
  }
  if (allow) {
    response.set_header("Access-Control-Allow-Origin", *allow);
    response.set_header("Access-Control-Allow-Methods", allow_methods_);
    response.set_header("Access-Control-Max-Age", max_age_);
    if (expose_headers_ && !expose_headers_->empty()) {
      response.set_header("Access-Control-Expose-Headers", *expose_headers_);
    }
    if (!allow_headers_from_request_) {
      response.set_header("Access-Control-Allow-Headers", allow_headers_);
    } else if (state != nullptr && state->request_headers) {
      response.set_header("Access-Control-Allow-Headers", *state->request_headers);
    } else {
      response.remove_header("Access-Control-Allow-Headers");
    }
    if (allow_credential_) {
      response.set_header("Access-Control-Allow-Credentials", "true");
    }
  }

  Origin timing;
  if (timing_regex_) {
    timing = by_regex(origin, *timing_regex_);
  } else if (timing_allow_origins_) {
    timing = resolve(*timing_allow_origins_, origin);
  }
  if (timing && matches(origin, timing)) {
    response.set_header("Timing-Allow-Origin", *timing);
  }
}

}  // namespace apisix::plugins
