#pragma once
// ControlServer: the Control API (core.md §8.1) on the control thread's loop, on
// `apisix.control` (default 127.0.0.1:9090, no authentication):
//   GET /v1/healthcheck, GET /v1/healthcheck/{routes|services|upstreams|stream_routes}/{id}
//     (JSON, or APISIX's HTML table for an Accept with text/html);
//   GET /v1/schema; GET /v1/routes, /v1/route/{id}, /v1/services, /v1/service/{id},
//     /v1/upstreams, /v1/upstream/{id}; GET /v1/plugin_metadatas, /v1/plugin_metadata/{name};
//   PUT /v1/plugins/reload; POST /v1/gc.
// Everything else answers 404. The gateway supplies the data through HealthSources and
// ResourceSources; they are called on the control thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "admin/tcp_listener.h"
#include "core/loop.h"
#include "core/result.h"
#include "upstream/health_report.h"

namespace apisix::admin {

struct ControlOptions {
  std::string ip = "127.0.0.1";
  uint16_t port = 9090;  // 0: a free port (tests); see bound_port()
  std::string server_header = "APISIX";
};

// Where the report comes from.
struct HealthSources {
  // Every route, service and upstream with `checks`, in APISIX's order (routes, stream
  // routes, services, upstreams).
  std::function<std::vector<upstream::HealthReportItem>()> list;
  // The resource `kind`/`id`: nullopt when it does not exist; an item with an empty name when
  // it exists without `checks`.
  std::function<std::optional<upstream::HealthReportItem>(std::string_view kind,
                                                          std::string_view id)>
      find;
};

// One configuration record as the data plane holds it.
struct ResourceRecord {
  std::string key;  // "/apisix/routes/1" (etcd-like providers) or "/routes/1" (yaml)
  boost::json::value value;
  int64_t created_index = 0;
  int64_t modified_index = 0;
};

struct ResourceSources {
  // The records of `type` ("routes", "services", "upstreams", "plugin_metadata"), in key
  // order; `id` set: that record only (empty when it does not exist).
  std::function<std::vector<ResourceRecord>(std::string_view type,
                                            std::optional<std::string_view> id)>
      records;
  // The body of GET /v1/schema.
  std::function<boost::json::value()> schema;
  // PUT /v1/plugins/reload.
  std::function<void()> reload_plugins;
};

class ControlServer {
 public:
  ControlServer(core::Loop& loop, ControlOptions options, HealthSources health,
                ResourceSources resources = {});

  [[nodiscard]] Result<void> listen();
  uint16_t bound_port() const { return listener_.bound_port(); }
  void start();
  void stop();

  // Request handling without the socket (unit tests): status, body, Content-Type ("" for the
  // default error page, whose whole response is built by the listener).
  struct Response {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
  };
  Response handle(std::string_view method, std::string_view path, std::string_view accept) const;

 private:
  core::Task<void> serve(core::Socket socket);
  Response healthcheck(std::string_view method, std::string_view path,
                       std::string_view accept) const;
  Response resources(std::string_view type, std::string_view singular,
                     std::optional<std::string_view> id) const;

  core::Loop& loop_;
  ControlOptions options_;
  HealthSources health_;
  ResourceSources resources_;
  TcpListener listener_;
};

}  // namespace apisix::admin
