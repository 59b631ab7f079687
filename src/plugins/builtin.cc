#include "plugins/builtin.h"

#include <algorithm>
#include <array>

#include <boost/json/parse.hpp>

#include "core/log.h"
#include "plugins/basic_auth/basic_auth.h"
#include "plugins/consumer_restriction/consumer_restriction.h"
#include "plugins/cors/cors.h"
#include "plugins/echo/echo.h"
#include "plugins/fault_injection/fault_injection.h"
#include "plugins/ip_restriction/ip_restriction.h"
#include "plugins/key_auth/key_auth.h"
#include "plugins/limit_conn/limit_conn.h"
#include "plugins/limit_count/limit_count.h"
#include "plugins/limit_req/limit_req.h"
#include "plugins/mocking/mocking.h"
#include "plugins/prometheus/prometheus.h"
#include "plugins/proxy_rewrite/proxy_rewrite.h"
#include "plugins/redirect/redirect.h"
#include "plugins/request_id/request_id.h"
#include "plugins/response_rewrite/response_rewrite.h"

namespace apisix::plugins {

std::span<const PluginKind> builtin_kinds() {
  // One line per plugin class, alphabetical by APISIX name (STYLE.md §2).
  static const std::array kinds = {
      make_kind<BasicAuth>(),      make_kind<ConsumerRestriction>(),
      make_kind<Cors>(),           make_kind<Echo>(),
      make_kind<FaultInjection>(), make_kind<IpRestriction>(),
      make_kind<KeyAuth>(),        make_kind<LimitConn>(),
      make_kind<LimitCount>(),     make_kind<LimitReq>(),
      make_kind<Mocking>(),        make_kind<Prometheus>(),
      make_kind<ProxyRewrite>(),   make_kind<Redirect>(),
      make_kind<RequestId>(),      make_kind<ResponseRewrite>(),
  };
  return kinds;
}

Registry::Registry(std::span<const PluginKind> all, const std::vector<std::string>* enabled) {
  for (const PluginKind& kind : all) {
    std::string_view name = kind.facts->name;
    if (enabled != nullptr && std::find(enabled->begin(), enabled->end(), name) == enabled->end()) {
      continue;
    }
    kinds_[name] = &kind;
    Schemas& s = schemas_[name];
    auto compile = [&](std::string_view text, const char* what) {
      std::shared_ptr<const schema::Schema> out;
      if (text.empty()) {
        return out;
      }
      boost::system::error_code ec;
      boost::json::value doc = boost::json::parse(text, ec);
      if (ec) {
        core::log_error("plugin ", name, ": ", what, " is not JSON");
        return out;
      }
      auto compiled = schema::Schema::compile(doc);
      if (!compiled) {
        core::log_error("plugin ", name, ": ", what, ": ", compiled.error().context);
        return out;
      }
      return std::move(compiled.value());
    };
    s.schema = compile(kind.facts->schema, "schema");
    s.consumer = compile(kind.facts->consumer_schema, "consumer schema");
    s.metadata = compile(kind.facts->metadata_schema, "metadata schema");
  }
}

const PluginKind* Registry::find(std::string_view name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : it->second;
}

std::optional<int> Registry::priority(std::string_view name) const {
  const PluginKind* kind = find(name);
  return kind != nullptr ? std::optional<int>(kind->facts->priority) : std::nullopt;
}

const schema::Schema* Registry::schema_of(std::string_view name) const {
  auto it = schemas_.find(name);
  return it == schemas_.end() ? nullptr : it->second.schema.get();
}

const schema::Schema* Registry::consumer_schema_of(std::string_view name) const {
  auto it = schemas_.find(name);
  return it == schemas_.end() ? nullptr : it->second.consumer.get();
}

const schema::Schema* Registry::metadata_schema_of(std::string_view name) const {
  auto it = schemas_.find(name);
  return it == schemas_.end() ? nullptr : it->second.metadata.get();
}

}  // namespace apisix::plugins
