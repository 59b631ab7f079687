#include "tls/tls_stream.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>

namespace apisix::tls {

using core::error_from_errno;
using core::error_from_wait;
using core::IoError;
using core::IoResult;
using core::TimePoint;
using core::Wait;

namespace {

// The largest TLS record payload (RFC 8446 §5.1); small buffers are gathered up to this.
constexpr size_t kRecordBytes = 16 * 1024;
// Gathering space for write_all. Only used between two non-suspending calls; a write that
// has to wait moves its bytes into its own frame first.
thread_local char tls_gather[kRecordBytes];

bool is_ip_literal(const std::string& name) {
  in6_addr addr{};
  return ::inet_pton(AF_INET, name.c_str(), &addr) == 1 ||
         ::inet_pton(AF_INET6, name.c_str(), &addr) == 1;
}

// --- The BIO between OpenSSL and a registered non-blocking socket -----------------------
// Reads and writes go straight to the fd; would-block clears the loop's readiness flag so
// the caller's wait really waits, and a short read counts as "drained" the way
// Socket::read_some does.

using detail::SocketLink;

SocketLink* link_of(BIO* bio) { return static_cast<SocketLink*>(BIO_get_data(bio)); }

struct BioOps {
  static int read(BIO* bio, char* buf, int len) {
    SocketLink* link = link_of(bio);
    BIO_clear_retry_flags(bio);
    for (;;) {
      ssize_t n = ::recv(link->fd, buf, static_cast<size_t>(len), 0);
      if (n > 0) {
        if (n < len && !link->io->peer_closed) {
          link->io->readable = false;
        }
        return static_cast<int>(n);
      }
      if (n == 0) {
        link->eof = true;
        return 0;
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        link->io->readable = false;
        BIO_set_retry_read(bio);
      } else {
        link->last_errno = errno;
      }
      return -1;
    }
  }

  static int write(BIO* bio, const char* buf, int len) {
    SocketLink* link = link_of(bio);
    BIO_clear_retry_flags(bio);
    for (;;) {
      ssize_t n = ::send(link->fd, buf, static_cast<size_t>(len), MSG_NOSIGNAL);
      if (n >= 0) {
        return static_cast<int>(n);
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        link->io->writable = false;
        BIO_set_retry_write(bio);
      } else {
        link->last_errno = errno;
      }
      return -1;
    }
  }

  static long ctrl(BIO* bio, int cmd, long num, void* ptr) {
    switch (cmd) {
      case BIO_CTRL_FLUSH:
        return 1;  // nothing is buffered here
      case BIO_CTRL_EOF:
        return link_of(bio)->eof ? 1 : 0;
      default:
        return 0;
    }
  }

  static int create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }
};

BIO_METHOD* socket_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "apisix socket");
    BIO_meth_set_read(m, &BioOps::read);
    BIO_meth_set_write(m, &BioOps::write);
    BIO_meth_set_ctrl(m, &BioOps::ctrl);
    BIO_meth_set_create(m, &BioOps::create);
    return m;
  }();
  return method;
}

}  // namespace

const char* to_string(TlsFailure failure) {
  switch (failure) {
    case TlsFailure::None:
      return "none";
    case TlsFailure::Handshake:
      return "TLS handshake failed";
    case TlsFailure::Verify:
      return "upstream certificate rejected";
    case TlsFailure::Protocol:
      return "TLS protocol error";
  }
  return "?";
}

TlsStream::TlsStream(core::Socket socket, std::shared_ptr<const TlsContext> context)
    : socket_(std::move(socket)), context_(std::move(context)) {
  if (!socket_.is_open() || !context_) {
    return;
  }
  link_ = std::make_unique<SocketLink>();
  link_->io = socket_.io();
  link_->fd = socket_.fd();
  ssl_ = SSL_new(context_->native());
  BIO* bio = ssl_ != nullptr ? BIO_new(socket_bio_method()) : nullptr;
  if (bio == nullptr) {
    fail(TlsFailure::Handshake, "cannot create TLS state: " + take_openssl_errors());
    free_ssl();
    return;
  }
  BIO_set_data(bio, link_.get());
  SSL_set_bio(ssl_, bio, bio);  // the SSL owns the BIO
  SSL_set_connect_state(ssl_);
}

