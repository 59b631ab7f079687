#pragma once

// A real Prometheus server for integration tests: Debian's prometheus (or
// $APISIX_PROMETHEUS_BINARY) started as a child process on a free loopback port with its own
// temporary config (one static scrape target, scraped every second) and storage directory,
// ready (/-/ready answers 200) when the constructor returns, killed by pid in the destructor.
// One per test; used by one thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <sys/types.h>

#include "tests/harness/temp_dir.h"
#include "tests/harness/wait.h"

namespace apisix::test {

struct PrometheusServerOptions {
  std::string target;  // "127.0.0.1:<port>" to scrape
  std::string metrics_path = "/metrics";
  std::string job = "apisix";
};

class PrometheusServer {
 public:
  explicit PrometheusServer(PrometheusServerOptions options);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // False when prometheus could not be started; error() says why (with its log).
  bool ok() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // The last lines of prometheus's log, for assertion messages.
  std::string log_tail() const;

  // GET `target` on the web port; the response body, or nullopt unless the status is 200.
  std::optional<std::string> get(std::string_view target);
  // The raw JSON of an instant query (/api/v1/query?query=...), "" on failure.
  std::string query(std::string_view promql);
  // The value of an instant query that yields exactly one sample, else nullopt.
  std::optional<double> query_value(std::string_view promql);
  // Waits until `promql` yields exactly one sample equal to `expected`.
  bool wait_for_value(std::string_view promql, double expected, std::chrono::milliseconds timeout);
  // Waits until the scrape target is up (up{job=...} == 1).
  bool wait_for_target_up(std::chrono::milliseconds timeout);

  // Kills the server (SIGKILL) and reaps it; the destructor does this too.
  void stop();

 private:
  bool launch(std::string& error);

  PrometheusServerOptions options_;
  TempDir dir_{"apisix-prometheus-"};
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string error_;
};

}  // namespace apisix::test
