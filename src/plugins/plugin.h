#pragma once
// The plugin interface (STYLE.md §2, plugins.md §1): one configured use of a plugin is a
// Plugin object, compiled once when a snapshot is built, immutable and shared by every worker.
// A plugin class overrides only the phases it needs; the registry (builtin.h) records which
// ones at compile time, and the runner (runner.h) calls only those.
//
//   rewrite, access, before_proxy  coroutines: they may wait (Redis, a delay); returning an
//                                  Exit ends the request with that response (plugins.md §0.2)
//   header_filter, body_filter     plain calls on the response going to the client
//   log                            a plain call once the response is complete
//
// Per-request state never lives in the plugin object: ask the request for a typed slot,
// `request.state<MyState>(*this)`. Cross-request state (counters) lives in RuntimeState,
// keyed by the plugin instance's identity (plugins.md §0.6), so that it outlives snapshots.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "core/result.h"
#include "core/task.h"
#include "plugins/catalog.h"

namespace apisix::plugins {

class Request;
class Response;
class RuntimeState;

// A response that ends the request in rewrite/access/before_proxy (plugins.md §0.2).
struct Exit {
  int status = 200;
  // The body as sent; nullopt: none (3xx-5xx then get the server's default HTML page).
  std::optional<std::string> body;
  // Response headers set with the exit, beyond those the request already set.
  std::vector<std::pair<std::string, std::string>> headers;

  // `{"message":"<text>"}` + "\n" (auth and restriction plugins, §0.3).
  static Exit message(int status, std::string_view text);
  // `{"error_msg":"<text>"}` + "\n" (limiters, §0.3).
  static Exit error_msg(int status, std::string_view text);
  // A JSON value serialised, followed by "\n" (a plugin's table body).
  static Exit json(int status, const boost::json::value& body);
  // A string body, verbatim.
  static Exit text(int status, std::string body);
  // No body.
  static Exit status_only(int status);
};

// What a request phase returns: continue (nullopt) or end the request.
using PhaseResult = std::optional<Exit>;

enum class Phase : uint8_t { Rewrite, Access, BeforeProxy, HeaderFilter, BodyFilter, Log };
using PhaseMask = uint8_t;
constexpr PhaseMask phase_bit(Phase p) { return static_cast<PhaseMask>(1u << static_cast<int>(p)); }

// One configured plugin instance. Every phase defaults to "do nothing, continue".
class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual core::Task<PhaseResult> rewrite(Request& request) const;
  virtual core::Task<PhaseResult> access(Request& request) const;
  virtual core::Task<PhaseResult> before_proxy(Request& request) const;
  // The response head on its way to the client (the node's, or an exit's); edit it in place.
  virtual void header_filter(Request& request, Response& response) const;
  // One piece of the response body; replace or edit `chunk` in place. `last`: no more data
  // follows (chunk may then be empty). Called only when some header_filter of the chain
  // called Response::modify_body() (which drops the body's length: it is sent chunked).
  virtual void body_filter(Request& request, std::string& chunk, bool last) const;
  virtual void log(Request& request) const;
};

// What a plugin's compile() gets besides its configuration.
struct CompileContext {
  // The storage key of the object holding the instance, "/apisix/routes/1" (plugins.md §0.6).
  std::string resource_key;
  // The instance's configuration version: changes exactly when its configuration does.
  std::string conf_version;
  // `plugin_attr.<name>` of config.yaml, or null.
  const boost::json::value* attr = nullptr;
  // The plugin's metadata (/apisix/admin/plugin_metadata/<name>), defaults filled; or null.
  const boost::json::value* metadata = nullptr;
  // Counters and other state that outlive snapshots; never null when the gateway compiles.
  RuntimeState* runtime = nullptr;
  uint32_t worker_count = 1;
  // True when the configuration belongs to a consumer (or its credential).
  bool consumer_side = false;
};

using CompileFn = Result<std::shared_ptr<const Plugin>> (*)(const boost::json::value& conf,
                                                            CompileContext& ctx);

// A kind of plugin the gateway can run: its APISIX facts, its compile function, and the
// phases its class overrides.
struct PluginKind {
  const PluginFacts* facts = nullptr;
  CompileFn compile = nullptr;
  PhaseMask phases = 0;
};

// The PluginKind of class T: T has `static constexpr std::string_view kName` (APISIX's name)
// and `static Result<std::shared_ptr<const Plugin>> compile(const json::value&,
// CompileContext&)`. The phase mask comes from which members T declares itself.
template <typename T>
PluginKind make_kind() {
  using RequestPhase = core::Task<PhaseResult> (Plugin::*)(Request&) const;
  PhaseMask mask = 0;
  if (!std::is_same_v<decltype(&T::rewrite), RequestPhase>) mask |= phase_bit(Phase::Rewrite);
  if (!std::is_same_v<decltype(&T::access), RequestPhase>) mask |= phase_bit(Phase::Access);
  if (!std::is_same_v<decltype(&T::before_proxy), RequestPhase>) {
    mask |= phase_bit(Phase::BeforeProxy);
  }
  if (!std::is_same_v<decltype(&T::header_filter), void (Plugin::*)(Request&, Response&) const>) {
    mask |= phase_bit(Phase::HeaderFilter);
  }
  if (!std::is_same_v<decltype(&T::body_filter),
                      void (Plugin::*)(Request&, std::string&, bool) const>) {
    mask |= phase_bit(Phase::BodyFilter);
  }
  if (!std::is_same_v<decltype(&T::log), void (Plugin::*)(Request&) const>) {
    mask |= phase_bit(Phase::Log);
  }
  return PluginKind{find_facts(T::kName), &T::compile, mask};
}

}  // namespace apisix::plugins
