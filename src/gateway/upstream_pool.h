#pragma once
// UpstreamPool: one worker's idle keep-alive connections to upstream nodes, per pool key
// (scheme#host#port, plus #<SNI>[#<client cert>] for https; core.md §7.9). Owned by a Worker;
// used only on its thread. A connection comes back only after its response was read to the
// end; one that became readable while idle (the node closed it or sent junk) is never handed
// out.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/socket.h"
#include "core/task.h"
#include "gateway/settings.h"
#include "router/route_table.h"
#include "tls/tls_stream.h"

namespace apisix::gateway {

// A connection to an upstream node: plain TCP, or TLS over TCP for https upstreams, with the
// I/O calls of core::Socket so the proxy is written once for both. The plain case calls the
// Socket directly: one well-predicted branch, no virtual call, no allocation, no extra
// coroutine frame (each call returns the callee's Task). The TLS stream sits on the heap so a
// plain connection stays small; that allocation is per TLS connection, not per request.
// Owned by a request, then by the worker's pool; used only on the worker's thread.
class UpstreamStream {
 public:
  UpstreamStream() = default;
  explicit UpstreamStream(core::Socket socket) : socket_(std::move(socket)) {}
  explicit UpstreamStream(std::unique_ptr<tls::TlsStream> tls) : tls_(std::move(tls)) {}

  bool is_open() const { return tls_ ? tls_->is_open() : socket_.is_open(); }
  bool is_tls() const { return tls_ != nullptr; }
  int fd() const { return tls_ ? tls_->fd() : socket_.fd(); }
  core::IoState* io() const { return tls_ ? tls_->io() : socket_.io(); }
  tls::TlsStream* tls() const { return tls_.get(); }

  core::Task<core::IoResult> read_some(char* buf, size_t len, core::TimePoint deadline) {
    return tls_ ? tls_->read_some(buf, len, deadline) : socket_.read_some(buf, len, deadline);
  }
  core::Task<core::IoResult> write_all(std::span<iovec> iov, core::TimePoint deadline) {
    return tls_ ? tls_->write_all(iov, deadline) : socket_.write_all(iov, deadline);
  }
  core::Task<core::IoResult> write_all(std::string_view data, core::TimePoint deadline) {
    return tls_ ? tls_->write_all(data, deadline) : socket_.write_all(data, deadline);
  }
  void shutdown_write() {
    if (tls_) {
      tls_->shutdown_write();
    } else {
      socket_.shutdown_write();
    }
  }
  void close() {
    if (tls_) {
      tls_.reset();  // sends close_notify when healthy, then closes the socket
    } else {
      socket_.close();
    }
  }
  // An idle upstream connection must be silent: readable (or, for TLS, holding bytes inside
  // OpenSSL) means the node closed it or sent something unasked.
  bool is_idle_usable() const {
    core::IoState* state = io();
    return state != nullptr && !state->readable && !state->peer_closed &&
           !(tls_ && tls_->has_buffered_data());
  }

 private:
  core::Socket socket_;  // plain connections; unused (closed) when tls_ is set
  std::unique_ptr<tls::TlsStream> tls_;
};

struct PooledConnection {
  UpstreamStream stream;
  uint32_t requests = 0;  // requests served on this connection so far
};

class UpstreamPool {
 public:
  // An idle, healthy connection for `key`, or a closed stream when none is available.
  PooledConnection take(std::string_view key, core::TimePoint now, const PoolSettings& settings);
  // Keeps `conn` for reuse unless the pool for `key` is full or it served its last request.
  void put(std::string_view key, PooledConnection conn, core::TimePoint now,
           const PoolSettings& settings);
  // Closes connections idle for longer than their pool's idle timeout.
  void sweep(core::TimePoint now);
  void clear();
  size_t idle_count() const;

 private:
  struct Idle {
    PooledConnection conn;
    core::TimePoint expires;
  };
  router::StringMap<std::vector<Idle>> idle_;  // oldest first
};

}  // namespace apisix::gateway
