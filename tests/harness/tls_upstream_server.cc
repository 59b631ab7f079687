#include "tests/harness/tls_upstream_server.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/harness/socket_stream.h"

namespace apisix::test {

// One TLS connection and the thread relaying it.
struct TlsBridge {
  size_t tls_id = 0;
  int fd = -1;
  std::thread thread;
  std::atomic<bool> done{false};
};

namespace {

constexpr size_t kRelayBytes = 256 * 1024;  // per direction, before reading pauses

std::string openssl_reason() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    if (!out.empty()) {
      out += "; ";
    }
    out += text;
  }
  return out;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("tls upstream: " + what + ": " + openssl_reason());
}

// A BIO over a non-blocking fd that never raises SIGPIPE (OpenSSL's own socket BIO uses
// write(2)), so a client that went away cannot kill the test process.
int bio_write(BIO* bio, const char* buf, int len) {
  BIO_clear_retry_flags(bio);
  int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
  ssize_t n = ::send(fd, buf, static_cast<size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(bio);
  }
  return static_cast<int>(n);
}

int bio_read(BIO* bio, char* buf, int len) {
  BIO_clear_retry_flags(bio);
  int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
  ssize_t n = ::recv(fd, buf, static_cast<size_t>(len), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_read(bio);
  }
  if (n == 0) {
    BIO_set_flags(bio, BIO_FLAGS_IN_EOF);
  }
  return static_cast<int>(n);
}

long bio_ctrl(BIO* bio, int cmd, long, void*) {
  if (cmd == BIO_CTRL_FLUSH) {
    return 1;
  }
  if (cmd == BIO_CTRL_EOF) {
    return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
  }
  return 0;
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* fd_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "test fd");
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
  }();
  return method;
}

int sni_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Records the server name exactly as the ClientHello carried it.
int on_server_name(SSL* ssl, int*, void*) {
  auto* sni = static_cast<std::string*>(SSL_get_ex_data(ssl, sni_index()));
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (sni != nullptr) {
    *sni = name != nullptr ? name : "";
  }
  return SSL_TLSEXT_ERR_OK;
}

// The server context: certificate and key, optional client-certificate verification against
// `client_ca_pem` (an untrusted client certificate fails the handshake).
SSL_CTX* make_server_ctx(const TlsUpstreamOptions& options) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    fail("SSL_CTX_new");
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (options.max_protocol_version != 0) {
    SSL_CTX_set_max_proto_version(ctx, options.max_protocol_version);
  }
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  static const unsigned char kSessionContext[] = "apisix-test-upstream";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  SSL_CTX_set_tlsext_servername_callback(ctx, on_server_name);

  BIO* cert_bio =
      BIO_new_mem_buf(options.cert_pem.data(), static_cast<int>(options.cert_pem.size()));
  X509* leaf = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  if (leaf == nullptr || SSL_CTX_use_certificate(ctx, leaf) != 1) {
    BIO_free(cert_bio);
    SSL_CTX_free(ctx);
    fail("server certificate");
  }
  X509_free(leaf);
  while (X509* extra = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr)) {
    SSL_CTX_add0_chain_cert(ctx, extra);
  }
  BIO_free(cert_bio);
  ERR_clear_error();
  BIO* key_bio = BIO_new_mem_buf(options.key_pem.data(), static_cast<int>(options.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  if (key == nullptr || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
    EVP_PKEY_free(key);
    SSL_CTX_free(ctx);
    fail("server key");
  }
  EVP_PKEY_free(key);

  if (!options.client_ca_pem.empty()) {
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    BIO* ca_bio = BIO_new_mem_buf(options.client_ca_pem.data(),
                                  static_cast<int>(options.client_ca_pem.size()));
    while (X509* ca = PEM_read_bio_X509(ca_bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, ca);
      SSL_CTX_add_client_CA(ctx, ca);
      X509_free(ca);
    }
    BIO_free(ca_bio);
    ERR_clear_error();
    int mode = SSL_VERIFY_PEER;
    if (options.require_client_cert) {
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(ctx, mode, nullptr);
  }
  return ctx;
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Closes `fd` so that the peer sees a reset.
void reset_close(int fd) {
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  ::close(fd);
}

}  // namespace

TlsUpstreamServer::TlsUpstreamServer(TlsUpstreamOptions options)
    : options_(std::move(options)), http_(options_.http) {
  ctx_ = make_server_ctx(options_);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    throw std::runtime_error(std::string("tls upstream socket: ") + std::strerror(errno));
  }
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 512) != 0) {
    int err = errno;
    ::close(listen_fd_);
    throw std::runtime_error(std::string("tls upstream bind/listen: ") + std::strerror(err));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    throw std::runtime_error("tls upstream pipe");
  }
  acceptor_ = std::thread([this] { accept_loop(); });
}

TlsUpstreamServer::~TlsUpstreamServer() {
  stop();
  SSL_CTX_free(ctx_);
}

std::string TlsUpstreamServer::address() const { return "127.0.0.1:" + std::to_string(port_); }

