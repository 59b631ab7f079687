#pragma once

// An HTTPS origin server for tests: a TLS endpoint on 127.0.0.1:<ephemeral> in front of a
// plain UpstreamServer, so requests are recorded and answered exactly as by UpstreamServer
// (same handlers, ResponseWriter, keep-alive, chunked bodies, aborts). Each TLS connection is
// served by its own thread, which runs the handshake and then relays bytes between the TLS
// client and a dedicated loopback connection to the inner server; what the handshake showed
// (SNI, client certificate, protocol, resumption) is recorded per connection. Owned by the
// test; stop() (or the destructor) closes everything.
//
// How the relay maps endings: the inner server closing a connection sends close_notify and
// closes; the inner server aborting it (ResponseWriter::abort) resets the TLS connection
// without close_notify; a TLS client closing half-closes the inner connection.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/upstream_server.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace apisix::test {

struct TlsUpstreamOptions {
  UpstreamOptions http;              // the inner server (name, store limit, 100-continue)
  std::string cert_pem;              // server certificate (leaf, then any chain)
  std::string key_pem;               // its private key
  std::string client_ca_pem;         // when set, ask clients for a certificate issued by it
  bool require_client_cert = false;  // with client_ca_pem: refuse handshakes without one
  int max_protocol_version = 0;      // e.g. TLS1_2_VERSION; 0 = OpenSSL's highest
};

// One TLS connection as the server saw it.
struct TlsConnectionInfo {
  size_t tls_id = 0;         // 1-based accept order of TLS connections
  size_t connection_id = 0;  // RecordedRequest::connection_id of its requests; 0 = none
  bool handshake_ok = false;
  bool handshake_done = false;  // the handshake finished, successfully or not
  std::string handshake_error;  // OpenSSL's reason when it failed
  std::string sni;              // server name sent by the client; "" when none
  std::string protocol;         // "TLSv1.3", "TLSv1.2"
  bool session_reused = false;
  bool client_cert_presented = false;
  std::string client_subject;  // RFC 2253, e.g. "CN=apisix-test-client,O=apisix-cpp tests"
  bool client_sent_close_notify = false;
};

struct TlsBridge;

class TlsUpstreamServer {
 public:
  using Handler = UpstreamServer::Handler;

  explicit TlsUpstreamServer(TlsUpstreamOptions options);
  ~TlsUpstreamServer();
  TlsUpstreamServer(const TlsUpstreamServer&) = delete;
  TlsUpstreamServer& operator=(const TlsUpstreamServer&) = delete;

  uint16_t port() const { return port_; }
  // "127.0.0.1:<port>", as used in upstream node lists.
  std::string address() const;

  // The recording HTTP server behind the TLS endpoint (requests, handler, waits).
  UpstreamServer& http() { return http_; }
  const UpstreamServer& http() const { return http_; }
  void set_handler(Handler handler) { http_.set_handler(std::move(handler)); }
  std::vector<RecordedRequest> requests() const { return http_.requests(); }
  std::optional<RecordedRequest> last_request() const { return http_.last_request(); }
  bool wait_for_requests(size_t count, std::chrono::milliseconds timeout) const {
    return http_.wait_for_requests(count, timeout);
  }

  // Stops accepting, closes every connection, joins all threads. Idempotent.
  void stop();

  std::vector<TlsConnectionInfo> connections() const;
  // The TLS connection that carried `request`.
  std::optional<TlsConnectionInfo> connection_of(const RecordedRequest& request) const;
  size_t connection_count() const { return accepted_.load(); }
  // Waits until `count` handshakes have finished (successfully or not).
  bool wait_for_handshakes(size_t count, std::chrono::milliseconds timeout) const;

 private:
  void accept_loop();
  void serve(TlsBridge& bridge);
  void reap_finished();
  void update(size_t tls_id, const std::function<void(TlsConnectionInfo&)>& change);

  TlsUpstreamOptions options_;
  UpstreamServer http_;
  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> accepted_{0};
  std::mutex connect_mu_;         // serialises connections to the inner server (keeps ids in order)
  size_t inner_connections_ = 0;  // guarded by connect_mu_

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::vector<TlsConnectionInfo> infos_;  // index tls_id - 1
  std::list<std::unique_ptr<TlsBridge>> bridges_;
};

}  // namespace apisix::test
