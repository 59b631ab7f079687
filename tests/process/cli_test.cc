// The command line: `version`, `test` (config validation naming the bad key), `start`
// failing cleanly when its port is taken, the pid file, and `stop` (compat §1.1).

#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "tests/harness/gateway_process.h"
#include "tests/harness/raw_client.h"
#include "tests/harness/upstream_server.h"

namespace apisix::test {
namespace {

using namespace std::chrono_literals;

TEST(Cli, VersionNamesTheCompatibleApisixVersion) {
  CommandResult r = run_command({gateway_binary(), "version"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(
      std::regex_match(r.out, std::regex(R"(apisix-cpp \S+ \(APISIX )" +
                                         std::regex_replace(std::string(APISIX_COMPAT_VERSION),
                                                            std::regex(R"(\.)"), R"(\.)") +
                                         R"( compatible\)\n?)")))
      << r.describe();
}

TEST(Cli, TestAcceptsAValidConfig) {
  GatewayProcess gateway;
  gateway.prepare({});
  CommandResult r = gateway.cli({"test", "-p", gateway.prefix().string()});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
}

TEST(Cli, TestRejectsABadConfigNamingTheKey) {
  struct Case {
    std::string key;
    std::string config_yaml;
  };
  GatewayConfig base;
  std::string good = base.to_yaml();
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string yaml = good;
    size_t at = yaml.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return yaml.replace(at, from.size(), to);
  };
  std::vector<Case> cases = {
      {"role", replace("role: data_plane", "role: bogus_role")},
      {"config_provider", replace("config_provider: yaml", "config_provider: bogus_provider")},
      {"enable_http2", replace("      port: 0\n", "      port: 0\n      enable_http2: true\n")},
      {"worker_processes", replace("worker_processes: 2", "worker_processes: lots")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("bad key: " + c.key);
    GatewayProcess gateway;
    GatewayOptions options;
    options.config_yaml = c.config_yaml;
    gateway.prepare(options);
    CommandResult r = gateway.cli({"test", "-p", gateway.prefix().string()});
    EXPECT_NE(r.exit_code, 0) << r.describe();
    EXPECT_FALSE(r.timed_out);
    EXPECT_NE(r.err.find(c.key), std::string::npos) << "stderr does not name the key\n"
                                                    << r.describe();
  }
}

TEST(Cli, StartFailsCleanlyWhenThePortIsTaken) {
  UpstreamServer occupant;  // holds a listening socket on 127.0.0.1:<port>
  GatewayOptions options;
  options.config.listen_port = occupant.port();
  GatewayProcess gateway;
  auto started = gateway.start(options);
  EXPECT_FALSE(started) << "the gateway claims to listen on a port that is already taken";
  auto code = gateway.wait_exit(10s);
  ASSERT_TRUE(code.has_value()) << "gateway still running with its port taken";
  EXPECT_NE(*code, 0);
  EXPECT_LT(*code, 128) << "killed by a signal instead of exiting";
}

TEST(Cli, PidFileNamesTheRunningProcess) {
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start());
  std::ifstream in(gateway.logs_dir() / "apisix.pid");
  long pid = 0;
  in >> pid;
  EXPECT_EQ(pid, gateway.pid());
}

TEST(Cli, StopTerminatesTheGatewayPromptly) {
  UpstreamServer upstream;
  upstream.set_handler([](const RecordedRequest&, ResponseWriter& w) {
    if (w.delay(30s)) {
      w.respond(200);
    }
  });
  GatewayProcess gateway;
  ASSERT_TRUE(gateway.start(proxy_options({upstream.address()}, {}, 60, 0)));
  RawClient client(gateway.http_port());
  ASSERT_TRUE(client.send(make_request("GET", "/never-finishes")));
  ASSERT_TRUE(upstream.wait_for_requests(1, 5s));

  Clock::time_point start = Clock::now();
  CommandResult r = gateway.cli({"stop", "-p", gateway.prefix().string()});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  auto code = gateway.wait_exit(5s);
  ASSERT_TRUE(code.has_value()) << "gateway did not stop within 5 s of `stop`";
  EXPECT_EQ(*code, 0);
  EXPECT_LT(Clock::now() - start, scaled(5s));
  EXPECT_TRUE(client.wait_closed(2s));
}

}  // namespace
}  // namespace apisix::test