TlsStream::TlsStream(TlsStream&& other) noexcept
    : socket_(std::move(other.socket_)),
      context_(std::move(other.context_)),
      ssl_(std::exchange(other.ssl_, nullptr)),
      link_(std::move(other.link_)),
      handshake_done_(other.handshake_done_),
      closed_cleanly_(other.closed_cleanly_),
      broken_(other.broken_),
      failure_(other.failure_),
      error_message_(std::move(other.error_message_)) {}

TlsStream& TlsStream::operator=(TlsStream&& other) noexcept {
  if (this != &other) {
    close();
    socket_ = std::move(other.socket_);
    context_ = std::move(other.context_);
    ssl_ = std::exchange(other.ssl_, nullptr);
    link_ = std::move(other.link_);
    handshake_done_ = other.handshake_done_;
    closed_cleanly_ = other.closed_cleanly_;
    broken_ = other.broken_;
    failure_ = other.failure_;
    error_message_ = std::move(other.error_message_);
  }
  return *this;
}

void TlsStream::fail(TlsFailure failure, std::string message) {
  failure_ = failure;
  error_message_ = std::move(message);
}

void TlsStream::free_ssl() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
}

void TlsStream::close() {
  if (ssl_ != nullptr && socket_.is_open() && handshake_done_ && !broken_ &&
      (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) == 0) {
    // One non-blocking attempt: a full socket just means the peer sees a plain close.
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  free_ssl();
  link_.reset();
  socket_.close();
}

void TlsStream::shutdown_write() {
  if (ssl_ != nullptr && socket_.is_open() && handshake_done_ && !broken_ &&
      (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) == 0) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // sends close_notify; reading stays possible
    ERR_clear_error();
  }
  socket_.shutdown_write();
}

bool TlsStream::is_session_reused() const {
  return ssl_ != nullptr && SSL_session_reused(ssl_) == 1;
}

std::string_view TlsStream::protocol() const {
  if (ssl_ == nullptr || !handshake_done_) {
    return {};
  }
  return SSL_get_version(ssl_);
}

TlsStream::Step TlsStream::classify(int ret, bool in_handshake, IoError& error) {
  int code = SSL_get_error(ssl_, ret);
  switch (code) {
    case SSL_ERROR_WANT_READ:
      return Step::WantRead;
    case SSL_ERROR_WANT_WRITE:
      return Step::WantWrite;
    case SSL_ERROR_ZERO_RETURN:
      // close_notify: the peer ended the TLS session properly.
      ERR_clear_error();
      closed_cleanly_ = true;
      error = IoError::Eof;
      return Step::Failed;
    default:
      break;
  }
  broken_ = true;
  unsigned long first = ERR_peek_error();
  bool unexpected_eof = (code == SSL_ERROR_SYSCALL && link_->last_errno == 0) ||
                        (code == SSL_ERROR_SSL && ERR_GET_LIB(first) == ERR_LIB_SSL &&
                         ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING);
  if (unexpected_eof) {
    // The TCP connection ended without close_notify. Reported as EOF like a plain socket;
    // is_closed_cleanly() stays false for callers that care about truncation.
    ERR_clear_error();
    error = IoError::Eof;
    if (in_handshake) {
      fail(TlsFailure::Handshake, "peer closed the connection during the TLS handshake");
    }
    return Step::Failed;
  }
  if (code == SSL_ERROR_SYSCALL) {
    ERR_clear_error();
    error = error_from_errno(link_->last_errno);
    if (in_handshake) {
      fail(TlsFailure::Handshake,
           std::string("TLS handshake: ") + std::strerror(link_->last_errno));
    }
    return Step::Failed;
  }
  error = IoError::Other;
  std::string reasons = take_openssl_errors();
  long verify = SSL_get_verify_result(ssl_);
  if (in_handshake && verify != X509_V_OK) {
    std::string message =
        std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      message += " (expected '" + link_->session_key.substr(0, link_->session_key.find('#')) + "')";
    }
    fail(TlsFailure::Verify, std::move(message));
  } else {
    fail(in_handshake ? TlsFailure::Handshake : TlsFailure::Protocol,
         reasons.empty() ? "TLS error" : std::move(reasons));
  }
  return Step::Failed;
}

