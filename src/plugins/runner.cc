#include "plugins/runner.h"

#include <algorithm>
#include <array>
#include <map>

#include <boost/json/serialize.hpp>

#include "core/log.h"
#include "plugins/builtin.h"
#include "router/expr.h"

namespace apisix::plugins {

namespace json = boost::json;

namespace {

// CRC-32 (IEEE) of `text`, as a decimal string: the configuration version (plugins.md §0.6).
std::string crc32_text(std::string_view text) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) {
        c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      }
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char ch : text) {
    crc = table[(crc ^ ch) & 0xFF] ^ (crc >> 8);
  }
  return std::to_string(crc ^ 0xFFFFFFFFu);
}

// JSON with object keys sorted at every level ("stable encoding").
void stable_encode(const json::value& v, std::string& out) {
  if (const auto* o = v.if_object()) {
    std::vector<std::pair<std::string_view, const json::value*>> items;
    for (const auto& [k, item] : *o) {
      items.emplace_back(k, &item);
    }
    std::sort(items.begin(), items.end());
    out += '{';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i != 0) out += ',';
      out += json::serialize(json::string(items[i].first));
      out += ':';
      stable_encode(*items[i].second, out);
    }
    out += '}';
  } else if (const auto* a = v.if_array()) {
    out += '[';
    for (size_t i = 0; i < a->size(); ++i) {
      if (i != 0) out += ',';
      stable_encode((*a)[i], out);
    }
    out += ']';
  } else {
    out += json::serialize(v);
  }
}

std::string_view origin_type(Origin origin) {
  switch (origin) {
    case Origin::Service:
      return "services";
    case Origin::PluginConfig:
      return "plugin_configs";
    case Origin::Route:
      return "routes";
    case Origin::ConsumerGroup:
      return "consumer_groups";
    case Origin::Consumer:
      return "consumers";
    case Origin::GlobalRule:
      return "global_rules";
  }
  return "routes";
}

bool passes_filter(const Instance& in, Request& request) {
  if (!in.filter) {
    return true;
  }
  if (auto cached = request.cached_filter(&in)) {
    return *cached;
  }
  bool pass = in.filter->eval(request);
  request.cache_filter(&in, pass);
  return pass;
}

bool runs(const Instance& in, Phase phase, Request& request, const CompiledChain* prefer_route) {
  if ((in.kind->phases & phase_bit(phase)) == 0) {
    return false;
  }
  if (prefer_route != nullptr && in.prefer_route && prefer_route->find(in.name) != nullptr) {
    return false;  // plugins.md §1.3: the route's own instance runs instead
  }
  return passes_filter(in, request);
}

}  // namespace

const Instance* CompiledChain::find(std::string_view name) const {
  for (const auto& item : items) {
    if (item->name == name) {
      return item.get();
    }
  }
  return nullptr;
}

std::string resource_key(const ChainContext& ctx, Origin origin, std::string_view owner_id) {
  std::string key = ctx.prefix;
  key += '/';
  key += origin_type(origin);
  key += '/';
  key += owner_id;
  return key;
}

std::shared_ptr<const CompiledChain> build_chain(const std::vector<ChainEntry>& entries,
                                                 const ChainContext& ctx,
                                                 std::vector<std::string>& errors) {
  auto chain = std::make_shared<CompiledChain>();
  for (const ChainEntry& entry : entries) {
    const PluginKind* kind = ctx.registry != nullptr ? ctx.registry->find(entry.name) : nullptr;
    if (kind == nullptr || entry.conf == nullptr) {
      continue;  // not enabled: the Admin API refuses these; a data plane skips them
    }
    bool consumer_side = entry.origin == Origin::Consumer || entry.origin == Origin::ConsumerGroup;
    if (consumer_side && kind->facts->type == "auth") {
      // A consumer's auth configuration is data for the consumer index, never run: the
      // rewrite_in_consumer pass skips auth plugins and they have no other phase.
      continue;
    }
    json::value conf = entry.conf->is_object() ? *entry.conf : json::value(json::object{});
    json::value meta;
    if (auto* meta_field = conf.get_object().if_contains("_meta")) {
      meta = *meta_field;
      conf.get_object().erase("_meta");
    }
    std::string label = std::string(origin_type(entry.origin)) + " " + entry.owner_id +
                        ": plugin " + entry.name + ": ";
    if (const schema::Schema* s = ctx.registry->schema_of(entry.name)) {
      if (auto err = s->validate(conf)) {
        errors.push_back(label + *err);
        continue;
      }
    }
    auto instance = std::make_shared<Instance>();
    instance->kind = kind;
    instance->name = kind->facts->name;
    instance->priority = entry.priority;
    instance->origin = entry.origin;
    instance->auth = kind->facts->type == "auth";
    instance->prefer_route = kind->facts->run_policy == "prefer_route";
    if (const auto* m = meta.if_object()) {
      if (const auto* filter = m->if_contains("filter")) {
        auto expr = router::Expr::compile(*filter);
        if (!expr) {
          errors.push_back(label +
                           "failed to validate the 'vars' expression: " + expr.error().context);
          continue;
        }
        if (!expr->is_always_true()) {
          instance->filter = std::make_shared<const router::Expr>(std::move(expr.value()));
        }
      }
      if (const auto* response = m->if_contains("error_response")) {
        if (response->is_string()) {
          instance->error_response = std::string(response->get_string());
        } else if (response->is_object()) {
          instance->error_response = json::serialize(*response) + "\n";
        }
      }
    }
    CompileContext cc;
    cc.resource_key = resource_key(ctx, entry.origin, entry.owner_id);
    std::string stable;
    stable_encode(*entry.conf, stable);
    cc.conf_version = crc32_text(stable);
    cc.runtime = ctx.runtime;
    cc.worker_count = ctx.worker_count;
    cc.consumer_side = consumer_side;
    if (ctx.plugin_attr != nullptr) {
      cc.attr = ctx.plugin_attr->if_contains(entry.name);
    }
    if (ctx.metadata != nullptr) {
      auto it = ctx.metadata->find(entry.name);
      cc.metadata = it != ctx.metadata->end() ? &it->second : nullptr;
    }
    auto plugin = kind->compile(conf, cc);
    if (!plugin) {
      errors.push_back(label + plugin.error().context);
      continue;
    }
    instance->plugin = std::move(plugin.value());
    chain->phases |= kind->phases;
    chain->items.push_back(std::move(instance));
  }
  std::stable_sort(chain->items.begin(), chain->items.end(), [](const auto& a, const auto& b) {
    return a->priority != b->priority ? a->priority > b->priority : a->name < b->name;
  });
  return chain;
}

