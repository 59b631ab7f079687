#pragma once
// ControlServer: the Control API (core.md §8.1) on the control thread's loop, on
// `apisix.control` (default 127.0.0.1:9090, no authentication). Today it serves the health
// check report: `GET /v1/healthcheck` and `GET /v1/healthcheck/{routes|services|upstreams|
// stream_routes}/{id}`, as JSON or, for an Accept with text/html, as APISIX's HTML table.
// Everything else answers 404. The gateway supplies the report items through HealthSources;
// they are called on the control thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

class ControlServer {
 public:
  ControlServer(core::Loop& loop, ControlOptions options, HealthSources health);

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

  core::Loop& loop_;
  ControlOptions options_;
  HealthSources health_;
  TcpListener listener_;
};

}  // namespace apisix::admin