void TlsUpstreamServer::stop() {
  if (stopping_.exchange(true)) {
    return;
  }
  // The wake pipe stays readable once written: every relay thread's poll sees it.
  char byte = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_pipe_[1], &byte, 1);
  if (acceptor_.joinable()) {
    acceptor_.join();
  }
  std::list<std::unique_ptr<TlsBridge>> bridges;
  {
    std::lock_guard lock(mu_);
    bridges.swap(bridges_);
    changed_.notify_all();
  }
  for (auto& b : bridges) {
    if (b->thread.joinable()) {
      b->thread.join();
    }
  }
  http_.stop();
  ::close(listen_fd_);
  ::close(wake_pipe_[0]);
  ::close(wake_pipe_[1]);
}

std::vector<TlsConnectionInfo> TlsUpstreamServer::connections() const {
  std::lock_guard lock(mu_);
  return infos_;
}

std::optional<TlsConnectionInfo> TlsUpstreamServer::connection_of(
    const RecordedRequest& request) const {
  std::lock_guard lock(mu_);
  for (const auto& info : infos_) {
    if (info.connection_id != 0 && info.connection_id == request.connection_id) {
      return info;
    }
  }
  return std::nullopt;
}

bool TlsUpstreamServer::wait_for_handshakes(size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, scaled(timeout), [&] {
    size_t done = 0;
    for (const auto& info : infos_) {
      done += info.handshake_done ? 1 : 0;
    }
    return done >= count;
  });
}

void TlsUpstreamServer::update(size_t tls_id,
                               const std::function<void(TlsConnectionInfo&)>& change) {
  std::lock_guard lock(mu_);
  change(infos_[tls_id - 1]);
  changed_.notify_all();
}

void TlsUpstreamServer::reap_finished() {
  std::list<std::unique_ptr<TlsBridge>> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = bridges_.begin(); it != bridges_.end();) {
      if ((*it)->done.load()) {
        finished.push_back(std::move(*it));
        it = bridges_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& b : finished) {
    b->thread.join();
  }
}

void TlsUpstreamServer::accept_loop() {
  while (!stopping_.load()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if (fds[1].revents != 0 || stopping_.load()) {
      return;
    }
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    reap_finished();
    auto bridge = std::make_unique<TlsBridge>();
    bridge->fd = fd;
    TlsBridge* raw = bridge.get();
    std::lock_guard lock(mu_);
    bridge->tls_id = ++accepted_;
    TlsConnectionInfo info;
    info.tls_id = bridge->tls_id;
    infos_.push_back(info);
    bridges_.push_back(std::move(bridge));
    raw->thread = std::thread([this, raw] {
      serve(*raw);
      raw->done.store(true);
    });
  }
}

