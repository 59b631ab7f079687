#pragma once
// Shared pieces of the upstream integration tests: named origin servers that answer with
// their name, a config.yaml with the Control API on a free port, and counting helpers.

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {

// An origin that answers 200 with its name as the body, or `status` (e.g. 500) while
// `failing` is set. Requests to `/hc` are health probes and answer the same way.
struct NamedUpstream {
  explicit NamedUpstream(std::string name);
  std::unique_ptr<UpstreamServer> server;
  std::atomic<bool> failing{false};
  std::atomic<int> failing_status{500};
  std::atomic<int> delay_ms{0};
  std::string address() const { return server->address(); }
  // Requests other than health probes (`/hc`) received so far.
  size_t proxied() const;
};

// The test config.yaml (data_plane, yaml provider) with the Control API on 127.0.0.1:0.
std::string config_with_control(GatewayConfig config = {});

// Sends `count` GETs of `target` over one keep-alive connection; returns the bodies by
// count. A failed request is counted under "<error>" and a non-200 under "<status N>".
std::map<std::string, int> count_bodies(uint16_t port, std::string_view target, int count);

// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
uint16_t closed_port();

}  // namespace apisix::test