core::Task<IoResult> TlsStream::handshake(std::string_view server_name, TimePoint deadline) {
  if (ssl_ == nullptr || !socket_.is_open()) {
    if (failure_ == TlsFailure::None) {
      fail(TlsFailure::Handshake, "no connection");
    }
    co_return IoResult{0, IoError::Other};
  }
  std::string name(server_name);
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  bool is_ip = is_ip_literal(name);
  if (!name.empty() && !is_ip) {
    SSL_set_tlsext_host_name(ssl_, name.c_str());  // RFC 6066 §3: no IP literals in SNI
  }
  if (context_->verify() && !name.empty()) {
    if (is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
    } else {
      SSL_set1_host(ssl_, name.c_str());
    }
  }
  link_->session_key = name;
  if (context_->has_session_cache()) {
    core::Endpoint peer;
    peer.len = sizeof(peer.addr);
    if (::getpeername(socket_.fd(), reinterpret_cast<sockaddr*>(&peer.addr), &peer.len) == 0) {
      link_->session_key += '#';
      link_->session_key += peer.to_string();
      SSL_set_ex_data(ssl_, session_key_index(), &link_->session_key);
      if (SSL_SESSION* session = context_->take_session(link_->session_key)) {
        SSL_set_session(ssl_, session);
        SSL_SESSION_free(session);
      }
    }
  }

  core::Loop& loop = *socket_.loop();
  for (;;) {
    ERR_clear_error();
    link_->last_errno = 0;
    int ret = SSL_do_handshake(ssl_);
    if (ret == 1) {
      handshake_done_ = true;
      co_return IoResult{0, IoError::None};
    }
    IoError error = IoError::None;
    Step step = classify(ret, true, error);
    if (step == Step::Failed) {
      co_return IoResult{0, error};
    }
    Wait w = step == Step::WantRead ? co_await loop.readable(socket_.io(), deadline)
                                    : co_await loop.writable(socket_.io(), deadline);
    if (w != Wait::Ready) {
      broken_ = true;
      co_return IoResult{0, error_from_wait(w)};
    }
  }
}

core::Task<IoResult> TlsStream::read_some(char* buf, size_t len, TimePoint deadline) {
  if (ssl_ == nullptr || broken_ || !handshake_done_) {
    co_return IoResult{0, closed_cleanly_ ? IoError::Eof : IoError::Other};
  }
  if (len == 0) {
    co_return IoResult{0, IoError::None};
  }
  core::Loop& loop = *socket_.loop();
  for (;;) {
    ERR_clear_error();
    link_->last_errno = 0;
    size_t n = 0;
    int ret = SSL_read_ex(ssl_, buf, len, &n);
    if (ret == 1) {
      co_return IoResult{n, IoError::None};
    }
    IoError error = IoError::None;
    Step step = classify(ret, false, error);
    if (step == Step::Failed) {
      co_return IoResult{0, error};
    }
    // A timed-out read leaves the TLS state intact: SSL_read may simply be called again.
    Wait w = step == Step::WantRead ? co_await loop.readable(socket_.io(), deadline)
                                    : co_await loop.writable(socket_.io(), deadline);
    if (w != Wait::Ready) {
      co_return IoResult{0, error_from_wait(w)};
    }
  }
}

