#pragma once

// An HTTP/1.1 origin server for integration tests: listens on 127.0.0.1:<ephemeral>, records
// every request it receives (raw head, parsed fields, body as on the wire and decoded) and
// answers through a per-test handler. One thread accepts; each connection has its own thread
// running the handler. Owned by the test; stop() (or the destructor) closes everything.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/harness/body.h"
#include "tests/harness/headers.h"
#include "tests/harness/socket_stream.h"
#include "tests/harness/wait.h"

namespace apisix::test {

// One request as received. `complete` turns true once the whole body has arrived.
struct RecordedRequest {
  size_t index = 0;          // 0-based arrival order on this server
  size_t connection_id = 0;  // 1-based accept order of its connection
  size_t index_on_connection = 0;
  std::string method;
  std::string target;
  std::string version;
  Headers headers;
  std::string raw_head;
  bool chunked = false;
  std::string body;  // decoded body, first store_limit bytes
  uint64_t body_bytes = 0;
  uint64_t body_digest = 0;
  std::string raw_body;  // body bytes as on the wire (chunk framing included), first store_limit
  Headers trailers;
  bool complete = false;
  std::string error;  // what was wrong with the request, if anything
  Clock::time_point received_at;
};

struct ConnectionState;

// Lets a handler answer one request. Every write goes straight to the socket.
// Writes after a failure are ignored; ok() tells whether all writes succeeded.
class ResponseWriter {
 public:
  ResponseWriter(ConnectionState& connection, const RecordedRequest& request);

  const RecordedRequest& request() const { return request_; }

  // "HTTP/1.1 <status> <reason>" plus headers and an empty line, for a 1xx response.
  void interim(int status, const Headers& headers = {});
  // A complete response. Adds Content-Length unless the headers frame the body already
  // (Content-Length or Transfer-Encoding) or the status has no body; omits the body for HEAD.
  void respond(int status, Headers headers = {}, std::string_view body = {});
  // Status line and headers exactly as given; the handler writes the body itself.
  void head(int status, const Headers& headers);
  void body(std::string_view data);
  void chunk(std::string_view data);
  void end_chunks(const Headers& trailers = {});
  // `bytes` of the test pattern, written in pieces (never held in memory).
  void generated_body(uint64_t bytes);
  void generated_chunks(uint64_t bytes, size_t chunk_size = 64 * 1024);
  void raw(std::string_view bytes);
  // Closes the connection after this response (needed for close-delimited bodies).
  void close_after() { close_after_ = true; }
  // Resets the connection now, without a response.
  void abort();
  // Waits `duration`; returns false early when the server is stopping.
  bool delay(std::chrono::milliseconds duration);

  bool ok() const { return ok_; }
  bool responded() const { return responded_; }
  bool closes_connection() const { return close_after_ || aborted_ || !ok_; }
  bool aborted() const { return aborted_; }

 private:
  void write(std::string_view data);

  ConnectionState& connection_;
  const RecordedRequest& request_;
  bool ok_ = true;
  bool responded_ = false;
  bool close_after_ = false;
  bool aborted_ = false;
};

struct UpstreamOptions {
  std::string name;  // sent as X-Upstream-Name by the default handler
  uint64_t store_limit = BodySink::kDefaultStoreLimit;
  // Answer "Expect: 100-continue" with 100 Continue before reading the body.
  bool auto_continue = true;
  // Where to listen: an IPv4 loopback address (127.0.0.0/8) and port (0: any free one). DNS
  // tests use 127.0.0.2 with the port of a server on 127.0.0.1 to move a name between them.
  std::string ip = "127.0.0.1";
  uint16_t port = 0;
};

class UpstreamServer {
 public:
  using Handler = std::function<void(const RecordedRequest&, ResponseWriter&)>;

  explicit UpstreamServer(UpstreamOptions options = {});
  ~UpstreamServer();
  UpstreamServer(const UpstreamServer&) = delete;
  UpstreamServer& operator=(const UpstreamServer&) = delete;

  uint16_t port() const { return port_; }
  // "127.0.0.1:<port>", as used in upstream node lists.
  std::string address() const;
  const std::string& name() const { return options_.name; }

  void set_handler(Handler handler);
  // Stops accepting, closes every connection, joins all threads. Idempotent.
  void stop();

  std::vector<RecordedRequest> requests() const;
  std::optional<RecordedRequest> last_request() const;
  // Requests whose head has arrived (complete or not).
  size_t request_count() const;
  size_t connection_count() const { return accepted_.load(); }
  size_t open_connections() const { return open_.load(); }
  bool wait_for_requests(size_t count, std::chrono::milliseconds timeout) const;
  // Waits until the request with `index` has its whole body.
  bool wait_for_complete(size_t index, std::chrono::milliseconds timeout) const;

  // The default handler: 200 "hello world" with Content-Length.
  static void default_handler(const RecordedRequest& request, ResponseWriter& writer,
                              const std::string& name);

 private:
  friend class ResponseWriter;

  void accept_loop();
  void serve(ConnectionState& connection);
  void reap_finished();
  size_t record(RecordedRequest request);
  void update(size_t index, const std::function<void(RecordedRequest&)>& change);

  UpstreamOptions options_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> accepted_{0};
  std::atomic<size_t> open_{0};

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;  // a request was recorded or updated
  std::condition_variable stop_cv_;
  Handler handler_;
  std::vector<RecordedRequest> requests_;
  std::list<std::unique_ptr<ConnectionState>> connections_;
};

// Options for an upstream that answers with `X-Upstream-Name: <name>`.
UpstreamOptions named_upstream(const std::string& name);

// Which named upstream answered GET `target` through the gateway on `port` (its
// X-Upstream-Name), or "status <n>" when the answer was not a 200.
std::string served_by(uint16_t port, std::string_view target);

}  // namespace apisix::test
