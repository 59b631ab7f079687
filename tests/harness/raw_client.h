#pragma once

// A test HTTP/1.1 client that writes exactly the bytes it is given and reads responses with
// deadlines: full responses (Content-Length, chunked with trailers, close-delimited), interim
// 1xx responses, several pipelined responses, and the moment the server closes.
// One RawClient is one TCP connection to 127.0.0.1, used by one thread.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/harness/body.h"
#include "tests/harness/headers.h"
#include "tests/harness/http_codec.h"
#include "tests/harness/socket_stream.h"
#include "tests/harness/wait.h"

namespace apisix::test {

struct InterimResponse {
  int status = 0;
  Headers headers;
};

// A response as read by RawClient. When reading failed, `error` says why and `status` is what
// was parsed so far (0 when no status line arrived).
struct HttpResponse {
  int status = 0;
  std::string version;
  std::string reason;
  Headers headers;
  std::string body;          // the first BodySink::store_limit bytes of the body
  uint64_t body_bytes = 0;   // every body byte received
  uint64_t body_digest = 0;  // BodyDigest of the whole body
  Headers trailers;
  std::vector<InterimResponse> interim;  // 1xx responses received before this one
  std::string raw_head;
  BodyFraming::Kind framing = BodyFraming::Kind::None;

  IoStatus io = IoStatus::Ok;
  std::string error;
  // True when the connection was closed (or reset) before any byte of this response arrived.
  bool closed_before_response = false;

  bool ok() const { return error.empty(); }
  std::string header(std::string_view name) const { return headers.value_or_empty(name); }
  // One-line description for assertion messages.
  std::string describe() const;
};

struct ReadOptions {
  std::chrono::milliseconds timeout{10000};  // scaled; for the whole response
  std::string_view request_method = "GET";   // "HEAD" means no body follows the head
  bool return_interim = false;               // return a 1xx as the response
  uint64_t store_limit = BodySink::kDefaultStoreLimit;
};

class RawClient {
 public:
  // Connects to 127.0.0.1:port; check connected() / connect_errno().
  explicit RawClient(uint16_t port);

  bool connected() const { return stream_.is_open(); }
  int connect_errno() const { return connect_errno_; }

  // Writes all of `bytes`; false when the peer closed/reset or the timeout passed.
  bool send(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  IoStatus send_status(std::string_view bytes,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

  HttpResponse read_response(const ReadOptions& options = {});
  std::vector<HttpResponse> read_responses(size_t count, const ReadOptions& options = {});

  // Sends `request` and reads the response to it.
  HttpResponse round_trip(std::string_view request, const ReadOptions& options = {});
  HttpResponse get(std::string_view target, const Headers& headers = {{"Host", "example.com"}});

  // Waits until the server closes the connection. Returns true when it did before the
  // timeout; unexpected bytes (if any) are kept in unexpected_bytes().
  bool wait_closed(std::chrono::milliseconds timeout);
  // True when the server has already closed (does not wait).
  bool is_closed_by_peer();
  const std::string& unexpected_bytes() const { return unexpected_; }

  void shutdown_write() { stream_.shutdown_write(); }
  void close() { stream_.close(); }
  void abort() { stream_.abort(); }
  SocketStream& stream() { return stream_; }

 private:
  SocketStream stream_;
  int connect_errno_ = 0;
  std::string unexpected_;
};

// Opens a connection, sends `request`, reads one response.
HttpResponse fetch(uint16_t port, std::string_view request, const ReadOptions& options = {});
// GET `target` with Host: example.com on a new connection.
HttpResponse http_get(uint16_t port, std::string_view target,
                      const Headers& headers = {{"Host", "example.com"}});

// Reads one response from `stream` (shared by RawClient and the load loop).
HttpResponse read_response_from(SocketStream& stream, const ReadOptions& options);

}  // namespace apisix::test
