#pragma once
// Unit-test support for the limiter plugins (limit-count, limit-req, limit-conn): a Request
// built from a raw head, compiling a plugin through the registry's schema (defaults filled,
// as the runner does), and running a request phase on a fresh Loop. Test code only; used on
// one thread.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include "core/loop.h"
#include "core/task.h"
#include "http/parser.h"
#include "plugins/builtin.h"
#include "plugins/plugin.h"
#include "plugins/request.h"
#include "plugins/request_vars.h"
#include "redis/client.h"

namespace apisix::plugins::limiter_test {

// A parsed request with its variables, for one phase call or a whole access..log sequence.
class TestRequest {
 public:
  // `headers`: extra header lines, each ending with "\r\n".
  explicit TestRequest(std::string_view headers = {}, std::string remote_addr = "127.0.0.1",
                       std::string target = "/hello")
      : remote_addr_(std::move(remote_addr)) {
    raw_ = "GET " + target + " HTTP/1.1\r\nHost: example.com\r\n" + std::string(headers) + "\r\n";
    auto parsed = http::parse_request_head(raw_, head_, {});
    EXPECT_EQ(parsed.status, http::ParseStatus::Complete) << raw_;
    facts_ = RequestFacts{"/hello", "example.com", remote_addr_, 5000, 9080};
    vars_ = std::make_unique<RequestVars>(head_, facts_);
    request_ = std::make_unique<Request>(&head_, vars_.get());
  }
  TestRequest(const TestRequest&) = delete;
  TestRequest& operator=(const TestRequest&) = delete;

  Request& operator*() { return *request_; }
  Request* operator->() { return request_.get(); }

 private:
  std::string raw_;
  std::string remote_addr_;
  http::RequestHead head_;
  RequestFacts facts_;
  std::unique_ptr<RequestVars> vars_;
  std::unique_ptr<Request> request_;
};

// Validates `conf_json` with the plugin's schema (filling defaults) and compiles it; a schema
// failure comes back as a config Error with the schema's message.
inline Result<std::shared_ptr<const Plugin>> compile_conf(std::string_view name,
                                                          std::string_view conf_json,
                                                          CompileContext& ctx) {
  static const Registry registry;
  boost::json::value conf = boost::json::parse(conf_json);
  const schema::Schema* schema = registry.schema_of(name);
  if (schema == nullptr) {
    return Error::config("no schema");
  }
  if (auto err = schema->validate(conf)) {
    return Error::config(*err);
  }
  return registry.find(name)->compile(conf, ctx);
}

// compile_conf() that fails the test (not fatally) on an error and then returns null.
inline std::shared_ptr<const Plugin> compile_or_null(std::string_view name,
                                                     std::string_view conf_json,
                                                     CompileContext ctx) {
  auto compiled = compile_conf(name, conf_json, ctx);
  EXPECT_TRUE(compiled) << compiled.error().context;
  return compiled ? *compiled : nullptr;
}

// The plugin's schema verdict on `conf_json`: nullopt when valid, else the message.
inline std::optional<std::string> schema_error(std::string_view name, std::string_view conf_json) {
  static const Registry registry;
  return registry.schema_of(name)->check(boost::json::parse(conf_json));
}

// A CompileContext for instance `resource_key` with configuration version `conf_version`.
inline CompileContext context(RuntimeState* runtime, std::string resource_key = "/apisix/routes/1",
                              std::string conf_version = "1") {
  CompileContext ctx;
  ctx.resource_key = std::move(resource_key);
  ctx.conf_version = std::move(conf_version);
  ctx.runtime = runtime;
  return ctx;
}

// Runs `phase` (a request phase) for `request` on `loop`, which is the request's loop
// meanwhile, until it finishes.
template <typename Phase>
PhaseResult run_phase_on(core::Loop& loop, Request& request, Phase&& phase) {
  core::Loop* previous = request.loop;
  request.loop = &loop;
  PhaseResult result;
  bool done = false;
  auto body = [&]() -> core::Task<void> {
    result = co_await phase();
    done = true;
    loop.stop();
  };
  core::spawn(body());
  if (!done) {
    loop.run();
  }
  EXPECT_TRUE(done);
  request.loop = previous;
  return result;
}

// The same on a fresh loop.
template <typename Phase>
PhaseResult run_phase(Request& request, Phase&& phase) {
  core::Loop loop;
  return run_phase_on(loop, request, std::forward<Phase>(phase));
}

inline PhaseResult run_access(const Plugin& plugin, Request& request) {
  return run_phase(request, [&] { return plugin.access(request); });
}

inline PhaseResult run_access_on(core::Loop& loop, const Plugin& plugin, Request& request) {
  return run_phase_on(loop, request, [&] { return plugin.access(request); });
}

// Runs access with a worker's Redis clients (made for this run: a Loop runs only once).
inline PhaseResult run_access_with_redis(const Plugin& plugin, Request& request) {
  core::Loop loop;
  redis::RedisClients clients(loop);
  request.redis = &clients;
  PhaseResult result = run_access_on(loop, plugin, request);
  request.redis = nullptr;
  return result;
}

inline std::string header(const Request& request, std::string_view name) {
  auto v = request.response().header(name);
  return v ? std::string(*v) : std::string("(none)");
}

}  // namespace apisix::plugins::limiter_test
