#include "tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace apisix::tls {
namespace {

// SSL_CTX ex_data slot holding the TlsContext that owns the SSL_CTX.
int context_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

BioPtr memory_bio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

Error config_error(const std::string& field, const std::string& what) {
  std::string reason = take_openssl_errors();
  return Error::config(field + ": " + what + (reason.empty() ? "" : " (" + reason + ")"));
}

// Called by OpenSSL when the server hands out a session (after the handshake for TLS 1.2,
// with a NewSessionTicket message, possibly later, for TLS 1.3). Returning 1 keeps the
// reference OpenSSL passed in.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* context =
      static_cast<const TlsContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), context_index()));
  auto* key = static_cast<const std::string*>(SSL_get_ex_data(ssl, session_key_index()));
  if (context == nullptr || key == nullptr || SSL_SESSION_is_resumable(session) != 1) {
    return 0;
  }
  context->store_session(*key, session);
  return 1;
}

// Loads the client certificate (leaf, then any chain) and its key into `ctx`.
Result<void> load_client_pair(SSL_CTX* ctx, const ClientTlsOptions& options) {
  BioPtr cert_bio = memory_bio(options.client_cert_pem);
  X509Ptr leaf(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!leaf) {
    return config_error(options.client_cert_field, "not a PEM certificate");
  }
  if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
    return config_error(options.client_cert_field, "certificate rejected");
  }
  while (X509* extra = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {  // takes `extra` on success
      X509_free(extra);
      return config_error(options.client_cert_field, "chain certificate rejected");
    }
  }
  ERR_clear_error();  // the loop above ends on a harmless "no start line"

  BioPtr key_bio = memory_bio(options.client_key_pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return config_error(options.client_key_field, "not a PEM private key");
  }
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    return config_error(options.client_key_field,
                        "does not match the certificate in " + options.client_cert_field);
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    return config_error(options.client_key_field, "private key rejected");
  }
  return {};
}

}  // namespace

int session_key_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

std::string take_openssl_errors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    const char* lib = ERR_lib_error_string(code);
    const char* reason = ERR_reason_error_string(code);
    if (!out.empty()) {
      out.append("; ");
    }
    if (lib != nullptr) {
      out.append(lib).append(": ");
    }
    if (reason != nullptr) {
      out.append(reason);
    } else {
      char text[256];
      ERR_error_string_n(code, text, sizeof(text));
      out.append(text);
    }
  }
  return out;
}

Result<std::shared_ptr<const TlsContext>> TlsContext::create_client(
    const ClientTlsOptions& options) {
  ERR_clear_error();
  std::shared_ptr<TlsContext> context(new TlsContext());
  context->ctx_ = SSL_CTX_new(TLS_client_method());
  if (context->ctx_ == nullptr) {
    return Error{ErrorKind::Io, ErrorSource::Internal, false,
                 "SSL_CTX_new failed: " + take_openssl_errors()};
  }
  SSL_CTX* ctx = context->ctx_;
  SSL_CTX_set_ex_data(ctx, context_index(), context.get());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Partial writes let TlsStream::write_all resume after a full socket without keeping the
  // whole buffer pinned; a moving buffer lets it retry from a copy of the same bytes.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  // Read whole socket buffers at once instead of one record header and body at a time.
  SSL_CTX_set_read_ahead(ctx, 1);
  // No renegotiation towards upstreams (TLS 1.2); TLS 1.3 has none.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);

  context->verify_ = options.verify;
  if (options.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const std::string& bundle = options.trusted_certificate;
    if (bundle.empty() || bundle == "system") {
      if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        return config_error("apisix.ssl.ssl_trusted_certificate",
                            "cannot load the system CA store");
      }
    } else if (SSL_CTX_load_verify_locations(ctx, bundle.c_str(), nullptr) != 1) {
      return config_error("apisix.ssl.ssl_trusted_certificate",
                          "cannot load CA certificates from '" + bundle + "'");
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }

  bool has_cert = !options.client_cert_pem.empty();
  bool has_key = !options.client_key_pem.empty();
  if (has_cert != has_key) {
    return Error::config(has_cert
                             ? options.client_cert_field + " requires " + options.client_key_field
                             : options.client_key_field + " requires " + options.client_cert_field);
  }
  if (has_cert) {
    Result<void> loaded = load_client_pair(ctx, options);
    if (!loaded) {
      return loaded.error();
    }
    context->has_client_cert_ = true;
  }

  context->session_cache_size_ = options.session_cache_size;
  if (options.session_cache_size > 0) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
  return std::shared_ptr<const TlsContext>(std::move(context));
}

TlsContext::~TlsContext() {
  for (auto& [key, session] : sessions_) {
    SSL_SESSION_free(session);
  }
  SSL_CTX_free(ctx_);
}

SSL_SESSION* TlsContext::take_session(const std::string& key) const {
  std::lock_guard lock(sessions_mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) {
    return nullptr;
  }
  SSL_SESSION* session = it->second;
  if (SSL_SESSION_get_protocol_version(session) >= TLS1_3_VERSION) {
    sessions_.erase(it);  // hand over the cache's reference
  } else {
    SSL_SESSION_up_ref(session);
  }
  return session;
}

void TlsContext::store_session(const std::string& key, SSL_SESSION* session) const {
  std::lock_guard lock(sessions_mu_);
  auto it = sessions_.find(key);
  if (it != sessions_.end()) {
    SSL_SESSION_free(it->second);
    it->second = session;
    return;
  }
  if (sessions_.size() >= session_cache_size_) {
    // Full: drop an arbitrary entry. Peers come and go with configuration, so any old one
    // is as good a victim as another; the cost of a miss is one full handshake.
    auto victim = sessions_.begin();
    SSL_SESSION_free(victim->second);
    sessions_.erase(victim);
  }
  sessions_.emplace(key, session);
}

size_t TlsContext::cached_sessions_for_test() const {
  std::lock_guard lock(sessions_mu_);
  return sessions_.size();
}

}  // namespace apisix::tls
