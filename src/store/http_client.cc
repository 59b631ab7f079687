#include "store/http_client.h"

#include <charconv>
#include <cstring>

#include <netdb.h>
#include <sys/socket.h>

#include "http/parser.h"

namespace apisix::store {
namespace {

constexpr size_t kReadChunk = 16384;

Error io_error(core::IoError error, std::string_view what) {
  ErrorKind kind = ErrorKind::Io;
  if (error == core::IoError::Timeout) {
    kind = ErrorKind::Timeout;
  } else if (error == core::IoError::Reset || error == core::IoError::Eof) {
    kind = ErrorKind::Refused;
  }
  return Error{kind, ErrorSource::Upstream, true,
               std::string(what) + ": " + core::to_string(error)};
}

}  // namespace

Result<HttpUrl> parse_http_url(std::string_view url) {
  HttpUrl out;
  if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else if (url.starts_with("https://")) {
    url.remove_prefix(8);
    out.tls = true;
    out.port = 443;
  } else {
    return Error::config("URL must start with http:// or https://: " + std::string(url));
  }
  url = url.substr(0, url.find('/'));
  std::string_view host = url;
  std::string_view port;
  if (url.starts_with('[')) {
    size_t close = url.find(']');
    if (close == std::string_view::npos) {
      return Error::config("bad IPv6 address in URL");
    }
    host = url.substr(1, close - 1);
    if (close + 1 < url.size()) {
      if (url[close + 1] != ':') {
        return Error::config("bad URL authority: " + std::string(url));
      }
      port = url.substr(close + 2);
    }
  } else if (size_t colon = url.rfind(':'); colon != std::string_view::npos) {
    host = url.substr(0, colon);
    port = url.substr(colon + 1);
  }
  if (host.empty()) {
    return Error::config("URL has no host");
  }
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return Error::config("bad port in URL: " + std::string(port));
    }
    out.port = static_cast<uint16_t>(value);
  }
  out.host = std::string(host);
  bool v6 = out.host.find(':') != std::string::npos;
  out.authority = (v6 ? "[" + out.host + "]" : out.host) + ":" + std::to_string(out.port);
  return out;
}

Result<core::Endpoint> resolve_endpoint(const std::string& host, uint16_t port) {
  core::Endpoint ep;
  if (core::Endpoint::parse(host, port, ep)) {
    return ep;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    return Error{ErrorKind::NotFound, ErrorSource::Upstream, true,
                 "cannot resolve " + host + ": " + ::gai_strerror(rc)};
  }
  std::memcpy(&ep.addr, found->ai_addr, found->ai_addrlen);
  ep.len = found->ai_addrlen;
  ::freeaddrinfo(found);
  if (ep.addr.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&ep.addr)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&ep.addr)->sin6_port = htons(port);
  }
  return ep;
}

std::string_view HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (http::iequals(n, name)) {
      return v;
    }
  }
  return {};
}

core::Task<Result<std::unique_ptr<HttpConnection>>> HttpConnection::connect(
    core::Loop& loop, core::Endpoint endpoint, std::string authority, core::TimePoint deadline,
    std::optional<HttpTls> tls) {
  core::ConnectResult connected = co_await core::connect_tcp(loop, endpoint, deadline);
  if (connected.error != core::IoError::None) {
    co_return io_error(connected.error, "connect to " + endpoint.to_string());
  }
  if (!tls) {
    co_return std::unique_ptr<HttpConnection>(
        new HttpConnection(std::move(connected.socket), std::move(authority)));
  }
  auto stream = std::make_unique<tls::TlsStream>(std::move(connected.socket), tls->context);
  core::IoResult shaken = co_await stream->handshake(tls->server_name, deadline);
  if (!shaken.ok()) {
    Error error = io_error(shaken.error, "TLS handshake with " + endpoint.to_string());
    if (!stream->error_message().empty()) {
      error.context = "TLS handshake with " + endpoint.to_string() + ": " +
                      stream->error_message() +
                      (shaken.error == core::IoError::Other
                           ? std::string()
                           : " (" + std::string(core::to_string(shaken.error)) + ")");
    }
    if (stream->failure() == tls::TlsFailure::Verify) {
      error.kind = ErrorKind::Io;
      error.retryable = false;  // a rejected certificate stays rejected
    }
    co_return error;
  }
  co_return std::unique_ptr<HttpConnection>(
      new HttpConnection(std::move(stream), std::move(authority)));
}

