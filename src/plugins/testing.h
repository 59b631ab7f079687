#pragma once
// Test support for plugin unit tests: a Request built from a raw request head, a plugin
// compiled from JSON text through its schema, and a way to run a phase coroutine to its end
// on a private event loop. Header-only; used by tests only.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/loop.h"
#include "core/task.h"
#include "http/parser.h"
#include "plugins/builtin.h"
#include "plugins/plugin.h"
#include "plugins/request.h"
#include "plugins/request_vars.h"

namespace apisix::plugins::testing {

// One request for a phase test. `uri` is $uri (decoded and normalised, as the gateway gives
// it); empty: the raw path.
class TestRequest {
 public:
  explicit TestRequest(std::string raw, std::string uri = {}, std::string remote = "127.0.0.1")
      : raw_(std::move(raw)), remote_(std::move(remote)) {
    parsed_ = http::parse_request_head(raw_, head_, {}).status == http::ParseStatus::Complete;
    uri_ = uri.empty() ? std::string(head_.path) : std::move(uri);
    std::string_view host = head_.host.substr(0, head_.host.find(':'));
    host_ = std::string(host);
    facts_ = RequestFacts{uri_, host_, remote_, 5000, 9080};
    vars_ = std::make_unique<RequestVars>(head_, facts_);
    request_ = std::make_unique<Request>(&head_, vars_.get());
  }

  bool parsed() const { return parsed_; }
  Request& operator*() { return *request_; }
  Request* operator->() { return request_.get(); }

 private:
  std::string raw_;
  std::string uri_;
  std::string host_;
  std::string remote_;
  http::RequestHead head_;
  bool parsed_ = false;
  RequestFacts facts_;
  std::unique_ptr<RequestVars> vars_;
  std::unique_ptr<Request> request_;
};

// "GET <target> HTTP/1.1" with Host: h and the given extra header lines ("Name: value\r\n").
inline std::string get(std::string_view target, std::string_view headers = {},
                       std::string_view method = "GET") {
  return std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: h\r\n" +
         std::string(headers) + "\r\n";
}

inline boost::json::value json(std::string_view text) { return boost::json::parse(text); }

// The plugin's schema verdict on `conf`: nullopt when valid, else the message.
inline std::optional<std::string> schema_error(std::string_view plugin, std::string_view conf) {
  static const Registry registry;
  const schema::Schema* s = registry.schema_of(plugin);
  if (s == nullptr) {
    return "no schema for " + std::string(plugin);
  }
  return s->check(json(conf));
}

// Validates `conf` (defaults filled) and compiles it with T::compile.
template <typename T>
Result<std::shared_ptr<const Plugin>> compile(std::string_view conf,
                                              const boost::json::value* attr = nullptr) {
  static const Registry registry;
  boost::json::value value = json(conf);
  const schema::Schema* s = registry.schema_of(T::kName);
  if (s == nullptr) {
    return Error::config("no schema");
  }
  if (auto error = s->validate(value)) {
    return Error::config("schema: " + *error);
  }
  CompileContext ctx;
  ctx.attr = attr;
  return T::compile(value, ctx);
}

// compile<T>() that fails the test (not fatally) when the schema or T::compile refuses `conf`,
// and then returns null.
template <typename T>
std::shared_ptr<const Plugin> compile_or_null(std::string_view conf) {
  auto compiled = compile<T>(conf);
  EXPECT_TRUE(compiled) << compiled.error().context;
  return compiled ? *compiled : nullptr;
}

// Runs a request phase that is expected to finish without suspending (no loop needed);
// fails the test when it suspends.
inline PhaseResult run_now(core::Task<PhaseResult> task) {
  std::optional<PhaseResult> out;
  auto body = [&]() -> core::Task<void> { out = co_await std::move(task); };
  core::spawn(body());
  EXPECT_TRUE(out.has_value()) << "the phase suspended";
  return out.value_or(PhaseResult{});
}

// Runs one phase coroutine to its end on a private loop (set as request.loop); fails the test
// when it has not finished after `limit`.
template <typename Phase>
PhaseResult run_phase(Request& request, Phase&& phase,
                      std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  core::Loop loop;
  request.loop = &loop;
  PhaseResult result;
  bool finished = false;
  auto body = [&]() -> core::Task<void> {
    result = co_await phase(request);
    finished = true;
  };
  // Stops the loop once the body finished (or the limit passed), leaving nothing suspended.
  auto watchdog = [&]() -> core::Task<void> {
    auto until = core::Clock::now() + limit;
    while (!finished && core::Clock::now() < until) {
      co_await loop.sleep_for(std::chrono::milliseconds(5));
    }
    loop.stop();
  };
  core::spawn(body());
  if (!finished) {
    core::spawn(watchdog());
    loop.run();
  }
  request.loop = nullptr;
  EXPECT_TRUE(finished) << "the phase did not finish";
  return result;
}

inline PhaseResult rewrite(const Plugin& plugin, Request& request) {
  return run_phase(request, [&](Request& r) { return plugin.rewrite(r); });
}

inline PhaseResult access(const Plugin& plugin, Request& request) {
  return run_phase(request, [&](Request& r) { return plugin.access(r); });
}

// The value of the first added upstream field called `name`, or nullopt.
inline std::vector<std::string> added_values(const HeaderEdits& edits, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : edits.added()) {
    if (http::iequals(n, name)) {
      out.push_back(v);
    }
  }
  return out;
}

inline std::optional<std::string> exit_header(const Exit& exit, std::string_view name) {
  for (const auto& [n, v] : exit.headers) {
    if (http::iequals(n, name)) {
      return v;
    }
  }
  return std::nullopt;
}

}  // namespace apisix::plugins::testing
