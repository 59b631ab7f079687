#pragma once
// RedisClient: the connections to one Redis server (one destination: address, credentials,
// database, TLS) used by the coroutines of one Loop — a worker's or the control thread's. It
// is owned by its user (e.g. a per-worker registry of clients, RedisClients below), used only
// on that loop's thread, and must outlive the commands it runs.
//
// Commands from concurrent coroutines are pipelined: each is queued on a connection, the
// queue is written in as few writes as possible, and replies are matched in order. A small
// pool (up to `keepalive_pool` connections) spreads load once a connection's pipeline is
// deep. A connection that breaks fails every command in flight on it with a retryable error;
// the next command opens a fresh one. Commands are never retried here: INCRBY is not
// idempotent, so retrying is the caller's decision.
//
// Settings follow APISIX's Redis options (apisix-compat plugins.md §3.2).

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/loop.h"
#include "core/result.h"
#include "core/socket.h"
#include "core/task.h"
#include "redis/resp.h"
#include "tls/tls_context.h"

namespace apisix::redis {

struct RedisOptions {
  std::string host = "127.0.0.1";  // redis_host: an IP literal or a name (resolved per connect)
  uint16_t port = 6379;            // redis_port
  std::string username;            // redis_username: with a password, AUTH <user> <password>
  std::string password;            // redis_password: empty means no AUTH
  int64_t database = 0;            // redis_database: SELECTed on new connections when not 0
  // redis_timeout: bounds opening a connection (TCP connect, TLS handshake, AUTH, SELECT
  // together) and, separately, each command from being queued to its reply.
  std::chrono::milliseconds timeout{1000};
  bool ssl = false;                     // redis_ssl
  bool ssl_verify = false;              // redis_ssl_verify: check the chain and the host name
  std::string ssl_trusted_certificate;  // CA bundle file for ssl_verify; "" = system store
  // redis_keepalive_timeout: an idle connection is closed after this long unused.
  std::chrono::milliseconds keepalive_timeout{10000};
  // redis_keepalive_pool: at most this many connections to the destination at once.
  size_t keepalive_pool = 100;
  // A connection with this many commands in flight is "busy": the next command opens
  // another connection if the pool has room (else it queues on the least busy one).
  size_t max_pipeline = 128;
  ReplyLimits limits;

  // Identifies the destination: connections are shared only between equal keys
  // (plugins.md §3.2: scheme, host, port, database, credential digest; plus TLS
  // verification). Timeouts and pool sizes are not part of it: the first client made for a
  // key keeps its own.
  std::string pool_key() const;
};

// A Lua script for EVALSHA: its text and SHA1 (hex), computed once. Immutable; any thread.
class Script {
 public:
  explicit Script(std::string text);
  const std::string& text() const { return text_; }
  const std::string& sha1() const { return sha1_; }

 private:
  std::string text_;
  std::string sha1_;
};

namespace detail {
class Connection;
}

class RedisClient {
 public:
  // Fails (ErrorSource::Config) when the TLS settings cannot be loaded.
  static Result<std::unique_ptr<RedisClient>> create(core::Loop& loop, RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Runs one command (`args[0]` is its name) and returns the server's reply — which may be
  // an Error reply ("-ERR ..."): the Result fails only when no reply came. Failures:
  // Timeout (retryable), Refused / Io (connection failed or broke; retryable), Invalid
  // (protocol error, or AUTH/SELECT refused; not retryable), Limit (reply too large).
  core::Task<Result<Reply>> command(std::vector<std::string> args);

  // EVALSHA script.sha1 numkeys keys... args...; on a NOSCRIPT error reply, the same with
  // EVAL and the script text (which caches it on the server, so the next EVALSHA hits).
  core::Task<Result<Reply>> eval_script(const Script& script, std::vector<std::string> keys,
                                        std::vector<std::string> args);

  // Closes connections that have been idle for keepalive_timeout (done lazily on each
  // command too); returns how many are still open.
  size_t close_idle();

  const RedisOptions& options() const { return options_; }
  size_t connection_count() const { return connections_.size(); }
  // Connections opened since creation (for tests: reuse and reconnects).
  uint64_t connects_for_test() const { return connects_; }

 private:
  RedisClient(core::Loop& loop, RedisOptions options, std::shared_ptr<const tls::TlsContext> tls);
  // A ready connection for one more command, opening one when needed.
  core::Task<Result<std::shared_ptr<detail::Connection>>> acquire();
  void sweep();

  core::Loop& loop_;
  RedisOptions options_;
  std::shared_ptr<const tls::TlsContext> tls_;
  std::vector<std::shared_ptr<detail::Connection>> connections_;
  uint64_t connects_ = 0;
};

// The RedisClient of each destination, for one loop: what a rate-limiting plugin keeps per
// worker. Clients live as long as the registry.
class RedisClients {
 public:
  explicit RedisClients(core::Loop& loop) : loop_(loop) {}
  // The client for `options.pool_key()`, made on first use (with these options).
  Result<RedisClient*> get(const RedisOptions& options);
  size_t size() const { return clients_.size(); }

 private:
  core::Loop& loop_;
  std::map<std::string, std::unique_ptr<RedisClient>> clients_;
};

}  // namespace apisix::redis
