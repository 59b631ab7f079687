#include "tests/harness/upstream_server.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/harness/http_codec.h"
#include "tests/harness/raw_client.h"

namespace apisix::test {

// One accepted connection and the thread serving it. `stream` is used only by `thread`;
// stop() may shut the socket down (under the server mutex) to wake it.
struct ConnectionState {
  UpstreamServer* server = nullptr;
  size_t id = 0;
  SocketStream stream;
  std::thread thread;
  std::atomic<bool> done{false};
};

namespace {

bool has_body_status(int status) { return status >= 200 && status != 204 && status != 304; }

std::string status_line(int status) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
}

}  // namespace

ResponseWriter::ResponseWriter(ConnectionState& connection, const RecordedRequest& request)
    : connection_(connection), request_(request) {}

void ResponseWriter::write(std::string_view data) {
  if (!ok_ || aborted_) {
    return;
  }
  if (connection_.stream.write_all(data, deadline_in(std::chrono::seconds(60))) != IoStatus::Ok) {
    ok_ = false;
  }
}

void ResponseWriter::interim(int status, const Headers& headers) {
  write(status_line(status) + headers.serialize() + "\r\n");
}

void ResponseWriter::respond(int status, Headers headers, std::string_view body) {
  responded_ = true;
  bool framed = headers.has("Content-Length") || headers.has("Transfer-Encoding");
  if (!framed && has_body_status(status)) {
    headers.add("Content-Length", std::to_string(body.size()));
  }
  std::string out = status_line(status) + headers.serialize() + "\r\n";
  if (request_.method != "HEAD" && has_body_status(status)) {
    out.append(body);
  }
  write(out);
}

void ResponseWriter::head(int status, const Headers& headers) {
  responded_ = true;
  write(status_line(status) + headers.serialize() + "\r\n");
}

void ResponseWriter::body(std::string_view data) { write(data); }

void ResponseWriter::chunk(std::string_view data) { write(apisix::test::chunk(data)); }

void ResponseWriter::end_chunks(const Headers& trailers) { write(last_chunk(trailers)); }

void ResponseWriter::generated_body(uint64_t bytes) {
  std::string block(size_t{256} * 1024, '\0');
  for (uint64_t offset = 0; offset < bytes && ok_;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), bytes - offset));
    fill_pattern(offset, block.data(), n);
    write(std::string_view(block.data(), n));
    offset += n;
  }
}

void ResponseWriter::generated_chunks(uint64_t bytes, size_t chunk_size) {
  std::string block(chunk_size, '\0');
  for (uint64_t offset = 0; offset < bytes && ok_;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), bytes - offset));
    fill_pattern(offset, block.data(), n);
    chunk(std::string_view(block.data(), n));
    offset += n;
  }
}

void ResponseWriter::raw(std::string_view bytes) {
  responded_ = true;
  write(bytes);
}

void ResponseWriter::abort() {
  responded_ = true;
  aborted_ = true;
  std::lock_guard lock(connection_.server->mu_);
  connection_.stream.abort();
}

bool ResponseWriter::delay(std::chrono::milliseconds duration) {
  UpstreamServer& server = *connection_.server;
  std::unique_lock lock(server.mu_);
  return !server.stop_cv_.wait_for(lock, duration, [&] { return server.stopping_.load(); });
}

UpstreamServer::UpstreamServer(UpstreamOptions options) : options_(std::move(options)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    throw std::runtime_error(std::string("upstream socket: ") + std::strerror(errno));
  }
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options_.port);
  if (::inet_pton(AF_INET, options_.ip.c_str(), &addr.sin_addr) != 1 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 512) != 0) {
    int err = errno;
    ::close(listen_fd_);
    throw std::runtime_error(std::string("upstream bind/listen: ") + std::strerror(err));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    throw std::runtime_error("upstream pipe");
  }
  handler_ = [name = options_.name](const RecordedRequest& request, ResponseWriter& writer) {
    default_handler(request, writer, name);
  };
  acceptor_ = std::thread([this] { accept_loop(); });
}

UpstreamServer::~UpstreamServer() { stop(); }

std::string UpstreamServer::address() const { return options_.ip + ":" + std::to_string(port_); }

void UpstreamServer::default_handler(const RecordedRequest& request, ResponseWriter& writer,
                                     const std::string& name) {
  Headers headers{{"Content-Type", "text/plain"}, {"Server", "apisix-test-upstream"}};
  if (!name.empty()) {
    headers.add("X-Upstream-Name", name);
  }
  writer.respond(200, headers, "hello world");
}

void UpstreamServer::set_handler(Handler handler) {
  std::lock_guard lock(mu_);
  handler_ = std::move(handler);
}

void UpstreamServer::stop() {
  if (stopping_.exchange(true)) {
    return;
  }
  {
    std::lock_guard lock(mu_);
    stop_cv_.notify_all();
  }
  char byte = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_pipe_[1], &byte, 1);
  if (acceptor_.joinable()) {
    acceptor_.join();
  }
  std::list<std::unique_ptr<ConnectionState>> connections;
  {
    std::lock_guard lock(mu_);
    for (auto& c : connections_) {
      c->stream.shutdown_both();
    }
    connections.swap(connections_);
  }
  for (auto& c : connections) {
    if (c->thread.joinable()) {
      c->thread.join();
    }
  }
  ::close(listen_fd_);
  ::close(wake_pipe_[0]);
  ::close(wake_pipe_[1]);
}

void UpstreamServer::reap_finished() {
  std::list<std::unique_ptr<ConnectionState>> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->done.load()) {
        finished.push_back(std::move(*it));
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : finished) {
    c->thread.join();
  }
}

