#pragma once
// TlsStream: a client TLS connection over an owned core::Socket, with the same coroutine I/O
// calls as Socket (read_some, write_all, try_read, shutdown_write, close) so the proxy can be
// written once for plain and TLS upstream connections. Owned by whoever owns the socket (a
// request, then the worker's pool); used only on the thread of the socket's loop. It keeps its
// TlsContext alive, so a pooled connection may outlive the snapshot that created it.
//
// OpenSSL talks to the socket through a small BIO of ours that calls recv/send directly and
// updates the loop's readiness flags, so WANT_READ / WANT_WRITE become ordinary readiness
// waits with the caller's deadline and nothing is copied through an intermediate buffer.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <openssl/ssl.h>
#include <sys/uio.h>

#include "core/socket.h"
#include "core/task.h"
#include "tls/tls_context.h"

namespace apisix::tls {

// Why a TLS connection failed, beyond the IoError the call returned. The proxy answers 502
// (504 for IoError::Timeout) and logs error_message(); the node may be retried like any other
// connection failure.
enum class TlsFailure : uint8_t {
  None,       // no TLS-level failure (an IoError such as Timeout/Reset may still have ended it)
  Handshake,  // the handshake failed: alert, protocol mismatch, peer closed during it
  Verify,     // the upstream certificate was rejected (chain or name): never usable
  Protocol,   // a TLS error after the handshake (bad record, fatal alert): close it
};
const char* to_string(TlsFailure failure);

namespace detail {
// What our BIO works on. On the heap, so the BIO's and the SSL's pointers to it survive a
// move of the TlsStream that owns it.
struct SocketLink {
  core::IoState* io = nullptr;
  int fd = -1;
  bool eof = false;         // recv returned 0
  int last_errno = 0;       // errno of the last failed recv/send
  std::string session_key;  // "<server name>#<peer address>", for the session cache
};
}  // namespace detail

class TlsStream {
 public:
  TlsStream() = default;
  // Takes the connected socket; nothing is sent until handshake().
  TlsStream(core::Socket socket, std::shared_ptr<const TlsContext> context);
  TlsStream(TlsStream&& other) noexcept;
  TlsStream& operator=(TlsStream&& other) noexcept;
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;
  ~TlsStream() { close(); }

  // Runs the client handshake. `server_name` is sent as SNI unless it is empty or an IP
  // literal, and is what the certificate must match when the context verifies (DNS name or
  // IP address). IoError::Other with failure() Handshake/Verify when TLS refused; Timeout,
  // Reset, Eof, Cancelled as for Socket (failure() says Handshake for Eof/Reset).
  core::Task<core::IoResult> handshake(std::string_view server_name, core::TimePoint deadline);

  // Same contracts as core::Socket. read_some returns IoError::Eof when the peer closed,
  // whether it sent close_notify or not (is_closed_cleanly() tells which). The iovecs are
  // not modified; small ones are coalesced into one TLS record.
  core::Task<core::IoResult> read_some(char* buf, size_t len, core::TimePoint deadline);
  core::Task<core::IoResult> write_all(std::span<iovec> iov, core::TimePoint deadline);
  core::Task<core::IoResult> write_all(std::string_view data, core::TimePoint deadline);
  // Non-waiting read like Socket::try_read: bytes, 0 on EOF, -1 would block, -2 error.
  // Consumes TLS housekeeping records (session tickets) on an idle connection.
  ssize_t try_read(char* buf, size_t len);

  // Sends close_notify (best effort, never waits) and half-closes the TCP write side.
  void shutdown_write();
  // Sends close_notify when the connection is healthy (best effort), frees the TLS state and
  // closes the socket.
  void close();

  bool is_open() const { return socket_.is_open(); }
  int fd() const { return socket_.fd(); }
  core::Loop* loop() const { return socket_.loop(); }
  core::IoState* io() const { return socket_.io(); }
  // Decrypted or undecrypted bytes held inside OpenSSL: an idle pooled connection with
  // buffered data is as unusable as one whose socket turned readable.
  bool has_buffered_data() const { return ssl_ != nullptr && SSL_has_pending(ssl_) == 1; }

  bool is_handshake_done() const { return handshake_done_; }
  bool is_session_reused() const;
  bool is_closed_cleanly() const { return closed_cleanly_; }
  // "TLSv1.3", "TLSv1.2", or "" before the handshake.
  std::string_view protocol() const;
  TlsFailure failure() const { return failure_; }
  // OpenSSL's reason for the last failure, e.g. "certificate verify failed: unable to get
  // local issuer certificate"; "" when none.
  const std::string& error_message() const { return error_message_; }
  SSL* native() const { return ssl_; }

 private:
  enum class Step : uint8_t { WantRead, WantWrite, Failed };
  // Turns a failed SSL call into what to do next; on Failed, `error` is set.
  Step classify(int ret, bool in_handshake, core::IoError& error);
  void fail(TlsFailure failure, std::string message);
  void free_ssl();

  core::Socket socket_;
  std::shared_ptr<const TlsContext> context_;
  SSL* ssl_ = nullptr;
  std::unique_ptr<detail::SocketLink> link_;
  bool handshake_done_ = false;
  bool closed_cleanly_ = false;
  bool broken_ = false;  // a fatal error happened: no close_notify, no more I/O
  TlsFailure failure_ = TlsFailure::None;
  std::string error_message_;
};

}  // namespace apisix::tls