void merge_consumer(const CompiledChain& route, const CompiledChain& consumer,
                    std::vector<const Instance*>& out) {
  out.clear();
  for (const auto& item : route.items) {
    bool replaced =
        consumer.find(item->name) != nullptr ||
        std::find(consumer.hides.begin(), consumer.hides.end(), item->name) != consumer.hides.end();
    if (!replaced) {
      out.push_back(item.get());
    }
  }
  for (const auto& item : consumer.items) {
    out.push_back(item.get());
  }
  std::stable_sort(out.begin(), out.end(), [](const Instance* a, const Instance* b) {
    return a->priority != b->priority ? a->priority > b->priority : a->name < b->name;
  });
}

void apply_error_response(const Instance& instance, Exit& exit) {
  if (exit.status >= 400 && instance.error_response) {
    exit.body = *instance.error_response;
  }
}

core::Task<PhaseResult> run_request_phase(Phase phase, ChainView chain, Request& request,
                                          bool only_consumer_non_auth,
                                          const CompiledChain* skip_prefer_route_for) {
  for (size_t i = 0; i < chain.size(); ++i) {
    const Instance& in = chain[i];
    if (only_consumer_non_auth &&
        (in.auth || (in.origin != Origin::Consumer && in.origin != Origin::ConsumerGroup))) {
      continue;
    }
    if (!runs(in, phase, request, skip_prefer_route_for)) {
      continue;
    }
    PhaseResult result;
    switch (phase) {
      case Phase::Rewrite:
        result = co_await in.plugin->rewrite(request);
        break;
      case Phase::Access:
        result = co_await in.plugin->access(request);
        break;
      case Phase::BeforeProxy:
        result = co_await in.plugin->before_proxy(request);
        break;
      default:
        break;
    }
    if (result) {
      if (result->status >= 400) {
        core::log(core::LogLevel::Warn, "plugin ", in.name, " ended the request with ",
                  result->status);
      }
      apply_error_response(in, *result);
      co_return result;
    }
  }
  co_return std::nullopt;
}

void run_header_filter(ChainView chain, Request& request, Response& response,
                       const CompiledChain* skip_prefer_route_for) {
  for (size_t i = 0; i < chain.size(); ++i) {
    const Instance& in = chain[i];
    if (runs(in, Phase::HeaderFilter, request, skip_prefer_route_for)) {
      in.plugin->header_filter(request, response);
    }
  }
}

void run_body_filter(ChainView chain, Request& request, std::string& chunk, bool last,
                     const CompiledChain* skip_prefer_route_for) {
  for (size_t i = 0; i < chain.size(); ++i) {
    const Instance& in = chain[i];
    if (runs(in, Phase::BodyFilter, request, skip_prefer_route_for)) {
      in.plugin->body_filter(request, chunk, last);
    }
  }
}

void run_log(ChainView chain, Request& request, const CompiledChain* skip_prefer_route_for) {
  for (size_t i = 0; i < chain.size(); ++i) {
    const Instance& in = chain[i];
    if (runs(in, Phase::Log, request, skip_prefer_route_for)) {
      in.plugin->log(request);
    }
  }
}

}  // namespace apisix::plugins
