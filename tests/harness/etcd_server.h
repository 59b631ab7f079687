#pragma once

// A real etcd server for integration tests: Debian's etcd (or $APISIX_ETCD_BINARY) started as
// a child process on free loopback ports with its own temporary data directory, ready when the
// constructor returns, killed by pid in the destructor. One per test; used by one thread.
// Optionally it serves its clients over TLS, with certificates made for it at start.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/ssl.h>
#include <sys/types.h>

#include "tests/harness/temp_dir.h"
#include "tests/harness/test_certs.h"

namespace apisix::test {

struct EtcdServerOptions {
  // Serve clients on https:// (--cert-file/--key-file) with a certificate for 127.0.0.1 and
  // localhost issued by a CA made for this server (EtcdServer::tls_certs()).
  bool tls = false;
  // Also require a client certificate issued by that CA (--client-cert-auth,
  // --trusted-ca-file). Implies tls.
  bool client_cert_auth = false;
};

// The certificates of a TLS etcd, as PEM text and files in the server's directory.
struct EtcdTlsCerts {
  TestCert ca;        // issued server and client
  TestCert server;    // SAN IP:127.0.0.1, DNS:localhost; serverAuth and clientAuth (etcd's
                      // gateway dials its own gRPC port with it)
  TestCert client;    // clientAuth
  TestCert other_ca;  // issued nothing here: trusting it alone must fail
};

class EtcdServer {
 public:
  EtcdServer();  // plain http, no client certificates
  explicit EtcdServer(EtcdServerOptions options);
  ~EtcdServer();
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  // False when etcd could not be started; error() says why (with etcd's stderr).
  bool ok() const { return pid_ > 0; }
  const std::string& error() const { return error_; }

  uint16_t client_port() const { return client_port_; }
  // "http://127.0.0.1:<port>", or "https://..." for a TLS server.
  std::string client_url() const {
    return (is_tls() ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(client_port_);
  }
  bool is_tls() const { return options_.tls || options_.client_cert_auth; }
  // The certificates of a TLS server (empty PEMs otherwise).
  const EtcdTlsCerts& tls_certs() const { return certs_; }
  pid_t pid() const { return pid_; }

  // A blocking HTTP/1.0 POST of a JSON body to the client port (for test setup such as
  // enabling auth through /v3/auth/*), over TLS with the client certificate for a TLS server.
  // Returns the response body, or "" on failure.
  std::string post(std::string_view path, std::string_view body, std::string_view token = {});
  // Enables etcd authentication with a root user `user`/`password` (via the JSON gateway).
  bool enable_auth(const std::string& user, const std::string& password);

  // Kills the server (SIGKILL) and reaps it; the destructor does this too.
  void stop();
  // Starts the server again after stop(), on the same ports with the same data directory
  // (what it held, including compactions, is still there). False with error() when not.
  bool restart();

  // Key-value calls through the JSON gateway (keys and values as plain text).
  // put/remove return the store revision after the write (0 on failure).
  int64_t put(std::string_view key, std::string_view value);
  int64_t remove(std::string_view key);
  // The value of `key`, or nullopt when absent (or on failure).
  std::optional<std::string> get(std::string_view key);
  // The current store revision (0 on failure).
  int64_t revision();
  // Compacts history up to `revision` (physical: waits until it is applied).
  bool compact(int64_t revision);

 private:
  bool start_once(std::string& error);
  // Runs etcd on client_port_/peer_port_ and waits until it is healthy.
  bool launch(std::string& error);
  // Makes certs_ and the harness's own client context.
  bool make_tls(std::string& error);
  // One blocking HTTP/1.0 exchange with the client port; the response body ("" on failure).
  std::string exchange(const std::string& request, int timeout_ms);

  struct SslCtxFree {
    void operator()(SSL_CTX* ctx) const;
  };

  EtcdServerOptions options_;
  EtcdTlsCerts certs_;
  std::unique_ptr<SSL_CTX, SslCtxFree> client_tls_;  // the harness's own TLS client side
  TempDir dir_{"apisix-etcd-"};
  pid_t pid_ = -1;
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
  std::string error_;
};

}  // namespace apisix::test