// Runs the handshake, then relays until either side is done. Everything is non-blocking and
// waits in poll() together with the wake pipe, so stop() ends it at any point.
void TlsUpstreamServer::serve(TlsBridge& bridge) {
  SSL* ssl = SSL_new(ctx_);
  BIO* bio = BIO_new(fd_bio_method());
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(bridge.fd)));
  SSL_set_bio(ssl, bio, bio);
  SSL_set_accept_state(ssl);
  std::string sni;
  SSL_set_ex_data(ssl, sni_index(), &sni);
  int plain = -1;

  // Waits for `tls_events` on the TLS socket and `plain_events` on the inner one; false when
  // the server is stopping.
  auto wait = [&](short tls_events, short plain_events) {
    // A descriptor with nothing to wait for is left out: its POLLHUP would spin the loop.
    pollfd fds[3] = {{wake_pipe_[0], POLLIN, 0},
                     {tls_events != 0 ? bridge.fd : -1, tls_events, 0},
                     {plain_events != 0 ? plain : -1, plain_events, 0}};
    while (::poll(fds, 3, -1) < 0) {
      if (errno != EINTR) {
        return false;
      }
    }
    return fds[0].revents == 0;
  };
  auto finish = [&](bool reset_tls) {
    if (reset_tls) {
      reset_close(bridge.fd);
    } else {
      ::close(bridge.fd);
    }
    if (plain >= 0) {
      ::close(plain);
    }
    SSL_free(ssl);
  };

  // Handshake.
  for (;;) {
    ERR_clear_error();
    int ret = SSL_do_handshake(ssl);
    if (ret == 1) {
      break;
    }
    int code = SSL_get_error(ssl, ret);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) {
      if (!wait(code == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, 0)) {
        finish(true);
        return;
      }
      continue;
    }
    std::string reason = openssl_reason();
    if (reason.empty()) {
      reason =
          code == SSL_ERROR_SYSCALL ? "connection closed during the handshake" : "handshake failed";
    }
    update(bridge.tls_id, [&](TlsConnectionInfo& info) {
      info.handshake_done = true;
      info.sni = sni;
      info.handshake_error = reason;
    });
    // Let the alert reach the client: half-close, then discard what it still sends until
    // it closes (closing with unread data would reset the connection and lose the alert).
    ::shutdown(bridge.fd, SHUT_WR);
    char discard[4096];
    while (wait(POLLIN, 0)) {
      ssize_t n = ::recv(bridge.fd, discard, sizeof(discard), 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        break;
      }
    }
    finish(false);
    return;
  }

  // Connect to the inner server. Connections are made one at a time and the inner server
  // accepts in arrival order, so the n-th relayed connection is its connection n.
  size_t connection_id = 0;
  {
    std::lock_guard lock(connect_mu_);
    plain = connect_loopback(http_.port());
    if (plain >= 0) {
      connection_id = ++inner_connections_;
    }
  }
  X509* peer = SSL_get0_peer_certificate(ssl);
  std::string subject;
  if (peer != nullptr) {
    BIO* out = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(out, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long len = BIO_get_mem_data(out, &data);
    subject.assign(data, static_cast<size_t>(len));
    BIO_free(out);
  }
  update(bridge.tls_id, [&](TlsConnectionInfo& info) {
    info.handshake_done = true;
    info.handshake_ok = true;
    info.connection_id = connection_id;
    info.sni = sni;
    info.protocol = SSL_get_version(ssl);
    info.session_reused = SSL_session_reused(ssl) == 1;
    info.client_cert_presented = peer != nullptr;
    info.client_subject = subject;
  });
  if (plain < 0) {
    finish(true);
    return;
  }
  set_nonblocking(plain);

  // Relay.
  std::string to_plain;  // decrypted from the client, not yet sent to the inner server
  std::string to_tls;    // from the inner server, not yet encrypted to the client
  std::string buf(64 * 1024, '\0');
  bool tls_in_done = false;    // the client ended its side (close_notify or EOF)
  bool plain_in_done = false;  // the inner server closed its side
  bool plain_reset = false;    // ... by a reset (ResponseWriter::abort)
  bool plain_out_shut = false;
  bool tls_broken = false;
  for (;;) {
    short tls_events = 0;
    bool tls_read_blocked = false;  // the last SSL_read asked to wait
    while (!tls_in_done && !tls_broken && to_plain.size() < kRelayBytes) {
      ERR_clear_error();
      size_t n = 0;
      int ret = SSL_read_ex(ssl, buf.data(), buf.size(), &n);
      if (ret == 1) {
        to_plain.append(buf.data(), n);
        continue;
      }
      int code = SSL_get_error(ssl, ret);
      if (code == SSL_ERROR_WANT_READ) {
        tls_events |= POLLIN;
        tls_read_blocked = true;
      } else if (code == SSL_ERROR_WANT_WRITE) {
        tls_events |= POLLOUT;
        tls_read_blocked = true;
      } else if (code == SSL_ERROR_ZERO_RETURN) {
        tls_in_done = true;
        update(bridge.tls_id,
               [](TlsConnectionInfo& info) { info.client_sent_close_notify = true; });
      } else {
        tls_in_done = true;  // EOF without close_notify, or an error
        tls_broken = code != SSL_ERROR_SYSCALL || errno != 0;
        ERR_clear_error();
      }
      break;
    }
    while (!to_plain.empty()) {
      ssize_t n = ::send(plain, to_plain.data(), to_plain.size(), MSG_NOSIGNAL);
      if (n > 0) {
        to_plain.erase(0, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        break;
      }
      to_plain.clear();  // the inner connection is gone; its reading side tells how
      break;
    }
    if (tls_in_done && to_plain.empty() && !plain_out_shut) {
      ::shutdown(plain, SHUT_WR);
      plain_out_shut = true;
    }
    while (!plain_in_done && to_tls.size() < kRelayBytes) {
      ssize_t n = ::recv(plain, buf.data(), buf.size(), 0);
      if (n > 0) {
        to_tls.append(buf.data(), static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        break;
      }
      plain_in_done = true;
      plain_reset = n < 0;
    }
    while (!to_tls.empty() && !tls_broken) {
      ERR_clear_error();
      size_t n = 0;
      int ret = SSL_write_ex(ssl, to_tls.data(), to_tls.size(), &n);
      if (ret == 1) {
        to_tls.erase(0, n);
        continue;
      }
      int code = SSL_get_error(ssl, ret);
      if (code == SSL_ERROR_WANT_WRITE) {
        tls_events |= POLLOUT;
      } else if (code == SSL_ERROR_WANT_READ) {
        tls_events |= POLLIN;
      } else {
        tls_broken = true;
        ERR_clear_error();
      }
      break;
    }
    if (plain_reset || tls_broken) {
      finish(true);
      return;
    }
    if (plain_in_done && to_tls.empty()) {
      ERR_clear_error();
      SSL_shutdown(ssl);  // close_notify, then close
      finish(false);
      return;
    }
    if (!tls_in_done && !tls_read_blocked && to_plain.size() < kRelayBytes) {
      continue;  // reading stopped at the relay limit and there is room again
    }
    short plain_events = 0;
    if (!plain_in_done && to_tls.size() < kRelayBytes) {
      plain_events |= POLLIN;
    }
    if (!to_plain.empty()) {
      plain_events |= POLLOUT;
    }
    if (!wait(tls_events, plain_events)) {
      finish(true);
      return;
    }
  }
}

}  // namespace apisix::test
