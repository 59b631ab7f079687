#pragma once
// The plugin runner (plugins.md §1): compiled chains of plugin instances and the functions
// that run one phase over a chain. Chains are built when a snapshot is built (build_chain);
// a request only walks them.
//
// Request flow (plugins.md §1.2), driven by the gateway's session:
//   rewrite: global chain, then the route chain; if an auth plugin attached a consumer, the
//            consumer's chain is merged in (merge_consumer) and its non-auth plugins run
//            rewrite ("rewrite_in_consumer");
//   access, before_proxy: global chain, then the (merged) chain;
//   header_filter, body_filter, log: global chain, then the chain — also after an exit.
// An exit (§0.2) stops the request phases; with `_meta.error_response` and status >= 400 its
// body is replaced.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/result.h"
#include "core/task.h"
#include "plugins/chain.h"
#include "plugins/plugin.h"
#include "plugins/request.h"

namespace apisix::router {
class Expr;
}

namespace apisix::plugins {

class Registry;

// One compiled plugin instance of a chain.
struct Instance {
  const PluginKind* kind = nullptr;
  std::string_view name;  // the kind's name (static storage)
  int priority = 0;       // effective priority
  Origin origin = Origin::Route;
  bool auth = false;          // type "auth"
  bool prefer_route = false;  // run_policy prefer_route (prometheus)
  std::shared_ptr<const Plugin> plugin;
  std::shared_ptr<const router::Expr> filter;  // _meta.filter; null: always runs
  std::optional<std::string> error_response;   // _meta.error_response, as the body to send
};

// Instances in execution order.
struct CompiledChain {
  std::vector<std::shared_ptr<const Instance>> items;
  PhaseMask phases = 0;  // union of the items' phases
  // A consumer chain: names of disabled instances, which still hide the route's instance of
  // that name when merged (plugins.md §1.3).
  std::vector<std::string_view> hides;

  bool empty() const { return items.empty(); }
  bool has(Phase p) const { return (phases & phase_bit(p)) != 0; }
  // An instance named `name`, or null.
  const Instance* find(std::string_view name) const;
};

// What compiling needs beyond the configuration of each instance.
struct ChainContext {
  const Registry* registry = nullptr;
  RuntimeState* runtime = nullptr;
  uint32_t worker_count = 1;
  const boost::json::object* plugin_attr = nullptr;  // config.yaml's plugin_attr, or null
  // Metadata by plugin name (validated, defaults filled), or null.
  const std::map<std::string, boost::json::value, std::less<>>* metadata = nullptr;
  std::string prefix = "/apisix";  // etcd prefix, for resource keys
};

// Compiles merged entries (chain.h) into a chain. Entries whose plugin is not enabled or
// whose configuration does not compile are left out; each such case adds a line to `errors`.
std::shared_ptr<const CompiledChain> build_chain(const std::vector<ChainEntry>& entries,
                                                 const ChainContext& ctx,
                                                 std::vector<std::string>& errors);

// The resource key of an entry's owner: "<prefix>/routes/<id>", ... (plugins.md §0.6).
std::string resource_key(const ChainContext& ctx, Origin origin, std::string_view owner_id);

// The chain after a consumer attached: `route` with the instances of `consumer` (consumer and
// consumer group plugins, already merged) replacing those of the same name, re-sorted.
// `out` is reused between requests.
void merge_consumer(const CompiledChain& route, const CompiledChain& consumer,
                    std::vector<const Instance*>& out);

// A view of the instances to run for one request: a chain, or a merged list.
struct ChainView {
  const std::vector<std::shared_ptr<const Instance>>* items = nullptr;
  const std::vector<const Instance*>* merged = nullptr;
  size_t size() const { return merged != nullptr ? merged->size() : items ? items->size() : 0; }
  const Instance& operator[](size_t i) const { return merged ? *(*merged)[i] : *(*items)[i]; }
};

// Runs request phase `phase` (Rewrite, Access or BeforeProxy) of each instance of `chain`.
// `only_consumer_non_auth`: the rewrite_in_consumer pass. `skip_prefer_route`: a chain whose
// prefer_route instances are skipped when `route_chain` has the same plugin (global rules).
core::Task<PhaseResult> run_request_phase(Phase phase, ChainView chain, Request& request,
                                          bool only_consumer_non_auth = false,
                                          const CompiledChain* skip_prefer_route_for = nullptr);
void run_header_filter(ChainView chain, Request& request, Response& response,
                       const CompiledChain* skip_prefer_route_for = nullptr);
void run_body_filter(ChainView chain, Request& request, std::string& chunk, bool last,
                     const CompiledChain* skip_prefer_route_for = nullptr);
void run_log(ChainView chain, Request& request,
             const CompiledChain* skip_prefer_route_for = nullptr);

// The body of an exit: `_meta.error_response` for status >= 400 when the instance has one.
void apply_error_response(const Instance& instance, Exit& exit);

}  // namespace apisix::plugins
