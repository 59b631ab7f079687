#pragma once
// A small HTTP/1.1 client over core::Socket and the project's strict response parser: enough
// for JSON APIs such as etcd's gateway (unary calls on keep-alive connections, and long-lived
// streaming responses read piece by piece), over plain TCP or TLS (tls::TlsStream).
//
// An HttpConnection is one TCP (or TLS) connection, owned by its user, used on one Loop by one
// coroutine at a time (one exchange in flight).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/loop.h"
#include "core/result.h"
#include "core/socket.h"
#include "core/task.h"
#include "http/chunked.h"
#include "tls/tls_context.h"
#include "tls/tls_stream.h"

namespace apisix::store {

// "http://host:port" split up; the path part, if any, is ignored.
struct HttpUrl {
  bool tls = false;
  std::string host;  // without brackets for IPv6
  uint16_t port = 80;
  std::string authority;  // for the Host header: "host:port"
};
Result<HttpUrl> parse_http_url(std::string_view url);

// Resolves `host` (an IP literal, or a name via getaddrinfo — which blocks; TODO(store): use
// the project's asynchronous resolver once it exists (#5)).
Result<core::Endpoint> resolve_endpoint(const std::string& host, uint16_t port);

struct HttpRequest {
  std::string method = "POST";
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;  // besides Host/Content-Length
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // the whole body for exchange(); empty after start()
  // The first header named `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
};

// How to speak TLS on a connection: the client context (verification, CA, client
// certificate) and the name sent as SNI and matched against the server's certificate when the
// context verifies (a DNS name or an IP literal).
struct HttpTls {
  std::shared_ptr<const tls::TlsContext> context;
  std::string server_name;
};

class HttpConnection {
 public:
  // Connects, then runs the TLS handshake when `tls` is given (bounded by the same deadline).
  // A failed handshake names OpenSSL's reason; a rejected server certificate is not retryable.
  static core::Task<Result<std::unique_ptr<HttpConnection>>> connect(
      core::Loop& loop, core::Endpoint endpoint, std::string authority, core::TimePoint deadline,
      std::optional<HttpTls> tls = std::nullopt);

  // Sends `request` and reads the whole response; a body over `max_body_bytes` is an error.
  core::Task<Result<HttpResponse>> exchange(HttpRequest request, core::TimePoint deadline,
                                            size_t max_body_bytes);
  // Sends `request` and reads the response head only; read the body with read_body().
  core::Task<Result<HttpResponse>> start(HttpRequest request, core::TimePoint deadline);
  // Appends the next body bytes to `out`: true while more may follow, false at the end of the
  // body. A Timeout error leaves the connection usable (call again); others do not.
  core::Task<Result<bool>> read_body(std::string& out, core::TimePoint deadline);

  // Whether another exchange may use this connection: the last body was read to its end, the
  // server allowed keep-alive, and it has not closed the idle connection since.
  bool is_reusable();
  // Whether no byte was received on this connection for the current exchange yet (a failure
  // then means the server closed an idle connection: safe to retry elsewhere).
  bool nothing_received() const { return !received_any_; }

 private:
  HttpConnection(core::Socket socket, std::string authority)
      : socket_(std::move(socket)), authority_(std::move(authority)) {}
  HttpConnection(std::unique_ptr<tls::TlsStream> tls, std::string authority)
      : tls_(std::move(tls)), authority_(std::move(authority)) {}
  // The plain case calls the Socket directly: one branch per I/O call, as for the proxy's
  // upstream connections.
  core::Task<core::IoResult> read_some(char* buf, size_t len, core::TimePoint deadline) {
    return tls_ ? tls_->read_some(buf, len, deadline) : socket_.read_some(buf, len, deadline);
  }
  core::Task<core::IoResult> write_all(std::span<iovec> iov, core::TimePoint deadline) {
    return tls_ ? tls_->write_all(iov, deadline) : socket_.write_all(iov, deadline);
  }
  // An I/O failure as an Error, with TLS's reason when TLS gave one.
  Error stream_error(core::IoError error, std::string_view what) const;
  core::Task<Result<void>> send(const HttpRequest& request, core::TimePoint deadline);
  core::Task<Result<void>> fill(core::TimePoint deadline);  // reads more into buf_
  std::string_view buffered() const { return std::string_view(buf_).substr(start_); }

  enum class BodyMode : uint8_t { None, Length, Chunked, UntilClose };

  core::Socket socket_;                  // plain connections; closed when tls_ is set
  std::unique_ptr<tls::TlsStream> tls_;  // https connections
  std::string authority_;
  std::string buf_;
  size_t start_ = 0;  // first unconsumed byte of buf_
  BodyMode mode_ = BodyMode::None;
  uint64_t remaining_ = 0;
  http::ChunkedDecoder chunked_;
  bool body_done_ = true;
  bool keep_alive_ = false;
  bool broken_ = false;
  bool received_any_ = false;
};

}  // namespace apisix::store
