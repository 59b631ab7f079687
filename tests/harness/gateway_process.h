#pragma once

// The gateway binary under test, run in a fresh prefix directory: writes conf/config.yaml and
// conf/apisix.yaml, starts `apisix-cpp start -p PREFIX --foreground`, waits until logs/listen
// names the bound listeners, and on destruction kills (SIGKILL) and reaps the process and
// removes the prefix. Owned by one test; not thread-safe, except that http_port(), pid() and
// signal() may be read from other threads once start() has returned.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <sys/types.h>

#include "tests/harness/process.h"
#include "tests/harness/temp_dir.h"

namespace apisix::test {

// The path of the gateway binary that the test executable was built against; defined in
// gateway_binary.cc, which every integration test executable compiles with APISIX_BINARY.
std::string default_gateway_binary();

// The knobs of the test config.yaml (§1.1, §1.6 of the compatibility spec).
struct GatewayConfig {
  uint16_t listen_port = 0;  // 0: the kernel picks one (read back from logs/listen)
  int worker_processes = 2;
  std::string keepalive_timeout = "60s";
  std::string client_header_timeout = "60s";
  std::string client_body_timeout = "60s";
  std::string client_max_body_size = "0";
  std::string send_timeout = "10s";
  // Extra lines appended under the top-level `apisix:` key, already indented by two spaces.
  std::string extra_apisix_yaml;
  // Extra top-level YAML appended at the end.
  std::string extra_yaml;

  std::string to_yaml() const;
};

struct GatewayOptions {
  GatewayConfig config;
  // The whole config.yaml; when empty, config.to_yaml() is used.
  std::string config_yaml;
  // conf/apisix.yaml, written as is (standalone YAML must end with "#END", §2.7).
  std::string routes_yaml = "routes: []\n#END\n";
  std::chrono::milliseconds start_timeout{15000};
  // Empty: APISIX_TEST_BINARY from the environment, else default_gateway_binary().
  std::string binary;
};

struct Listener {
  std::string kind;  // "http", "control", ...
  std::string ip;
  uint16_t port = 0;
};

class GatewayProcess {
 public:
  GatewayProcess();
  ~GatewayProcess();
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  // Writes conf/config.yaml and conf/apisix.yaml without starting anything.
  void prepare(const GatewayOptions& options);
  // prepare()s and starts the gateway; succeeds once logs/listen is there.
  // On failure the message carries the tail of error.log and stderr.
  ::testing::AssertionResult start(const GatewayOptions& options = {});

  uint16_t http_port() const;
  uint16_t admin_port() const;    // 0 when the Admin API is off
  uint16_t control_port() const;  // 0 when the Control API is off
  const std::vector<Listener>& listeners() const { return listeners_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& prefix() const { return dir_.path(); }
  std::filesystem::path conf_dir() const { return prefix() / "conf"; }
  std::filesystem::path logs_dir() const { return prefix() / "logs"; }
  const std::string& binary() const { return binary_; }

  // Sends `sig` to the gateway process.
  bool signal(int sig) const;
  // Waits for the process to exit: its exit code, or 128 + signal number; nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool is_running();

  // Current and peak resident set size from /proc/<pid>/status (VmRSS, VmHWM), in KiB; -1
  // when unavailable.
  long rss_kb() const;
  long peak_rss_kb() const;

  // Replaces conf/apisix.yaml atomically (temp file + rename). The file's mtime is moved to a
  // new whole second, because the gateway compares mtimes at one-second resolution (§2.7).
  void update_routes(std::string_view yaml);
  // Replaces conf/config.yaml atomically (apply with reload()).
  void update_config(std::string_view yaml);

  // Runs `apisix-cpp <args...>` to completion (for quit, reload, stop, test, version),
  // reaping the gateway if it exits meanwhile.
  CommandResult cli(const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // The first sanitizer report (ASan, LSan, TSan, UBSan) the gateway printed on stderr, with
  // what follows it; "" when none. The destructor fails the test when there is one.
  std::string sanitizer_report() const;

  std::string error_log() const;
  std::string access_log() const;
  std::string describe_logs(size_t lines = 40) const;

 private:
  ::testing::AssertionResult fail(const std::string& what) const;

  TempDir dir_;
  std::string binary_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::vector<Listener> listeners_;
  long last_routes_mtime_ = 0;
};

// The gateway binary: APISIX_TEST_BINARY, else default_gateway_binary().
std::string gateway_binary();

// apisix.yaml with upstream "u1" (`nodes`: "ip:port" each weight 1, per-try timeouts
// `timeout_s` seconds, `retries`) and route "r1" for "/*" using it.
std::string catch_all_routes(const std::vector<std::string>& nodes, double timeout_s = 3,
                             int retries = 1);

// Options for a gateway whose only route sends everything to `nodes` (catch_all_routes).
GatewayOptions proxy_options(const std::vector<std::string>& nodes, GatewayConfig config = {},
                             double timeout_s = 3, int retries = 1);

// Reads /proc/<pid>/status field `key` ("VmRSS") in KiB; -1 when unavailable.
long proc_status_kb(pid_t pid, std::string_view key);

}  // namespace apisix::test
