#pragma once
// TlsContext: the client side of TLS towards https upstreams, built once per upstream
// configuration (verify mode, trusted CAs, client certificate) by the control thread while it
// builds a snapshot; immutable afterwards and shared by every worker through
// std::shared_ptr<const TlsContext>. It lives as long as the last snapshot or TlsStream that
// holds it. The only mutable part is the optional session cache, behind its own mutex.

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <openssl/ssl.h>

#include "core/result.h"

namespace apisix::tls {

// What a client context is built from. Field comments name the APISIX setting they carry.
struct ClientTlsOptions {
  // Upstream `tls.verify` (core.md §4.4; APISIX's default is false, and nginx proxies https
  // upstreams without verifying, core.md §7.8). When true the chain is checked against
  // `trusted_certificate` and the name given to TlsStream::handshake is matched.
  bool verify = false;
  // `apisix.ssl.ssl_trusted_certificate` (core.md §1.3): a PEM bundle file, or "" / "system"
  // for the operating system's store. Loaded only when `verify` is true.
  std::string trusted_certificate;
  // Upstream `tls.client_cert` / `tls.client_key` (PEM text, as stored in the upstream JSON;
  // keys already decrypted). The certificate may be followed by its chain. Both or neither.
  std::string client_cert_pem;
  std::string client_key_pem;
  // Names used in error messages for the two PEM fields, e.g. "ssl 1: cert" when the pair
  // comes from an SSL object referenced by `tls.client_cert_id`.
  std::string client_cert_field = "tls.client_cert";
  std::string client_key_field = "tls.client_key";
  // Remember one session per (server name, peer address) so reconnects skip the full
  // handshake (like nginx's per-peer upstream SSL session). 0 turns the cache off.
  size_t session_cache_size = 1024;
};

class TlsContext {
 public:
  // Builds a client context (TLS 1.2 and 1.3). Errors are ErrorSource::Config and name the
  // setting at fault: "tls.client_key: ...", "apisix.ssl.ssl_trusted_certificate: ...".
  static Result<std::shared_ptr<const TlsContext>> create_client(const ClientTlsOptions& options);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* native() const { return ctx_; }
  bool verify() const { return verify_; }
  bool has_client_cert() const { return has_client_cert_; }
  bool has_session_cache() const { return session_cache_size_ > 0; }

  // Session cache, any thread. take_session() returns a new reference (SSL_SESSION_free it)
  // or nullptr; a TLS 1.3 session is handed out once (RFC 8446 §C.4: tickets are single-use).
  SSL_SESSION* take_session(const std::string& key) const;
  // Keeps `session` (takes the caller's reference) as the one for `key`.
  void store_session(const std::string& key, SSL_SESSION* session) const;
  size_t cached_sessions_for_test() const;

 private:
  TlsContext() = default;

  SSL_CTX* ctx_ = nullptr;
  bool verify_ = false;
  bool has_client_cert_ = false;
  size_t session_cache_size_ = 0;
  // Touched by every worker thread that opens TLS connections with this context, once per
  // handshake (never per request).
  mutable std::mutex sessions_mu_;
  mutable std::unordered_map<std::string, SSL_SESSION*> sessions_;  // one reference each
};

// Empties this thread's OpenSSL error queue into one readable line
// ("SSL routines: certificate verify failed; ..."); "" when it was empty.
std::string take_openssl_errors();

// Index of the SSL ex_data slot that points at the session-cache key of a connection.
int session_key_index();

}  // namespace apisix::tls
