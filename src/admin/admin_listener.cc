// The Admin API's socket side and its durable write path: the listener, one coroutine per
// connection (HTTP/1.1 with keep-alive, Content-Length bodies), and handle_async(), which
// makes a validated write durable before it is applied. Kept apart from admin_server.cc,
// whose synchronous request logic is what the fuzz target exercises.
#include <cerrno>
#include <chrono>
#include <cstring>

#include <boost/json/serialize.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include "admin/admin_server.h"
#include "core/log.h"
#include "http/error_page.h"
#include "http/parser.h"

namespace apisix::admin {
namespace json = boost::json;
using core::Task;

namespace {
constexpr size_t kMaxBody = 1572864;  // 1.5 MiB (core.md §3.2)
constexpr auto kIoTimeout = std::chrono::seconds(60);
}  // namespace

Result<void> AdminServer::listen() {
  if (core::Endpoint ep; !core::Endpoint::parse(options_.ip, options_.port, ep)) {
    return Error::config("invalid config: deployment.admin.admin_listen.ip: \"" + options_.ip +
                         "\" is not an IP address");
  }
  return listener_.listen(options_.ip, options_.port);
}

void AdminServer::start() {
  listener_.start([this](core::Socket socket, std::string client_ip) {
    core::spawn(serve(std::move(socket), std::move(client_ip)));
  });
}

void AdminServer::stop() {
  stopping_ = true;
  listener_.stop();
}

Task<void> AdminServer::serve(core::Socket socket, std::string client_ip) {
  std::string in;
  http::ParseLimits limits;
  for (;;) {
    // Read a complete head.
    http::RequestHead head;
    size_t head_bytes = 0;
    for (;;) {
      auto parsed = http::parse_request_head(in, head, limits);
      if (parsed.status == http::ParseStatus::Complete) {
        head_bytes = head.head_bytes;
        break;
      }
      if (parsed.status != http::ParseStatus::Incomplete) {
        std::string page = http::error_response(400, options_.server_header, true);
        co_await socket.write_all(page, loop_.now() + kIoTimeout);
        co_return;
      }
      char buf[16384];
      auto r = co_await socket.read_some(buf, sizeof(buf), loop_.now() + kIoTimeout);
      if (!r.ok()) {
        co_return;
      }
      in.append(buf, r.bytes);
    }
    Response response;
    bool close = !head.keep_alive;
    if (head.chunked) {
      response = json_error(411, "chunked request bodies are not supported; send Content-Length");
      close = true;
    } else if (head.content_length > kMaxBody) {
      response = json_error(400, "invalid request body: request size " +
                                     std::to_string(head.content_length) +
                                     " is greater than the maximum size 1572864 allowed");
      close = true;  // the body is not read
    } else {
      while (in.size() < head_bytes + head.content_length) {
        char buf[16384];
        auto r = co_await socket.read_some(buf, sizeof(buf), loop_.now() + kIoTimeout);
        if (!r.ok()) {
          co_return;
        }
        in.append(buf, r.bytes);
      }
      // Reading the body may have moved `in`'s bytes, and the head's views with them: parse
      // the head again (the parser is stateless), after which `in` does not change until
      // the response is written.
      if (http::parse_request_head(in, head, limits).status != http::ParseStatus::Complete) {
        co_return;  // cannot happen: the same bytes parsed before
      }
      const http::Header* key = http::find_header(head.headers, head.header_count, "x-api-key");
      const http::Header* cookie = http::find_header(head.headers, head.header_count, "cookie");
      Request request{head.method_text,
                      head.path,
                      head.query,
                      std::string_view(in).substr(head_bytes, head.content_length),
                      key ? key->value : std::string_view{},
                      cookie ? cookie->value : std::string_view{},
                      client_ip};
      response = co_await handle_async(request);
    }

    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                      std::string(http::reason_phrase(response.status)) + "\r\n";
    out += "Server: " + options_.server_header + "\r\n";
    bool preflight = head.method_text == "OPTIONS" && options_.cors;
    out += preflight       ? "Content-Type: text/plain\r\n"
           : response.json ? "Content-Type: application/json\r\n"
                           : "Content-Type: text/html\r\n";
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    if (response.api_version) {
      out += "X-API-VERSION: v3\r\n";
    }
    if (options_.cors) {
      out +=
          "Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Credentials: true\r\n"
          "Access-Control-Expose-Headers: *\r\nAccess-Control-Max-Age: 3600\r\n";
      if (preflight) {
        out +=
            "Access-Control-Allow-Methods: POST, GET, PUT, OPTIONS, DELETE, PATCH\r\n"
            "Access-Control-Allow-Headers: *\r\n";
      }
    }
    out += close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
    if (head.method_text != "HEAD") {
      out += response.body;
    }
    in.erase(0, head_bytes + (close ? 0 : head.content_length));
    auto w = co_await socket.write_all(out, loop_.now() + kIoTimeout);
    if (!w.ok() || close || stopping_) {
      co_return;
    }
  }
}

core::Task<AdminServer::Response> AdminServer::handle_async(const Request& request) {
  Outcome outcome = prepare(request);
  if (auto* response = std::get_if<Response>(&outcome)) {
    co_return std::move(*response);
  }
  Pending& pending = std::get<Pending>(outcome);
  if (durable_ == nullptr) {
    co_return commit(pending, 0, 0);
  }
  if (pending.generated_id && durable_->kind() == "etcd") {
    // core.md §2.4: the id is the revision of a write to <prefix>/gen_id, unique across the
    // nodes sharing this etcd.
    Result<store::WriteResult> gen = co_await durable_->put(options_.prefix + "/gen_id", "1", {});
    if (!gen) {
      co_return json_error(503, gen.error().context);
    }
    char buf[24];
    std::snprintf(buf, sizeof(buf), "%020lld", static_cast<long long>(gen->revision));
    pending.id = buf;
    pending.key = key_of(pending.type, pending.id);  // POST: routes, services, upstreams, ssls, ...

    if (json::object* o = pending.value.if_object()) {
      (*o)["id"] = pending.id;
    }
  }
  // Keys that go before the main one (a consumer's credentials), each applied once durable.
  for (const std::string& key : pending.also_remove) {
    Result<store::WriteResult> gone = co_await durable_->remove(key, std::nullopt);
    if (!gone) {
      co_return json_error(503, gone.error().context);
    }
    commit_removed(key, gone->revision);
  }
  // (Two statements, not `?:` around co_await: GCC 12 destroys such temporaries twice.)
  Result<store::WriteResult> written = Error{ErrorKind::Io, ErrorSource::Internal, false, ""};
  if (pending.remove) {
    written = co_await durable_->remove(pending.key, std::nullopt);
  } else {
    written = co_await durable_->put(
        pending.key, json::serialize(pending.value),
        store::PutOptions{pending.expected, std::chrono::seconds(pending.ttl)});
  }
  if (!written) {
    co_return json_error(503, written.error().context);
  }
  if (written->conflict()) {
    co_return json_error(503, "value changed before overwritten");
  }
  int64_t created = written->prev ? written->prev->create_revision : written->revision;
  co_return commit(pending, created, written->revision);
}

}  // namespace apisix::admin
