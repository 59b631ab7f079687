#include "admin/control_server.h"

#include <chrono>

#include <boost/json/serialize.hpp>

#include "http/error_page.h"
#include "http/parser.h"

namespace apisix::admin {
namespace json = boost::json;
using core::Task;

namespace {

constexpr auto kIoTimeout = std::chrono::seconds(60);

ControlServer::Response json_response(int status, const json::value& body) {
  std::string text = json::serialize(body);
  text += '\n';
  return {status, std::move(text), "application/json"};
}

ControlServer::Response error(int status, std::string message) {
  return json_response(status, json::object{{"error_msg", std::move(message)}});
}

ControlServer::Response not_found_page() { return {404, "", ""}; }

}  // namespace

ControlServer::ControlServer(core::Loop& loop, ControlOptions options, HealthSources health)
    : loop_(loop),
      options_(std::move(options)),
      health_(std::move(health)),
      listener_(loop, "control") {}

Result<void> ControlServer::listen() { return listener_.listen(options_.ip, options_.port); }

void ControlServer::start() {
  listener_.start(
      [this](core::Socket socket, std::string) { core::spawn(serve(std::move(socket))); });
}

void ControlServer::stop() { listener_.stop(); }

ControlServer::Response ControlServer::handle(std::string_view method, std::string_view path,
                                              std::string_view accept) const {
  // APISIX control/v1.lua: GET /v1/healthcheck and GET /v1/healthcheck/*.
  constexpr std::string_view kList = "/v1/healthcheck";
  if (method != "GET" || !path.starts_with(kList)) {
    return not_found_page();
  }
  std::string_view rest = path.substr(kList.size());
  if (rest.empty()) {
    std::vector<upstream::HealthReportItem> items = health_.list();
    if (accept.find("text/html") != std::string_view::npos) {
      return {200, upstream::health_report_html(items), "text/html"};
    }
    return json_response(200, upstream::health_report_list(items));
  }
  if (rest.front() != '/') {
    return not_found_page();
  }
  // core.utils.split_uri: segments 4 and 5 of "/v1/healthcheck/<type>/<id>".
  rest.remove_prefix(1);
  size_t slash = rest.find('/');
  std::string_view type = rest.substr(0, slash);
  std::string_view id =
      slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  id = id.substr(0, id.find('/'));
  if (slash == std::string_view::npos) {
    return error(404, "missing src id for src type " + std::string(type));
  }
  if (type != "routes" && type != "services" && type != "upstreams" && type != "stream_routes") {
    return error(400, "invalid src type " + std::string(type));
  }
  std::optional<upstream::HealthReportItem> item;
  if (type != "stream_routes") {
    item = health_.find(type, id);
  }
  std::string name = std::string(type) + "[" + std::string(id) + "]";
  if (!item) {
    return error(404, name + " not found");
  }
  if (item->name.empty()) {
    return error(404, "no checker for " + name);
  }
  std::vector<upstream::HealthReportItem> one{*item};
  if (accept.find("text/html") != std::string_view::npos) {
    return {200, upstream::health_report_html(one), "text/html"};
  }
  return json_response(200, upstream::health_report_item(*item));
}

Task<void> ControlServer::serve(core::Socket socket) {
  std::string in;
  http::ParseLimits limits;
  for (;;) {
    http::RequestHead head;
    for (;;) {
      auto parsed = http::parse_request_head(in, head, limits);
      if (parsed.status == http::ParseStatus::Complete) {
        break;
      }
      if (parsed.status != http::ParseStatus::Incomplete) {
        std::string page = http::error_response(400, options_.server_header, true);
        co_await socket.write_all(page, loop_.now() + kIoTimeout);
        co_return;
      }
      char buf[8192];
      auto r = co_await socket.read_some(buf, sizeof(buf), loop_.now() + kIoTimeout);
      if (!r.ok()) {
        co_return;
      }
      in.append(buf, r.bytes);
    }
    // The Control API's endpoints take no body: one with a body ends the connection after
    // the answer.
    bool close = !head.keep_alive || head.chunked || head.content_length > 0;
    const http::Header* accept = http::find_header(head.headers, head.header_count, "accept");
    Response response =
        handle(head.method_text, head.path, accept != nullptr ? accept->value : std::string_view{});
    std::string out;
    if (response.content_type.empty()) {
      out = http::error_response(response.status, options_.server_header, close);
    } else {
      out = "HTTP/1.1 " + std::to_string(response.status) + " " +
            std::string(http::reason_phrase(response.status)) + "\r\n";
      out += "Server: " + options_.server_header + "\r\n";
      out += "Content-Type: " + response.content_type + "\r\n";
      out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
      out += close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
      if (head.method_text != "HEAD") {
        out += response.body;
      }
    }
    in.erase(0, head.head_bytes);
    auto w = co_await socket.write_all(out, loop_.now() + kIoTimeout);
    if (!w.ok() || close || listener_.stopping()) {
      co_return;
    }
  }
}

}  // namespace apisix::admin