bool HttpConnection::is_reusable() {
  if (broken_ || !keep_alive_ || !body_done_ || start_ != buf_.size()) {
    return false;
  }
  char probe;
  // Anything readable on an idle connection (data or EOF) means the server gave up on it. Over
  // TLS, try_read also consumes housekeeping records such as session tickets.
  if (tls_) {
    return tls_->is_open() && tls_->try_read(&probe, 1) == -1;
  }
  return socket_.is_open() && socket_.try_read(&probe, 1) == -1;
}

Error HttpConnection::stream_error(core::IoError error, std::string_view what) const {
  Error out = io_error(error, what);
  // After the handshake TLS may still refuse: with TLS 1.3 a server that requires a client
  // certificate says so with an alert on the first read.
  if (tls_ && tls_->failure() != tls::TlsFailure::None && !tls_->error_message().empty()) {
    out.context = std::string(what) + ": TLS: " + tls_->error_message();
  }
  return out;
}

core::Task<Result<void>> HttpConnection::send(const HttpRequest& request,
                                              core::TimePoint deadline) {
  if (broken_ || !body_done_) {
    co_return Error{ErrorKind::Invalid, ErrorSource::Internal, false,
                    "HTTP connection not ready for a request"};
  }
  received_any_ = false;
  std::string head;
  head.reserve(256);
  head += request.method;
  head += ' ';
  head += request.target;
  head += " HTTP/1.1\r\nHost: ";
  head += authority_;
  head += "\r\n";
  for (const auto& [name, value] : request.headers) {
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    head += "Content-Length: ";
    head += std::to_string(request.body.size());
    head += "\r\n";
  }
  head += "\r\n";
  iovec iov[2] = {{head.data(), head.size()},
                  {const_cast<char*>(request.body.data()), request.body.size()}};
  core::IoResult written = co_await write_all(std::span<iovec>(iov, 2), deadline);
  if (!written.ok()) {
    broken_ = true;
    co_return stream_error(written.error, "send request");
  }
  co_return Result<void>();
}

core::Task<Result<void>> HttpConnection::fill(core::TimePoint deadline) {
  if (start_ > 0 && start_ == buf_.size()) {
    buf_.clear();
    start_ = 0;
  } else if (start_ > kReadChunk && start_ * 2 > buf_.size()) {
    buf_.erase(0, start_);
    start_ = 0;
  }
  size_t old = buf_.size();
  buf_.resize(old + kReadChunk);
  core::IoResult r = co_await read_some(buf_.data() + old, kReadChunk, deadline);
  buf_.resize(old + r.bytes);
  if (!r.ok()) {
    if (r.error != core::IoError::Timeout) {
      broken_ = true;
    }
    co_return stream_error(r.error, "read response");
  }
  received_any_ = true;
  co_return Result<void>();
}

