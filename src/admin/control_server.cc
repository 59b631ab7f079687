#include "admin/control_server.h"

#include <cctype>
#include <chrono>
#include <cstdlib>

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

ControlServer::ControlServer(core::Loop& loop, ControlOptions options, HealthSources health,
                             ResourceSources resources)
    : loop_(loop),
      options_(std::move(options)),
      health_(std::move(health)),
      resources_(std::move(resources)),
      listener_(loop, "control") {}

Result<void> ControlServer::listen() { return listener_.listen(options_.ip, options_.port); }

void ControlServer::start() {
  listener_.start(
      [this](core::Socket socket, std::string) { core::spawn(serve(std::move(socket))); });
}

void ControlServer::stop() { listener_.stop(); }

namespace {

// A route's, service's or upstream's value as the data plane shows it: map-form nodes become
// arrays, hosts are lower-cased, and `has_domain` tells whether a node is named by domain.
bool normalise_upstream(json::object& upstream) {
  bool has_domain = false;
  json::value* nodes = upstream.if_contains("nodes");
  if (nodes != nullptr && nodes->is_object()) {
    json::array list;
    for (const auto& [address, weight] : nodes->get_object()) {
      std::string_view a = address;
      std::string host(a);
      int64_t port = 0;
      size_t colon = a.rfind(':');
      if (colon != std::string_view::npos && (a.front() != '[' || a[colon - 1] == ']')) {
        host = std::string(a.substr(0, colon));
        port = std::atoll(std::string(a.substr(colon + 1)).c_str());
      }
      json::object node{{"host", host}, {"weight", weight}};
      if (port > 0) {
        node["port"] = port;
      }
      list.push_back(std::move(node));
    }
    *nodes = std::move(list);
  }
  if (nodes != nullptr && nodes->is_array()) {
    for (const json::value& node : nodes->get_array()) {
      const json::value* host = node.is_object() ? node.get_object().if_contains("host") : nullptr;
      if (host != nullptr && host->is_string()) {
        std::string h(host->get_string());
        bool literal = !h.empty() && (h.front() == '[' ||
                                      h.find_first_not_of("0123456789.") == std::string::npos);
        has_domain = has_domain || !literal;
      }
    }
  }
  return has_domain;
}

json::object record_json(const ResourceRecord& record, std::string_view type) {
  json::value value = record.value;
  bool has_domain = false;
  if (json::object* o = value.if_object()) {
    for (std::string_view field : {"host", "hosts"}) {
      json::value* v = o->if_contains(field);
      auto lower = [](json::value& s) {
        if (s.is_string()) {
          std::string t(s.get_string());
          for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          s = t;
        }
      };
      if (v != nullptr && v->is_array()) {
        for (json::value& h : v->get_array()) lower(h);
      } else if (v != nullptr) {
        lower(*v);
      }
    }
    if (type == "upstreams") {
      has_domain = normalise_upstream(*o);
    } else if (json::value* up = o->if_contains("upstream"); up && up->is_object()) {
      has_domain = normalise_upstream(up->get_object());
    }
  }
  json::object out{{"key", record.key},
                   {"value", std::move(value)},
                   {"createdIndex", record.created_index},
                   {"modifiedIndex", record.modified_index},
                   {"orig_modifiedIndex", record.modified_index}};
  if (type != "plugin_metadata") {
    out["has_domain"] = has_domain;
  }
  return out;
}

}  // namespace

ControlServer::Response ControlServer::resources(std::string_view type, std::string_view singular,
                                                 std::optional<std::string_view> id) const {
  if (!resources_.records) {
    return id ? error(404, std::string(singular) + "[" + std::string(*id) + "] not found")
              : json_response(200, json::array{});
  }
  std::vector<ResourceRecord> records = resources_.records(type, id);
  if (id) {
    if (records.empty()) {
      return error(404, std::string(singular) + "[" + std::string(*id) + "] not found");
    }
    if (type == "plugin_metadata") {
      return json_response(200, records.front().value);
    }
    return json_response(200, record_json(records.front(), type));
  }
  json::array out;
  for (const ResourceRecord& r : records) {
    if (type == "plugin_metadata") {
      out.push_back(r.value);
    } else {
      out.push_back(record_json(r, type));
    }
  }
  return json_response(200, out);
}

ControlServer::Response ControlServer::handle(std::string_view method, std::string_view path,
                                              std::string_view accept) const {
  // APISIX control/v1.lua.
  if (method == "GET" && path == "/v1/schema") {
    return json_response(200,
                         resources_.schema ? resources_.schema() : json::value(json::object{}));
  }
  if (method == "POST" && path == "/v1/gc") {
    return {200, "", "text/plain"};  // no garbage collector to run
  }
  if (method == "PUT" && path == "/v1/plugins/reload") {
    if (resources_.reload_plugins) {
      resources_.reload_plugins();
    }
    return {200, "done", "text/plain"};
  }
  struct Collection {
    std::string_view list;
    std::string_view one;
    std::string_view type;
    std::string_view singular;
  };
  static constexpr Collection kCollections[] = {
      {"/v1/routes", "/v1/route/", "routes", "route"},
      {"/v1/services", "/v1/service/", "services", "service"},
      {"/v1/upstreams", "/v1/upstream/", "upstreams", "upstream"},
      {"/v1/plugin_metadatas", "/v1/plugin_metadata/", "plugin_metadata", "plugin metadata"},
  };
  if (method == "GET") {
    for (const Collection& c : kCollections) {
      if (path == c.list) {
        return resources(c.type, c.singular, std::nullopt);
      }
      if (path.starts_with(c.one) && path.size() > c.one.size()) {
        std::string_view id = path.substr(c.one.size());
        if (id.find('/') != std::string_view::npos) {
          return not_found_page();
        }
        return resources(c.type, c.singular, id);
      }
    }
  }
  return healthcheck(method, path, accept);
}

ControlServer::Response ControlServer::healthcheck(std::string_view method, std::string_view path,
                                                   std::string_view accept) const {
  // GET /v1/healthcheck and GET /v1/healthcheck/*.
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
