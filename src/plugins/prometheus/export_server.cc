#include "plugins/prometheus/export_server.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/socket.h"
#include "core/task.h"
#include "http/error_page.h"
#include "http/parser.h"

namespace apisix::plugins::prometheus {

namespace json = boost::json;
using core::Task;

namespace {

constexpr auto kIoTimeout = std::chrono::seconds(60);
constexpr std::string_view kNoData =
    R"({"message":"Failed to retrieve metrics: no data available"})"
    "\n";

std::optional<double> as_number(const json::value& v) {
  if (v.is_int64()) {
    return static_cast<double>(v.get_int64());
  }
  if (v.is_uint64()) {
    return static_cast<double>(v.get_uint64());
  }
  if (v.is_double()) {
    return v.get_double();
  }
  return std::nullopt;
}

}  // namespace

Result<ExportServerOptions> ExportServerOptions::from_attr(const json::value* attr) {
  ExportServerOptions o;
  if (attr == nullptr || !attr->is_object()) {
    return o;
  }
  const json::object& a = attr->get_object();
  if (const json::value* v = a.if_contains("enable_export_server"); v && !v->is_null()) {
    if (!v->is_bool()) {
      return Error::config("plugin_attr.prometheus.enable_export_server: should be a boolean");
    }
    o.enabled = v->get_bool();
  }
  if (const json::value* v = a.if_contains("export_uri"); v && !v->is_null()) {
    if (!v->is_string() || !v->get_string().starts_with("/")) {
      return Error::config("plugin_attr.prometheus.export_uri: should be a path starting with /");
    }
    o.path = std::string(v->get_string());
  }
  if (const json::value* addr = a.if_contains("export_addr"); addr && !addr->is_null()) {
    if (!addr->is_object()) {
      return Error::config("plugin_attr.prometheus.export_addr: should be an object");
    }
    const json::object& ad = addr->get_object();
    if (const json::value* ip = ad.if_contains("ip"); ip && !ip->is_null()) {
      if (!ip->is_string()) {
        return Error::config("plugin_attr.prometheus.export_addr.ip: should be a string");
      }
      o.ip = std::string(ip->get_string());
    }
    if (const json::value* port = ad.if_contains("port"); port && !port->is_null()) {
      std::optional<double> p = as_number(*port);
      if (!p || *p < 0 || *p > 65535 || *p != static_cast<double>(static_cast<int>(*p))) {
        return Error::config("plugin_attr.prometheus.export_addr.port: should be a port number");
      }
      o.port = static_cast<uint16_t>(*p);
    }
  }
  if (const json::value* v = a.if_contains("refresh_interval"); v && !v->is_null()) {
    std::optional<double> seconds = as_number(*v);
    if (!seconds || *seconds <= 0) {
      return Error::config("plugin_attr.prometheus.refresh_interval: should be a positive number");
    }
    o.refresh_interval = std::chrono::milliseconds(static_cast<int64_t>(*seconds * 1000));
    o.refresh_interval = std::max(o.refresh_interval, std::chrono::milliseconds(1));
  }
  return o;
}

// What the server's coroutines share; they hold it, so it outlives the ExportServer while
// they finish.
struct ExportServer::State {
  Exporter* exporter = nullptr;
  core::Loop* loop = nullptr;
  ExportServerOptions options;
  int listen_fd = -1;
  core::IoState* listen_io = nullptr;
  int timer_fd = -1;  // an eventfd that never fires: the refresh wait's deadline does the work
  core::IoState* timer_io = nullptr;
  uint16_t port = 0;
  bool stopping = false;
  std::vector<core::IoState*> connections;

  std::optional<std::string> text;  // the last exposition
  core::TimePoint rendered_at{};

  void render() {
    text = exporter->render();
    rendered_at = core::Clock::now();
  }