core::Task<Result<HttpResponse>> HttpConnection::start(HttpRequest request,
                                                       core::TimePoint deadline) {
  if (auto sent = co_await send(request, deadline); !sent) {
    co_return sent.error();
  }
  http::ParseLimits limits;
  limits.max_head_bytes = 65536;
  for (;;) {
    http::ResponseHead head;
    http::ParseResult parsed = http::parse_response_head(buffered(), head, limits);
    if (parsed.status == http::ParseStatus::Error) {
      broken_ = true;
      co_return Error{ErrorKind::Invalid, ErrorSource::Upstream, false,
                      "invalid HTTP response: " + std::string(parsed.error_reason)};
    }
    if (parsed.status == http::ParseStatus::Incomplete) {
      if (auto more = co_await fill(deadline); !more) {
        broken_ = true;  // a timeout in the middle of a head is not resumable
        co_return more.error();
      }
      continue;
    }
    if (head.status >= 100 && head.status < 200) {
      start_ += parsed.consumed;  // an interim response: the real one follows
      continue;
    }
    HttpResponse response;
    response.status = head.status;
    for (size_t i = 0; i < head.header_count; ++i) {
      response.headers.emplace_back(std::string(head.headers[i].name),
                                    std::string(head.headers[i].value));
    }
    keep_alive_ = head.keep_alive;
    start_ += parsed.consumed;
    body_done_ = false;
    switch (http::response_body_kind(head, http::method_from_text(request.method))) {
      case http::BodyKind::None:
        mode_ = BodyMode::None;
        body_done_ = true;
        break;
      case http::BodyKind::ContentLength:
        mode_ = BodyMode::Length;
        remaining_ = head.content_length;
        break;
      case http::BodyKind::Chunked:
        mode_ = BodyMode::Chunked;
        chunked_ = http::ChunkedDecoder();
        break;
      case http::BodyKind::UntilClose:
        mode_ = BodyMode::UntilClose;
        keep_alive_ = false;
        break;
    }
    co_return response;
  }
}

core::Task<Result<bool>> HttpConnection::read_body(std::string& out, core::TimePoint deadline) {
  for (;;) {
    if (body_done_) {
      co_return false;
    }
    std::string_view in = buffered();
    switch (mode_) {
      case BodyMode::None:
        body_done_ = true;
        co_return false;
      case BodyMode::Length:
        if (!in.empty()) {
          size_t n = static_cast<size_t>(std::min<uint64_t>(in.size(), remaining_));
          out.append(in.substr(0, n));
          start_ += n;
          remaining_ -= n;
          body_done_ = remaining_ == 0;
          co_return !body_done_;
        }
        break;
      case BodyMode::Chunked: {
        bool got = false;
        while (!in.empty()) {
          http::ChunkedDecoder::Step step = chunked_.next(in);
          if (step.kind == http::ChunkedDecoder::Step::Error) {
            broken_ = true;
            co_return Error{ErrorKind::Invalid, ErrorSource::Upstream, false,
                            "invalid chunked body: " + std::string(step.error_reason)};
          }
          start_ += step.consumed;
          in = buffered();
          if (step.kind == http::ChunkedDecoder::Step::Data) {
            out.append(step.data);
            got = true;
            continue;
          }
          if (step.kind == http::ChunkedDecoder::Step::Done) {
            body_done_ = true;
            co_return false;
          }
          break;  // NeedMore
        }
        if (got) {
          co_return true;
        }
        break;
      }
      case BodyMode::UntilClose:
        if (!in.empty()) {
          out.append(in);
          start_ = buf_.size();
          co_return true;
        }
        break;
    }
    if (auto more = co_await fill(deadline); !more) {
      if (mode_ == BodyMode::UntilClose && more.error().kind == ErrorKind::Refused) {
        body_done_ = true;  // EOF ends a close-delimited body
        broken_ = true;
        co_return false;
      }
      co_return more.error();
    }
  }
}

core::Task<Result<HttpResponse>> HttpConnection::exchange(HttpRequest request,
                                                          core::TimePoint deadline,
                                                          size_t max_body_bytes) {
  auto started = co_await start(std::move(request), deadline);
  if (!started) {
    co_return started.error();
  }
  HttpResponse response = std::move(started.value());
  for (;;) {
    auto more = co_await read_body(response.body, deadline);
    if (!more) {
      broken_ = true;
      co_return more.error();
    }
    if (response.body.size() > max_body_bytes) {
      broken_ = true;
      co_return Error{ErrorKind::Limit, ErrorSource::Upstream, false,
                      "response body larger than " + std::to_string(max_body_bytes) + " bytes"};
    }
    if (!*more) {
      co_return response;
    }
  }
}

}  // namespace apisix::store