void UpstreamServer::accept_loop() {
  while (!stopping_.load()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int rc = ::poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if (fds[1].revents != 0 || stopping_.load()) {
      return;
    }
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    reap_finished();
    auto connection = std::make_unique<ConnectionState>();
    connection->server = this;
    connection->id = ++accepted_;
    connection->stream = SocketStream(fd);
    ConnectionState* raw = connection.get();
    ++open_;
    std::lock_guard lock(mu_);
    connections_.push_back(std::move(connection));
    raw->thread = std::thread([this, raw] {
      serve(*raw);
      {
        std::lock_guard inner(mu_);
        raw->stream.close();
      }
      --open_;
      raw->done.store(true);
    });
  }
}

size_t UpstreamServer::record(RecordedRequest request) {
  std::lock_guard lock(mu_);
  request.index = requests_.size();
  requests_.push_back(std::move(request));
  changed_.notify_all();
  return requests_.size() - 1;
}

void UpstreamServer::update(size_t index, const std::function<void(RecordedRequest&)>& change) {
  std::lock_guard lock(mu_);
  change(requests_[index]);
  changed_.notify_all();
}

void UpstreamServer::serve(ConnectionState& connection) {
  SocketStream& stream = connection.stream;
  size_t on_connection = 0;
  while (!stopping_.load()) {
    std::string raw;
    IoStatus st = stream.read_until("\r\n\r\n", kMaxHeadBytes, Deadline::max(), raw);
    if (st != IoStatus::Ok) {
      if (stream.buffered() > 0 && !stopping_.load()) {
        RecordedRequest broken;
        broken.connection_id = connection.id;
        broken.raw_head = std::string(stream.peek());
        broken.error = std::string("incomplete request head: ") + to_string(st);
        broken.received_at = Clock::now();
        record(std::move(broken));
      }
      return;
    }
    RecordedRequest request;
    request.connection_id = connection.id;
    request.index_on_connection = on_connection++;
    request.raw_head = raw;
    request.received_at = Clock::now();
    std::string error;
    auto head = parse_request_head(raw, error);
    if (!head) {
      request.error = "malformed request head: " + error;
      record(std::move(request));
      stream.write_all("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                       deadline_in(std::chrono::seconds(5)));
      return;
    }
    request.method = head->method;
    request.target = head->target;
    request.version = head->version;
    request.headers = head->headers;
    BodyFraming framing = request_framing(head->headers);
    request.chunked = framing.kind == BodyFraming::Kind::Chunked;
    if (framing.kind == BodyFraming::Kind::Invalid) {
      request.error = "invalid request framing: " + framing.error;
      record(std::move(request));
      stream.write_all("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                       deadline_in(std::chrono::seconds(5)));
      return;
    }
    size_t index = record(request);

    if (options_.auto_continue && framing.kind != BodyFraming::Kind::None &&
        head->headers.has_token("Expect", "100-continue")) {
      stream.write_all("HTTP/1.1 100 Continue\r\n\r\n", deadline_in(std::chrono::seconds(10)));
    }
    BodySink body(options_.store_limit);
    BodySink raw_body(options_.store_limit);
    Headers trailers;
    st = read_body(stream, framing, Deadline::max(), body, trailers, &raw_body, error);
    update(index, [&](RecordedRequest& r) {
      r.body = body.stored;
      r.body_bytes = body.bytes();
      r.body_digest = body.digest.value();
      r.raw_body = raw_body.stored;
      r.trailers = trailers;
      r.complete = st == IoStatus::Ok;
      if (st != IoStatus::Ok) {
        r.error = std::string("reading request body: ") + to_string(st) +
                  (error.empty() ? "" : ": " + error);
      }
    });
    if (st != IoStatus::Ok) {
      return;
    }
    request.body = std::move(body.stored);
    request.body_bytes = body.bytes();
    request.body_digest = body.digest.value();
    request.raw_body = std::move(raw_body.stored);
    request.trailers = std::move(trailers);
    request.complete = true;
    request.index = index;

    Handler handler;
    {
      std::lock_guard lock(mu_);
      handler = handler_;
    }
    ResponseWriter writer(connection, request);
    handler(request, writer);
    if (!writer.responded() && !stopping_.load()) {
      default_handler(request, writer, options_.name);
    }
    bool wants_close =
        request.headers.has_token("Connection", "close") ||
        (request.version == "HTTP/1.0" && !request.headers.has_token("Connection", "keep-alive"));
    if (writer.closes_connection() || wants_close) {
      return;
    }
  }
}

std::vector<RecordedRequest> UpstreamServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::optional<RecordedRequest> UpstreamServer::last_request() const {
  std::lock_guard lock(mu_);
  if (requests_.empty()) {
    return std::nullopt;
  }
  return requests_.back();
}

size_t UpstreamServer::request_count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

bool UpstreamServer::wait_for_requests(size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, scaled(timeout), [&] { return requests_.size() >= count; });
}

bool UpstreamServer::wait_for_complete(size_t index, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, scaled(timeout), [&] {
    return requests_.size() > index &&
           (requests_[index].complete || !requests_[index].error.empty());
  });
}

UpstreamOptions named_upstream(const std::string& name) {
  UpstreamOptions options;
  options.name = name;
  return options;
}

std::string served_by(uint16_t port, std::string_view target) {
  HttpResponse resp = http_get(port, target);
  return resp.ok() && resp.status == 200 ? resp.header("X-Upstream-Name")
                                         : "status " + std::to_string(resp.status);
}

}  // namespace apisix::test