  // The answer to `method path`. The path is compared without the query, as nginx's location
  // compares $uri.
  ExportServer::Response respond(std::string_view method, std::string_view path) const {
    if (method != "GET" || path != options.path) {
      return {404, "", ""};
    }
    if (!text || core::Clock::now() - rendered_at > 2 * options.refresh_interval) {
      return {500, std::string(kNoData), "text/plain"};
    }
    return {200, *text, "text/plain"};
  }
};

ExportServer::ExportServer(Exporter& exporter) : state_(std::make_shared<State>()) {
  state_->exporter = &exporter;
}

ExportServer::~ExportServer() { stop(); }

Result<void> ExportServer::start(core::Loop& loop, const std::string& ip, uint16_t port,
                                 std::string path) {
  ExportServerOptions options;
  options.ip = ip;
  options.port = port;
  options.path = std::move(path);
  return start(loop, std::move(options));
}

Result<void> ExportServer::start(core::Loop& loop, ExportServerOptions options) {
  State& s = *state_;
  if (s.loop != nullptr) {
    return Error::config("prometheus export server: already started");
  }
  core::Endpoint ep;
  if (!core::Endpoint::parse(options.ip, options.port, ep)) {
    return Error::config("invalid plugin_attr.prometheus.export_addr.ip \"" + options.ip +
                         "\": not an IP address");
  }
  auto fd = core::listen_tcp(ep, false, 512);
  if (!fd) {
    Error e = fd.error();
    e.context = "prometheus export server on " + ep.to_string() + ": " + e.context;
    return e;
  }
  int timer = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (timer < 0) {
    ::close(*fd);
    return Error{ErrorKind::Io, ErrorSource::Internal, false,
                 std::string("prometheus export server: eventfd: ") + std::strerror(errno)};
  }
  s.loop = &loop;
  s.options = std::move(options);
  s.listen_fd = *fd;
  s.port = core::bound_port(s.listen_fd);
  s.timer_fd = timer;
  s.listen_io = loop.add(s.listen_fd);
  s.timer_io = loop.add(s.timer_fd);
  // APISIX renders once at start, then every refresh_interval.
  s.render();
  core::spawn(accept_loop(state_));
  core::spawn(refresh_loop(state_));
  core::log_info("prometheus export server listening on ", ep.ip(), ":", s.port, s.options.path);
  return {};
}

uint16_t ExportServer::bound_port() const { return state_->port; }

void ExportServer::refresh() { state_->render(); }

void ExportServer::stop() {
  State& s = *state_;
  if (s.loop == nullptr || s.stopping) {
    return;
  }
  s.stopping = true;
  // Each cancel resumes a waiting coroutine here, which sees `stopping` and ends.
  std::vector<core::IoState*> open = s.connections;
  for (core::IoState* io : open) {
    if (std::find(s.connections.begin(), s.connections.end(), io) != s.connections.end()) {
      s.loop->cancel(io);
    }
  }
  if (s.timer_io != nullptr) {
    s.loop->cancel(s.timer_io);
  }
  if (s.listen_io != nullptr) {
    s.loop->cancel(s.listen_io);
  }
}

ExportServer::Response ExportServer::handle(std::string_view method, std::string_view path) const {
  return state_->respond(method, path);
}

Task<void> ExportServer::accept_loop(std::shared_ptr<State> state) {
  State& s = *state;
  core::IoState* io = s.listen_io;
  while (!s.stopping) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int fd = ::accept4(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        io->readable = false;
        if (co_await s.loop->readable(io, core::kNoDeadline) != core::Wait::Ready) {
          break;
        }
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      // Out of descriptors or memory: wait a little rather than spin.
      core::log_error("prometheus export server: accept() failed: ", std::strerror(errno));
      if (co_await s.loop->readable(io, s.loop->now() + std::chrono::milliseconds(100)) ==
          core::Wait::Cancelled) {
        break;
      }
      continue;
    }
    core::Socket socket(*s.loop, fd);
    if (socket.is_open()) {
      core::spawn(serve(state, std::move(socket)));
    }
  }
  s.listen_io = nullptr;
  s.loop->remove(io);
  ::close(s.listen_fd);
  s.listen_fd = -1;
}

Task<void> ExportServer::refresh_loop(std::shared_ptr<State> state) {
  State& s = *state;
  core::IoState* io = s.timer_io;
  while (!s.stopping) {
    core::Wait w = co_await s.loop->readable(io, s.loop->now() + s.options.refresh_interval);
    if (w == core::Wait::Cancelled || s.stopping) {
      break;
    }
    if (w == core::Wait::Ready) {
      io->readable = false;  // nobody writes the eventfd; ignore a spurious wake
      continue;
    }
    s.render();
  }
  s.timer_io = nullptr;
  s.loop->remove(io);
  ::close(s.timer_fd);
  s.timer_fd = -1;
}

Task<void> ExportServer::serve(std::shared_ptr<State> state, core::Socket socket) {
  State& s = *state;
  core::IoState* io = socket.io();
  s.connections.push_back(io);
  std::string in;
  http::ParseLimits limits;
  const std::string& server = s.options.server_header;
  while (!s.stopping) {
    http::RequestHead head;
    bool complete = false;
    for (;;) {
      auto parsed = http::parse_request_head(in, head, limits);
      if (parsed.status == http::ParseStatus::Complete) {
        complete = true;
        break;
      }
      if (parsed.status != http::ParseStatus::Incomplete) {
        std::string page = http::error_response(
            parsed.error_status != 0 ? parsed.error_status : 400, server, true);
        co_await socket.write_all(page, s.loop->now() + kIoTimeout);
        break;
      }
      char buf[4096];
      auto r = co_await socket.read_some(buf, sizeof(buf), s.loop->now() + kIoTimeout);
      if (!r.ok() || s.stopping) {
        break;
      }
      in.append(buf, r.bytes);
    }
    if (!complete || s.stopping) {
      break;
    }
    // The endpoint takes no body: a request with one ends the connection after the answer.
    bool close = !head.keep_alive || head.chunked || head.content_length > 0;
    ExportServer::Response response = s.respond(head.method_text, head.path);
    std::string out;
    if (response.content_type.empty()) {
      out = http::error_response(response.status, server, close, !close && head.version_minor == 0);
    } else {
      const std::string& body = response.body;
      out.reserve(body.size() + 256);
      out += "HTTP/1.1 ";
      out += std::to_string(response.status);
      out += ' ';
      out += http::reason_phrase(response.status);
      out += "\r\nServer: ";
      out += server;
      out += "\r\nContent-Type: ";
      out += response.content_type;
      out += "\r\nContent-Length: ";
      out += std::to_string(body.size());
      out += close ? "\r\nConnection: close\r\n\r\n" : "\r\nConnection: keep-alive\r\n\r\n";
      out += body;
    }
    in.erase(0, head.head_bytes);
    auto w = co_await socket.write_all(out, s.loop->now() + kIoTimeout);
    if (!w.ok() || close) {
      break;
    }
  }
  std::erase(s.connections, io);
}

}  // namespace apisix::plugins::prometheus
