#pragma once
// What the plugin integration tests share: a gateway with the Admin API (embedded provider) on
// port 0, routes to a local upstream written over the Admin API, and waiting until a written
// configuration answers (it applies a moment after the Admin API wrote it). Header-only:
// tests/plugins.cmake compiles only the *_test.cc files of this folder.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>

#include "tests/harness/admin_client.h"
#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"
#include "tests/harness/wait.h"

namespace apisix::test {

// How long a written configuration may take to answer.
inline constexpr std::chrono::seconds kApplyTimeout{5};

// An upstream object: round robin over the one node `address` ("127.0.0.1:port").
inline std::string upstream_of(std::string_view address) {
  return R"({"type":"roundrobin","nodes":{")" + std::string(address) + R"(":1}})";
}
inline std::string upstream_of(const UpstreamServer& upstream) {
  return upstream_of(upstream.address());
}

// A route for `uri` with `plugins` (a JSON object) proxying to the node `address`; `extra` holds
// more fields of the route, each starting with a comma.
inline std::string route(std::string_view uri, std::string_view plugins, std::string_view address,
                         std::string_view extra = {}) {
  return R"({"uri":")" + std::string(uri) + R"(","plugins":)" + std::string(plugins) +
         std::string(extra) + R"(,"upstream":)" + upstream_of(address) + "}";
}
inline std::string route(std::string_view uri, std::string_view plugins,
                         const UpstreamServer& upstream, std::string_view extra = {}) {
  return route(uri, plugins, upstream.address(), extra);
}

// GET `target` with Host: example.com and `headers` on a new connection.
inline HttpResponse get(uint16_t port, std::string_view target, Headers headers = {}) {
  headers.add("Host", "example.com");
  return http_get(port, target, headers);
}

// Waits until GET `target` with `headers` is answered with 200 (the route is applied).
inline bool routed(uint16_t port, std::string_view target, const Headers& headers = {}) {
  return wait_until([&] { return get(port, target, headers).status == 200; }, kApplyTimeout);
}

// Calls `send()` until `is_done(response)` holds (the configuration is applied) and returns the
// last response; fails the test, not fatally, when none did within kApplyTimeout.
template <typename Send, typename Done>
HttpResponse wait_for_response(Send send, Done is_done) {
  HttpResponse last;
  bool seen = wait_until(
      [&] {
        last = send();
        return is_done(last);
      },
      kApplyTimeout);
  EXPECT_TRUE(seen) << "last: " << last.describe() << "\n" << last.raw_head;
  return last;
}

// A gateway process with the Admin API and `workers` worker threads, for tests that run more
// than one (e.g. two sharing one Redis); owned by the test and stopped when it ends.
struct Gateway {
  GatewayProcess process;
  uint16_t admin = 0;
  uint16_t port = 0;

  ::testing::AssertionResult start(int workers = 1) {
    GatewayOptions options;
    options.config_yaml = embedded_admin_config(workers);
    auto started = process.start(options);
    if (started) {
      admin = process.admin_port();
      port = process.http_port();
    }
    return started;
  }
  // `method path` on the Admin API; a failure unless it answers 200 or 201.
  ::testing::AssertionResult call(const std::string& method, const std::string& path,
                                  const std::string& body) {
    HttpResponse r = admin_call(admin, method, path, body);
    if (r.status == 200 || r.status == 201) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << method << " " << path << ": " << r.describe() << " " << r.body;
  }
  ::testing::AssertionResult put(const std::string& path, const std::string& body) {
    return call("PUT", path, body);
  }
};

// Fixture of a plugin's integration tests: one gateway with one worker (so a route answers on
// every connection once it answered once) and a local upstream that records what it receives,
// both living as long as the test.
class PluginTest : public ::testing::Test {
 protected:
  void SetUp() override { start(); }

  // Starts the gateway; `extra_yaml` is appended to its config.yaml.
  void start(std::string_view extra_yaml = {}) {
    GatewayOptions options;
    options.config_yaml = embedded_admin_config(1, extra_yaml);
    ASSERT_TRUE(gateway_.start(options));
    admin_ = gateway_.admin_port();
    port_ = gateway_.http_port();
    ASSERT_NE(admin_, 0);
  }

  // `method path` on the Admin API; fails the test unless it answers 200 or 201.
  void write(std::string_view method, std::string_view path, const std::string& body) {
    HttpResponse r = admin_call(admin_, method, path, body);
    ASSERT_TRUE(r.status == 200 || r.status == 201)
        << method << " " << path << ": " << r.describe() << " " << r.body;
  }

  // The route of the doc pages' examples: /anything to upstream_ with `plugins`.
  std::string route(std::string_view plugins) const {
    return test::route("/anything", plugins, upstream_);
  }

  // GET `target` with Host: example.com and `headers`.
  HttpResponse get(std::string_view target, Headers headers = {}) const {
    return test::get(port_, target, std::move(headers));
  }

  GatewayProcess gateway_;
  UpstreamServer upstream_;
  uint16_t admin_ = 0;
  uint16_t port_ = 0;
};

}  // namespace apisix::test
