#pragma once

// A real Redis server for integration tests: Debian's redis-server (or $APISIX_REDIS_BINARY)
// started as a child process on a free loopback port, without persistence, ready (answering
// PING) when the constructor returns, killed by pid in the destructor. One per test; used by
// one thread.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

#include "tests/harness/temp_dir.h"

namespace apisix::test {

struct RedisServerOptions {
  std::string password;  // --requirepass (the "default" user's password) when not empty
  // With a certificate and key, the server also listens with TLS on tls_port() (clients are
  // not asked for certificates).
  std::filesystem::path tls_cert_file;
  std::filesystem::path tls_key_file;
  std::filesystem::path tls_ca_file;
};

class RedisServer {
 public:
  explicit RedisServer(RedisServerOptions options = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // False when redis-server could not be started; error() says why (with its log).
  bool ok() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  uint16_t port() const { return port_; }
  uint16_t tls_port() const { return tls_port_; }
  pid_t pid() const { return pid_; }

  // Kills the server (SIGKILL) and reaps it; the destructor does this too.
  void stop();
  // Starts it again after stop(), on the same ports (empty: nothing is persisted).
  bool restart();

  // One blocking command on a fresh plain connection (AUTH first when a password is set).
  // Returns the first line of the reply without its CRLF ("+PONG", ":1", "$5"), "" on failure.
  std::string command(const std::vector<std::string>& args);
  // The value of `field` in `INFO <section>` ("blocked_clients"), "" when absent.
  std::string info_field(const std::string& section, const std::string& field);

 private:
  bool launch(std::string& error);
  // The whole raw reply text of `args` (read until the server is quiet or the CRLF count of a
  // simple reply), "" on failure.
  std::string exchange(const std::vector<std::string>& args, bool whole);

  RedisServerOptions options_;
  TempDir dir_{"apisix-redis-"};
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  uint16_t tls_port_ = 0;
  std::string error_;
};

}  // namespace apisix::test