core::Task<IoResult> TlsStream::write_all(std::span<iovec> iov, TimePoint deadline) {
  if (ssl_ == nullptr || broken_ || !handshake_done_) {
    co_return IoResult{0, IoError::Other};
  }
  core::Loop& loop = *socket_.loop();
  size_t total = 0;
  size_t index = 0;   // current iovec
  size_t offset = 0;  // bytes of it already taken
  std::string owned;  // bytes of a gathered record that had to wait for the socket
  for (;;) {
    while (index < iov.size() && offset >= iov[index].iov_len) {
      ++index;
      offset = 0;
    }
    if (index == iov.size()) {
      break;
    }
    size_t left = iov[index].iov_len - offset;
    bool more_after = false;
    for (size_t j = index + 1; j < iov.size() && !more_after; ++j) {
      more_after = iov[j].iov_len > 0;
    }
    std::string_view piece;
    bool gathered = false;
    if (left < kRecordBytes && more_after) {
      // Gather small buffers (a head, a chunk-size line, a short body) into one record
      // instead of paying a record and a send for each.
      size_t used = 0;
      while (index < iov.size() && used < kRecordBytes) {
        size_t take = std::min(iov[index].iov_len - offset, kRecordBytes - used);
        std::memcpy(tls_gather + used, static_cast<const char*>(iov[index].iov_base) + offset,
                    take);
        used += take;
        offset += take;
        if (offset >= iov[index].iov_len) {
          ++index;
          offset = 0;
        }
      }
      piece = std::string_view(tls_gather, used);
      gathered = true;
    } else {
      piece = std::string_view(static_cast<const char*>(iov[index].iov_base) + offset, left);
      offset += left;
    }

    size_t done = 0;
    while (done < piece.size()) {
      ERR_clear_error();
      link_->last_errno = 0;
      size_t n = 0;
      int ret = SSL_write_ex(ssl_, piece.data() + done, piece.size() - done, &n);
      if (ret == 1) {
        done += n;
        total += n;
        continue;
      }
      IoError error = IoError::None;
      Step step = classify(ret, false, error);
      if (step == Step::Failed) {
        // A peer that closed while we write is a broken pipe, as for a plain socket.
        co_return IoResult{total, error == IoError::Eof ? IoError::Reset : error};
      }
      if (gathered) {
        // The retry must offer the same bytes; the gathering space is shared by every
        // coroutine on this thread, so keep them here while waiting.
        owned.assign(piece.substr(done));
        piece = owned;
        done = 0;
        gathered = false;
      }
      Wait w = step == Step::WantWrite ? co_await loop.writable(socket_.io(), deadline)
                                       : co_await loop.readable(socket_.io(), deadline);
      if (w != Wait::Ready) {
        broken_ = true;  // a record may be half sent: the stream cannot continue
        co_return IoResult{total, error_from_wait(w)};
      }
    }
  }
  co_return IoResult{total, IoError::None};
}

core::Task<IoResult> TlsStream::write_all(std::string_view data, TimePoint deadline) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  co_return co_await write_all(std::span<iovec>(&iov, 1), deadline);
}

ssize_t TlsStream::try_read(char* buf, size_t len) {
  if (ssl_ == nullptr || broken_ || !handshake_done_) {
    return closed_cleanly_ ? 0 : -2;
  }
  ERR_clear_error();
  link_->last_errno = 0;
  size_t n = 0;
  int ret = SSL_read_ex(ssl_, buf, len, &n);
  if (ret == 1) {
    return static_cast<ssize_t>(n);
  }
  IoError error = IoError::None;
  Step step = classify(ret, false, error);
  if (step != Step::Failed) {
    return -1;
  }
  return error == IoError::Eof ? 0 : -2;
}

}  // namespace apisix::tls
