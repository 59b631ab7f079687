#pragma once
// ExportServer: the prometheus plugin's export server (plugins.md §6.1), a small HTTP/1.1
// listener on the control thread's loop at plugin_attr.prometheus.export_addr (default
// 127.0.0.1:9091). `GET <export_uri>` answers the exposition; any other method or path 404.
//
// As in APISIX, metrics are not rendered per scrape: a timer on the loop renders the exposition
// every refresh_interval (at once when started) and scrapes get that text; a text older than
// twice the interval is dropped, and without one a scrape gets 500
// {"message":"Failed to retrieve metrics: no data available"}.
//
// Owned by the gateway's control thread; every call runs on the loop's thread. stop() (or the
// destructor) ends the listener, the timer and the open connections at once; the server must
// go before its loop.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "core/loop.h"
#include "core/result.h"
#include "core/socket.h"
#include "core/task.h"
#include "plugins/prometheus/exporter.h"

namespace apisix::plugins::prometheus {

// The export server's part of plugin_attr.prometheus.
struct ExportServerOptions {
  bool enabled = true;  // enable_export_server
  std::string ip = "127.0.0.1";
  uint16_t port = 9091;  // 0: a free port (tests); see ExportServer::bound_port()
  std::string path = "/apisix/prometheus/metrics";  // export_uri
  std::chrono::milliseconds refresh_interval{15000};
  std::string server_header = "APISIX";

  // From `plugin_attr.prometheus` (null or not an object: defaults). Errors name the key.
  static Result<ExportServerOptions> from_attr(const boost::json::value* attr);
};

class ExportServer {
 public:
  // Serves `exporter` (normally the process's, prometheus::exporter()).
  explicit ExportServer(Exporter& exporter);
  ~ExportServer();
  ExportServer(const ExportServer&) = delete;
  ExportServer& operator=(const ExportServer&) = delete;

  // Binds ip:port and starts serving `path` on `loop` with the other options' defaults.
  [[nodiscard]] Result<void> start(core::Loop& loop, const std::string& ip, uint16_t port,
                                   std::string path);
  // Binds options.ip:options.port and starts serving (options.enabled is not looked at).
  [[nodiscard]] Result<void> start(core::Loop& loop, ExportServerOptions options);
  uint16_t bound_port() const;
  void stop();

  // Renders the exposition now (also done by the timer).
  void refresh();

  // Request handling without the socket (tests): the status, body and Content-Type ("" for
  // the default 404 page).
  struct Response {
    int status = 200;
    std::string body;
    std::string content_type = "text/plain";
  };
  Response handle(std::string_view method, std::string_view path) const;

 private:
  struct State;
  // The server's coroutines; each holds the state until it ends.
  static core::Task<void> accept_loop(std::shared_ptr<State> state);
  static core::Task<void> refresh_loop(std::shared_ptr<State> state);
  static core::Task<void> serve(std::shared_ptr<State> state, core::Socket socket);

  std::shared_ptr<State> state_;
};

}  // namespace apisix::plugins::prometheus
