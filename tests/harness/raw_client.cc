#include "tests/harness/raw_client.h"

#include <cerrno>

namespace apisix::test {

std::string HttpResponse::describe() const {
  std::string out = "status " + std::to_string(status);
  if (!error.empty()) {
    out += " (error: " + error + ")";
  }
  if (!raw_head.empty()) {
    out += "\n--- head ---\n" + raw_head;
  }
  if (!body.empty()) {
    out += "--- body (" + std::to_string(body_bytes) + " bytes) ---\n" + body.substr(0, 512);
  }
  return out;
}

HttpResponse read_response_from(SocketStream& stream, const ReadOptions& options) {
  HttpResponse resp;
  Deadline deadline = deadline_in(options.timeout);
  uint64_t received_before = stream.bytes_received() - stream.buffered();
  while (true) {
    std::string raw;
    IoStatus st = stream.read_until("\r\n\r\n", kMaxHeadBytes, deadline, raw);
    if (st != IoStatus::Ok) {
      resp.io = st;
      resp.error = std::string("reading response head: ") + to_string(st);
      bool nothing =
          stream.bytes_received() - stream.buffered() == received_before && stream.buffered() == 0;
      resp.closed_before_response =
          (st == IoStatus::Eof || st == IoStatus::Reset) && nothing && resp.interim.empty();
      if (stream.buffered() > 0) {
        resp.error += " after partial bytes '" + std::string(stream.peek().substr(0, 200)) + "'";
      }
      return resp;
    }
    std::string error;
    auto head = parse_response_head(raw, error);
    resp.raw_head = raw;
    if (!head) {
      resp.io = IoStatus::Malformed;
      resp.error = "malformed response head: " + error;
      return resp;
    }
    resp.status = head->status;
    resp.version = head->version;
    resp.reason = head->reason;
    resp.headers = head->headers;
    if (head->status >= 100 && head->status < 200 && head->status != 101) {
      if (options.return_interim) {
        return resp;
      }
      resp.interim.push_back(InterimResponse{head->status, head->headers});
      continue;
    }
    BodyFraming framing = response_framing(*head, options.request_method);
    resp.framing = framing.kind;
    BodySink sink(options.store_limit);
    st = read_body(stream, framing, deadline, sink, resp.trailers, nullptr, error);
    resp.body = std::move(sink.stored);
    resp.body_bytes = sink.bytes();
    resp.body_digest = sink.digest.value();
    if (st != IoStatus::Ok) {
      resp.io = st;
      resp.error = std::string("reading response body: ") + to_string(st);
      if (!error.empty()) {
        resp.error += ": " + error;
      }
    }
    return resp;
  }
}

RawClient::RawClient(uint16_t port) {
  int fd = connect_loopback(port);
  if (fd < 0) {
    connect_errno_ = errno;
    return;
  }
  stream_ = SocketStream(fd);
}

IoStatus RawClient::send_status(std::string_view bytes, std::chrono::milliseconds timeout) {
  return stream_.write_all(bytes, deadline_in(timeout));
}

bool RawClient::send(std::string_view bytes, std::chrono::milliseconds timeout) {
  return send_status(bytes, timeout) == IoStatus::Ok;
}

HttpResponse RawClient::read_response(const ReadOptions& options) {
  if (!stream_.is_open()) {
    HttpResponse resp;
    resp.io = IoStatus::Error;
    resp.error = "not connected (errno " + std::to_string(connect_errno_) + ")";
    return resp;
  }
  return read_response_from(stream_, options);
}

std::vector<HttpResponse> RawClient::read_responses(size_t count, const ReadOptions& options) {
  std::vector<HttpResponse> out;
  for (size_t i = 0; i < count; ++i) {
    out.push_back(read_response(options));
    if (!out.back().ok()) {
      break;
    }
  }
  return out;
}

HttpResponse RawClient::round_trip(std::string_view request, const ReadOptions& options) {
  IoStatus st = send_status(request, options.timeout);
  if (st != IoStatus::Ok) {
    // The server may have answered and closed early (e.g. 413); read what it sent.
    HttpResponse resp = read_response(options);
    if (resp.ok()) {
      return resp;
    }
    resp.error = std::string("sending request: ") + to_string(st) + "; then " + resp.error;
    return resp;
  }
  return read_response(options);
}

HttpResponse RawClient::get(std::string_view target, const Headers& headers) {
  return round_trip(make_request("GET", target, headers));
}

bool RawClient::wait_closed(std::chrono::milliseconds timeout) {
  std::string extra;
  IoStatus st = stream_.wait_eof(deadline_in(timeout), &extra);
  if (st == IoStatus::Malformed) {
    unexpected_ += extra;
  }
  return st == IoStatus::Ok;
}

bool RawClient::is_closed_by_peer() {
  std::string extra;
  IoStatus st = stream_.wait_eof(Clock::now(), &extra);
  if (st == IoStatus::Malformed) {
    unexpected_ += extra;
  }
  return st == IoStatus::Ok;
}

HttpResponse fetch(uint16_t port, std::string_view request, const ReadOptions& options) {
  RawClient client(port);
  return client.round_trip(request, options);
}

HttpResponse http_get(uint16_t port, std::string_view target, const Headers& headers) {
  return fetch(port, make_request("GET", target, headers));
}

}  // namespace apisix::test
